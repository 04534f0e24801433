//! `kubin kubeconfig`: the admin kubeconfig for kubectl.

use crate::args::{self, InventoryArg, OutputArg};
use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kubin kubeconfig`.
#[derive(clap::Args)]
#[command(after_help = "\
Example:
  kubin kubeconfig -f cluster.yaml -o admin.kubeconfig
  kubectl --kubeconfig admin.kubeconfig get nodes")]
pub struct Args {
    #[command(flatten)]
    inventory: InventoryArg,
    /// Where to write it (mode 0600; an existing file is replaced).
    #[arg(
        short = 'o',
        long = "out",
        value_name = "FILE",
        default_value = "admin.kubeconfig"
    )]
    out: PathBuf,
}

/// Runs `kubin kubeconfig`.
pub fn run(args: Args) -> Result<ExitCode> {
    let s = args::open(&args.inventory, None, OutputArg::default(), None)?;
    deploy::kubernetes::write_admin_kubeconfig(&s.inventory, &args.out)?;
    println!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
