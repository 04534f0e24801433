//! `kubin prepare`: prepare the hosts (the guides' chapter 1), idempotently.

use crate::args::{self, Changing};
use anyhow::Result;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin prepare`.
#[derive(clap::Args)]
#[command(
    after_help = "Example:\n  kubin prepare -f cluster.yaml --dry-run\n  kubin prepare -f cluster.yaml"
)]
pub struct Args {
    #[command(flatten)]
    base: Changing,
    /// At most this many hosts at once.
    #[arg(long, default_value_t = 16)]
    parallel: usize,
    /// How long any single SSH operation may block before the host counts as failed.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
    timeout: Duration,
    /// Only these hosts (inventory names; repeatable).
    #[arg(long = "host")]
    hosts: Vec<String>,
}

/// Runs `kubin prepare`: the report is printed as it is made; exit 1 when a host failed.
pub fn run(args: Args) -> Result<ExitCode> {
    let mut s = args.base.open("kubin prepare", Some(args.timeout))?;
    s.settings.apply.parallel = args.parallel;
    let report = deploy::hosts::prepare(&mut s, &args.hosts, args.base.dry_run)?;
    Ok(if report.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
