//! The components' config files as their real formats: `KubeSchedulerConfiguration`,
//! `KubeletConfiguration`, `KubeProxyConfiguration`, field for field as upstream names
//! them (only the fields kubin sets; the components default the rest).

use serde::{Deserialize, Serialize};

/// `clientConnection` (component-base's `ClientConnectionConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientConnection {
    /// The kubeconfig the component talks to the apiserver with.
    pub kubeconfig: String,
}

/// `leaderElection` (component-base's `LeaderElectionConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaderElection {
    /// Whether the component elects a leader (several masters).
    pub leader_elect: bool,
}

/// kube-scheduler's config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeSchedulerConfiguration {
    /// `kubescheduler.config.k8s.io/<version>`, by release.
    pub api_version: String,
    /// `KubeSchedulerConfiguration`.
    pub kind: String,
    /// The kubeconfig.
    pub client_connection: ClientConnection,
    /// Leader election.
    pub leader_election: LeaderElection,
    /// The insecure health endpoint (v1beta1 and v1beta2 only): pinned to loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthz_bind_address: Option<String>,
    /// The insecure metrics endpoint (v1beta1 and v1beta2 only): pinned to loopback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_bind_address: Option<String>,
}

/// `enabled: bool`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enabled {
    /// Whether it is on.
    pub enabled: bool,
}

/// The kubelet's webhook authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletWebhookAuthentication {
    /// Whether bearer tokens are checked with the apiserver (TokenReview).
    pub enabled: bool,
    /// How long a review is cached.
    #[serde(rename = "cacheTTL")]
    pub cache_ttl: String,
}

/// The kubelet's x509 client authentication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletX509Authentication {
    /// The CA client certificates must chain to (the apiserver's kubelet client cert's).
    #[serde(rename = "clientCAFile")]
    pub client_ca_file: String,
}

/// The kubelet's `authentication`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletAuthentication {
    /// Anonymous requests (off).
    pub anonymous: Enabled,
    /// Bearer tokens through the apiserver.
    pub webhook: KubeletWebhookAuthentication,
    /// Client certificates.
    pub x509: KubeletX509Authentication,
}

/// The kubelet's webhook authorization caches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletWebhookAuthorization {
    /// How long an allowed answer is cached.
    #[serde(rename = "cacheAuthorizedTTL")]
    pub cache_authorized_ttl: String,
    /// How long a denied answer is cached.
    #[serde(rename = "cacheUnauthorizedTTL")]
    pub cache_unauthorized_ttl: String,
}

/// The kubelet's `authorization`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KubeletAuthorization {
    /// `Webhook`: SubjectAccessReviews through the apiserver.
    pub mode: String,
    /// The caches.
    pub webhook: KubeletWebhookAuthorization,
}

/// The kubelet's config file (`kubelet.config.k8s.io/v1beta1` on every release kubin renders).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeletConfiguration {
    /// `kubelet.config.k8s.io/v1beta1`.
    pub api_version: String,
    /// `KubeletConfiguration`.
    pub kind: String,
    /// Who may call the kubelet's API.
    pub authentication: KubeletAuthentication,
    /// What they may do.
    pub authorization: KubeletAuthorization,
    /// `systemd`, matching containerd's `SystemdCgroup = true`.
    pub cgroup_driver: String,
    /// The cluster DNS service address(es).
    #[serde(rename = "clusterDNS")]
    pub cluster_dns: Vec<String>,
    /// The cluster domain.
    pub cluster_domain: String,
    /// The CRI endpoint (from 1.27; a flag before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_runtime_endpoint: Option<String>,
    /// Refuse to start with swap on.
    pub fail_swap_on: bool,
    /// Disk usage (percent) above which image garbage collection always runs; 100 keeps
    /// images (the sandbox image a runtime cannot pin) from ever being collected.
    #[serde(
        rename = "imageGCHighThresholdPercent",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub image_gc_high_threshold_percent: Option<u8>,
    /// Hard eviction thresholds by signal; empty keeps the kubelet's defaults.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub eviction_hard: std::collections::BTreeMap<String, String>,
    /// The unauthenticated read-only port (0: off).
    pub read_only_port: u16,
    /// Renew the client certificate through CSRs before it expires.
    pub rotate_certificates: bool,
    /// Get the serving certificate through a `kubernetes.io/kubelet-serving` CSR.
    #[serde(rename = "serverTLSBootstrap")]
    pub server_tls_bootstrap: bool,
}

/// kube-proxy's `conntrack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conntrack {
    /// Connections per CPU for `nf_conntrack_max`; 0 leaves the host's limit alone.
    pub max_per_core: i32,
}

/// kube-proxy's config file (`kubeproxy.config.k8s.io/v1alpha1`, still served by 1.37).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KubeProxyConfiguration {
    /// `kubeproxy.config.k8s.io/v1alpha1`.
    pub api_version: String,
    /// `KubeProxyConfiguration`.
    pub kind: String,
    /// The kubeconfig.
    pub client_connection: ClientConnection,
    /// The node name (the inventory's, as the kubelet registers it).
    pub hostname_override: String,
    /// The pod network (traffic from outside it is masqueraded).
    #[serde(rename = "clusterCIDR")]
    pub cluster_cidr: String,
    /// `ipvs` or `iptables`.
    pub mode: String,
    /// Only set when kubin must change kube-proxy's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conntrack: Option<Conntrack>,
}

/// Serializes a config as YAML.
pub(crate) fn to_yaml<T: Serialize>(file: &str, value: &T) -> Result<String, crate::Error> {
    serde_saphyr::to_string(value).map_err(|source| crate::Error::Yaml {
        file: file.to_string(),
        source,
    })
}
