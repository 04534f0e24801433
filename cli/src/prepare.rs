//! `kubin prepare`: prepare the hosts (the guides' chapter 1), idempotently.

use crate::load;
use anyhow::{Result, bail};
use executor::{ApplyOptions, Output, Report, SshOptions};
use inventory::Inventory;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// How results are printed.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Progress bars on a terminal (log lines otherwise) and a summary.
    Text,
    /// One JSON object per event, then the report.
    Json,
}

/// Arguments of `kubin prepare`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  kubin prepare -f cluster.yaml --dry-run\n  kubin prepare -f cluster.yaml"
)]
pub struct Args {
    /// The inventory.
    #[arg(short, long, default_value = "cluster.yaml")]
    pub file: PathBuf,
    /// Show what would change (diffs, commands) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How results are printed.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// At most this many hosts at once.
    #[arg(long, default_value_t = 16)]
    pub parallel: usize,
    /// Seconds any single SSH operation may block before the host counts as failed.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
    /// Only these hosts (inventory names; repeatable).
    #[arg(long = "host")]
    pub hosts: Vec<String>,
}

impl Args {
    fn apply_options(&self) -> ApplyOptions {
        ApplyOptions {
            dry_run: self.dry_run,
            parallel: self.parallel,
            output: match self.output {
                OutputFormat::Text => Output::Text,
                OutputFormat::Json => Output::Json,
            },
        }
    }

    fn ssh_options(&self) -> SshOptions {
        SshOptions {
            io_timeout: Duration::from_secs(self.timeout.max(1)),
            ..SshOptions::default()
        }
    }
}

/// Prints the report as the output format says; the exit status is 1 when a host failed.
pub fn finish(report: &Report, output: OutputFormat) -> Result<ExitCode> {
    match output {
        OutputFormat::Text => print!("{}", report.render_text()),
        OutputFormat::Json => {
            let mut v = serde_json::to_value(report)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("event".into(), "report".into());
                o.insert("success".into(), report.is_success().into());
            }
            println!("{v}");
        }
    }
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The `--host` names as `&str`s, each checked against the inventory (empty: every host).
pub fn select_hosts<'a>(inv: &Inventory, names: &'a [String]) -> Result<Vec<&'a str>> {
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| inv.host(n).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        bail!("no host named {} in the inventory", unknown.join(", "));
    }
    Ok(names.iter().map(String::as_str).collect())
}

/// Runs `kubin prepare`: connect, gather facts, plan, apply, report.
pub fn run(args: Args) -> Result<ExitCode> {
    let inv = load::inventory(&args.file)?;
    let selected = select_hosts(&inv, &args.hosts)?;
    let (mut transports, unreachable) =
        executor::connect_all_with(&inv, &selected, &args.ssh_options());
    let (facts, facts_failed) = hostprep::gather_all(&mut transports);
    let plan = hostprep::plan_hostprep(&inv, &facts);
    let mut report = executor::apply(&plan, &mut transports, &args.apply_options());
    for (host, e) in &unreachable {
        report.record_unreachable(host, &executor::display_chain(e));
    }
    for (host, e) in &facts_failed {
        report.record_unreachable(host, &executor::display_chain(e));
    }
    finish(&report, args.output)
}
