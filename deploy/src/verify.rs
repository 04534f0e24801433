//! The verification a deploy ends with and `kubin status` runs on demand: etcd's health per
//! member, the apiserver's `/healthz` and `/readyz`, the inventory's nodes and their Ready
//! condition from the API, and the local certificates' expiries; judged by the pure
//! [`judge`] into one [`Overall`] verdict with the exit codes of `kubin etcd health`.

use crate::{Error, Session};
use etcd_cluster::{HealthReport, Verdict};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// A certificate expiring within this is a problem worth a degraded verdict.
pub const EXPIRY_WINDOW: Duration = Duration::from_secs(30 * 86400);

/// How long one request to the apiserver may take here.
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// What the checks add up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Overall {
    /// Everything answers and is healthy.
    Healthy,
    /// Something is off but the cluster serves (etcd keeps its quorum, the apiserver answers).
    Degraded,
    /// etcd lost its quorum or the apiserver does not answer.
    Down,
}

impl Overall {
    /// 0 healthy, 2 degraded, 3 down: as `kubin etcd health`.
    pub fn exit_code(self) -> u8 {
        match self {
            Overall::Healthy => 0,
            Overall::Degraded => 2,
            Overall::Down => 3,
        }
    }
}

/// etcd's part.
#[derive(Debug, Clone, Serialize)]
pub struct EtcdPart {
    /// Every member's health, when the check ran.
    pub health: Option<HealthReport>,
    /// Why it could not run.
    pub error: Option<String>,
}

/// The apiserver's part: each endpoint's answer (`ok`) or the error.
#[derive(Debug, Clone, Serialize)]
pub struct ApiserverPart {
    /// The URL asked.
    pub url: Option<String>,
    /// `/healthz`'s answer, or why there was none.
    pub healthz: Result<String, String>,
    /// `/readyz`'s answer, or why there was none.
    pub readyz: Result<String, String>,
}

/// One inventory node as the API sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeState {
    /// The inventory name (and the Node object's).
    pub name: String,
    /// Whether a Node object exists.
    pub registered: bool,
    /// Its Ready condition's status (`True`, `False`, `Unknown`), when registered.
    pub ready: Option<String>,
}

/// One local certificate's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertExpiry {
    /// The file under pki_dir.
    pub file: String,
    /// Its subject's CN.
    pub common_name: String,
    /// End of validity, RFC 3339.
    pub not_after: String,
    /// Whole days left (negative: expired).
    pub days_left: i64,
}

/// The whole verification.
#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    /// The verdict.
    pub overall: Overall,
    /// Each problem, one line, naming the member, node or file.
    pub problems: Vec<String>,
    /// etcd.
    pub etcd: EtcdPart,
    /// The apiserver.
    pub apiserver: ApiserverPart,
    /// The inventory's nodes (empty: the API was not reachable).
    pub nodes: Vec<NodeState>,
    /// The certificates under pki_dir, soonest expiry first.
    pub certificates: Vec<CertExpiry>,
}

/// Judges the parts: etcd's quorum lost or the apiserver silent is down; a member down, a
/// `/readyz` not ok, a node missing or not Ready, a certificate within `window` of its end
/// is degraded. Pure.
pub fn judge(
    etcd: &EtcdPart,
    api: &ApiserverPart,
    nodes: &[NodeState],
    certs: &[CertExpiry],
    window: Duration,
) -> (Overall, Vec<String>) {
    let mut problems = Vec::new();
    let mut overall = Overall::Healthy;
    let mut worse = |o: Overall, p: String, problems: &mut Vec<String>| {
        overall = overall.max(o);
        problems.push(p);
    };
    match (&etcd.health, &etcd.error) {
        (Some(h), _) => {
            for e in h.endpoints.iter().filter(|e| !e.healthy) {
                let why = e
                    .problem
                    .as_ref()
                    .map_or(String::new(), |p| format!(": {p}"));
                let o = if h.verdict == Verdict::QuorumLost {
                    Overall::Down
                } else {
                    Overall::Degraded
                };
                worse(
                    o,
                    format!("etcd {} unhealthy{why}", e.endpoint),
                    &mut problems,
                );
            }
            if h.verdict != Verdict::Healthy {
                let o = if h.verdict == Verdict::QuorumLost {
                    Overall::Down
                } else {
                    Overall::Degraded
                };
                worse(
                    o,
                    format!("etcd: {} ({} of {} healthy)", h.verdict, h.healthy, h.total),
                    &mut problems,
                );
            }
        }
        (None, e) => worse(
            Overall::Down,
            format!("etcd: {}", e.as_deref().unwrap_or("not checked")),
            &mut problems,
        ),
    }
    match &api.healthz {
        Ok(a) if a.trim() == "ok" => {}
        Ok(a) => worse(
            Overall::Degraded,
            format!("apiserver /healthz: {}", a.trim()),
            &mut problems,
        ),
        Err(e) => worse(
            Overall::Down,
            format!("apiserver /healthz: {e}"),
            &mut problems,
        ),
    }
    match &api.readyz {
        Ok(a) if a.trim() == "ok" => {}
        Ok(a) => worse(
            Overall::Degraded,
            format!("apiserver /readyz: {}", a.trim()),
            &mut problems,
        ),
        Err(e) => worse(
            Overall::Degraded,
            format!("apiserver /readyz: {e}"),
            &mut problems,
        ),
    }
    for n in nodes {
        match (n.registered, n.ready.as_deref()) {
            (false, _) => worse(
                Overall::Degraded,
                format!("node {}: not registered", n.name),
                &mut problems,
            ),
            (true, Some("True")) => {}
            (true, r) => worse(
                Overall::Degraded,
                format!("node {}: Ready is {}", n.name, r.unwrap_or("missing")),
                &mut problems,
            ),
        }
    }
    let window_days = i64::try_from(window.as_secs() / 86400).unwrap_or(i64::MAX);
    for c in certs.iter().filter(|c| c.days_left <= window_days) {
        worse(
            Overall::Degraded,
            format!(
                "certificate {} ({}) ends {} ({} days)",
                c.file, c.common_name, c.not_after, c.days_left
            ),
            &mut problems,
        );
    }
    (overall, problems)
}

/// `kubin status`: every check, then [`judge`]. Changes nothing anywhere.
pub fn verify(s: &mut Session) -> Result<Verification, Error> {
    let etcd = match crate::etcd::health(s) {
        Ok(h) => EtcdPart {
            health: Some(h),
            error: None,
        },
        Err(e) => EtcdPart {
            health: None,
            error: Some(executor::display_chain(&e)),
        },
    };
    let (apiserver, nodes) = api_part(s);
    let certificates = certificates(&s.inventory.pki_dir, SystemTime::now());
    let (overall, problems) = judge(&etcd, &apiserver, &nodes, &certificates, EXPIRY_WINDOW);
    Ok(Verification {
        overall,
        problems,
        etcd,
        apiserver,
        nodes,
        certificates,
    })
}

/// The apiserver's answers and the nodes, as the admin.
fn api_part(s: &mut Session) -> (ApiserverPart, Vec<NodeState>) {
    let url = s.inventory.apiserver_url();
    let unasked = |why: String| ApiserverPart {
        url: url.clone(),
        healthz: Err(why.clone()),
        readyz: Err(why),
    };
    let client = match crate::kubernetes::admin_kubeconfig(&s.inventory).and_then(|config| {
        Ok(s.block_on(node_bootstrap::online::connect_kubeconfig(
            node_bootstrap::kubeconfig::ADMIN,
            config,
        ))??)
    }) {
        Ok(c) => c,
        Err(e) => return (unasked(executor::display_chain(&e)), Vec::new()),
    };
    let inv_nodes: Vec<String> = s.inventory.nodes().iter().map(|h| h.name.clone()).collect();
    let answers = s.block_on(async {
        let healthz = raw_get(&client, "/healthz").await;
        let readyz = raw_get(&client, "/readyz").await;
        let listed = tokio::time::timeout(
            API_TIMEOUT,
            Api::<Node>::all(client.clone()).list(&ListParams::default()),
        )
        .await;
        (healthz, readyz, listed)
    });
    let Ok((healthz, readyz, listed)) = answers else {
        return (unasked("no async runtime".into()), Vec::new());
    };
    let nodes = match listed {
        Ok(Ok(list)) => node_states(&inv_nodes, &list.items),
        _ => Vec::new(),
    };
    (
        ApiserverPart {
            url,
            healthz,
            readyz,
        },
        nodes,
    )
}

/// `GET path` as text, bounded by [`API_TIMEOUT`].
async fn raw_get(client: &kube::Client, path: &str) -> Result<String, String> {
    let request = http::Request::get(path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    match tokio::time::timeout(API_TIMEOUT, client.request_text(request)).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(executor::display_chain(&e)),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(API_TIMEOUT)
        )),
    }
}

/// Each inventory node's state among the API's `nodes`. Pure.
pub fn node_states(inventory_nodes: &[String], nodes: &[Node]) -> Vec<NodeState> {
    inventory_nodes
        .iter()
        .map(|name| {
            let node = nodes
                .iter()
                .find(|n| n.metadata.name.as_deref() == Some(name));
            let ready = node.and_then(|n| {
                n.status
                    .as_ref()?
                    .conditions
                    .as_ref()?
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map(|c| c.status.clone())
            });
            NodeState {
                name: name.clone(),
                registered: node.is_some(),
                ready,
            }
        })
        .collect()
}

/// Every certificate under `dir` (files `*.pem` that are not keys), soonest end first; files
/// that do not parse are left out (the pki phase reports them).
pub fn certificates(dir: &Path, now: SystemTime) -> Vec<CertExpiry> {
    let mut found = Vec::new();
    collect_pems(dir, dir, &mut found);
    let infos: Vec<(String, pki::CertInfo)> = found
        .into_iter()
        .filter_map(|(name, text)| Some((name.clone(), pki::cert_info(&text, &name).ok()?)))
        .collect();
    let mut out: Vec<CertExpiry> = pki::check_expiration(&infos, now, EXPIRY_WINDOW)
        .into_iter()
        .map(|e| CertExpiry {
            file: e.name,
            common_name: e.common_name,
            not_after: e.not_after,
            days_left: e.residual_secs.div_euclid(86400),
        })
        .collect();
    out.sort_by_key(|c| c.days_left);
    out
}

fn collect_pems(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_pems(root, &path, out);
            continue;
        }
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if !name.ends_with(".pem") || name.ends_with("-key.pem") {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&path)
            && text.contains("BEGIN CERTIFICATE")
        {
            out.push((name, text));
        }
    }
}

/// The verification as lines: the verdict and problems, etcd's table, the apiserver's
/// answers, the nodes, the certificates.
pub fn render_text(v: &Verification) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    if let Some(h) = &v.etcd.health {
        s += &h.render_table();
    }
    let answer = |r: &Result<String, String>| match r {
        Ok(a) => a.trim().to_string(),
        Err(e) => format!("no answer: {e}"),
    };
    let url = v.apiserver.url.as_deref().unwrap_or("apiserver");
    let _ = writeln!(s, "{url}/healthz: {}", answer(&v.apiserver.healthz));
    let _ = writeln!(s, "{url}/readyz: {}", answer(&v.apiserver.readyz));
    for n in &v.nodes {
        let _ = writeln!(
            s,
            "node {}: {}",
            n.name,
            match (n.registered, &n.ready) {
                (false, _) => "not registered".to_string(),
                (true, r) => format!("Ready={}", r.as_deref().unwrap_or("missing")),
            }
        );
    }
    if let Some(c) = v.certificates.first() {
        let _ = writeln!(
            s,
            "certificates: {} under pki_dir, the first to end: {} ({}) on {} ({} days)",
            v.certificates.len(),
            c.file,
            c.common_name,
            c.not_after,
            c.days_left
        );
    }
    for p in &v.problems {
        let _ = writeln!(s, "problem: {p}");
    }
    let _ = writeln!(
        s,
        "status: {}",
        match v.overall {
            Overall::Healthy => "healthy",
            Overall::Degraded => "degraded",
            Overall::Down => "down",
        }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use etcd_cluster::EndpointHealth;

    fn etcd(healthy: &[bool]) -> EtcdPart {
        let endpoints = healthy
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let ep = format!("https://10.0.0.{i}:2379");
                if *h {
                    EndpointHealth::healthy(&ep, Duration::ZERO, None)
                } else {
                    EndpointHealth::unhealthy(
                        &ep,
                        Duration::ZERO,
                        etcd_cluster::Problem::ConnectionRefused,
                    )
                }
            })
            .collect();
        EtcdPart {
            health: Some(HealthReport::new(endpoints)),
            error: None,
        }
    }

    fn api(ok: bool) -> ApiserverPart {
        let a = |s: &str| {
            if ok {
                Ok(s.to_string())
            } else {
                Err("refused".to_string())
            }
        };
        ApiserverPart {
            url: None,
            healthz: a("ok"),
            readyz: a("ok"),
        }
    }

    fn node(name: &str, ready: Option<&str>) -> NodeState {
        NodeState {
            name: name.into(),
            registered: ready.is_some(),
            ready: ready.map(str::to_string),
        }
    }

    #[track_caller]
    fn check(e: EtcdPart, a: ApiserverPart, n: &[NodeState], expected: Overall, lines: &[&str]) {
        let (o, problems) = judge(&e, &a, n, &[], EXPIRY_WINDOW);
        assert_eq!(o, expected, "{problems:?}");
        for l in lines {
            assert!(
                problems.iter().any(|p| p.contains(l)),
                "{l:?} not in {problems:?}"
            );
        }
    }

    #[test]
    fn verdicts() {
        check(
            etcd(&[true, true, true]),
            api(true),
            &[node("n1", Some("True"))],
            Overall::Healthy,
            &[],
        );
        check(
            etcd(&[true, false, true]),
            api(true),
            &[],
            Overall::Degraded,
            &[
                "etcd https://10.0.0.1:2379 unhealthy",
                "degraded, quorum kept (2 of 3 healthy)",
            ],
        );
        check(
            etcd(&[true, false, false]),
            api(true),
            &[],
            Overall::Down,
            &["quorum lost"],
        );
        check(
            etcd(&[true, true, true]),
            api(false),
            &[],
            Overall::Down,
            &["/healthz: refused"],
        );
        check(
            etcd(&[true, true, true]),
            api(true),
            &[node("n1", None), node("n2", Some("False"))],
            Overall::Degraded,
            &["node n1: not registered", "node n2: Ready is False"],
        );
    }

    #[test]
    fn a_certificate_near_its_end_degrades() {
        let certs = [CertExpiry {
            file: "ca.pem".into(),
            common_name: "kubernetes".into(),
            not_after: "x".into(),
            days_left: 3,
        }];
        let (o, p) = judge(&etcd(&[true]), &api(true), &[], &certs, EXPIRY_WINDOW);
        assert_eq!(o, Overall::Degraded);
        assert!(p[0].contains("ca.pem (kubernetes)"), "{p:?}");
    }
}
