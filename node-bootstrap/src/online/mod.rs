//! The only IO of the crate: a kube-rs client to the live apiserver. Connects from an admin
//! kubeconfig, applies the bootstrap RBAC, lists certificate signing requests with the
//! policy's verdict, approves or denies them once, or watches and decides as they arrive.

use crate::Error;
use crate::policy::{CsrFacts, CsrKind, CsrState, Decision, Grant, POLICY, decide};
use crate::rbac::Rbac;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::{StreamExt, TryStreamExt as _};
use inventory::{Inventory, Role};
use k8s_openapi::api::certificates::v1::{
    CertificateSigningRequest, CertificateSigningRequestCondition, CertificateSigningRequestStatus,
};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::time::SystemTime;

/// The field manager kubin's server-side applies use.
pub const FIELD_MANAGER: &str = "kubin";
/// The `reason` of the conditions kubin writes.
pub const CONDITION_REASON: &str = "KubinPolicy";

/// A client from a kubeconfig file (its current context).
pub async fn connect(path: &Path) -> Result<Client, Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| Error::Client {
        name: name.clone(),
        source: Box::new(e),
    })?;
    connect_kubeconfig(&name, crate::kubeconfig::from_yaml(&name, &text)?).await
}

/// A client from a loaded kubeconfig (its current context).
pub async fn connect_kubeconfig(name: &str, config: Kubeconfig) -> Result<Client, Error> {
    let config = kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
        .await
        .map_err(|e| Error::Client {
            name: name.to_string(),
            source: Box::new(e),
        })?;
    Client::try_from(config).map_err(|e| Error::Client {
        name: name.to_string(),
        source: Box::new(e),
    })
}

/// The apiserver's `/healthz` answer: `ok` when it is healthy; an error (refused, not
/// trusted, or the failing checks as the apiserver lists them) otherwise.
pub async fn healthz(client: &Client) -> Result<String, Error> {
    let request = http::Request::get("/healthz")
        .body(Vec::new())
        .expect("a constant path is a valid request");
    client
        .request_text(request)
        .await
        .map_err(|source| Error::Api {
            action: "GET /healthz".to_string(),
            source,
        })
}

/// What applying one object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It existed and changed.
    Updated,
    /// It existed as wanted.
    Unchanged,
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `ClusterRole` or `ClusterRoleBinding`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
}

async fn apply_one<K>(api: &Api<K>, kind: &'static str, obj: &K) -> Result<Applied, Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    let action = |what: &str| format!("{what} {kind} {name}");
    let before = api.get_opt(&name).await.map_err(|source| Error::Api {
        action: action("read"),
        source,
    })?;
    let after = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(obj),
        )
        .await
        .map_err(|source| Error::Api {
            action: action("apply"),
            source,
        })?;
    let outcome = match before {
        None => Outcome::Created,
        Some(b) if b.meta().resource_version == after.meta().resource_version => Outcome::Unchanged,
        Some(_) => Outcome::Updated,
    };
    Ok(Applied {
        kind,
        name,
        outcome,
    })
}

/// Applies the RBAC with server-side apply (field manager `kubin`): roles, then bindings.
/// Idempotent: a second run reports every object [`Outcome::Unchanged`].
pub async fn apply_rbac(client: &Client, rbac: &Rbac) -> Result<Vec<Applied>, Error> {
    let roles: Api<k8s_openapi::api::rbac::v1::ClusterRole> = Api::all(client.clone());
    let bindings: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(client.clone());
    let mut out = Vec::new();
    for r in &rbac.roles {
        out.push(apply_one(&roles, "ClusterRole", r).await?);
    }
    for b in &rbac.bindings {
        out.push(apply_one(&bindings, "ClusterRoleBinding", b).await?);
    }
    Ok(out)
}

/// One request with the policy's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its facts (name, signer, requester, state...).
    pub facts: CsrFacts,
    /// What the policy says.
    pub decision: Decision,
}

fn csr_api(client: &Client) -> Api<CertificateSigningRequest> {
    Api::all(client.clone())
}

/// Every request in the cluster with the policy's verdict, by name.
pub async fn list_csrs(client: &Client, inv: &Inventory) -> Result<Vec<Listed>, Error> {
    let list = csr_api(client)
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Api {
            action: "list certificate signing requests".to_string(),
            source,
        })?;
    let mut out: Vec<Listed> = list
        .items
        .iter()
        .map(|csr| {
            let facts = CsrFacts::from_csr(csr);
            let decision = decide(&facts, inv);
            Listed { facts, decision }
        })
        .collect();
    out.sort_by(|a, b| a.facts.name.cmp(&b.facts.name));
    Ok(out)
}

/// What was done about one pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Approved for this grant.
    Approved {
        /// The request.
        name: String,
        /// What it grants.
        grant: Grant,
    },
    /// Denied, with the policy's reason.
    Denied {
        /// The request.
        name: String,
        /// Why.
        reason: String,
    },
    /// Left pending, with the reason (it fails the policy and denying was not asked for,
    /// or it is not a kubelet request).
    Left {
        /// The request.
        name: String,
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Approved { name, grant } => {
                let kind = match grant.kind {
                    CsrKind::Client => "client",
                    CsrKind::Serving => "serving",
                };
                write!(
                    f,
                    "{name}: approved ({kind} certificate for node {})",
                    grant.node
                )
            }
            Action::Denied { name, reason } => write!(f, "{name}: denied: {reason}"),
            Action::Left { name, reason } => write!(f, "{name}: left pending: {reason}"),
        }
    }
}

/// The condition kubin writes: `Approved` or `Denied`, reason [`CONDITION_REASON`], the
/// message naming the policy (and, for a denial, what is wrong).
fn condition(approve: bool, detail: &str) -> CertificateSigningRequestCondition {
    CertificateSigningRequestCondition {
        type_: if approve { "Approved" } else { "Denied" }.to_string(),
        status: "True".to_string(),
        reason: Some(CONDITION_REASON.to_string()),
        message: Some(format!("{POLICY}: {detail}")),
        ..CertificateSigningRequestCondition::default()
    }
}

/// PUTs the `/approval` subresource with one more condition. On a conflict (the request
/// changed meanwhile) it reads it again and decides again, at most three times.
async fn set_condition(
    api: &Api<CertificateSigningRequest>,
    mut csr: CertificateSigningRequest,
    inv: &Inventory,
    deny: bool,
) -> Result<Option<Action>, Error> {
    let name = csr.metadata.name.clone().unwrap_or_default();
    for _ in 0..3 {
        let facts = CsrFacts::from_csr(&csr);
        if facts.state != CsrState::Pending {
            return Ok(None);
        }
        let (action, cond) = match decide(&facts, inv) {
            Decision::Approve(grant) => {
                let detail = format!("node {} may have this certificate", grant.node);
                (
                    Action::Approved {
                        name: name.clone(),
                        grant,
                    },
                    condition(true, &detail),
                )
            }
            Decision::Deny(reason) if deny => {
                let cond = condition(false, &reason);
                (
                    Action::Denied {
                        name: name.clone(),
                        reason,
                    },
                    cond,
                )
            }
            Decision::Deny(reason) | Decision::Ignore(reason) => {
                return Ok(Some(Action::Left {
                    name: name.clone(),
                    reason,
                }));
            }
        };
        let status = csr
            .status
            .get_or_insert_with(CertificateSigningRequestStatus::default);
        status.conditions.get_or_insert_with(Vec::new).push(cond);
        match api
            .replace_subresource("approval", &name, &PostParams::default(), &csr)
            .await
        {
            Ok(_) => return Ok(Some(action)),
            // Deleted meanwhile (by its requester or the cleaner): nothing to decide.
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
            Err(kube::Error::Api(e)) if e.code == 409 => match api.get_opt(&name).await {
                Ok(Some(fresh)) => csr = fresh,
                Ok(None) => return Ok(None),
                Err(source) => {
                    return Err(Error::Api {
                        action: format!("read CSR {name}"),
                        source,
                    });
                }
            },
            Err(source) => {
                return Err(Error::Api {
                    action: format!("set the approval of CSR {name}"),
                    source,
                });
            }
        }
    }
    Err(Error::KeptChanging { name })
}

/// Decides every pending request once: approves those within policy, denies those that
/// fail it when `deny`, and leaves the rest pending, each with its reason.
pub async fn approve(client: &Client, inv: &Inventory, deny: bool) -> Result<Vec<Action>, Error> {
    let api = csr_api(client);
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(|source| Error::Api {
            action: "list certificate signing requests".to_string(),
            source,
        })?;
    let mut out = Vec::new();
    for csr in list.items {
        if let Some(a) = set_condition(&api, csr, inv, deny).await? {
            out.push(a);
        }
    }
    Ok(out)
}

/// What a watch waits for and does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchConfig {
    /// Deny the kubelet requests that fail the policy (otherwise they stay pending).
    pub deny: bool,
    /// Stop once every inventory node has an approved client certificate request.
    pub until_complete: bool,
    /// With `until_complete`: wait for every node's serving certificate request too.
    pub serving: bool,
    /// With `until_complete`: requests approved before the watch that were created before
    /// this time do not count. A reset keeps etcd's data, so the approved requests of the
    /// kubelets it removed are still listed, for keys that no longer exist: counting them
    /// would end the watch before the new kubelets ask for their serving certificates.
    pub since: Option<SystemTime>,
}

/// Whether an already approved request created at `created` counts for a watch that
/// ignores those created before `since`. Pure.
pub fn counts(created: Option<SystemTime>, since: Option<SystemTime>) -> bool {
    match (created, since) {
        (_, None) => true,
        (Some(c), Some(s)) => c >= s,
        (None, Some(_)) => false,
    }
}

/// Why a watch ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEnd {
    /// The cancellation future completed.
    Cancelled,
    /// Every inventory node has what [`WatchConfig`] asked for.
    Complete,
}

/// What the watch needs still: (node, kind) pairs without an approved request.
fn missing(inv: &Inventory, cfg: &WatchConfig, have: &BTreeSet<(String, CsrKind)>) -> usize {
    inv.with_role(Role::Node)
        .flat_map(|h| {
            let node = h.name.to_ascii_lowercase();
            let mut want = vec![(node.clone(), CsrKind::Client)];
            if cfg.serving {
                want.push((node, CsrKind::Serving));
            }
            want
        })
        .filter(|w| !have.contains(w))
        .count()
}

/// How many approvals a watch has in flight at once: a burst of CSRs is decided in
/// parallel (each is one PUT), without flooding the apiserver.
pub const PARALLEL_APPROVALS: usize = 32;

/// Watches certificate signing requests (a list, then a watch from its resource version,
/// resumed where it ended; a fresh list when the server has compacted past it) and decides
/// each pending one as it arrives, up to [`PARALLEL_APPROVALS`] at once, calling `report`
/// once per request acted on or left. Ends when `cancel` completes, or, with
/// `until_complete`, when every inventory node has an approved client (and, if asked,
/// serving) request and the approvals in flight have finished.
pub async fn watch<F>(
    client: &Client,
    inv: &Inventory,
    cfg: &WatchConfig,
    cancel: F,
    report: &mut (dyn FnMut(&Action) + Send),
) -> Result<WatchEnd, Error>
where
    F: Future<Output = ()>,
{
    let api = csr_api(client);
    let mut state = WatchState::default();
    let mut inflight: FuturesUnordered<Decided<'_>> = FuturesUnordered::new();
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(PARALLEL_APPROVALS));
    tokio::pin!(cancel);
    let api_err = |action: &str| {
        let action = action.to_string();
        move |source| Error::Api { action, source }
    };
    let job = |state: &mut WatchState, csr: CertificateSigningRequest| -> Option<Decided<'_>> {
        let name = state.wants(&csr, inv, cfg.since)?;
        let api = api.clone();
        let permits = permits.clone();
        let deny = cfg.deny;
        Some(Box::pin(async move {
            let _permit = permits.acquire_owned().await;
            let result = set_condition(&api, csr, inv, deny).await;
            (name, result)
        }))
    };

    let list_params = ListParams::default();
    let watch_params = WatchParams::default().timeout(290);
    'relist: loop {
        let list = tokio::select! {
            _ = &mut cancel => return Ok(WatchEnd::Cancelled),
            l = api.list(&list_params) => l.map_err(api_err("list certificate signing requests"))?,
        };
        let mut version = list.metadata.resource_version.clone().unwrap_or_default();
        for csr in list.items {
            inflight.extend(job(&mut state, csr));
        }
        loop {
            let stream = tokio::select! {
                _ = &mut cancel => return Ok(WatchEnd::Cancelled),
                s = api.watch(&watch_params, &version) =>
                    s.map_err(api_err("watch certificate signing requests"))?,
            };
            let mut stream = std::pin::pin!(stream.into_stream());
            loop {
                if cfg.until_complete && missing(inv, cfg, &state.have) == 0 {
                    // Finish (and report) what is in flight, then stop.
                    while let Some((name, result)) = inflight.next().await {
                        state.done(&name, result, report)?;
                    }
                    return Ok(WatchEnd::Complete);
                }
                let event = tokio::select! {
                    _ = &mut cancel => return Ok(WatchEnd::Cancelled),
                    Some((name, result)) = inflight.next(), if !inflight.is_empty() => {
                        state.done(&name, result, report)?;
                        continue;
                    }
                    e = stream.next() => e,
                };
                match event {
                    // The server ended the watch (its timeout): resume from where it was.
                    None => break,
                    Some(Err(source)) => {
                        return Err(Error::Api {
                            action: "watch certificate signing requests".to_string(),
                            source,
                        });
                    }
                    Some(Ok(WatchEvent::Added(csr) | WatchEvent::Modified(csr))) => {
                        if let Some(v) = &csr.metadata.resource_version {
                            version = v.clone();
                        }
                        inflight.extend(job(&mut state, csr));
                    }
                    Some(Ok(WatchEvent::Deleted(csr))) => {
                        if let Some(v) = &csr.metadata.resource_version {
                            version = v.clone();
                        }
                    }
                    Some(Ok(WatchEvent::Bookmark(b))) => version = b.metadata.resource_version,
                    // 410 Gone: the version was compacted away; list again.
                    Some(Ok(WatchEvent::Error(e))) if e.code == 410 => continue 'relist,
                    Some(Ok(WatchEvent::Error(e))) => {
                        return Err(Error::WatchEnded {
                            reason: format!("the apiserver said {} ({})", e.message, e.code),
                        });
                    }
                }
            }
        }
    }
}

/// One pending request being decided: its name and what was done.
type Decided<'a> = BoxFuture<'a, (String, Result<Option<Action>, Error>)>;

/// What a watch knows: the grants approved, the requests reported as left pending, and
/// those with an approval in flight.
#[derive(Default)]
struct WatchState {
    have: BTreeSet<(String, CsrKind)>,
    reported: BTreeSet<String>,
    inflight: BTreeSet<String>,
}

impl WatchState {
    /// Records an approved request's grant; returns the name of a pending request that
    /// needs deciding (and is not already being decided).
    fn wants(
        &mut self,
        csr: &CertificateSigningRequest,
        inv: &Inventory,
        since: Option<SystemTime>,
    ) -> Option<String> {
        let facts = CsrFacts::from_csr(csr);
        match facts.state {
            CsrState::Approved | CsrState::Issued => {
                let created = csr
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| SystemTime::from(t.0));
                if !counts(created, since) {
                    return None;
                }
                if let Decision::Approve(g) = decide(&facts, inv) {
                    self.have.insert((g.node, g.kind));
                }
                None
            }
            CsrState::Denied | CsrState::Failed => None,
            CsrState::Pending => self
                .inflight
                .insert(facts.name.clone())
                .then_some(facts.name),
        }
    }

    /// Takes in one finished decision.
    fn done(
        &mut self,
        name: &str,
        result: Result<Option<Action>, Error>,
        report: &mut (dyn FnMut(&Action) + Send),
    ) -> Result<(), Error> {
        self.inflight.remove(name);
        let action = result?;
        if let Some(Action::Approved { grant, .. }) = &action {
            self.have.insert((grant.node.clone(), grant.kind));
        }
        // A request left pending comes back with every change to it: report it once.
        let first =
            !matches!(action, Some(Action::Left { .. })) || self.reported.insert(name.to_string());
        if let Some(a) = action.filter(|_| first) {
            report(&a);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn approvals_from_before_the_watch_count_only_when_asked() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let later = t + Duration::from_secs(1);
        assert!(counts(Some(t), None));
        assert!(counts(None, None));
        assert!(counts(Some(later), Some(t)));
        assert!(counts(Some(t), Some(t)));
        assert!(!counts(Some(t), Some(later)));
        assert!(!counts(None, Some(t)));
    }
}
