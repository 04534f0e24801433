//! `kubin status`: the deploy's final verification, on demand.

use crate::args::{InventoryArg, OutputArg};
use anyhow::Result;
use deploy::verify;
use std::process::ExitCode;

/// Arguments of `kubin status`.
#[derive(clap::Args)]
#[command(after_help = "\
Exit status: 0 healthy, 2 degraded (etcd keeps its quorum, the apiserver answers), 3 down.

Examples:
  kubin status -f cluster.yaml
  kubin status -f cluster.yaml --output json")]
pub struct Args {
    #[command(flatten)]
    inventory: InventoryArg,
    #[command(flatten)]
    output: OutputArg,
}

/// Runs `kubin status`.
pub fn run(a: Args) -> Result<ExitCode> {
    let mut s = crate::args::open(&a.inventory, None, a.output, None)?;
    let v = verify::verify(&mut s)?;
    a.output.print(&v, || verify::render_text(&v))?;
    Ok(ExitCode::from(v.overall.exit_code()))
}
