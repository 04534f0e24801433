//! `kubin pki cluster`: the Kubernetes cluster's whole certificate set in one directory, from
//! an inventory or from flags.

use anyhow::{Context, Result, bail};
use pki::store::Status;
use pki::{ClusterSetRequest, KeySpec, Member};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kubin pki cluster`.
#[derive(clap::Args)]
#[command(after_help = "\
Existing CAs and keys are loaded and never overwritten; a leaf whose request changed (new SANs)
is reissued under the same CA and the old files are kept as NAME.pem.<time>.bak.

Examples:
  kubin pki cluster --inventory cluster.yaml
  kubin pki cluster --dir pki --etcd etcd-1=192.168.31.63 --etcd etcd-2=192.168.31.65 \\
      --etcd etcd-3=192.168.31.66 --master 192.168.31.63 --service-cidr 10.0.0.0/24")]
pub struct Args {
    /// Take members, SANs and the directory from this inventory.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["etcd", "master", "service_cidr", "load_balancer"])]
    inventory: Option<PathBuf>,
    /// The directory for the set (default: the inventory's pki_dir, or ./pki).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// An etcd member, NAME=ADDRESS (repeat for each).
    #[arg(long, value_name = "NAME=ADDRESS")]
    etcd: Vec<String>,
    /// A master's address, an apiserver SAN (repeat for each).
    #[arg(long, value_name = "ADDRESS")]
    master: Vec<IpAddr>,
    /// The service range; its first address is an apiserver SAN.
    #[arg(long, value_name = "CIDR", default_value = "10.0.0.0/24")]
    service_cidr: String,
    /// A load-balancer address in front of the apiservers.
    #[arg(long, value_name = "ADDRESS")]
    load_balancer: Option<IpAddr>,
    /// The cluster domain of the kubernetes.default.svc names.
    #[arg(long, value_name = "DOMAIN", default_value = "cluster.local")]
    cluster_domain: String,
    /// Key kind of every certificate: rsa-2048, rsa-3072, rsa-4096, ecdsa-256, ecdsa-384.
    #[arg(long, value_name = "KIND", default_value = "rsa-2048")]
    key: String,
    /// Lifetime of every leaf.
    #[arg(long, value_name = "DURATION", default_value = "87600h")]
    validity: String,
    /// Lifetime of the two CAs.
    #[arg(long, value_name = "DURATION", default_value = "87600h")]
    ca_validity: String,
}

fn first_service_ip(cidr: &str) -> Result<Ipv4Addr> {
    let (net, len) = cidr
        .split_once('/')
        .with_context(|| format!("--service-cidr {cidr:?} is not ADDRESS/PREFIX"))?;
    let net: Ipv4Addr = net
        .parse()
        .with_context(|| format!("--service-cidr {cidr:?}: bad address"))?;
    let len: u32 = len
        .parse()
        .ok()
        .filter(|l| *l <= 30)
        .with_context(|| format!("--service-cidr {cidr:?}: prefix must be 0..=30"))?;
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    Ok(Ipv4Addr::from((u32::from(net) & mask) + 1))
}

fn sans_from_flags(args: &Args) -> Result<Vec<String>> {
    let mut sans: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !sans.contains(&s) {
            sans.push(s);
        }
    };
    push("127.0.0.1".into());
    push(first_service_ip(&args.service_cidr)?.to_string());
    for m in &args.master {
        push(m.to_string());
    }
    if let Some(lb) = args.load_balancer {
        push(lb.to_string());
    }
    let mut name = String::from("kubernetes");
    push(name.clone());
    for label in ["default", "svc"]
        .into_iter()
        .chain(args.cluster_domain.split('.').filter(|l| !l.is_empty()))
    {
        name.push('.');
        name.push_str(label);
        push(name.clone());
    }
    Ok(sans)
}

fn key_spec(kind: &str) -> Result<KeySpec> {
    KeySpec::ALL
        .into_iter()
        .find(|k| k.to_string() == kind)
        .with_context(|| {
            format!("--key {kind:?}: use rsa-2048, rsa-3072, rsa-4096, ecdsa-256 or ecdsa-384")
        })
}

/// Runs `kubin pki cluster`.
pub fn run(args: Args) -> Result<ExitCode> {
    let (members, sans, default_dir) = match &args.inventory {
        Some(path) => {
            let (inv, warnings) = inventory::Inventory::load(path)
                .with_context(|| format!("cannot load inventory {}", path.display()))?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            let members = inv
                .etcd_members()
                .iter()
                .map(|h| Member {
                    name: h.name.clone(),
                    address: h.address,
                })
                .collect();
            (members, inv.apiserver_sans(), inv.pki_dir.clone())
        }
        None => {
            let mut members = Vec::new();
            for m in &args.etcd {
                let (name, addr) = m
                    .split_once('=')
                    .with_context(|| format!("--etcd {m:?} is not NAME=ADDRESS"))?;
                let address = addr
                    .parse()
                    .with_context(|| format!("--etcd {m:?}: {addr:?} is not an IP address"))?;
                members.push(Member {
                    name: name.to_string(),
                    address,
                });
            }
            if members.is_empty() {
                bail!("give --inventory, or at least one --etcd NAME=ADDRESS");
            }
            (members, sans_from_flags(&args)?, PathBuf::from("pki"))
        }
    };
    let mut req = ClusterSetRequest::new(members, sans);
    req.key = key_spec(&args.key)?;
    req.validity = pki::parse_duration(&args.validity, "--validity", "--validity")?;
    req.ca_validity = pki::parse_duration(&args.ca_validity, "--ca-validity", "--ca-validity")?;
    let dir = args.dir.clone().unwrap_or(default_dir);
    let (_, report) = pki::store::ensure_cluster_set_with_report(&dir, &req)
        .with_context(|| format!("cannot complete the certificate set in {}", dir.display()))?;
    for (name, status) in report {
        match status {
            Status::Reused => println!("reused    {name}"),
            Status::Issued => println!("issued    {name}"),
            Status::Reissued { reason, backups } => {
                let kept: Vec<String> = backups.iter().map(|b| b.display().to_string()).collect();
                println!(
                    "reissued  {name} ({reason}); old files kept: {}",
                    kept.join(", ")
                );
            }
        }
    }
    println!("certificate set complete in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn flags_give_the_guides_apiserver_sans() {
        let w = Wrap::parse_from([
            "x",
            "--etcd",
            "etcd-1=192.168.31.63",
            "--master",
            "192.168.31.63",
            "--master",
            "192.168.31.64",
            "--service-cidr",
            "10.0.0.0/24",
            "--load-balancer",
            "192.168.31.100",
        ]);
        assert_eq!(
            sans_from_flags(&w.args).unwrap(),
            [
                "127.0.0.1",
                "10.0.0.1",
                "192.168.31.63",
                "192.168.31.64",
                "192.168.31.100",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster",
                "kubernetes.default.svc.cluster.local",
            ]
        );
    }

    #[test]
    fn service_cidr_and_key_kinds() {
        assert_eq!(
            first_service_ip("10.254.0.0/16").unwrap(),
            Ipv4Addr::new(10, 254, 0, 1)
        );
        assert_eq!(
            first_service_ip("10.0.0.7/24").unwrap(),
            Ipv4Addr::new(10, 0, 0, 1)
        );
        assert!(first_service_ip("10.0.0.0").is_err());
        assert!(first_service_ip("10.0.0.0/31").is_err());
        assert_eq!(key_spec("ecdsa-384").unwrap(), KeySpec::EcdsaP384);
        assert!(key_spec("rsa-1024").is_err());
    }
}
