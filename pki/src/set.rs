//! The cluster's certificate set as PEM strings, and issuing a whole new one in memory.

use crate::cluster::{ClusterSetRequest, Signer, cluster_leaves};
use crate::{Ca, Error, Issued, KeySpec, PrivateKey, layout};
use ring::rand::SecureRandom;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// A certificate and its private key, in PEM.
///
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#1 for RSA, SEC1 for EC).
    pub key_pem: String,
}

impl std::fmt::Debug for CertKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertKey")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret elided]")
            .finish()
    }
}

impl From<Issued> for CertKey {
    fn from(i: Issued) -> Self {
        CertKey {
            cert_pem: i.cert_pem,
            key_pem: i.key_pem,
        }
    }
}

/// The service-account key pair: the controller-manager signs tokens with the private key,
/// the apiserver checks them with the public key.
///
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    /// The private key (RSA, PKCS#1 PEM).
    pub key_pem: String,
    /// The public key (`PUBLIC KEY` PEM).
    pub public_pem: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("public_pem", &self.public_pem)
            .field("key_pem", &"[secret elided]")
            .finish()
    }
}

/// The whole set, as PEM strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSet {
    /// The etcd CA (its key too: kept for issuing more members later).
    pub etcd_ca: CertKey,
    /// The cluster CA (its key too: controller-manager's `--cluster-signing-key-file`).
    pub ca: CertKey,
    /// Every leaf, by its base name in [`layout`] (e.g. `etcd/server-etcd-1`, `admin`).
    pub leaves: BTreeMap<String, CertKey>,
    /// The service-account key pair.
    pub service_account: ServiceAccountKey,
}

impl ClusterSet {
    /// The etcd CA certificate PEM (what every etcd client and member trusts).
    pub fn etcd_ca_pem(&self) -> &str {
        &self.etcd_ca.cert_pem
    }

    /// The cluster CA certificate PEM.
    pub fn ca_pem(&self) -> &str {
        &self.ca.cert_pem
    }

    /// A leaf by its base name in [`layout`].
    pub fn leaf(&self, name: &str) -> Option<&CertKey> {
        self.leaves.get(name)
    }

    /// The server cert of an etcd member (`--cert-file`, `--key-file`).
    pub fn etcd_server(&self, member: &str) -> Option<&CertKey> {
        self.leaf(&layout::etcd_server(member))
    }

    /// The peer cert of an etcd member (`--peer-cert-file`, `--peer-key-file`).
    pub fn etcd_peer(&self, member: &str) -> Option<&CertKey> {
        self.leaf(&layout::etcd_peer(member))
    }

    fn required(&self, name: &str) -> &CertKey {
        // Every constructor of ClusterSet fills every leaf of cluster_leaves; a missing one is
        // a bug in this crate, and the empty CertKey makes it visible without a panic.
        static EMPTY: CertKey = CertKey {
            cert_pem: String::new(),
            key_pem: String::new(),
        };
        self.leaves.get(name).unwrap_or(&EMPTY)
    }

    /// The etcd client cert (apiserver's `--etcd-certfile`, flannel, etcdctl).
    pub fn etcd_client(&self) -> &CertKey {
        self.required(layout::ETCD_CLIENT)
    }

    /// The apiserver's serving cert.
    pub fn apiserver(&self) -> &CertKey {
        self.required(layout::APISERVER)
    }

    /// The admin's client cert (`O=system:masters`).
    pub fn admin(&self) -> &CertKey {
        self.required(layout::ADMIN)
    }

    /// kube-proxy's client cert.
    pub fn kube_proxy(&self) -> &CertKey {
        self.required(layout::KUBE_PROXY)
    }

    /// kube-controller-manager's cert.
    pub fn kube_controller_manager(&self) -> &CertKey {
        self.required(layout::KUBE_CONTROLLER_MANAGER)
    }

    /// kube-scheduler's cert.
    pub fn kube_scheduler(&self) -> &CertKey {
        self.required(layout::KUBE_SCHEDULER)
    }

    /// The apiserver's client cert towards kubelets.
    pub fn apiserver_kubelet_client(&self) -> &CertKey {
        self.required(layout::APISERVER_KUBELET_CLIENT)
    }
}

/// Issues a whole new set in memory: both CAs, every leaf, the service-account key.
/// [`crate::store::ensure_cluster_set`] is the version that loads and keeps what exists.
pub fn issue_cluster_set(
    req: &ClusterSetRequest,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<ClusterSet, Error> {
    req.check()?;
    let etcd_ca = crate::init_ca(&req.ca_request(Signer::Etcd), layout::ETCD_CA, now, rng)?;
    let ca = crate::init_ca(
        &req.ca_request(Signer::Cluster),
        layout::CLUSTER_CA,
        now,
        rng,
    )?;
    let etcd = Ca::from_pem(
        &etcd_ca.cert_pem,
        "etcd/ca.pem",
        &etcd_ca.key_pem,
        "etcd/ca-key.pem",
    )?;
    let cluster = Ca::from_pem(&ca.cert_pem, "ca.pem", &ca.key_pem, "ca-key.pem")?;
    let mut leaves = BTreeMap::new();
    for leaf in cluster_leaves(req) {
        let signer = match leaf.signer {
            Signer::Etcd => &etcd,
            Signer::Cluster => &cluster,
        };
        let issued = crate::issue(signer, &leaf.request, &leaf.name, &leaf.profile, now, rng)?;
        leaves.insert(leaf.name, issued.into());
    }
    Ok(ClusterSet {
        etcd_ca: etcd_ca.into(),
        ca: ca.into(),
        leaves,
        service_account: new_service_account_key()?,
    })
}

/// A new service-account key pair (RSA-2048, as kubeadm).
pub(crate) fn new_service_account_key() -> Result<ServiceAccountKey, Error> {
    let key = PrivateKey::generate(KeySpec::Rsa2048)?;
    Ok(ServiceAccountKey {
        public_pem: key.public_key_pem(),
        key_pem: key.pem().to_string(),
    })
}
