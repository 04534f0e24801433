//! What every `kubin etcd` subcommand shares: the inventory, the client certificate from
//! pki_dir, the runtime, the bundle's binaries, applying a plan, waiting for health.

use super::Common;
use anyhow::{Context, Result, bail};
use etcd_cluster::online::{self, ClientTls, Target, Timeouts};
use etcd_cluster::{Binaries, HealthReport, MemberCerts, Verdict};
use inventory::Inventory;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The loaded inventory.
pub fn inventory(c: &Common) -> Result<Inventory> {
    crate::load::inventory(&c.file)
}

/// A tokio runtime for the online calls (the library stays runtime-free).
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read {} (make the certificates with `kubin pki cluster --inventory FILE`)",
            path.display()
        )
    })
}

/// The etcd CA and client certificate from the inventory's pki_dir (`etcd/ca.pem`,
/// `etcd/client.pem`, `etcd/client-key.pem`).
pub fn client_tls(inv: &Inventory) -> Result<ClientTls> {
    client_tls_with(inv, [None, None, None])
}

/// As [`client_tls`], with the CA, certificate and key files optionally given instead
/// (`--cacert`, `--cert`, `--key`).
pub fn client_tls_with(inv: &Inventory, overrides: [Option<&Path>; 3]) -> Result<ClientTls> {
    let dir = inv.pki_dir.join("etcd");
    let [ca, cert, key] = overrides;
    let pick = |o: Option<&Path>, name: &str| o.map_or_else(|| dir.join(name), Path::to_path_buf);
    Ok(ClientTls {
        ca_pem: read(&pick(ca, "ca.pem"))?,
        cert_pem: read(&pick(cert, "client.pem"))?,
        key_pem: read(&pick(key, "client-key.pem"))?,
    })
}

/// The cluster's endpoints from the inventory, with the client certificate and timeouts.
pub fn target(inv: &Inventory, c: &Common) -> Result<Target> {
    Ok(Target {
        endpoints: inv.etcd_endpoints(),
        tls: client_tls(inv)?,
        timeouts: Timeouts {
            connect: c.connect_timeout,
            request: c.request_timeout,
        },
    })
}

/// Makes sure the certificate set exists in pki_dir (issuing what is missing, as
/// `kubin pki cluster --inventory` with its defaults does) and returns each member's certs.
pub fn member_certs(inv: &Inventory) -> Result<Vec<MemberCerts>> {
    let members = inv
        .etcd_members()
        .iter()
        .map(|h| pki::Member {
            name: h.name.clone(),
            address: h.address,
        })
        .collect();
    let req = pki::ClusterSetRequest::new(members, inv.apiserver_sans());
    let set = pki::store::ensure_cluster_set(&inv.pki_dir, &req)
        .with_context(|| format!("certificates in {}", inv.pki_dir.display()))?;
    let mut out = Vec::new();
    for m in inv.etcd_members() {
        let server = set
            .etcd_server(&m.name)
            .with_context(|| format!("no etcd server certificate for {}", m.name))?;
        let peer = set
            .etcd_peer(&m.name)
            .with_context(|| format!("no etcd peer certificate for {}", m.name))?;
        out.push(MemberCerts {
            member: m.name.clone(),
            ca_pem: set.etcd_ca_pem().to_string(),
            server_cert_pem: server.cert_pem.clone(),
            server_key_pem: server.key_pem.clone(),
            peer_cert_pem: peer.cert_pem.clone(),
            peer_key_pem: peer.key_pem.clone(),
        });
    }
    Ok(out)
}

/// The bundle's `etcd-v*/` directory (the newest when there are several).
pub fn bundle_dir(inv: &Inventory) -> Result<PathBuf> {
    let bundle = inv.bundle.as_ref().context(
        "the inventory names no bundle: set `bundle:` to the directory of release tarballs",
    )?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(bundle)
        .with_context(|| format!("cannot read the bundle {}", bundle.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("etcd-v"))
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .with_context(|| format!("{} has no etcd-v*/ directory", bundle.display()))
}

/// `etcd` and `etcdctl` from the bundle.
pub fn binaries(inv: &Inventory) -> Result<Binaries> {
    let dir = bundle_dir(inv)?;
    let get = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))
    };
    Ok(Binaries {
        etcd: get("etcd")?,
        etcdctl: get("etcdctl")?,
    })
}

/// Connects to `hosts` over SSH and applies `plan`, printing the report; fails when a host
/// is unreachable or a step failed.
pub fn apply(
    inv: &Inventory,
    hosts: &[&str],
    plan: &plan::Plan,
    dry_run: bool,
) -> Result<executor::Report> {
    let (mut transports, failed) = executor::connect_all(inv, hosts);
    if !failed.is_empty() {
        let list: Vec<String> = failed
            .iter()
            .map(|(h, e)| format!("{h}: {}", executor::display_chain(e)))
            .collect();
        bail!("cannot reach every member:\n  {}", list.join("\n  "));
    }
    let opts = executor::ApplyOptions {
        dry_run,
        ..Default::default()
    };
    let report = executor::apply(plan, &mut transports, &opts);
    print!("{}", report.render_text());
    if !report.is_success() {
        bail!("the plan failed on {} host(s)", report.failures().len());
    }
    Ok(report)
}

/// Checks health until every member is healthy or `timeout` passed; returns the last report.
pub fn wait_healthy(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    timeout: Duration,
) -> Result<HealthReport> {
    let deadline = Instant::now() + timeout;
    loop {
        let report = rt.block_on(online::health(target))?;
        if report.verdict == Verdict::Healthy || Instant::now() >= deadline {
            return Ok(report);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}
