//! `cargo xtask`: kubin's only automation. With no arguments it prints help.

mod bench;
mod ci;
mod e2e;
mod lab;
mod main_job;
mod sh;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kubin's automation.
#[derive(Parser)]
#[command(name = "cargo xtask", arg_required_else_help = true)]
struct Xtask {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything CI runs: set-up, fmt, clippy, every test, the lab end to end.
    Ci(ci::Args),
    /// The lab: real Debian hosts with systemd on a private bridge.
    Lab(lab::Args),
    /// The lab end to end: caches warmed, then every lab test.
    E2e(e2e::Args),
    /// Benchmarks, kubin side by side with the reference tool.
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let args = Xtask::parse();
    let result = match args.command {
        Command::Ci(a) => ci::run(a),
        Command::Lab(a) => lab::run(a),
        Command::E2e(a) => e2e::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
