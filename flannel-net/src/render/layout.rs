//! Where flannel's files live on a host, from the inventory's `paths`.

use inventory::Paths;
use std::path::PathBuf;

/// flanneld's systemd unit.
pub const UNIT: &str = "flanneld.service";
/// The file flanneld writes with this host's subnet and MTU (`--subnet-file`'s default).
pub const SUBNET_ENV: &str = "/run/flannel/subnet.env";
/// Where `mk-docker-opts.sh` writes `DOCKER_NETWORK_OPTIONS`. Not subnet.env itself, as
/// the guides do: that would overwrite flanneld's own `FLANNEL_*` values.
pub const DOCKER_OPTS_ENV: &str = "/run/flannel/docker";
/// docker's drop-in directory.
pub const DOCKER_DROPIN_DIR: &str = "/etc/systemd/system/docker.service.d";
/// The CNI config directory containerd's CRI plugin reads.
pub const CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// The flannel CNI conflist (the name kube-flannel's init container uses too).
pub const CNI_CONFLIST: &str = "/etc/cni/net.d/10-flannel.conflist";

/// Every path the node side writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLayout {
    /// `<kubernetes_cfg>/flanneld`: the env file with `FLANNEL_OPTIONS`.
    pub env_file: PathBuf,
    /// `<systemd_units>/flanneld.service`.
    pub unit_file: PathBuf,
    /// `<kubernetes_bin>/flanneld`.
    pub flanneld: PathBuf,
    /// `<kubernetes_bin>/mk-docker-opts.sh`.
    pub mk_docker_opts: PathBuf,
    /// `<etcd_ssl>/ca.pem`: the etcd CA.
    pub etcd_ca: PathBuf,
    /// `<etcd_ssl>/client.pem`: the etcd client certificate flanneld presents.
    pub etcd_cert: PathBuf,
    /// `<etcd_ssl>/client-key.pem`.
    pub etcd_key: PathBuf,
    /// docker's drop-in for flannel.
    pub docker_dropin: PathBuf,
    /// `<kubernetes_cfg>/kube-flannel.yml` (kube-subnet-mgr mode, on the first master).
    pub manifest: PathBuf,
}

impl NodeLayout {
    /// The layout for the inventory's paths.
    pub fn new(paths: &Paths) -> Self {
        Self {
            env_file: paths.kubernetes_cfg.join("flanneld"),
            unit_file: paths.systemd_units.join(UNIT),
            flanneld: paths.kubernetes_bin.join("flanneld"),
            mk_docker_opts: paths.kubernetes_bin.join("mk-docker-opts.sh"),
            etcd_ca: paths.etcd_ssl.join("ca.pem"),
            etcd_cert: paths.etcd_ssl.join("client.pem"),
            etcd_key: paths.etcd_ssl.join("client-key.pem"),
            docker_dropin: PathBuf::from(DOCKER_DROPIN_DIR).join("flannel.conf"),
            manifest: paths.kubernetes_cfg.join("kube-flannel.yml"),
        }
    }
}
