//! Where the Kubernetes components' files live on a host, from the inventory's `paths`
//! (the guides' `/opt/kubernetes/{cfg,bin,ssl}`).

use inventory::Paths;
use std::path::PathBuf;

/// The containerd socket the kubelet talks CRI to.
pub const CONTAINERD_ENDPOINT: &str = "unix:///run/containerd/containerd.sock";

/// Every path the control plane and the node components use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The config directory (guides: `/opt/kubernetes/cfg`).
    pub cfg_dir: PathBuf,
    /// The binary directory (guides: `/opt/kubernetes/bin`).
    pub bin_dir: PathBuf,
    /// The certificate directory (guides: `/opt/kubernetes/ssl`); the kubelet's
    /// `--cert-dir` too, where it keeps the certificates it bootstraps.
    pub ssl_dir: PathBuf,
    /// Where systemd units are written.
    pub units_dir: PathBuf,
    /// `<ssl>/ca.pem`: the cluster CA.
    pub ca: PathBuf,
    /// `<ssl>/ca-key.pem`: the cluster CA's key (masters only: the controller-manager signs).
    pub ca_key: PathBuf,
    /// `<ssl>/apiserver.pem`: the apiserver's serving cert.
    pub apiserver_cert: PathBuf,
    /// `<ssl>/apiserver-key.pem`.
    pub apiserver_key: PathBuf,
    /// `<ssl>/apiserver-kubelet-client.pem`: the apiserver's client cert towards kubelets.
    pub kubelet_client_cert: PathBuf,
    /// `<ssl>/apiserver-kubelet-client-key.pem`.
    pub kubelet_client_key: PathBuf,
    /// `<ssl>/sa.key`: the service-account signing key.
    pub sa_key: PathBuf,
    /// `<ssl>/sa.pub`: the service-account public key.
    pub sa_pub: PathBuf,
    /// `<ssl>/etcd-ca.pem`: the etcd CA.
    pub etcd_ca: PathBuf,
    /// `<ssl>/etcd-client.pem`: the apiserver's etcd client cert.
    pub etcd_client_cert: PathBuf,
    /// `<ssl>/etcd-client-key.pem`.
    pub etcd_client_key: PathBuf,
    /// `<cfg>/token.csv`: the static bootstrap token (node-bootstrap writes its content).
    pub token_csv: PathBuf,
    /// `<cfg>/kube-controller-manager.kubeconfig`.
    pub controller_manager_kubeconfig: PathBuf,
    /// `<cfg>/kube-scheduler.kubeconfig`.
    pub scheduler_kubeconfig: PathBuf,
    /// `<cfg>/kube-scheduler-config.yaml`: the `KubeSchedulerConfiguration`.
    pub scheduler_config: PathBuf,
    /// `<cfg>/bootstrap.kubeconfig`: the kubelet's bootstrap token kubeconfig.
    pub bootstrap_kubeconfig: PathBuf,
    /// `<cfg>/kubelet.kubeconfig`: written by the kubelet once its client CSR is signed.
    pub kubelet_kubeconfig: PathBuf,
    /// `<cfg>/kubelet-config.yaml`: the `KubeletConfiguration`.
    pub kubelet_config: PathBuf,
    /// `<cfg>/kube-proxy.kubeconfig`.
    pub proxy_kubeconfig: PathBuf,
    /// `<cfg>/kube-proxy-config.yaml`: the `KubeProxyConfiguration`.
    pub proxy_config: PathBuf,
}

impl Layout {
    /// The layout for the inventory's paths.
    pub fn new(paths: &Paths) -> Self {
        let ssl = &paths.kubernetes_ssl;
        let cfg = &paths.kubernetes_cfg;
        Self {
            cfg_dir: cfg.clone(),
            bin_dir: paths.kubernetes_bin.clone(),
            ssl_dir: ssl.clone(),
            units_dir: paths.systemd_units.clone(),
            ca: ssl.join("ca.pem"),
            ca_key: ssl.join("ca-key.pem"),
            apiserver_cert: ssl.join("apiserver.pem"),
            apiserver_key: ssl.join("apiserver-key.pem"),
            kubelet_client_cert: ssl.join("apiserver-kubelet-client.pem"),
            kubelet_client_key: ssl.join("apiserver-kubelet-client-key.pem"),
            sa_key: ssl.join("sa.key"),
            sa_pub: ssl.join("sa.pub"),
            etcd_ca: ssl.join("etcd-ca.pem"),
            etcd_client_cert: ssl.join("etcd-client.pem"),
            etcd_client_key: ssl.join("etcd-client-key.pem"),
            token_csv: cfg.join("token.csv"),
            controller_manager_kubeconfig: cfg.join("kube-controller-manager.kubeconfig"),
            scheduler_kubeconfig: cfg.join("kube-scheduler.kubeconfig"),
            scheduler_config: cfg.join("kube-scheduler-config.yaml"),
            bootstrap_kubeconfig: cfg.join("bootstrap.kubeconfig"),
            kubelet_kubeconfig: cfg.join("kubelet.kubeconfig"),
            kubelet_config: cfg.join("kubelet-config.yaml"),
            proxy_kubeconfig: cfg.join("kube-proxy.kubeconfig"),
            proxy_config: cfg.join("kube-proxy-config.yaml"),
        }
    }

    /// `<bin>/<binary>`, e.g. `/opt/kubernetes/bin/kube-apiserver`.
    pub fn binary(&self, binary: &str) -> PathBuf {
        self.bin_dir.join(binary)
    }

    /// `<cfg>/<binary>.conf`: the component's env file, in the guides' format.
    pub fn env_file(&self, binary: &str) -> PathBuf {
        self.cfg_dir.join(format!("{binary}.conf"))
    }

    /// `<units>/<binary>.service`.
    pub fn unit_file(&self, binary: &str) -> PathBuf {
        self.units_dir.join(unit_name(binary))
    }
}

/// The systemd unit's name for a binary: `kube-apiserver.service`.
pub fn unit_name(binary: &str) -> String {
    format!("{binary}.service")
}
