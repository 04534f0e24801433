//! `kubin pki cluster`: the Kubernetes cluster's whole certificate set in the inventory's
//! pki_dir, made as the inventory's `pki:` section says.

use crate::args::{self, Changing};
use anyhow::{Result, bail};
use deploy::pki::PkiReport;
use std::process::ExitCode;

/// Arguments of `kubin pki cluster`.
#[derive(clap::Args)]
#[command(after_help = "\
The set is made from the inventory alone: its etcd members, its apiserver SANs, and its
`pki:` section (key kind, lifetimes, subject names), so `kubin etcd deploy` finds the same
set fitting and reissues nothing. Existing CAs and keys are loaded and never overwritten; a
leaf whose request changed (new SANs, another key kind in `pki:`) is reissued under the same
CA and the old files are kept as NAME.pem.<time>.bak.

Examples:
  kubin pki cluster -f cluster.yaml
  kubin pki cluster -f cluster.yaml --dry-run    # what would be issued; nothing written")]
pub struct Args {
    #[command(flatten)]
    base: Changing,
    /// Gone: the key kind is `pki.key` in the inventory.
    #[arg(long, hide = true, value_name = "KIND")]
    key: Option<String>,
    /// Gone: the lifetime is `pki.validity` in the inventory.
    #[arg(long, hide = true, value_name = "DURATION")]
    validity: Option<String>,
    /// Gone: the CAs' lifetime is `pki.ca_validity` in the inventory.
    #[arg(long, hide = true, value_name = "DURATION")]
    ca_validity: Option<String>,
}

/// Runs `kubin pki cluster`.
pub fn run(args: Args) -> Result<ExitCode> {
    for (flag, set, key) in [
        ("--key", args.key.is_some(), "pki.key"),
        ("--validity", args.validity.is_some(), "pki.validity"),
        (
            "--ca-validity",
            args.ca_validity.is_some(),
            "pki.ca_validity",
        ),
    ] {
        if set {
            bail!(
                "{flag} is gone: set `{key}` in {} (the inventory is the one source of the certificates' settings)",
                args.base.inventory.file.display()
            );
        }
    }
    let session = args::open(&args.base.inventory, None, args.base.output, None)?;
    let report = deploy::pki::cluster(&session.inventory, args.base.dry_run)?;
    args.base.output.print(&report, || render_report(&report))?;
    Ok(ExitCode::SUCCESS)
}

/// The set's report as lines: one per file set, then where it is.
pub fn render_report(r: &PkiReport) -> String {
    let mut out = String::new();
    for f in &r.files {
        let status = match (r.dry_run, f.status) {
            (true, "reused") => "fits",
            (true, "issued") => "would issue",
            (true, _) => "would reissue",
            (false, s) => s,
        };
        out += &format!("{status:<13} {}", f.name);
        if let Some(reason) = &f.reason {
            out += &format!(" ({reason})");
        }
        if !f.backups.is_empty() {
            let kept: Vec<String> = f.backups.iter().map(|b| b.display().to_string()).collect();
            out += &format!("; old files kept: {}", kept.join(", "));
        }
        out.push('\n');
    }
    out += &if r.dry_run {
        format!("dry run: nothing written in {}\n", r.dir.display())
    } else {
        format!("certificate set complete in {}\n", r.dir.display())
    };
    out
}
