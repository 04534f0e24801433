//! `kubin pki`: certificates, a cfssl drop-in (init-ca, gencert, sign, certinfo) plus
//! check-expiration and the Kubernetes cluster's whole set.

pub mod cluster;

pub use cluster::render_report;
mod gencert;
mod inspect;

use anyhow::{Context, Result};
use std::path::Path;
use std::process::ExitCode;

/// Arguments of `kubin pki`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples (the guides' files work unchanged):
  kubin pki init-ca ca-csr.json --bare ca
  kubin pki gencert --ca ca.pem --ca-key ca-key.pem --config ca-config.json --profile www \\
      server-csr.json | cfssljson -bare server
  kubin pki certinfo server.pem
  kubin pki check-expiration --within 30d pki/
  kubin pki cluster -f cluster.yaml")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create a self-signed CA from a CSR request JSON (`cfssl gencert -initca`).
    InitCa(gencert::InitCaArgs),
    /// Issue a key and certificate from a CSR request JSON (`cfssl gencert`).
    Gencert(gencert::GencertArgs),
    /// Sign an existing CSR PEM with a CA (`cfssl sign`).
    Sign(gencert::SignArgs),
    /// Print a certificate's subject, issuer, SANs, usages, serial and validity as JSON
    /// (`cfssl certinfo -cert`).
    Certinfo(inspect::CertinfoArgs),
    /// List every certificate under a directory with its expiry; exit status 2 when any
    /// expires within the window.
    CheckExpiration(inspect::CheckArgs),
    /// Create or complete the Kubernetes cluster's whole certificate set in the inventory's
    /// pki_dir, as its `pki:` section says.
    Cluster(cluster::Args),
}

/// Runs `kubin pki`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::InitCa(a) => gencert::init_ca(a),
        Command::Gencert(a) => gencert::gencert(a),
        Command::Sign(a) => gencert::sign(a),
        Command::Certinfo(a) => inspect::certinfo(a),
        Command::CheckExpiration(a) => inspect::check_expiration(a),
        Command::Cluster(a) => cluster::run(a),
    }
}

/// Reads a file, naming it in the error.
fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
