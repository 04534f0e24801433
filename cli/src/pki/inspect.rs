//! `kubin pki certinfo | check-expiration`: reading certificates back.

use super::read;
use anyhow::{Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Exit status of `check-expiration` when something expires within the window.
const EXPIRING: u8 = 2;

/// Arguments of `kubin pki certinfo`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin pki certinfo server.pem
  kubin pki certinfo --cert server.pem | jq -r .sans[]")]
pub struct CertinfoArgs {
    /// The certificate (PEM).
    #[arg(value_name = "FILE", required_unless_present = "cert")]
    file: Option<PathBuf>,
    /// The certificate (PEM), as cfssl's `-cert`.
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    cert: Option<PathBuf>,
}

/// Arguments of `kubin pki check-expiration`.
#[derive(clap::Args)]
#[command(after_help = "\
Exit status: 0 when nothing expires within the window, 2 when something does (or has),
1 on errors.

Examples:
  kubin pki check-expiration pki/
  kubin pki check-expiration --within 90d /etc/kubernetes/pki || echo renew soon")]
pub struct CheckArgs {
    /// The directory to scan (recursively, every *.pem holding a certificate).
    dir: PathBuf,
    /// The window, e.g. `30d`, `720h`.
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = crate::args::duration)]
    within: Duration,
}

/// Runs `kubin pki certinfo`.
pub fn certinfo(args: CertinfoArgs) -> Result<ExitCode> {
    let Some(path) = args.cert.or(args.file) else {
        bail!("give the certificate file");
    };
    let info = pki::cert_info(&read(&path)?, &path.display().to_string())?;
    println!("{}", serde_json::to_string_pretty(&info)?);
    Ok(ExitCode::SUCCESS)
}

fn residual(secs: i64) -> String {
    if secs < 0 {
        "expired".into()
    } else if secs >= 86_400 {
        format!("{}d", secs / 86_400)
    } else {
        format!("{}h", secs / 3_600)
    }
}

/// Runs `kubin pki check-expiration`.
pub fn check_expiration(args: CheckArgs) -> Result<ExitCode> {
    let window = args.within;
    let certs = pki::store::read_certs(&args.dir)?;
    if certs.is_empty() {
        bail!("no certificates under {}", args.dir.display());
    }
    let report = pki::check_expiration(&certs, SystemTime::now(), window);
    let width = report
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(4)
        .max(11);
    println!(
        "{:width$}  {:20}  {:9}  {:3}  CN",
        "CERTIFICATE", "EXPIRES", "RESIDUAL", "CA"
    );
    for e in &report {
        println!(
            "{:width$}  {:20}  {:9}  {:3}  {}{}",
            e.name,
            e.not_after,
            residual(e.residual_secs),
            if e.is_ca { "yes" } else { "no" },
            e.common_name,
            if e.expiring {
                "  <- expires within the window"
            } else {
                ""
            },
        );
    }
    let expiring = report.iter().filter(|e| e.expiring).count();
    if expiring > 0 {
        eprintln!(
            "{expiring} certificate(s) expire within {}",
            humantime::format_duration(args.within)
        );
        return Ok(ExitCode::from(EXPIRING));
    }
    Ok(ExitCode::SUCCESS)
}
