//! `kubin etcd deploy`: pki set, plan, apply over SSH, then wait until healthy.

use super::Common;
use super::common;
use anyhow::{Result, bail};
use etcd_cluster::{Error, Verdict, check_membership, online, plan_deploy};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin etcd deploy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Show what would change and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for every member to be healthy after the start.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = super::parse_duration)]
    wait: Duration,
}

/// Runs the deploy.
pub fn run(args: Args) -> Result<ExitCode> {
    let inv = common::inventory(&args.common)?;
    let certs = common::member_certs(&inv)?;
    let binaries = common::binaries(&inv)?;
    let target = common::target(&inv, &args.common)?;
    let rt = common::runtime()?;
    // A running cluster with other members is never reshaped by a deploy.
    match rt.block_on(online::member_list(&target)) {
        Ok(live) => check_membership(&inv, &live)?,
        Err(Error::NoEndpoint { .. }) => {
            eprintln!("kubin: no etcd member answers yet: deploying a new cluster");
        }
        Err(e) => return Err(e.into()),
    }
    let plan = plan_deploy(&inv, &certs, &binaries)?;
    let names: Vec<String> = inv.etcd_members().iter().map(|h| h.name.clone()).collect();
    let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
    let report = common::apply(&inv, &hosts, &plan, args.dry_run)?;
    println!("etcd: {} change(s)", report.total_changes());
    if args.dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let health = common::wait_healthy(&rt, &target, args.wait)?;
    print!("{}", health.render_table());
    if health.verdict != Verdict::Healthy {
        bail!(
            "etcd is not healthy after {:?}: {} (journalctl -u etcd on the members tells why)",
            args.wait,
            health.verdict
        );
    }
    Ok(ExitCode::SUCCESS)
}
