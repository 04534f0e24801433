//! `kubin pki init-ca | gencert | sign`: cfssl's issuing commands, with cfssl's JSON on stdout
//! or cfssljson's files with `--bare NAME`.

use super::read;
use anyhow::{Context, Result, bail};
use pki::{Ca, CsrRequest, Issued, SigningConfig, store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::SystemTime;

/// Arguments of `kubin pki init-ca`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin pki init-ca ca-csr.json --bare ca          # writes ca.pem, ca-key.pem, ca.csr
  kubin pki init-ca ca-csr.json | cfssljson -bare ca")]
pub struct InitCaArgs {
    /// The CSR request JSON (cfssl's format: CN, key, names, ca.expiry).
    csr_json: PathBuf,
    /// Write NAME.pem, NAME-key.pem (0600) and NAME.csr instead of printing cfssl's JSON.
    #[arg(long, value_name = "NAME")]
    bare: Option<PathBuf>,
}

/// Arguments of `kubin pki gencert`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin pki gencert --ca ca.pem --ca-key ca-key.pem --config ca-config.json --profile www \\
      server-csr.json | cfssljson -bare server
  kubin pki gencert --ca ca.pem --ca-key ca-key.pem --config ca-config.json --profile www \\
      --hostname 192.168.31.63,etcd-1 server-csr.json --bare server
  kubin pki gencert --initca ca-csr.json --bare ca")]
pub struct GencertArgs {
    /// The CSR request JSON (cfssl's format: CN, hosts, key, names).
    csr_json: PathBuf,
    /// Create a self-signed CA instead (as `cfssl gencert -initca`).
    #[arg(long, conflicts_with_all = ["ca", "ca_key", "config", "profile"])]
    initca: bool,
    /// The CA certificate (cfssl's or kubin's).
    #[arg(long, value_name = "FILE", required_unless_present = "initca")]
    ca: Option<PathBuf>,
    /// The CA key (PKCS#1, SEC1 or PKCS#8 PEM).
    #[arg(long, value_name = "FILE", required_unless_present = "initca")]
    ca_key: Option<PathBuf>,
    /// The signing config (cfssl's ca-config.json); without it, a one-year profile with
    /// signing, key encipherment, server auth and client auth.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The profile of the config to sign with; the config's default profile without it.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Comma-separated SANs replacing the request's `hosts`.
    #[arg(long, value_name = "LIST")]
    hostname: Option<String>,
    /// Write NAME.pem, NAME-key.pem (0600) and NAME.csr instead of printing cfssl's JSON.
    #[arg(long, value_name = "NAME")]
    bare: Option<PathBuf>,
}

/// Arguments of `kubin pki sign`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin pki sign --ca ca.pem --ca-key ca-key.pem --config ca-config.json --profile www \\
      server.csr | cfssljson -bare server
  kubin pki sign --ca ca.pem --ca-key ca-key.pem server.csr --bare server")]
pub struct SignArgs {
    /// The certificate signing request (PEM).
    csr_pem: PathBuf,
    /// The CA certificate (cfssl's or kubin's).
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
    /// The CA key (PKCS#1, SEC1 or PKCS#8 PEM).
    #[arg(long, value_name = "FILE")]
    ca_key: PathBuf,
    /// The signing config (cfssl's ca-config.json).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The profile of the config to sign with.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,
    /// Comma-separated SANs replacing the CSR's.
    #[arg(long, value_name = "LIST")]
    hostname: Option<String>,
    /// Write NAME.pem instead of printing cfssl's JSON (`{"cert": ...}`).
    #[arg(long, value_name = "NAME")]
    bare: Option<PathBuf>,
}

fn load_request(path: &Path) -> Result<CsrRequest> {
    Ok(CsrRequest::from_json(
        &read(path)?,
        &path.display().to_string(),
    )?)
}

fn load_config(path: Option<&Path>) -> Result<(SigningConfig, String)> {
    match path {
        Some(p) => {
            let name = p.display().to_string();
            Ok((SigningConfig::from_json(&read(p)?, &name)?, name))
        }
        None => Ok((
            SigningConfig::from_json(r#"{"signing":{}}"#, "built-in config")?,
            "built-in config".into(),
        )),
    }
}

fn hosts(list: Option<&str>) -> Option<Vec<String>> {
    list.map(|l| {
        l.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    })
}

fn emit(issued: &Issued, bare: Option<&Path>) -> Result<ExitCode> {
    match bare {
        Some(base) => {
            for path in store::write_bare(base, issued)? {
                eprintln!("wrote {}", path.display());
            }
        }
        None => println!("{}", issued.to_cfssl_json()),
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `kubin pki init-ca`.
pub fn init_ca(args: InitCaArgs) -> Result<ExitCode> {
    let req = load_request(&args.csr_json)?;
    let issued = pki::init_ca(
        &req,
        &args.csr_json.display().to_string(),
        SystemTime::now(),
        &pki::new_rng(),
    )?;
    emit(&issued, args.bare.as_deref())
}

/// Runs `kubin pki gencert`.
pub fn gencert(args: GencertArgs) -> Result<ExitCode> {
    let source = args.csr_json.display().to_string();
    let mut req = load_request(&args.csr_json)?;
    if let Some(h) = hosts(args.hostname.as_deref()) {
        req.hosts = h;
        req.check(&source)?;
    }
    let issued = if args.initca {
        pki::init_ca(&req, &source, SystemTime::now(), &pki::new_rng())?
    } else {
        let (Some(ca), Some(ca_key)) = (&args.ca, &args.ca_key) else {
            bail!("--ca and --ca-key are required without --initca");
        };
        let ca = store::load_ca(ca, ca_key)?;
        let (config, config_name) = load_config(args.config.as_deref())?;
        let profile = config.profile(args.profile.as_deref(), &config_name)?;
        pki::issue(
            &ca,
            &req,
            &source,
            profile,
            SystemTime::now(),
            &pki::new_rng(),
        )?
    };
    emit(&issued, args.bare.as_deref())
}

/// Runs `kubin pki sign`.
pub fn sign(args: SignArgs) -> Result<ExitCode> {
    let ca: Ca = store::load_ca(&args.ca, &args.ca_key)?;
    let (config, config_name) = load_config(args.config.as_deref())?;
    let profile = config.profile(args.profile.as_deref(), &config_name)?;
    let csr = read(&args.csr_pem)?;
    let hosts = hosts(args.hostname.as_deref());
    let cert = pki::sign_csr(
        &ca,
        &csr,
        &args.csr_pem.display().to_string(),
        profile,
        hosts.as_deref(),
        SystemTime::now(),
        &pki::new_rng(),
    )?;
    match args.bare {
        Some(base) => {
            let (path, _, _) = store::bare_paths(&base);
            store::write_public(&path, &cert)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => println!("{}", serde_json::json!({ "cert": cert })),
    }
    Ok(ExitCode::SUCCESS)
}
