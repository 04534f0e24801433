//! The cluster's certificate set from the inventory: the one request every phase that
//! issues certificates builds, issuing (or, in a dry run, only judging) it in pki_dir.

use crate::Error;
use etcd_cluster::MemberCerts;
use inventory::{Inventory, KeyKind};
use pki::store::Status;
use pki::{ClusterSet, ClusterSetRequest, KeySpec, Member, NameRequest};
use serde::Serialize;
use std::path::PathBuf;

/// The certificate set the inventory asks for: its etcd members, its apiserver SANs
/// ([`Inventory::apiserver_sans`]) and its `pki:` settings. The only place a
/// [`ClusterSetRequest`] is made, so `kubin pki cluster` and every deploy agree on what
/// fits and a deploy never reissues what `pki cluster` made.
pub fn cluster_request(inv: &Inventory) -> ClusterSetRequest {
    let members = inv
        .etcd_members()
        .iter()
        .map(|h| Member {
            name: h.name.clone(),
            address: h.address,
        })
        .collect();
    let mut req = ClusterSetRequest::new(members, inv.apiserver_sans());
    let p = &inv.pki;
    req.key = match p.key {
        KeyKind::Rsa2048 => KeySpec::Rsa2048,
        KeyKind::Rsa3072 => KeySpec::Rsa3072,
        KeyKind::Rsa4096 => KeySpec::Rsa4096,
        KeyKind::EcdsaP256 => KeySpec::EcdsaP256,
        KeyKind::EcdsaP384 => KeySpec::EcdsaP384,
    };
    req.validity = p.validity;
    req.ca_validity = p.ca_validity;
    let s = &p.subject;
    req.names = vec![NameRequest {
        c: s.c.clone(),
        st: s.st.clone(),
        l: s.l.clone(),
        o: s.o.clone(),
        ou: s.ou.clone(),
    }];
    req
}

/// What happened (or, in a dry run, would happen) to one file set of the cluster set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PkiFile {
    /// The base name under pki_dir, e.g. `etcd/server-k8s-node1`.
    pub name: String,
    /// `reused`, `issued` or `reissued`.
    pub status: &'static str,
    /// Why it was (or would be) reissued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where the old files went (empty in a dry run: nothing moves).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backups: Vec<PathBuf>,
}

/// The cluster set's state after [`ensure`] or [`check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PkiReport {
    /// The inventory's pki_dir.
    pub dir: PathBuf,
    /// Nothing was written: the statuses say what a real run would do.
    pub dry_run: bool,
    /// Every file set, in the set's fixed order.
    pub files: Vec<PkiFile>,
}

impl PkiReport {
    fn new(dir: PathBuf, dry_run: bool, statuses: Vec<(String, Status)>) -> Self {
        let files = statuses
            .into_iter()
            .map(|(name, status)| match status {
                Status::Reused => PkiFile {
                    name,
                    status: "reused",
                    reason: None,
                    backups: Vec::new(),
                },
                Status::Issued => PkiFile {
                    name,
                    status: "issued",
                    reason: None,
                    backups: Vec::new(),
                },
                Status::Reissued { reason, backups } => PkiFile {
                    name,
                    status: "reissued",
                    reason: Some(reason),
                    backups,
                },
            })
            .collect();
        Self {
            dir,
            dry_run,
            files,
        }
    }

    /// Whether every file set exists and fits (nothing issued or reissued).
    pub fn complete(&self) -> bool {
        self.files.iter().all(|f| f.status == "reused")
    }
}

/// Completes the cluster set in pki_dir: loads what fits, issues what is missing, reissues a
/// leaf whose request changed (old files kept), never overwrites a key or a CA.
pub fn ensure(inv: &Inventory) -> Result<(ClusterSet, PkiReport), Error> {
    let err = |source| Error::Pki {
        dir: inv.pki_dir.clone(),
        source,
    };
    let (set, statuses) =
        pki::store::ensure_cluster_set_with_report(&inv.pki_dir, &cluster_request(inv))
            .map_err(err)?;
    Ok((set, PkiReport::new(inv.pki_dir.clone(), false, statuses)))
}

/// What [`ensure`] would do, writing nothing.
pub fn check(inv: &Inventory) -> Result<PkiReport, Error> {
    let statuses =
        pki::store::check_cluster_set(&inv.pki_dir, &cluster_request(inv)).map_err(|source| {
            Error::Pki {
                dir: inv.pki_dir.clone(),
                source,
            }
        })?;
    Ok(PkiReport::new(inv.pki_dir.clone(), true, statuses))
}

/// `kubin pki cluster`: [`ensure`], or [`check`] in a dry run.
pub fn cluster(inv: &Inventory, dry_run: bool) -> Result<PkiReport, Error> {
    if dry_run {
        check(inv)
    } else {
        ensure(inv).map(|(_, report)| report)
    }
}

/// Each etcd member's certificates out of the set.
pub fn member_certs(inv: &Inventory, set: &ClusterSet) -> Result<Vec<MemberCerts>, Error> {
    let missing = |kind, member: &str| Error::MissingCert {
        dir: inv.pki_dir.clone(),
        kind,
        member: member.to_string(),
    };
    inv.etcd_members()
        .iter()
        .map(|m| {
            let server = set
                .etcd_server(&m.name)
                .ok_or_else(|| missing("server", &m.name))?;
            let peer = set
                .etcd_peer(&m.name)
                .ok_or_else(|| missing("peer", &m.name))?;
            Ok(MemberCerts {
                member: m.name.clone(),
                ca_pem: set.etcd_ca_pem().to_string(),
                server_cert_pem: server.cert_pem.clone(),
                server_key_pem: server.key_pem.clone(),
                peer_cert_pem: peer.cert_pem.clone(),
                peer_key_pem: peer.key_pem.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(pki: &str) -> Inventory {
        let text = format!("{}\n{pki}", inventory::example::GUIDES_EXAMPLE);
        Inventory::from_yaml(&text, "cluster.yaml").unwrap().0
    }

    #[test]
    fn the_request_follows_the_inventory() {
        let req = cluster_request(&inv(
            "pki:\n  key: ecdsa-256\n  validity: 365d\n  subject: { C: DE, OU: Ops }\n",
        ));
        assert_eq!(req.key, KeySpec::EcdsaP256);
        assert_eq!(req.validity.as_secs(), 365 * 86400);
        assert_eq!(req.ca_validity.as_secs(), 87600 * 3600);
        assert_eq!(req.names.len(), 1);
        assert_eq!(req.names[0].c.as_deref(), Some("DE"));
        assert_eq!(req.names[0].st, None);
        assert_eq!(req.names[0].ou.as_deref(), Some("Ops"));
        assert_eq!(req.etcd_members.len(), 3);
        assert!(req.apiserver_sans.contains(&"10.0.0.1".to_string()));
    }

    #[test]
    fn without_a_pki_section_the_request_is_the_guides() {
        let guides = inv("");
        let members = cluster_request(&guides).etcd_members;
        let expected = ClusterSetRequest::new(members, guides.apiserver_sans());
        assert_eq!(cluster_request(&guides), expected);
    }

    #[test]
    fn a_dry_run_issues_nothing_then_ensure_then_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let mut i = inv("pki:\n  key: ecdsa-256\n");
        i.pki_dir = dir.path().join("pki");
        let dry = cluster(&i, true).unwrap();
        assert!(dry.files.iter().all(|f| f.status == "issued"), "{dry:?}");
        assert!(
            !i.pki_dir.exists(),
            "a dry run created {}",
            i.pki_dir.display()
        );
        let real = cluster(&i, false).unwrap();
        assert!(!real.complete());
        assert!(check(&i).unwrap().complete());
        assert!(ensure(&i).unwrap().1.complete());
    }
}
