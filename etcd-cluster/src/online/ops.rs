//! Members, status, snapshots and member changes through the v3 API.

use super::check::bounded;
use super::{Target, connect};
use crate::Error;
use crate::health::Problem;
use crate::membership::LiveMember;
use etcd_client::{Client, GetOptions, MemberAddOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

fn endpoint_err(endpoint: &str, p: Problem) -> Error {
    Error::Endpoint {
        endpoint: endpoint.into(),
        problem: p,
    }
}

/// The first endpoint that connects (in order), with its client.
async fn first_client(target: &Target) -> Result<(String, Client), Error> {
    let mut failures = Vec::new();
    for e in &target.endpoints {
        let t = target.timeouts;
        let attempt = async {
            let mut c = bounded(
                "connecting",
                t.request,
                connect(std::slice::from_ref(e), &target.tls, t),
            )
            .await?;
            bounded("status", t.request, c.status()).await?;
            Ok::<_, Problem>(c)
        };
        match attempt.await {
            Ok(c) => return Ok((e.clone(), c)),
            Err(p) => failures.push(format!("{e}: {p}")),
        }
    }
    Err(Error::NoEndpoint { failures })
}

fn live(m: &etcd_client::Member) -> LiveMember {
    LiveMember {
        id: format!("{:x}", m.id()),
        name: m.name().to_string(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        is_learner: m.is_learner(),
    }
}

/// The cluster's member list, from the first endpoint that answers.
pub async fn member_list(target: &Target) -> Result<Vec<LiveMember>, Error> {
    let (endpoint, mut c) = first_client(target).await?;
    let list = bounded("member list", target.timeouts.request, c.member_list())
        .await
        .map_err(|p| endpoint_err(&endpoint, p))?;
    Ok(list.members().iter().map(live).collect())
}

/// One endpoint's status, as `etcdctl endpoint status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EndpointStatus {
    /// The endpoint.
    pub endpoint: String,
    /// The member's ID (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The etcd version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The database size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_size: Option<i64>,
    /// The leader's ID (hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// Whether this member is the leader.
    pub is_leader: bool,
    /// Whether it is a learner.
    pub is_learner: bool,
    /// The raft term.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_term: Option<u64>,
    /// The raft index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raft_index: Option<u64>,
    /// Why the status could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Every endpoint's status, in parallel, in endpoint order.
pub async fn status(target: &Target) -> Vec<EndpointStatus> {
    let mut set = tokio::task::JoinSet::new();
    for (i, e) in target.endpoints.iter().enumerate() {
        let one = target.only(e);
        let e = e.clone();
        set.spawn(async move {
            let t = one.timeouts;
            let r = async {
                let mut c = bounded(
                    "connecting",
                    t.request,
                    connect(&one.endpoints, &one.tls, t),
                )
                .await?;
                bounded("status", t.request, c.status()).await
            }
            .await;
            let s = match r {
                Ok(s) => {
                    let id = s.header().map(|h| h.member_id()).unwrap_or(0);
                    EndpointStatus {
                        endpoint: e,
                        id: Some(format!("{id:x}")),
                        version: Some(s.version().to_string()),
                        db_size: Some(s.db_size()),
                        leader: Some(format!("{:x}", s.leader())),
                        is_leader: id != 0 && id == s.leader(),
                        is_learner: s.is_learner(),
                        raft_term: Some(s.raft_term()),
                        raft_index: Some(s.raft_index()),
                        error: None,
                    }
                }
                Err(p) => EndpointStatus {
                    endpoint: e,
                    id: None,
                    version: None,
                    db_size: None,
                    leader: None,
                    is_leader: false,
                    is_learner: false,
                    raft_term: None,
                    raft_index: None,
                    error: Some(p.to_string()),
                },
            };
            (i, s)
        });
    }
    let mut out = Vec::new();
    while let Some(Ok(r)) = set.join_next().await {
        out.push(r);
    }
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, s)| s).collect()
}

/// What `kubin etcd snapshot save` wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotInfo {
    /// The endpoint the snapshot came from.
    pub endpoint: String,
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The file's sha256, hex.
    pub sha256: String,
    /// The store's revision when the snapshot was taken.
    pub revision: i64,
}

/// Streams a snapshot from the first endpoint that answers into `path` (written to
/// `path.part` and renamed when complete, so a broken stream never leaves a file that
/// looks whole). Each chunk must arrive within the request timeout.
pub async fn snapshot_save(target: &Target, path: &Path) -> Result<SnapshotInfo, Error> {
    let (endpoint, mut c) = first_client(target).await?;
    let t = target.timeouts.request;
    let io = |e: std::io::Error, p: &Path| Error::Io {
        path: p.display().to_string(),
        source: e,
    };
    // The revision the snapshot holds at least; the stream's header gives the exact one.
    let before = bounded(
        "reading the revision",
        t,
        c.get("health", Some(GetOptions::new().with_count_only())),
    )
    .await
    .map_err(|p| endpoint_err(&endpoint, p))?;
    let mut revision = before.header().map(|h| h.revision()).unwrap_or(0);
    let part = path.with_extension("part");
    // The snapshot is the whole keyspace (every Secret of a cluster): created 0600 from
    // the start, as etcdctl does, never made private after the fact. A stale part file
    // from a broken run goes first, so its mode cannot carry over.
    match std::fs::remove_file(&part) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e, &part)),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&part)
        .map_err(|e| io(e, &part))?;
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut stream = bounded("snapshot", t, c.snapshot())
        .await
        .map_err(|p| endpoint_err(&endpoint, p))?;
    while let Some(msg) = bounded("a snapshot chunk", t, stream.message())
        .await
        .map_err(|p| endpoint_err(&endpoint, p))?
    {
        if let Some(h) = msg.header() {
            revision = revision.max(h.revision());
        }
        file.write_all(msg.blob()).map_err(|e| io(e, &part))?;
        hasher.update(msg.blob());
        bytes += msg.blob().len() as u64;
    }
    file.sync_all().map_err(|e| io(e, &part))?;
    drop(file);
    std::fs::rename(&part, path).map_err(|e| io(e, path))?;
    Ok(SnapshotInfo {
        endpoint,
        path: path.display().to_string(),
        bytes,
        sha256: hex::encode(hasher.finalize()),
        revision,
    })
}

fn parse_id(id: &str) -> Result<u64, Error> {
    u64::from_str_radix(id, 16).map_err(|_| Error::Member {
        member: id.into(),
        message: "not a hex member ID".into(),
    })
}

/// Whether `e` is etcd refusing a membership change because its strict reconfiguration
/// check calls the cluster unhealthy: etcd allows a change only once every member has been
/// connected for 5 s, which is not yet so right after a member started or restarted. The
/// caller retries such a refusal (the orchestrator's one poll loop); any other error is final.
pub fn is_reconfiguration_refusal(e: &Error) -> bool {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.contains("unhealthy cluster")
}

/// Adds a member with `peer_url` (as a learner when asked); returns the new member and the
/// cluster's members after the change. One attempt: a refusal during etcd's reconfiguration
/// window ([`is_reconfiguration_refusal`]) is the caller's to retry.
pub async fn member_add(
    target: &Target,
    peer_url: &str,
    learner: bool,
) -> Result<(LiveMember, Vec<LiveMember>), Error> {
    let (endpoint, mut c) = first_client(target).await?;
    let mut options = MemberAddOptions::new();
    if learner {
        options = options.with_is_learner();
    }
    let r = bounded(
        "member add",
        target.timeouts.request,
        c.member_add([peer_url], Some(options)),
    )
    .await
    .map_err(|p| endpoint_err(&endpoint, p))?;
    let added = r.member().map(live).ok_or_else(|| Error::Member {
        member: peer_url.into(),
        message: "the cluster did not return the added member".into(),
    })?;
    Ok((added, r.member_list().iter().map(live).collect()))
}

/// Promotes learner `id` (hex) to a voting member.
pub async fn member_promote(target: &Target, id: &str) -> Result<(), Error> {
    let raw = parse_id(id)?;
    let (endpoint, mut c) = first_client(target).await?;
    bounded(
        "member promote",
        target.timeouts.request,
        c.member_promote(raw),
    )
    .await
    .map_err(|p| endpoint_err(&endpoint, p))?;
    Ok(())
}

/// Removes member `id` (hex). The caller decides first whether the quorum survives
/// ([`crate::membership::check_remove`]), and retries a refusal during etcd's
/// reconfiguration window ([`is_reconfiguration_refusal`]).
pub async fn member_remove(target: &Target, id: &str) -> Result<(), Error> {
    let raw = parse_id(id)?;
    let (endpoint, mut c) = first_client(target).await?;
    bounded(
        "member remove",
        target.timeouts.request,
        c.member_remove(raw),
    )
    .await
    .map_err(|p| endpoint_err(&endpoint, p))?;
    Ok(())
}
