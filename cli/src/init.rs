//! `kubin init`: writes the commented example inventory.

use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kubin init`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  kubin init -f cluster.yaml\n  $EDITOR cluster.yaml")]
pub struct Args {
    /// Where to write the inventory ("-" for stdout).
    #[arg(short, long, default_value = "cluster.yaml")]
    file: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// Writes the example inventory; refuses to replace a file without `--force`.
pub fn run(args: Args) -> Result<ExitCode> {
    let text = inventory::example::GUIDES_EXAMPLE;
    if args.file.as_os_str() == "-" {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if args.file.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", args.file.display());
    }
    std::fs::write(&args.file, text)
        .with_context(|| format!("cannot write {}", args.file.display()))?;
    println!("wrote {}", args.file.display());
    Ok(ExitCode::SUCCESS)
}
