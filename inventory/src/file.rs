//! The inventory file as written: `cluster.yaml`, deserialized with unknown keys rejected.
//!
//! Addresses, ranges and versions are kept as strings here so that validation can report
//! every bad value with its path instead of stopping at the first.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The whole `cluster.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    /// The cluster's name (used for the etcd cluster token and kubeconfig contexts).
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// Kubernetes version and service network.
    pub kubernetes: KubernetesFile,
    /// Pod network and flannel.
    pub network: NetworkFile,
    /// Where things are installed on the hosts.
    #[serde(default)]
    pub paths: PathsFile,
    /// SSH settings every host inherits.
    #[serde(default)]
    pub ssh: SshFile,
    /// The offline bundle of binaries (upstream release tarball layout), relative to this file.
    #[serde(default)]
    pub bundle: Option<PathBuf>,
    /// Where the cluster's certificates are kept on the control machine, relative to this file.
    #[serde(default = "default_pki_dir")]
    pub pki_dir: PathBuf,
    /// The cluster's certificates: key kind, lifetimes, subject names (the guides' defaults
    /// when absent).
    #[serde(default)]
    pub pki: Option<PkiFile>,
    /// The machines.
    pub hosts: Vec<HostFile>,
}

/// `pki:` section: how every certificate of the cluster set is made. `kubin pki cluster` and
/// `kubin etcd deploy` both read it, so a deploy never reissues what `pki cluster` made.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PkiFile {
    /// Key kind of every key: `rsa-2048` (default), `rsa-3072`, `rsa-4096`, `ecdsa-256`,
    /// `ecdsa-384`.
    #[serde(default)]
    pub key: Option<String>,
    /// Lifetime of every leaf, e.g. `87600h` (default) or `365d`.
    #[serde(default)]
    pub validity: Option<String>,
    /// Lifetime of the two CAs (default `87600h`).
    #[serde(default)]
    pub ca_validity: Option<String>,
    /// Subject names added to every certificate (default `C: CN, ST: BeiJing, L: BeiJing`).
    #[serde(default)]
    pub subject: Option<SubjectFile>,
}

/// `pki.subject:` section, cfssl's `names` keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectFile {
    /// Country.
    #[serde(rename = "C", default)]
    pub c: Option<String>,
    /// State or province.
    #[serde(rename = "ST", default)]
    pub st: Option<String>,
    /// Locality.
    #[serde(rename = "L", default)]
    pub l: Option<String>,
    /// Organization (Kubernetes' group certificates set their own).
    #[serde(rename = "O", default)]
    pub o: Option<String>,
    /// Organizational unit.
    #[serde(rename = "OU", default)]
    pub ou: Option<String>,
}

/// `kubernetes:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesFile {
    /// The Kubernetes release the configs are rendered for, e.g. `1.20.2`.
    pub version: String,
    /// The service range (guides: `10.0.0.0/24`).
    #[serde(default = "default_service_cidr")]
    pub service_cidr: String,
    /// The cluster DNS service address (guides: `10.0.0.2`).
    #[serde(default = "default_cluster_dns")]
    pub cluster_dns: String,
    /// The cluster domain (default `cluster.local`).
    #[serde(default = "default_cluster_domain")]
    pub cluster_domain: String,
    /// An optional load-balancer address in front of the apiservers.
    #[serde(default)]
    pub load_balancer: Option<String>,
    /// Kubelet settings that depend on the hosts' disks (the kubelet's defaults apply
    /// where unset).
    #[serde(default)]
    pub kubelet: KubeletFile,
}

/// `kubernetes.kubelet:` section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KubeletFile {
    /// Disk usage (percent, 81 to 100) above which the kubelet collects unused images; 100
    /// never collects them (images imported offline are not pulled back).
    #[serde(default)]
    pub image_gc_high_threshold_percent: Option<u8>,
    /// The kubelet's `evictionHard`, signal to threshold (`nodefs.available: 5%`,
    /// `memory.available: 100Mi`). Setting it replaces every default threshold.
    #[serde(default)]
    pub eviction_hard: std::collections::BTreeMap<String, String>,
}

/// `network:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// The pod network (guides: `172.17.0.0/16`).
    pub pod_cidr: String,
    /// How pods on different hosts reach each other: `flannel` (flanneld and the flannel
    /// CNI plugin, the guides') or `routes` (daemonless: static routes between hosts on
    /// one L2 segment).
    #[serde(default = "default_pod_network")]
    pub pod_network: String,
    /// Flannel settings.
    #[serde(default)]
    pub flannel: FlannelFile,
    /// The container runtime: `containerd` (current) or `docker` (the guides', before 1.24).
    #[serde(default = "default_runtime")]
    pub runtime: String,
}

/// `network.flannel:` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlannelFile {
    /// The flannel release, e.g. `0.10.0` (the guides') or `0.22.0`.
    #[serde(default = "default_flannel_version")]
    pub version: String,
    /// The backend type: `vxlan`, `host-gw`, `udp` or `wireguard`.
    #[serde(default = "default_flannel_backend")]
    pub backend: String,
    /// flannel's `-etcd-prefix`.
    #[serde(default = "default_flannel_prefix")]
    pub etcd_prefix: String,
    /// `etcd` (flanneld reads its config from etcd) or `kube-subnet-mgr` (DaemonSet).
    #[serde(default = "default_flannel_mode")]
    pub mode: String,
    /// The subnet size each node leases (flannel's default: 24).
    #[serde(default)]
    pub subnet_len: Option<u8>,
}

impl Default for FlannelFile {
    fn default() -> Self {
        Self {
            version: default_flannel_version(),
            backend: default_flannel_backend(),
            etcd_prefix: default_flannel_prefix(),
            mode: default_flannel_mode(),
            subnet_len: None,
        }
    }
}

/// `paths:` section; every path is absolute on the hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsFile {
    /// etcd's config directory (guides: `/opt/etcd/cfg`).
    #[serde(default = "d_etcd_cfg")]
    pub etcd_cfg: PathBuf,
    /// etcd's binaries (guides: `/opt/etcd/bin`).
    #[serde(default = "d_etcd_bin")]
    pub etcd_bin: PathBuf,
    /// etcd's certificates (guides: `/opt/etcd/ssl`).
    #[serde(default = "d_etcd_ssl")]
    pub etcd_ssl: PathBuf,
    /// etcd's data directory (guides: `/var/lib/etcd/default.etcd`).
    #[serde(default = "d_etcd_data")]
    pub etcd_data: PathBuf,
    /// Kubernetes' config directory (guides: `/opt/kubernetes/cfg`).
    #[serde(default = "d_kube_cfg")]
    pub kubernetes_cfg: PathBuf,
    /// Kubernetes' binaries (guides: `/opt/kubernetes/bin`).
    #[serde(default = "d_kube_bin")]
    pub kubernetes_bin: PathBuf,
    /// Kubernetes' certificates (guides: `/opt/kubernetes/ssl`).
    #[serde(default = "d_kube_ssl")]
    pub kubernetes_ssl: PathBuf,
    /// Where systemd units are written.
    #[serde(default = "d_units")]
    pub systemd_units: PathBuf,
}

impl Default for PathsFile {
    fn default() -> Self {
        Self {
            etcd_cfg: d_etcd_cfg(),
            etcd_bin: d_etcd_bin(),
            etcd_ssl: d_etcd_ssl(),
            etcd_data: d_etcd_data(),
            kubernetes_cfg: d_kube_cfg(),
            kubernetes_bin: d_kube_bin(),
            kubernetes_ssl: d_kube_ssl(),
            systemd_units: d_units(),
        }
    }
}

/// SSH settings; at the top level they are every host's defaults, per host they override.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshFile {
    /// Login user (default `root`; others use sudo).
    #[serde(default)]
    pub user: Option<String>,
    /// Port (default 22).
    #[serde(default)]
    pub port: Option<u16>,
    /// Private key file; without one, the SSH agent is used.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The known_hosts file host keys are checked against (default `~/.ssh/known_hosts`).
    #[serde(default)]
    pub known_hosts: Option<PathBuf>,
    /// `strict` (default) or `accept-new` (record unknown hosts, still refuse changed keys).
    #[serde(default)]
    pub host_key_policy: Option<String>,
}

/// One entry of `hosts:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    /// The host name the machine gets (RFC 1123).
    pub name: String,
    /// Its address, reachable from the control machine and the other hosts.
    pub address: String,
    /// `etcd`, `master`, `node`, in any combination.
    pub roles: Vec<String>,
    /// Overrides of the top-level SSH settings.
    #[serde(default)]
    pub ssh: Option<SshFile>,
}

fn default_cluster_name() -> String {
    "kubernetes".into()
}
fn default_service_cidr() -> String {
    "10.0.0.0/24".into()
}
fn default_cluster_dns() -> String {
    "10.0.0.2".into()
}
fn default_cluster_domain() -> String {
    "cluster.local".into()
}
fn default_runtime() -> String {
    "containerd".into()
}
fn default_pod_network() -> String {
    "flannel".into()
}

fn default_flannel_version() -> String {
    "0.22.0".into()
}
fn default_flannel_backend() -> String {
    "vxlan".into()
}
fn default_flannel_prefix() -> String {
    "/coreos.com/network".into()
}
fn default_flannel_mode() -> String {
    "etcd".into()
}
fn default_pki_dir() -> PathBuf {
    "pki".into()
}
fn d_etcd_cfg() -> PathBuf {
    "/opt/etcd/cfg".into()
}
fn d_etcd_bin() -> PathBuf {
    "/opt/etcd/bin".into()
}
fn d_etcd_ssl() -> PathBuf {
    "/opt/etcd/ssl".into()
}
fn d_etcd_data() -> PathBuf {
    "/var/lib/etcd/default.etcd".into()
}
fn d_kube_cfg() -> PathBuf {
    "/opt/kubernetes/cfg".into()
}
fn d_kube_bin() -> PathBuf {
    "/opt/kubernetes/bin".into()
}
fn d_kube_ssl() -> PathBuf {
    "/opt/kubernetes/ssl".into()
}
fn d_units() -> PathBuf {
    "/usr/lib/systemd/system".into()
}
