//! The node components phase: the kubelet and kube-proxy on every node, adjusted to what
//! each host is, then CSR approval by policy until every node has its client certificate.

use crate::kubernetes::{self, TokenStatus};
use crate::pki::PkiReport;
use crate::poll::poll_until;
use crate::{Error, Session};
use control_plane::{Layout, NodeFacts};
use inventory::{Inventory, Role};
use node_bootstrap::online::{self, Action, WatchConfig, WatchEnd};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// The one command that reads what the node renderers need beyond hostprep's facts:
/// whether the kernel has IPVS.
pub const IPVS_PROBE: &str = "test -e /proc/net/ip_vs && echo ipvs=yes || echo ipvs=no";

/// What `nodes deploy` does.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// Show what would change and change nothing, locally or on a host.
    pub dry_run: bool,
    /// How long to wait for every node's client certificate.
    pub timeout: Duration,
}

/// What `nodes deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The certificate set (in a dry run: what would be issued).
    pub pki: PkiReport,
    /// The bootstrap token; `None` when a dry run stopped early.
    pub token: Option<TokenStatus>,
    /// Changes over the apply (in a dry run: changes that would be made).
    pub changes: usize,
    /// Each node's facts as the renderers saw them.
    pub facts: BTreeMap<String, Facts>,
    /// The nodes that already had their client certificate before the watch.
    pub had_certificate: Vec<String>,
    /// What the approver did, one line per request (`csr-x: approved (client ...)`).
    pub approvals: Vec<String>,
}

/// One node's facts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Facts {
    /// A container (systemd-nspawn, ...), from `systemd-detect-virt -c`.
    pub in_container: bool,
    /// The kernel has IPVS (`/proc/net/ip_vs`).
    pub ipvs: bool,
}

/// Each node's [`NodeFacts`]: `in_container` from hostprep's facts, `ipvs` by
/// [`IPVS_PROBE`], one command per host.
fn gather(s: &mut Session, nodes: &[String]) -> Result<BTreeMap<String, NodeFacts>, Error> {
    let refs: Vec<&str> = nodes.iter().map(String::as_str).collect();
    s.connect(&refs)?;
    let (facts, failed) = hostprep::gather_all(s.transports());
    let mut unreachable: Vec<(String, String)> = failed
        .into_iter()
        .filter(|(h, _)| nodes.contains(h))
        .map(|(h, e)| (h, e.to_string()))
        .collect();
    let mut out = BTreeMap::new();
    for name in nodes {
        let Some(f) = facts.get(name) else { continue };
        let t = s.transports().get_mut(name).expect("connected above");
        match t.run(IPVS_PROBE) {
            Ok(o) => {
                out.insert(
                    name.clone(),
                    NodeFacts {
                        in_container: f.container.is_some(),
                        ipvs: o.stdout_text().contains("ipvs=yes"),
                    },
                );
            }
            Err(e) => unreachable.push((name.clone(), e.to_string())),
        }
    }
    if unreachable.is_empty() {
        Ok(out)
    } else {
        Err(Error::Unreachable { unreachable })
    }
}

/// The nodes whose kubelet already holds a client certificate (`kubelet-client-current.pem`
/// in its `--cert-dir`): the approver waits only for the others.
fn with_certificate(s: &mut Session, nodes: &[String]) -> Vec<String> {
    let path = Layout::new(&s.inventory.paths)
        .ssl_dir
        .join("kubelet-client-current.pem");
    let command = format!("test -s '{}' && echo present", path.display());
    nodes
        .iter()
        .filter(|n| {
            s.transports()
                .get_mut(n.as_str())
                .and_then(|t| t.run(&command).ok())
                .is_some_and(|o| o.stdout_text().contains("present"))
        })
        .cloned()
        .collect()
}

/// `kubin nodes deploy`: the kubelet and kube-proxy on every node (planned by
/// `control_plane::plan_node_components` from the nodes' facts, the bootstrap and
/// kube-proxy kubeconfigs and the bundle's binaries; restarted only where a file they read
/// changed), then the approver: a watch on the API approving, by
/// `node_bootstrap::policy`, the client CSRs until every node without a client certificate
/// has one, bounded by `timeout`. A dry run writes nothing, locally or on a host.
pub fn deploy(s: &mut Session, opts: DeployOptions) -> Result<DeployReport, Error> {
    let Some(m) = kubernetes::material(s, opts.dry_run, "node components")? else {
        return Ok(DeployReport {
            pki: crate::pki::check(&s.inventory)?,
            token: None,
            changes: 0,
            facts: BTreeMap::new(),
            had_certificate: Vec::new(),
            approvals: Vec::new(),
        });
    };
    let inv = s.inventory.clone();
    let nodes: Vec<String> = inv.nodes().iter().map(|h| h.name.clone()).collect();
    let facts = gather(s, &nodes)?;
    let material = m.nodes(kubernetes::node_binaries(&inv)?)?;
    let plan = control_plane::plan_node_components(&inv, &facts, &material)?;
    let report = s.apply(&plan, opts.dry_run)?;
    let mut out = DeployReport {
        pki: m.pki.clone(),
        token: Some(m.token),
        changes: report.total_changes(),
        facts: facts
            .iter()
            .map(|(h, f)| {
                (
                    h.clone(),
                    Facts {
                        in_container: f.in_container,
                        ipvs: f.ipvs,
                    },
                )
            })
            .collect(),
        had_certificate: Vec::new(),
        approvals: Vec::new(),
    };
    if opts.dry_run {
        return Ok(out);
    }
    out.had_certificate = with_certificate(s, &nodes);
    let waiting: Vec<&String> = nodes
        .iter()
        .filter(|n| !out.had_certificate.contains(n))
        .collect();
    if waiting.is_empty() {
        s.note("every node has its client certificate");
        return Ok(out);
    }
    s.note(format!(
        "approving the kubelets' client CSRs by policy for {} (up to {})",
        waiting
            .iter()
            .map(|n| n.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        crate::error::humanize(opts.timeout)
    ));
    // The watch waits for the nodes still without a certificate: the others' requests may
    // be long gone (the apiserver deletes approved ones after an hour).
    let scope = waiting_inventory(&inv, &out.had_certificate);
    let client = m.admin_client(s)?;
    let cfg = WatchConfig {
        deny: false,
        until_complete: true,
        serving: false,
    };
    let started = std::time::Instant::now();
    let mut actions: Vec<Action> = Vec::new();
    let mut record = |a: &Action| actions.push(a.clone());
    let end = s.block_on(online::watch(
        &client,
        &scope,
        &cfg,
        // The timer is made inside the runtime, when the watch first polls it.
        async move { tokio::time::sleep(opts.timeout).await },
        &mut record,
    ))??;
    for a in &actions {
        s.note(a.to_string());
    }
    out.approvals = actions.iter().map(ToString::to_string).collect();
    // Approved is not yet issued: the controller-manager signs, then each kubelet writes
    // its certificate. Wait for the files, in what is left of the timeout.
    let left = opts.timeout.saturating_sub(started.elapsed());
    let waiting: Vec<String> = waiting.into_iter().cloned().collect();
    let have = poll_until(
        if end == WatchEnd::Cancelled {
            Duration::ZERO
        } else {
            left
        },
        Duration::from_secs(1),
        || with_certificate(s, &waiting),
        |have| have.len() == waiting.len(),
    );
    if have.len() != waiting.len() {
        return Err(Error::NoCertificate {
            waited: opts.timeout,
            nodes: waiting.into_iter().filter(|n| !have.contains(n)).collect(),
            approvals: out.approvals,
        });
    }
    s.note("every node has its client certificate");
    Ok(out)
}

/// The inventory without the nodes in `done` (they keep their other roles).
fn waiting_inventory(inv: &Inventory, done: &[String]) -> Inventory {
    let mut scope = inv.clone();
    for h in &mut scope.hosts {
        if done.contains(&h.name) {
            h.roles.retain(|r| *r != Role::Node);
        }
    }
    scope
}
