//! `kubin control-plane`: kube-apiserver, kube-controller-manager and kube-scheduler on the
//! masters, and the bootstrap RBAC.

use crate::args::{self, Changing};
use anyhow::Result;
use deploy::master::{self, DeployOptions};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin control-plane`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin control-plane deploy -f cluster.yaml --dry-run
  kubin control-plane deploy -f cluster.yaml   # certs, token.csv, kubeconfigs, units; /healthz; RBAC")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy the control plane: certificates from pki_dir (issued from the inventory when
    /// missing), the bootstrap token (kept in <pki_dir>/token.csv), kubeconfigs, binaries
    /// from the bundle, env files and units on every master; a component restarts only when
    /// a file it reads changed. Then wait until /healthz is ok and apply the bootstrap RBAC.
    Deploy {
        #[command(flatten)]
        base: Changing,
        /// How long the wait until the apiserver answers /healthz may take.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
        wait: Duration,
    },
}

/// Runs `kubin control-plane`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Deploy { base, wait } => {
            let mut s = base.open("kubin control-plane deploy", None)?;
            let dry_run = base.dry_run;
            let r = master::deploy(&mut s, DeployOptions { dry_run, wait })?;
            base.output.print(&r, || {
                let mut out = crate::pki::render_report(&r.pki);
                if let Some(t) = r.token {
                    out += &format!("bootstrap token: {}\n", t.as_str());
                }
                if let Some(rollout) = &r.rollout {
                    let would = if dry_run { "would change" } else { "change(s)" };
                    out += &format!("control plane: {} {would}\n", rollout.changes);
                    if let Some(h) = &rollout.health {
                        out += &format!("{}/healthz: {}\n", h.url, h.answer);
                    }
                }
                for o in &r.rbac {
                    out += &format!("rbac: {} {} {}\n", o.kind, o.name, o.outcome);
                }
                out
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
