//! `cargo xtask bench`: kubin side by side with the reference tool, in one run.

mod apply;
mod cpu;
mod csr;
mod deploy;
mod etcd;
mod pki;

use anyhow::Result;
use std::path::PathBuf;
use tests::kubin::kubin_bin;

/// Arguments of `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// One CA plus 200 www-profile leaves: kubin against cfssl.
    Pki(pki::Args),
    /// Applying the same plan to 3 and 12 lab hosts: kubin against ansible.
    Apply(apply::Args),
    /// `kubin etcd health` against `etcdctl endpoint health`.
    Etcd(etcd::Args),
    /// 200 kubelet client CSRs at once: `kubin csr approve --watch` against the guides'
    /// `kubectl certificate approve` loop.
    Csr(csr::Args),
    /// `kubin deploy` from bare lab machines to every node Ready, and the re-run: 3 and 12
    /// machines, with kubin's CPU time and each machine's.
    Deploy(deploy::Args),
}

/// Runs the chosen benchmark.
pub fn run(args: Args) -> Result<()> {
    match args.which {
        Which::Pki(a) => pki::run(a),
        Which::Apply(a) => apply::run(a),
        Which::Etcd(a) => etcd::run(a),
        Which::Csr(a) => csr::run(a),
        Which::Deploy(a) => deploy::run(a),
    }
}

/// The kubin binary: the release build (built now), or the dev build.
pub(crate) fn kubin_path(dev_profile: bool) -> Result<PathBuf> {
    if dev_profile {
        return Ok(kubin_bin());
    }
    crate::sh::run(
        &crate::sh::cargo(),
        &["build", "--release", "-q", "-p", "cli", "--bin", "kubin"],
    )?;
    Ok(std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::sh::root().join("target"))
        .join("release")
        .join("kubin"))
}
