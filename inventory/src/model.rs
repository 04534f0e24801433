//! The validated inventory: typed values every other crate reads.

use crate::Version;
use ipnet::Ipv4Net;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

/// A validated cluster inventory. Build it with [`Inventory::from_yaml`].
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// The cluster's name.
    pub cluster_name: String,
    /// Kubernetes version and service network.
    pub kubernetes: Kubernetes,
    /// Pod network and flannel.
    pub network: Network,
    /// Install paths on the hosts.
    pub paths: Paths,
    /// The offline bundle directory on the control machine, if any.
    pub bundle: Option<PathBuf>,
    /// The certificate directory on the control machine.
    pub pki_dir: PathBuf,
    /// How the cluster's certificates are made.
    pub pki: Pki,
    /// The machines, in file order.
    pub hosts: Vec<Host>,
}

/// Kubernetes settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Kubernetes {
    /// The release configs are rendered for.
    pub version: Version,
    /// The service range.
    pub service_cidr: Ipv4Net,
    /// The cluster DNS service address.
    pub cluster_dns: Ipv4Addr,
    /// The cluster domain, e.g. `cluster.local`.
    pub cluster_domain: String,
    /// A load-balancer address in front of the apiservers.
    pub load_balancer: Option<IpAddr>,
    /// Kubelet settings the hosts' disks call for.
    pub kubelet: Kubelet,
}

/// Kubelet settings from the inventory (validated); unset means the kubelet's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kubelet {
    /// `imageGCHighThresholdPercent` (81 to 100).
    pub image_gc_high_threshold_percent: Option<u8>,
    /// `evictionHard`, signal to threshold; empty keeps the kubelet's defaults.
    pub eviction_hard: std::collections::BTreeMap<String, String>,
}

/// The kubelet's eviction signals `evictionHard` takes.
pub const EVICTION_SIGNALS: &[&str] = &[
    "memory.available",
    "nodefs.available",
    "nodefs.inodesFree",
    "imagefs.available",
    "imagefs.inodesFree",
    "pid.available",
];

/// The container runtime the kubelet talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// containerd through CRI (current clusters).
    Containerd,
    /// Docker through dockershim (the guides'; gone since Kubernetes 1.24).
    Docker,
}

/// Pod network settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// The pod network.
    pub pod_cidr: Ipv4Net,
    /// How pods on different hosts reach each other.
    pub pod_network: PodNetwork,
    /// Flannel.
    pub flannel: Flannel,
    /// The container runtime.
    pub runtime: Runtime,
}

/// How pods on different hosts reach each other (`network.pod_network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodNetwork {
    /// flanneld on every master and node, leasing subnets through etcd, and the flannel CNI
    /// plugin (the guides'); both come from the bundle.
    Flannel,
    /// No daemon: each node's pod subnet is derived from its address, a `bridge` +
    /// `host-local` CNI config uses it, and every host has a static route to every other
    /// node's subnet. Only for hosts on one L2 segment.
    Routes,
}

impl PodNetwork {
    /// The inventory's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flannel => "flannel",
            Self::Routes => "routes",
        }
    }
}

/// Flannel's backend type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlannelBackend {
    /// VXLAN overlay (flannel's default).
    Vxlan,
    /// Direct routes between hosts on one L2 network.
    HostGw,
    /// The userspace UDP backend (debugging only).
    Udp,
    /// WireGuard tunnels.
    Wireguard,
}

/// How flanneld learns its network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlannelMode {
    /// flanneld reads `<prefix>/config` from etcd (the guides' first variant).
    Etcd,
    /// flannel runs as a DaemonSet with `--kube-subnet-mgr` (kube-flannel.yml).
    KubeSubnetMgr,
}

/// Flannel settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Flannel {
    /// The flannel release.
    pub version: Version,
    /// The backend.
    pub backend: FlannelBackend,
    /// flannel's `-etcd-prefix`, e.g. `/coreos.com/network`.
    pub etcd_prefix: String,
    /// Where flanneld reads its network from.
    pub mode: FlannelMode,
    /// The per-node subnet size, if the inventory sets one.
    pub subnet_len: Option<u8>,
}

/// Install paths on the hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct Paths {
    /// etcd's config directory.
    pub etcd_cfg: PathBuf,
    /// etcd's binaries.
    pub etcd_bin: PathBuf,
    /// etcd's certificates.
    pub etcd_ssl: PathBuf,
    /// etcd's data directory.
    pub etcd_data: PathBuf,
    /// Kubernetes' config directory.
    pub kubernetes_cfg: PathBuf,
    /// Kubernetes' binaries.
    pub kubernetes_bin: PathBuf,
    /// Kubernetes' certificates.
    pub kubernetes_ssl: PathBuf,
    /// Where systemd units are written.
    pub systemd_units: PathBuf,
}

/// What a host does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// An etcd member.
    Etcd,
    /// Runs kube-apiserver, controller-manager and scheduler.
    Master,
    /// Runs kubelet and kube-proxy.
    Node,
}

/// How host keys are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKeyPolicy {
    /// The host key must already be in known_hosts.
    Strict,
    /// An unknown host's key is recorded; a changed key is still refused.
    AcceptNew,
}

/// How to reach a host over SSH, with the top-level defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Ssh {
    /// Login user; not `root` means commands run through sudo.
    pub user: String,
    /// Port.
    pub port: u16,
    /// Private key file; `None` means the SSH agent.
    pub key: Option<PathBuf>,
    /// The known_hosts file (`None`: `~/.ssh/known_hosts`).
    pub known_hosts: Option<PathBuf>,
    /// How host keys are checked.
    pub host_key_policy: HostKeyPolicy,
}

/// One machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Its host name.
    pub name: String,
    /// Its address.
    pub address: IpAddr,
    /// Its roles.
    pub roles: BTreeSet<Role>,
    /// How to reach it.
    pub ssh: Ssh,
}

impl Host {
    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A key kind cfssl offers; the inventory's `pki.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// RSA, 2048 bits (the guides').
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits.
    Rsa4096,
    /// ECDSA on P-256.
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

impl KeyKind {
    /// Every kind with its name in the inventory.
    pub const NAMED: [(&'static str, KeyKind); 5] = [
        ("rsa-2048", KeyKind::Rsa2048),
        ("rsa-3072", KeyKind::Rsa3072),
        ("rsa-4096", KeyKind::Rsa4096),
        ("ecdsa-256", KeyKind::EcdsaP256),
        ("ecdsa-384", KeyKind::EcdsaP384),
    ];

    /// The kind named `name` in the inventory (`rsa-2048`, `ecdsa-256`, ...).
    pub fn from_name(name: &str) -> Option<KeyKind> {
        Self::NAMED
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, k)| *k)
    }
}

/// Subject names every certificate of the set carries (cfssl's `names`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// Country.
    pub c: Option<String>,
    /// State or province.
    pub st: Option<String>,
    /// Locality.
    pub l: Option<String>,
    /// Organization.
    pub o: Option<String>,
    /// Organizational unit.
    pub ou: Option<String>,
}

/// How the cluster's certificates are made: the one source both `kubin pki cluster` and
/// every deploy read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pki {
    /// Key kind of every key (the service-account key is always RSA-2048).
    pub key: KeyKind,
    /// Every leaf's lifetime.
    pub validity: Duration,
    /// Both CAs' lifetime.
    pub ca_validity: Duration,
    /// Subject names added to every subject.
    pub subject: Subject,
}

impl Default for Pki {
    /// The guides': RSA-2048, ten years (87600h) for CAs and leaves, `C=CN, ST=BeiJing,
    /// L=BeiJing`.
    fn default() -> Self {
        Self {
            key: KeyKind::Rsa2048,
            validity: Duration::from_secs(87600 * 3600),
            ca_validity: Duration::from_secs(87600 * 3600),
            subject: Subject {
                c: Some("CN".into()),
                st: Some("BeiJing".into()),
                l: Some("BeiJing".into()),
                o: None,
                ou: None,
            },
        }
    }
}
