//! `cargo xtask ci`: set-up a fresh machine, then fmt, clippy, every test, the lab end to end.

use crate::sh::{self, cargo};
use anyhow::{Context, Result};

/// Debian packages the build and the tests need on a fresh machine.
pub const APT_PACKAGES: &[&str] = &[
    // Building: etcd-client's protos, ssh2's libssh2 and OpenSSL, aws-lc.
    // (libprotobuf-dev holds google/protobuf/*.proto, which etcd-client's protos import.)
    "protobuf-compiler",
    "libprotobuf-dev",
    "libssl-dev",
    "pkg-config",
    "cmake",
    // Tools no one here wrote, to check what kubin makes.
    "openssl",
    "golang-cfssl",
    "etcd-server",
    "etcd-client",
    "curl",
    // The lab: hosts, their root, and the Kubernetes build.
    "debootstrap",
    "systemd-container",
    "iproute2",
    "openssh-client",
    // hostprep_ssh: a real sshd on 127.0.0.1.
    "openssh-server",
    "golang-go",
    "rsync",
    "dpkg-dev",
    "make",
    "gcc",
    "procps",
];

/// Arguments of `cargo xtask ci`.
#[derive(clap::Args)]
pub struct Args {
    /// Do not install missing Debian packages (fail instead if any is missing).
    #[arg(long)]
    no_install: bool,
}

/// Runs everything CI runs, in order, stopping at the first failure.
pub fn run(args: Args) -> Result<()> {
    if !args.no_install {
        install_packages(APT_PACKAGES)?;
    }
    let cargo = cargo();
    sh::run(&cargo, &["fmt", "--all", "--check"])?;
    sh::run(
        &cargo,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The lab tests are ordinary tests of package `tests`; warm their caches (base root,
    // Kubernetes build, bundle) first so a cold machine shows that progress here, not as
    // one silent test.
    crate::lab::prepare()?;
    sh::run(&cargo, &["test", "--workspace", "--no-fail-fast"])?;
    Ok(())
}

/// Installs the Debian packages of `wanted` that are missing (one `apt-get update` first).
/// The lab's cache builders use the same function (`lab::apt::install_packages`).
pub fn install_packages(wanted: &[&str]) -> Result<()> {
    lab::apt::install_packages(wanted).context("cannot install Debian packages")
}
