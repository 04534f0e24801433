//! `kubin preflight`: check the hosts before anything changes, reporting every problem.

use crate::args::{self, InventoryArg, OutputArg};
use anyhow::Result;
use hostprep::preflight::{has_errors, render_findings};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin preflight`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  kubin preflight -f cluster.yaml")]
pub struct Args {
    #[command(flatten)]
    inventory: InventoryArg,
    #[command(flatten)]
    output: OutputArg,
    /// How long any single SSH operation may block.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = args::duration)]
    timeout: Duration,
    /// Only these hosts (inventory names; repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
}

/// Runs `kubin preflight`; the exit status is 1 when any check found an error.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut s = args::open(&args.inventory, None, args.output, Some(args.timeout))?;
    let findings = deploy::hosts::preflight(&mut s, &args.hosts)?;
    args.output
        .print(&findings, || render_findings(&findings))?;
    Ok(if has_errors(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
