//! `kubin reset`: undo a deploy on the hosts, after asking.

use crate::args::{self, InventoryArg, OutputArg};
use anyhow::{Result, bail};
use deploy::reset::{self, ResetOptions};
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;

/// Arguments of `kubin reset`.
#[derive(clap::Args)]
#[command(after_help = "\
Stops and disables the units kubin placed, removes the files it placed, restores
/etc/hosts, /etc/fstab and /etc/selinux/config from their first backup. etcd's data and the
local PKI are kept unless asked.

Examples:
  kubin reset -f cluster.yaml --dry-run
  kubin reset -f cluster.yaml --yes
  kubin reset -f cluster.yaml --yes --remove-etcd-data --remove-pki   # everything")]
pub struct Args {
    #[command(flatten)]
    inventory: InventoryArg,
    /// Do not ask (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    yes: bool,
    /// Show what would be done and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Remove etcd's data directory too: the cluster's whole state is lost.
    #[arg(long)]
    remove_etcd_data: bool,
    /// Remove the local PKI (pki_dir: certificates, keys, token.csv) too.
    #[arg(long)]
    remove_pki: bool,
    #[command(flatten)]
    output: OutputArg,
}

/// Runs `kubin reset`: exit 0 when every host was reset, 1 otherwise.
pub fn run(a: Args) -> Result<ExitCode> {
    let opts = ResetOptions {
        dry_run: a.dry_run,
        remove_etcd_data: a.remove_etcd_data,
        remove_pki: a.remove_pki,
    };
    let mut s = args::open(&a.inventory, None, a.output, None)?;
    if !a.dry_run && !a.yes {
        let hosts: Vec<&str> = s.inventory.hosts.iter().map(|h| h.name.as_str()).collect();
        if !std::io::stdin().is_terminal() {
            bail!(
                "reset changes {}: pass --yes to confirm (stdin is not a terminal to ask on)",
                hosts.join(", ")
            );
        }
        let mut extra = String::new();
        if a.remove_etcd_data {
            extra += " and etcd's DATA";
        }
        if a.remove_pki {
            extra += &format!(" and the local PKI {}", s.inventory.pki_dir.display());
        }
        eprint!(
            "reset {}: stop kubin's units, remove its files{extra}? [y/N] ",
            hosts.join(", ")
        );
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing was changed");
            return Ok(ExitCode::FAILURE);
        }
    }
    let r = reset::reset(&mut s, &opts)?;
    a.output.print(&r, || {
        let mut out = String::new();
        if let Some(dir) = &r.pki_removed {
            let verb = if r.dry_run { "would remove" } else { "removed" };
            out += &format!("{verb} the local PKI {}\n", dir.display());
        }
        out += &format!(
            "reset: {} change(s){}\n",
            r.changes,
            if r.dry_run { " would be made" } else { "" }
        );
        out
    })?;
    Ok(if r.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
