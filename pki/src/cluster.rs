//! The Kubernetes certificate set from plain data: which CAs and leaves, with which subjects,
//! SANs and usages, and where each lives under the PKI directory.

use crate::{CsrRequest, Error, KeyRequest, KeySpec, NameRequest, Profile, layout};
use std::net::IpAddr;
use std::time::Duration;

/// One etcd member: its name (used in file names and as a DNS SAN) and its address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's name, e.g. `etcd-1`.
    pub name: String,
    /// The member's address, a SAN of its server and peer certs.
    pub address: IpAddr,
}

/// What the cluster's certificate set is made from. Fields are plain data: the inventory
/// computes them (pki depends on no sibling crate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSetRequest {
    /// The etcd members, each getting a server and a peer cert.
    pub etcd_members: Vec<Member>,
    /// The apiserver cert's SANs (addresses and names), e.g. from
    /// `inventory::Inventory::apiserver_sans()`.
    pub apiserver_sans: Vec<String>,
    /// Every leaf's lifetime.
    pub validity: Duration,
    /// Both CAs' lifetime.
    pub ca_validity: Duration,
    /// The key kind of every key (the service-account key is always RSA-2048).
    pub key: KeySpec,
    /// Subject attributes (C, ST, L, ...) added to every subject.
    pub names: Vec<NameRequest>,
}

impl ClusterSetRequest {
    /// The guides' defaults: RSA-2048, 87600h (ten years) for CAs and leaves,
    /// `C=CN, ST=BeiJing, L=BeiJing`.
    pub fn new(etcd_members: Vec<Member>, apiserver_sans: Vec<String>) -> Self {
        ClusterSetRequest {
            etcd_members,
            apiserver_sans,
            validity: Duration::from_secs(87600 * 3600),
            ca_validity: Duration::from_secs(87600 * 3600),
            key: KeySpec::Rsa2048,
            names: vec![NameRequest {
                c: Some("CN".into()),
                st: Some("BeiJing".into()),
                l: Some("BeiJing".into()),
                ..NameRequest::default()
            }],
        }
    }

    /// Reports every problem: no members, duplicate or unusable member names, empty SANs.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        if self.etcd_members.is_empty() {
            problems.push("no etcd members".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        for m in &self.etcd_members {
            if !seen.insert(m.name.as_str()) {
                problems.push(format!("etcd member {:?} appears twice", m.name));
            }
            let safe = !m.name.is_empty()
                && m.name.len() <= 63
                && m.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !safe || m.name.starts_with('.') || m.name.starts_with('-') {
                problems.push(format!(
                    "etcd member name {:?} must be letters, digits, '-' and '.'",
                    m.name
                ));
            }
        }
        if self.apiserver_sans.is_empty() {
            problems.push("no apiserver SANs".to_string());
        }
        if let Err(e) = crate::issue::sans(&self.apiserver_sans, "apiserver_sans") {
            problems.push(e.to_string());
        }
        if self.validity.is_zero() || self.ca_validity.is_zero() {
            problems.push("zero validity".to_string());
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::BadClusterRequest { problems })
        }
    }
}

/// Which CA signs a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signer {
    /// The etcd CA (`etcd/ca.pem`).
    Etcd,
    /// The cluster CA (`ca.pem`).
    Cluster,
}

/// One leaf of the set: where it lives, who signs it, what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafSpec {
    /// The cfssljson base name relative to the directory, e.g. `etcd/server-etcd-1`
    /// (files `<name>.pem`, `<name>-key.pem`).
    pub name: String,
    /// The CA that signs it.
    pub signer: Signer,
    /// Subject, SANs and key.
    pub request: CsrRequest,
    /// Usages and lifetime.
    pub profile: Profile,
}

impl ClusterSetRequest {
    /// A subject: the common `names` plus CN and, when given, O (Kubernetes' group).
    fn request(&self, cn: &str, o: Option<&str>, hosts: Vec<String>) -> CsrRequest {
        let mut names = self.names.clone();
        if let Some(o) = o {
            match names.first_mut() {
                Some(n) => n.o = Some(o.to_string()),
                None => names.push(NameRequest {
                    o: Some(o.to_string()),
                    ..NameRequest::default()
                }),
            }
        }
        CsrRequest {
            cn: cn.to_string(),
            hosts,
            key: Some(KeyRequest {
                algo: self.key.algo().to_string(),
                size: self.key.size(),
            }),
            names,
            ca: None,
        }
    }

    /// The request of one of the two CAs.
    pub fn ca_request(&self, signer: Signer) -> CsrRequest {
        let cn = match signer {
            Signer::Etcd => "etcd CA",
            Signer::Cluster => "kubernetes",
        };
        let mut req = self.request(cn, None, Vec::new());
        req.ca = Some(crate::CaRequest {
            expiry: Some(format!("{}s", self.ca_validity.as_secs())),
        });
        req
    }
}

/// Every leaf of the set, in a fixed order: etcd servers and peers per member, the etcd
/// client, then the cluster CA's leaves. Pure: the same request gives the same list.
pub fn cluster_leaves(req: &ClusterSetRequest) -> Vec<LeafSpec> {
    let server = Profile {
        expiry: req.validity,
        ..Profile::www()
    };
    let client = Profile::client(req.validity);
    let mut leaves = Vec::new();
    for m in &req.etcd_members {
        let hosts = vec![
            m.address.to_string(),
            m.name.clone(),
            "127.0.0.1".to_string(),
        ];
        leaves.push(LeafSpec {
            name: layout::etcd_server(&m.name),
            signer: Signer::Etcd,
            request: req.request(&m.name, None, hosts.clone()),
            profile: server.clone(),
        });
        leaves.push(LeafSpec {
            name: layout::etcd_peer(&m.name),
            signer: Signer::Etcd,
            request: req.request(&m.name, None, hosts),
            profile: server.clone(),
        });
    }
    let mut leaf = |name: &str, signer, cn: &str, o: Option<&str>, hosts, profile: &Profile| {
        leaves.push(LeafSpec {
            name: name.to_string(),
            signer,
            request: req.request(cn, o, hosts),
            profile: profile.clone(),
        });
    };
    leaf(
        layout::ETCD_CLIENT,
        Signer::Etcd,
        "etcd-client",
        None,
        vec![],
        &client,
    );
    leaf(
        layout::APISERVER,
        Signer::Cluster,
        "kubernetes",
        None,
        req.apiserver_sans.clone(),
        &server,
    );
    leaf(
        layout::ADMIN,
        Signer::Cluster,
        "admin",
        Some("system:masters"),
        vec![],
        &client,
    );
    leaf(
        layout::KUBE_PROXY,
        Signer::Cluster,
        "system:kube-proxy",
        None,
        vec![],
        &client,
    );
    leaf(
        layout::KUBE_CONTROLLER_MANAGER,
        Signer::Cluster,
        "system:kube-controller-manager",
        Some("system:kube-controller-manager"),
        vec!["127.0.0.1".into()],
        &server,
    );
    leaf(
        layout::KUBE_SCHEDULER,
        Signer::Cluster,
        "system:kube-scheduler",
        Some("system:kube-scheduler"),
        vec!["127.0.0.1".into()],
        &server,
    );
    leaf(
        layout::APISERVER_KUBELET_CLIENT,
        Signer::Cluster,
        "kube-apiserver-kubelet-client",
        Some("system:masters"),
        vec![],
        &client,
    );
    leaves
}

/// Why an existing leaf no longer fits its spec, or `None` when it does (same CN, O, SANs,
/// usages and key kind). Pure: the store reissues on `Some`.
pub fn leaf_mismatch(info: &crate::CertInfo, spec: &LeafSpec) -> Option<String> {
    let want_o = spec.request.names.iter().rev().find_map(|n| n.o.clone());
    if info.subject.common_name.as_deref().unwrap_or("") != spec.request.cn {
        return Some(format!(
            "CN {:?} is now {:?}",
            info.subject.common_name.as_deref().unwrap_or(""),
            spec.request.cn
        ));
    }
    if info.subject.organization != want_o {
        return Some(format!(
            "O {:?} is now {:?}",
            info.subject.organization, want_o
        ));
    }
    let norm = |v: &[String]| {
        let mut v: Vec<String> = v
            .iter()
            .map(|s| match s.parse::<IpAddr>() {
                Ok(ip) => ip.to_string(),
                Err(_) => s.to_ascii_lowercase(),
            })
            .collect();
        v.sort();
        v.dedup();
        v
    };
    if norm(&info.sans) != norm(&spec.request.hosts) {
        return Some(format!(
            "SANs [{}] are now [{}]",
            info.sans.join(", "),
            spec.request.hosts.join(", ")
        ));
    }
    let mut want: Vec<_> = spec.profile.usages.iter().map(|u| u.canonical()).collect();
    want.sort();
    want.dedup();
    if info.usage_set() != want {
        return Some("usages changed".to_string());
    }
    let key = spec
        .request
        .key_spec(&spec.name)
        .map(|k| k.to_string())
        .unwrap_or_default();
    if info.key != key {
        return Some(format!("key {} is now {}", info.key, key));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ca;

    fn req() -> ClusterSetRequest {
        ClusterSetRequest::new(
            (1..=3)
                .map(|i| Member {
                    name: format!("etcd-{i}"),
                    address: format!("10.0.0.{i}").parse().unwrap(),
                })
                .collect(),
            vec!["127.0.0.1".into(), "kubernetes".into()],
        )
    }

    #[test]
    fn every_member_gets_one_server_and_one_peer_cert() {
        let leaves = cluster_leaves(&req());
        let mut names: Vec<&str> = leaves.iter().map(|l| l.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(names.len(), before, "duplicate leaf names");
        for i in 1..=3 {
            let server = leaves
                .iter()
                .find(|l| l.name == format!("etcd/server-etcd-{i}"))
                .unwrap();
            assert_eq!(server.signer, Signer::Etcd);
            assert_eq!(
                server.request.hosts,
                vec![
                    format!("10.0.0.{i}"),
                    format!("etcd-{i}"),
                    "127.0.0.1".into()
                ]
            );
            assert!(
                leaves
                    .iter()
                    .any(|l| l.name == format!("etcd/peer-etcd-{i}"))
            );
        }
        assert_eq!(leaves.len(), 3 * 2 + 7);
        let admin = leaves.iter().find(|l| l.name == layout::ADMIN).unwrap();
        assert_eq!(admin.request.names[0].o.as_deref(), Some("system:masters"));
    }

    #[test]
    fn mismatch_names_what_changed() {
        let set_req = req();
        let leaf = cluster_leaves(&set_req)
            .into_iter()
            .find(|l| l.name == layout::APISERVER)
            .unwrap();
        let ca = crate::init_ca(
            &set_req.ca_request(Signer::Cluster),
            "ca",
            std::time::SystemTime::now(),
            &crate::new_rng(),
        )
        .unwrap();
        let ca = Ca::from_pem(&ca.cert_pem, "ca.pem", &ca.key_pem, "ca-key.pem").unwrap();
        let issued = crate::issue(
            &ca,
            &leaf.request,
            "a",
            &leaf.profile,
            std::time::SystemTime::now(),
            &crate::new_rng(),
        )
        .unwrap();
        let info = crate::cert_info(&issued.cert_pem, "apiserver.pem").unwrap();
        assert_eq!(leaf_mismatch(&info, &leaf), None);
        let mut moved = leaf.clone();
        moved.request.hosts.push("10.9.9.9".into());
        assert!(leaf_mismatch(&info, &moved).unwrap().contains("SANs"));
        let mut renamed = leaf.clone();
        renamed.request.cn = "other".into();
        assert!(leaf_mismatch(&info, &renamed).unwrap().contains("CN"));
        let mut client = leaf;
        client.profile = Profile::client(client.profile.expiry);
        assert_eq!(
            leaf_mismatch(&info, &client).as_deref(),
            Some("usages changed")
        );
    }
}
