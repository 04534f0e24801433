//! The nodes phase: the container runtime (containerd, runc, the CNI plugins, the images)
//! and the pod network (the daemonless routes from `node_runtime`, or flanneld and its CNI
//! config from `flannel_net`, as `network.pod_network` says), then the kubelet and kube-proxy
//! adjusted to what each host is, then CSR approval by policy (client and serving) until
//! every node has its certificates, then a wait until every node is Ready.

use crate::kubernetes::{self, TokenStatus};
use crate::pki::PkiReport;
use crate::poll::poll_until;
use crate::{Error, Session};
use control_plane::{Layout, NodeFacts};
use inventory::{Inventory, PodNetwork, Role};
use k8s_openapi::api::core::v1::{Node, NodeCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use node_bootstrap::online::{self, Action, WatchConfig, WatchEnd};
use node_runtime::{
    Adjustment, KubeProxySetting, KubeletSetting, NetworkOptions, ProxyMode, RuntimeFacts, Target,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// How far the master's clock may be behind this machine's when requests are told apart
/// by their creation time.
const CLOCK_SLACK: Duration = Duration::from_secs(5);

/// The kubelet's client certificate in its `--cert-dir`, once the controller-manager signed
/// its approved client CSR.
pub const CLIENT_CERT: &str = "kubelet-client-current.pem";
/// The kubelet's serving certificate in its `--cert-dir` (`serverTLSBootstrap: true`), once
/// its `kubernetes.io/kubelet-serving` CSR was approved and signed.
pub const SERVING_CERT: &str = "kubelet-server-current.pem";

/// What `nodes deploy` does.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// Show what would change and change nothing, locally or on a host.
    pub dry_run: bool,
    /// How long to wait for every node's certificates, and then again for every node to
    /// be Ready.
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
    /// Each master's and node's facts as the planners saw them.
    pub facts: BTreeMap<String, Facts>,
    /// Each host's runtime and pod-network adjustments (`containerd: snapshotter native
    /// (...)`); the kubelet's and kube-proxy's show in the plan as not-applicable steps.
    pub adjustments: BTreeMap<String, Vec<String>>,
    /// The nodes that already had their client and serving certificates before the watch.
    pub had_certificate: Vec<String>,
    /// What the approver did, one line per request (`csr-x: approved (client ...)`).
    pub approvals: Vec<String>,
    /// The nodes Ready at the end (every node, unless a dry run).
    pub ready: Vec<String>,
    /// How long the wait for Ready took, in seconds (0 when every node already was).
    pub ready_wait_seconds: f64,
}

/// One host's facts.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    /// A container (systemd-nspawn, ...), from `systemd-detect-virt -c`.
    pub in_container: bool,
    /// The kernel has IPVS (`/proc/net/ip_vs` or the `ip_vs` module).
    pub ipvs: bool,
    /// The file system under /var/lib/containerd.
    pub containerd_fs: String,
    /// Processes may lower their `oom_score_adj` (`CAP_SYS_RESOURCE`).
    pub can_lower_oom_score: bool,
}

/// Each host's [`RuntimeFacts`], by `node_runtime::facts::gather_script`: one read-only
/// script per host.
fn gather(s: &mut Session, hosts: &[String]) -> Result<BTreeMap<String, RuntimeFacts>, Error> {
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    s.connect(&refs)?;
    let inv = s.inventory.clone();
    let mut out = BTreeMap::new();
    let mut unreachable = Vec::new();
    for name in hosts {
        let Some(h) = inv.host(name) else { continue };
        let script = node_runtime::facts::gather_script(&h.address.to_string());
        // Not connected: left out of the run, which goes on without it.
        let Some(t) = s.transports().get_mut(name) else {
            continue;
        };
        match t.run(&script) {
            Ok(o) => {
                out.insert(
                    name.clone(),
                    node_runtime::facts::parse_gathered(&o.stdout_text()),
                );
            }
            Err(e) => unreachable.push((name.clone(), e.to_string())),
        }
    }
    s.lost(unreachable)?;
    Ok(out)
}

/// The node renderers' facts for a host: what it is, plus the kubelet and kube-proxy
/// settings the runtime's plan requires (`node_runtime`'s typed adjustments).
pub fn node_facts(facts: &RuntimeFacts, adjustments: &[Adjustment]) -> NodeFacts {
    let mut n = NodeFacts {
        ipvs: facts.ipvs,
        in_container: facts.container.is_some(),
        ..NodeFacts::NONE
    };
    for setting in node_runtime::kubelet_settings(adjustments) {
        match setting {
            // control_plane always renders `cgroupDriver: systemd`.
            KubeletSetting::CgroupDriverSystemd => {}
            KubeletSetting::ImageGcHighThresholdPercent(p) => {
                n.image_gc_high_threshold_percent = Some(p);
            }
        }
    }
    for setting in node_runtime::kube_proxy_settings(adjustments) {
        match setting {
            KubeProxySetting::ConntrackMaxPerCore(c) => n.conntrack_max_per_core = Some(c),
            KubeProxySetting::Mode(ProxyMode::Iptables) => n.ipvs = false,
            KubeProxySetting::Mode(ProxyMode::Ipvs) => {}
        }
    }
    n
}

/// In flannel mode, refuses a bundle without flanneld or the flannel CNI plugin, naming
/// each missing file and the fix, before anything is made or changed.
pub fn check_pod_network_bundle(inv: &Inventory) -> Result<(), Error> {
    let Some(dir) = &inv.bundle else {
        return Ok(());
    };
    let missing =
        hostprep::preflight::check_pod_network(&hostprep::preflight::inspect_pod_network(dir, inv));
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::RuntimeBundle {
        bundle: dir.clone(),
        // The error names the bundle once; each file relative to it.
        problem: missing
            .into_iter()
            .map(|f| f.message.replacen(&format!("{}/", dir.display()), "", 1))
            .collect::<Vec<_>>()
            .join("; "),
    })
}

/// flannel's binaries from the bundle's `flannel-v<version>-linux-amd64/`: flanneld, and
/// `mk-docker-opts.sh` when it is there.
fn flannel_binaries(inv: &Inventory) -> Result<plan::Binaries, Error> {
    let dir = inv
        .bundle
        .as_ref()
        .ok_or_else(|| Error::RuntimeBundle {
            bundle: Default::default(),
            problem:
                "the inventory names no bundle; network.pod_network: flannel runs flanneld from it"
                    .into(),
        })?
        .join(inv.flannel_bundle_dir());
    let mut names = flannel_net::render::BINARIES.to_vec();
    if dir.join(flannel_net::render::MK_DOCKER_OPTS).is_file() {
        names.push(flannel_net::render::MK_DOCKER_OPTS);
    }
    crate::bundle::read_binaries(&dir, &names)
}

/// The nodes whose kubelet already holds its client and serving certificates (in its
/// `--cert-dir`): the approver waits only for the others.
fn with_certificate(s: &mut Session, nodes: &[String]) -> Vec<String> {
    let dir = Layout::new(&s.inventory.paths).ssl_dir;
    let command = format!(
        "test -s '{}' && test -s '{}' && echo present",
        dir.join(CLIENT_CERT).display(),
        dir.join(SERVING_CERT).display()
    );
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

/// The Ready condition's last heartbeat of each listed node, by name.
pub fn heartbeats(listed: &[Node]) -> BTreeMap<String, Time> {
    listed
        .iter()
        .filter_map(|n| {
            let c = ready_condition(n)?;
            Some((n.metadata.name.clone()?, c.last_heartbeat_time.clone()?))
        })
        .collect()
}

fn ready_condition(n: &Node) -> Option<&NodeCondition> {
    n.status
        .as_ref()
        .and_then(|st| st.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
}

/// Each of `nodes`' Ready condition as the apiserver has it: `Ok(())` when Ready, else
/// what stands in the way (`not registered`, `Ready False: <message>`). A node in
/// `restarted` (its kubelet restarted, with the heartbeat seen before) counts only once
/// its restarted kubelet has reported: a Ready from before the restart says nothing about
/// the new kubelet.
pub fn readiness(
    listed: &[Node],
    nodes: &[String],
    restarted: &BTreeMap<String, Time>,
) -> BTreeMap<String, Result<(), String>> {
    nodes
        .iter()
        .map(|name| {
            let node = listed
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(name.to_ascii_lowercase().as_str()));
            let verdict = match node {
                None => Err("not registered".to_string()),
                Some(n) => {
                    let before = n.metadata.name.as_ref().and_then(|m| restarted.get(m));
                    match ready_condition(n) {
                        Some(c) if before.is_some() && c.last_heartbeat_time.as_ref() == before => {
                            Err("no status from the restarted kubelet yet".to_string())
                        }
                        Some(c) if c.status == "True" => Ok(()),
                        Some(c) => Err(format!(
                            "Ready {}: {}",
                            c.status,
                            c.message.as_deref().unwrap_or("")
                        )),
                        None => Err("no Ready condition yet".to_string()),
                    }
                }
            };
            (name.clone(), verdict)
        })
        .collect()
}

/// `kubin nodes deploy`: on every node the container runtime (containerd, runc, the CNI
/// plugins and the bundle's images, planned by `node_runtime::plan_nodes` from each host's
/// facts) and on every master and node the daemonless pod network; then the kubelet and
/// kube-proxy (planned by `control_plane::plan_node_components`, with the runtime's
/// kubelet and kube-proxy settings); each unit restarted only where a file it reads
/// changed. Then the approver: a watch on the API approving, by `node_bootstrap::policy`,
/// the kubelets' client and serving CSRs until every node has both certificates, bounded
/// by `timeout`; then a wait, bounded by `timeout` again, until every node is Ready. A dry
/// run writes nothing, locally or on a host.
pub fn deploy(s: &mut Session, opts: DeployOptions) -> Result<DeployReport, Error> {
    check_pod_network_bundle(&s.inventory)?;
    let Some(m) = kubernetes::material(s, opts.dry_run, "node components")? else {
        return Ok(DeployReport {
            pki: crate::pki::check(&s.inventory)?,
            token: None,
            changes: 0,
            facts: BTreeMap::new(),
            adjustments: BTreeMap::new(),
            had_certificate: Vec::new(),
            approvals: Vec::new(),
            ready: Vec::new(),
            ready_wait_seconds: 0.0,
        });
    };
    let inv = s.inventory.clone();
    let nodes: Vec<String> = inv.nodes().iter().map(|h| h.name.clone()).collect();
    let hosts: Vec<String> = node_runtime::network::network_hosts(&inv)
        .map(|h| h.name.clone())
        .collect();
    let facts = gather(s, &hosts)?;
    let bundle = crate::runtime_bundle::runtime_bundle(&inv)?;
    // The hosts left out of the run get no steps; the others' plans (routes to every
    // node) stay as they are.
    let left_out = s.left_out().keys().cloned().collect();
    let runtime = node_runtime::plan_nodes_except(
        &inv,
        &facts,
        &bundle,
        &NetworkOptions::default(),
        &left_out,
    )?;
    let no_adjustments = Vec::new();
    let node_facts: BTreeMap<String, NodeFacts> = nodes
        .iter()
        .map(|n| match facts.get(n) {
            Some(f) => {
                let a = runtime.adjustments.get(n).unwrap_or(&no_adjustments);
                (n.clone(), node_facts(f, a))
            }
            // Left out: its node components are planned but never applied.
            None => (n.clone(), NodeFacts::default()),
        })
        .collect();
    let adjustments: BTreeMap<String, Vec<String>> = runtime
        .adjustments
        .iter()
        .map(|(h, all)| {
            let shown = all
                .iter()
                .filter(|a| matches!(a.target, Target::Containerd | Target::PodNetwork))
                .map(ToString::to_string)
                .collect();
            (h.clone(), shown)
        })
        .collect();
    for (h, all) in &adjustments {
        for a in all {
            s.note(format!("{h}: {a}"));
        }
    }
    let material = m.nodes(kubernetes::node_binaries(&inv)?)?;
    let components = control_plane::plan_node_components(&inv, &node_facts, &material)?;
    // One plan: the runtime and the pod network first (phases are barriers), so every
    // kubelet starts with containerd already serving.
    let mut plan = runtime.plan;
    if inv.network.pod_network == PodNetwork::Flannel {
        // flanneld on every master and node with its etcd client certificate, and the
        // flannel conflist; flanneld reads its network from etcd, written first.
        let inputs = flannel_net::NodeInputs {
            certs: Some(crate::etcd_access::client_tls(&inv, &s.settings.etcd)?),
            binaries: Some(flannel_binaries(&inv)?),
            images: flannel_net::render::Images::for_version(inv.network.flannel.version),
        };
        plan.phases
            .extend(flannel_net::plan_node(&inv, &inputs)?.phases);
        if !opts.dry_run {
            let note = match crate::flannel::set(s, false)? {
                crate::flannel::SetOutcome::Created { location, .. } => {
                    format!("flannel's network config written to {location}")
                }
                crate::flannel::SetOutcome::Unchanged { location } => {
                    format!("flannel's network config unchanged at {location}")
                }
                crate::flannel::SetOutcome::Replaced { location, .. } => {
                    format!("flannel's network config replaced at {location}")
                }
            };
            s.note(note);
        }
    }
    plan.phases.extend(components.phases);
    // The nodes' last heartbeats before the apply, to tell a restarted kubelet's Ready
    // from its predecessor's (none when the apiserver does not answer: a first deploy).
    let before = if opts.dry_run {
        BTreeMap::new()
    } else {
        let client = m.admin_client(s)?;
        list_nodes(s, &client)
            .map(|l| heartbeats(&l))
            .unwrap_or_default()
    };
    // Requests approved before this apply (re)started the kubelets are for keys those
    // kubelets may no longer have (a reset keeps etcd's data, and with it the approved
    // requests of the kubelets it removed); a few seconds' slack for the master's clock.
    let since = SystemTime::now().checked_sub(CLOCK_SLACK);
    let report = s.apply(plan, opts.dry_run)?;
    let kubelet_unit = control_plane::layout::unit_name(control_plane::Component::Kubelet.binary());
    let restarted: BTreeMap<String, Time> = nodes
        .iter()
        .filter(|n| report.changed_units(n).contains(&kubelet_unit.as_str()))
        .filter_map(|n| {
            Some((
                n.to_ascii_lowercase(),
                before.get(&n.to_ascii_lowercase())?.clone(),
            ))
        })
        .collect();
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
                        in_container: f.container.is_some(),
                        ipvs: f.ipvs,
                        containerd_fs: f.containerd_fs.clone(),
                        can_lower_oom_score: f.can_lower_oom_score,
                    },
                )
            })
            .collect(),
        adjustments,
        had_certificate: Vec::new(),
        approvals: Vec::new(),
        ready: Vec::new(),
        ready_wait_seconds: 0.0,
    };
    if opts.dry_run {
        return Ok(out);
    }
    // The nodes left out of the run are not waited for.
    let nodes: Vec<String> = nodes.into_iter().filter(|n| s.is_in(n)).collect();
    out.had_certificate = with_certificate(s, &nodes);
    let waiting: Vec<String> = nodes
        .iter()
        .filter(|n| !out.had_certificate.contains(n))
        .cloned()
        .collect();
    let client = m.admin_client(s)?;
    if waiting.is_empty() {
        s.note("every node has its client and serving certificates");
    } else {
        approve(s, &client, &inv, &waiting, opts.timeout, since, &mut out)?;
    }
    let started = Instant::now();
    let verdicts = poll_until(
        opts.timeout,
        Duration::from_secs(1),
        || {
            let listed = list_nodes(s, &client).unwrap_or_default();
            readiness(&listed, &nodes, &restarted)
        },
        |v| v.values().all(Result::is_ok),
    );
    out.ready_wait_seconds = started.elapsed().as_secs_f64();
    out.ready = verdicts
        .iter()
        .filter(|(_, v)| v.is_ok())
        .map(|(n, _)| n.clone())
        .collect();
    let not_ready: Vec<(&String, &String)> = verdicts
        .iter()
        .filter_map(|(n, v)| v.as_ref().err().map(|e| (n, e)))
        .collect();
    if !not_ready.is_empty() {
        return Err(Error::NotReady {
            waited: opts.timeout,
            nodes: not_ready.iter().map(|(n, _)| (*n).clone()).collect(),
            conditions: not_ready.iter().map(|(n, e)| format!("{n}: {e}")).collect(),
        });
    }
    s.note(format!(
        "every node is Ready ({} after the certificates)",
        crate::error::humanize(Duration::from_millis(
            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
        ))
    ));
    Ok(out)
}

/// The cluster's nodes, or `None` when the apiserver does not answer.
fn list_nodes(s: &mut Session, client: &kube::Client) -> Option<Vec<Node>> {
    let api: kube::Api<Node> = kube::Api::all(client.clone());
    s.block_on(api.list(&Default::default()))
        .ok()?
        .ok()
        .map(|l| l.items)
}

/// The approver: a watch approving, by policy, the client and serving CSRs of `waiting`
/// until each has both certificates on disk, bounded by `timeout`.
fn approve(
    s: &mut Session,
    client: &kube::Client,
    inv: &Inventory,
    waiting: &[String],
    timeout: Duration,
    since: Option<SystemTime>,
    out: &mut DeployReport,
) -> Result<(), Error> {
    s.note(format!(
        "approving the kubelets' client and serving CSRs by policy for {} (up to {})",
        waiting.join(", "),
        crate::error::humanize(timeout)
    ));
    // The watch waits for the nodes still without certificates: the others' requests may
    // be long gone (the apiserver deletes approved ones after an hour).
    let scope = waiting_inventory(inv, &out.had_certificate);
    // The rendered KubeletConfiguration sets `serverTLSBootstrap: true`: each kubelet asks
    // for a serving certificate the controller-manager never approves, and the apiserver
    // needs it to reach the kubelet (`kubectl logs/exec`) with its CA checked.
    let cfg = WatchConfig {
        deny: false,
        until_complete: true,
        serving: true,
        since,
    };
    let started = Instant::now();
    let mut actions: Vec<Action> = Vec::new();
    let mut record = |a: &Action| actions.push(a.clone());
    let end = s.block_on(online::watch(
        client,
        &scope,
        &cfg,
        // The timer is made inside the runtime, when the watch first polls it.
        async move { tokio::time::sleep(timeout).await },
        &mut record,
    ))??;
    for a in &actions {
        s.note(a.to_string());
    }
    out.approvals = actions.iter().map(ToString::to_string).collect();
    // Approved is not yet issued: the controller-manager signs, then each kubelet writes
    // its certificate. Wait for the files, in what is left of the timeout.
    let left = timeout.saturating_sub(started.elapsed());
    let have = poll_until(
        if end == WatchEnd::Cancelled {
            Duration::ZERO
        } else {
            left
        },
        Duration::from_secs(1),
        || with_certificate(s, waiting),
        |have| have.len() == waiting.len(),
    );
    if have.len() != waiting.len() {
        return Err(Error::NoCertificate {
            waited: timeout,
            nodes: waiting
                .iter()
                .filter(|n| !have.contains(n))
                .cloned()
                .collect(),
            approvals: out.approvals.clone(),
        });
    }
    s.note("every node has its client and serving certificates");
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{NodeCondition, NodeStatus};
    use kube::api::ObjectMeta;

    fn nspawn() -> RuntimeFacts {
        node_runtime::facts::parse_gathered(
            "containerd_fs=overlayfs\ncan_lower_oom_score=0\ncontainer=systemd-nspawn\nipvs=0\ninterface=host0\ndefault_route=0\n",
        )
    }

    #[test]
    fn the_runtimes_settings_reach_the_node_renderers() {
        let adjustments = vec![
            Adjustment::new(
                Target::Kubelet(KubeletSetting::ImageGcHighThresholdPercent(100)),
                "imageGCHighThresholdPercent: 100",
                "containerd 1.6 cannot pin the sandbox image",
            ),
            Adjustment::new(
                Target::KubeProxy(KubeProxySetting::ConntrackMaxPerCore(0)),
                "conntrack.maxPerCore: 0",
                "container",
            ),
            Adjustment::new(
                Target::KubeProxy(KubeProxySetting::Mode(ProxyMode::Iptables)),
                "mode: iptables",
                "no IPVS",
            ),
        ];
        let mut facts = nspawn();
        facts.ipvs = true;
        let n = node_facts(&facts, &adjustments);
        assert_eq!(
            n,
            NodeFacts {
                ipvs: false,
                in_container: true,
                image_gc_high_threshold_percent: Some(100),
                conntrack_max_per_core: Some(0),
            }
        );
        assert_eq!(
            node_facts(&nspawn(), &[]).image_gc_high_threshold_percent,
            None
        );
    }

    fn node(name: &str, ready: Option<&str>) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                conditions: ready.map(|status| {
                    vec![NodeCondition {
                        type_: "Ready".into(),
                        status: status.into(),
                        message: Some("container runtime network not ready".into()),
                        ..Default::default()
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn readiness_names_what_is_missing() {
        let listed = [
            node("k8s-node1", Some("True")),
            node("k8s-node2", Some("False")),
            node("k8s-node3", None),
        ];
        let names: Vec<String> = ["k8s-node1", "k8s-node2", "k8s-node3", "K8S-Node4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = readiness(&listed, &names, &BTreeMap::new());
        assert_eq!(v["k8s-node1"], Ok(()));
        assert_eq!(
            v["k8s-node2"],
            Err("Ready False: container runtime network not ready".to_string())
        );
        assert_eq!(v["k8s-node3"], Err("no Ready condition yet".to_string()));
        assert_eq!(v["K8S-Node4"], Err("not registered".to_string()));
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;
    use k8s_openapi::api::core::v1::NodeStatus;
    use k8s_openapi::jiff::Timestamp;
    use kube::api::ObjectMeta;

    fn ready_at(secs: i64) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("k8s-node1".into()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    last_heartbeat_time: Some(Time(Timestamp::from_second(secs).unwrap())),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_restarted_kubelet_counts_once_it_reported() {
        let nodes = vec!["k8s-node1".to_string()];
        let before = heartbeats(&[ready_at(100)]);
        assert_eq!(
            readiness(&[ready_at(100)], &nodes, &before)["k8s-node1"],
            Err("no status from the restarted kubelet yet".to_string())
        );
        assert_eq!(
            readiness(&[ready_at(110)], &nodes, &before)["k8s-node1"],
            Ok(())
        );
        assert_eq!(
            readiness(&[ready_at(100)], &nodes, &BTreeMap::new())["k8s-node1"],
            Ok(())
        );
    }
}
