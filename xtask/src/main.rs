//! `cargo xtask`: kubin's only automation. With no arguments it prints help.

mod bench;
mod ci;
mod e2e;
mod lab;
mod main_job;
mod packages;
mod sh;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// kubin's automation.
#[derive(Parser)]
#[command(name = "cargo xtask", arg_required_else_help = true)]
struct Xtask {
    /// Do not install missing Debian packages: fail, naming them, if any is missing.
    #[arg(long, global = true)]
    no_install: bool,
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

/// One step of a command, in the order `main` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Every host package of `lab::packages::all()`, installed when missing.
    EnsurePackages,
    /// The command itself (every `cargo` it runs, every lab it builds).
    Run,
}

/// The steps of `command`: a command that builds or runs kubin (or builds the lab's caches)
/// ensures the host's packages first, before any `cargo` build of the workspace; the ones
/// that only look at or stop a running lab do not touch apt.
fn steps(command: &Command) -> Vec<Step> {
    let builds = match command {
        Command::Ci(_) | Command::E2e(_) | Command::Bench(_) => true,
        Command::Lab(a) => a.builds(),
    };
    if builds {
        vec![Step::EnsurePackages, Step::Run]
    } else {
        vec![Step::Run]
    }
}

/// Takes the steps of `args.command` in their order.
fn run(args: Xtask) -> anyhow::Result<()> {
    let mut command = Some(args.command);
    let steps = command.as_ref().map(steps).unwrap_or_default();
    for step in steps {
        match step {
            Step::EnsurePackages => packages::ensure(!args.no_install)?,
            Step::Run => {
                if let Some(c) = command.take() {
                    dispatch(c)?;
                }
            }
        }
    }
    Ok(())
}

fn dispatch(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ci(a) => ci::run(a),
        Command::Lab(a) => lab::run(a),
        Command::E2e(a) => e2e::run(a),
        Command::Bench(a) => bench::run(a),
    }
}

fn main() -> ExitCode {
    match run(Xtask::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(args: &[&str], expected: &[Step]) {
        let parsed =
            Xtask::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(steps(&parsed.command), expected, "{args:?}");
    }

    /// Every command that builds or runs kubin ensures the host's packages before anything
    /// else (a fresh machine failed 17 minutes into `cargo xtask lab` for want of protoc).
    #[test]
    fn packages_come_before_any_build() {
        use Step::{EnsurePackages, Run};
        for args in [
            &["lab"][..],
            &["lab", "up"],
            &["lab", "up", "--hosts", "2", "--name", "x"],
            &["lab", "prepare"],
            &["e2e"],
            &["e2e", "--only", "smoke"],
            &["ci"],
            &["ci", "--no-install"],
            &["bench", "pki"],
            &["bench", "apply"],
            &["bench", "etcd"],
            &["bench", "csr"],
            &["bench", "deploy", "--hosts", "3"],
        ] {
            check(args, &[EnsurePackages, Run]);
        }
        for args in [
            &["lab", "down"][..],
            &["lab", "status"],
            &["lab", "ssh", "k8s-node1", "--", "hostname"],
            &["lab", "fault", "stop", "k8s-node1"],
        ] {
            check(args, &[Run]);
        }
    }
}
