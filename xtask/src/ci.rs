//! `cargo xtask ci`: fmt, clippy, every test, the lab end to end.

use crate::sh::{self, cargo};
use anyhow::Result;

/// Arguments of `cargo xtask ci`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs everything CI runs, in order, stopping at the first failure (the host's packages
/// were ensured before, by `main`).
pub fn run(_args: Args) -> Result<()> {
    let cargo = cargo();
    sh::run(&cargo, &["fmt", "--all", "--check"])?;
    sh::run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The lab tests are ordinary tests of package `tests`; warm their caches (base root,
    // Kubernetes build, bundle) first so a cold machine shows that progress here, not as
    // one silent test.
    crate::lab::prepare()?;
    sh::run(&cargo, &["test", "--workspace", "--no-fail-fast"])?;
    Ok(())
}
