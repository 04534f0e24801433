//! `cargo xtask bench`: kubin side by side with the reference tool, in one run.

mod apply;
mod cpu;
mod csr;
mod etcd;
mod pki;

use anyhow::Result;

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
}

/// Runs the chosen benchmark.
pub fn run(args: Args) -> Result<()> {
    match args.which {
        Which::Pki(a) => pki::run(a),
        Which::Apply(a) => apply::run(a),
        Which::Etcd(a) => etcd::run(a),
        Which::Csr(a) => csr::run(a),
    }
}
