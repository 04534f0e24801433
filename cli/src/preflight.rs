//! `kubin preflight`: check the hosts before anything changes, reporting every problem.

use crate::load;
use anyhow::Result;
use executor::SshOptions;
use hostprep::preflight::{
    Finding, Severity, check_bundle, check_hosts, has_errors, inspect_bundle, render_findings,
};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin preflight`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  kubin preflight -f cluster.yaml")]
pub struct Args {
    /// The inventory.
    #[arg(short, long, default_value = "cluster.yaml")]
    pub file: PathBuf,
    /// Print the findings as one JSON array.
    #[arg(long)]
    pub json: bool,
    /// Seconds any single SSH operation may block.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Only these hosts (inventory names; repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
}

/// Runs `kubin preflight`; the exit status is 1 when any check found an error.
pub fn run(args: Args) -> Result<ExitCode> {
    let inv = load::inventory(&args.file)?;
    let selected = crate::prepare::select_hosts(&inv, &args.hosts)?;
    let opts = SshOptions {
        io_timeout: Duration::from_secs(args.timeout.max(1)),
        ..SshOptions::default()
    };
    let (mut transports, unreachable) = executor::connect_all_with(&inv, &selected, &opts);
    let (facts, failed) = hostprep::gather_all(&mut transports);
    let why: BTreeMap<String, String> = unreachable
        .iter()
        .map(|(h, e)| (h.clone(), executor::display_chain(e)))
        .chain(
            failed
                .iter()
                .map(|(h, e)| (h.clone(), executor::display_chain(e))),
        )
        .collect();
    let mut checked = inv.clone();
    if !selected.is_empty() {
        checked
            .hosts
            .retain(|h| selected.contains(&h.name.as_str()));
    }
    let mut findings = check_hosts(&checked, &facts, &why);
    match &inv.bundle {
        Some(dir) => findings.extend(check_bundle(&inspect_bundle(dir))),
        None => findings.push(Finding {
            host: "bundle".into(),
            severity: Severity::Warning,
            check: "bundle".into(),
            message: "the inventory names no bundle; binaries cannot be checked".into(),
        }),
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        print!("{}", render_findings(&findings));
    }
    Ok(if has_errors(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
