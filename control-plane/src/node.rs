//! The nodes' components: the kubelet (its `KubeletConfiguration`, env file and unit) and
//! kube-proxy (its `KubeProxyConfiguration`, env file and unit), adjusted to facts
//! gathered from each host; every adjustment comes back as data with its reason.

use crate::Error;
use crate::args::Args;
use crate::config::{
    ClientConnection, Conntrack, Enabled, KubeProxyConfiguration, KubeletAuthentication,
    KubeletAuthorization, KubeletConfiguration, KubeletWebhookAuthentication,
    KubeletWebhookAuthorization, KubeletX509Authentication, to_yaml,
};
use crate::layout::{CONTAINERD_ENDPOINT, Layout};
use crate::master::release;
use crate::versions::{Component, Release};
use inventory::{Host, Inventory, Runtime};

/// What the node renderers need to know about a host beyond the inventory (gathered by
/// `hostprep`'s facts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeFacts {
    /// The kernel has IPVS (`ip_vs` loaded or loadable).
    pub ipvs: bool,
    /// The host is a container (systemd-nspawn, ...): swap, `nf_conntrack_max` and most
    /// of `/proc/sys` belong to the outer machine.
    pub in_container: bool,
    /// The kubelet's `imageGCHighThresholdPercent` the container runtime requires (e.g.
    /// `node_runtime`'s `KubeletSetting::ImageGcHighThresholdPercent(100)`: containerd
    /// before 1.7 cannot pin the sandbox image); `None` keeps the kubelet's default.
    pub image_gc_high_threshold_percent: Option<u8>,
    /// kube-proxy's `conntrack.maxPerCore` the host requires (`node_runtime`'s
    /// `KubeProxySetting::ConntrackMaxPerCore`); `None`: 0 inside a container (its
    /// `nf_conntrack_max` is read-only), kube-proxy's default elsewhere.
    pub conntrack_max_per_core: Option<u32>,
}

impl NodeFacts {
    /// No IPVS, not a container, no setting required: a base for struct updates.
    pub const NONE: NodeFacts = NodeFacts {
        ipvs: false,
        in_container: false,
        image_gc_high_threshold_percent: None,
        conntrack_max_per_core: None,
    };
}

/// A departure from the default rendering, with its reason, for the plan to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// What was changed, e.g. `kube-proxy mode iptables instead of ipvs`.
    pub what: String,
    /// Why, e.g. `the kernel has no IPVS`.
    pub why: String,
}

impl Adjustment {
    fn new(what: &str, why: &str) -> Self {
        Self {
            what: what.to_string(),
            why: why.to_string(),
        }
    }
}

/// A rendered config file and the adjustments made to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The file's text.
    pub text: String,
    /// What was adjusted to the host, and why.
    pub adjustments: Vec<Adjustment>,
}

/// The inventory's node called `name`.
pub fn node<'a>(inv: &'a Inventory, name: &str) -> Result<&'a Host, Error> {
    let nodes = inv.nodes();
    nodes
        .iter()
        .find(|h| h.name == name)
        .copied()
        .ok_or_else(|| Error::NotANode {
            name: name.to_string(),
            nodes: nodes
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn runtime(inv: &Inventory, r: Release) -> Result<Runtime, Error> {
    match inv.network.runtime {
        Runtime::Docker if !r.kubelet_has_dockershim() => Err(Error::DockerGone {
            version: r.version(),
        }),
        rt => Ok(rt),
    }
}

/// The kubelet's flags on node `name`: the node name and address as the inventory has
/// them, bootstrap and final kubeconfigs, the certificate directory, the config file, and
/// the runtime endpoint where the release still takes it as a flag.
pub fn kubelet_flags(inv: &Inventory, name: &str) -> Result<Vec<String>, Error> {
    let r = release(inv)?;
    let host = node(inv, name)?;
    let l = Layout::new(&inv.paths);
    let mut a = Args::new(Component::Kubelet, r);
    a.set("--v", 2)
        .set("--hostname-override", &host.name)
        .set("--node-ip", host.address)
        .path("--bootstrap-kubeconfig", &l.bootstrap_kubeconfig)
        .path("--kubeconfig", &l.kubelet_kubeconfig)
        .path("--cert-dir", &l.ssl_dir)
        .path("--config", &l.kubelet_config);
    match runtime(inv, r)? {
        Runtime::Containerd => {
            if r.kubelet_needs_remote_runtime_flag() {
                a.set("--container-runtime", "remote");
            }
            if !r.kubelet_runtime_endpoint_in_config() {
                a.set("--container-runtime-endpoint", CONTAINERD_ENDPOINT);
            }
        }
        // dockershim (below 1.24 only): pods get their network from the CNI plugins.
        Runtime::Docker => {
            a.set("--network-plugin", "cni")
                .set("--cni-bin-dir", "/opt/cni/bin")
                .set("--cni-conf-dir", "/etc/cni/net.d");
        }
    }
    a.finish()
}

/// The `KubeletConfiguration` of node `name`, and its adjustments to the host.
pub fn kubelet_config(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
) -> Result<(KubeletConfiguration, Vec<Adjustment>), Error> {
    let r = release(inv)?;
    node(inv, name)?;
    let l = Layout::new(&inv.paths);
    let mut adjustments = Vec::new();
    let fail_swap_on = if facts.in_container {
        adjustments.push(Adjustment::new(
            "kubelet failSwapOn: false",
            "the host is a container: swap belongs to the outer machine and cannot be \
             turned off here",
        ));
        false
    } else {
        true
    };
    // The runtime's requirement wins over the inventory's choice: it is what keeps the
    // sandbox image on the node.
    let image_gc = match facts.image_gc_high_threshold_percent {
        Some(p) => {
            adjustments.push(Adjustment::new(
                &format!("kubelet imageGCHighThresholdPercent: {p}"),
                "the container runtime cannot pin the sandbox image: collected, it is never \
                 pulled back offline",
            ));
            Some(p)
        }
        None => inv.kubernetes.kubelet.image_gc_high_threshold_percent,
    };
    let endpoint = match runtime(inv, r)? {
        Runtime::Containerd if r.kubelet_runtime_endpoint_in_config() => {
            Some(CONTAINERD_ENDPOINT.to_string())
        }
        _ => None,
    };
    let config = KubeletConfiguration {
        api_version: "kubelet.config.k8s.io/v1beta1".into(),
        kind: "KubeletConfiguration".into(),
        authentication: KubeletAuthentication {
            anonymous: Enabled { enabled: false },
            webhook: KubeletWebhookAuthentication {
                enabled: true,
                cache_ttl: "2m0s".into(),
            },
            x509: KubeletX509Authentication {
                client_ca_file: l.ca.display().to_string(),
            },
        },
        authorization: KubeletAuthorization {
            mode: "Webhook".into(),
            webhook: KubeletWebhookAuthorization {
                cache_authorized_ttl: "5m0s".into(),
                cache_unauthorized_ttl: "30s".into(),
            },
        },
        cgroup_driver: "systemd".into(),
        cluster_dns: vec![inv.kubernetes.cluster_dns.to_string()],
        cluster_domain: inv.kubernetes.cluster_domain.clone(),
        container_runtime_endpoint: endpoint,
        fail_swap_on,
        image_gc_high_threshold_percent: image_gc,
        eviction_hard: inv.kubernetes.kubelet.eviction_hard.clone(),
        read_only_port: 0,
        rotate_certificates: true,
        server_tls_bootstrap: true,
    };
    Ok((config, adjustments))
}

/// The kubelet's config file, as YAML.
pub fn render_kubelet_config(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
) -> Result<Rendered, Error> {
    let (config, adjustments) = kubelet_config(inv, name, facts)?;
    Ok(Rendered {
        text: to_yaml("kubelet-config.yaml", &config)?,
        adjustments,
    })
}

/// kube-proxy's flags: everything is in its config file.
pub fn proxy_flags(inv: &Inventory) -> Result<Vec<String>, Error> {
    let r = release(inv)?;
    let l = Layout::new(&inv.paths);
    let mut a = Args::new(Component::Proxy, r);
    a.set("--v", 2).path("--config", &l.proxy_config);
    a.finish()
}

/// The `KubeProxyConfiguration` of node `name`: ipvs (the guides' mode) where the kernel
/// has it and the release does not deprecate it, iptables otherwise; conntrack left alone
/// inside containers.
pub fn proxy_config(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
) -> Result<(KubeProxyConfiguration, Vec<Adjustment>), Error> {
    let r = release(inv)?;
    let host = node(inv, name)?;
    let l = Layout::new(&inv.paths);
    let mut adjustments = Vec::new();
    let mode = if !facts.ipvs {
        adjustments.push(Adjustment::new(
            "kube-proxy mode iptables instead of ipvs",
            "the host's kernel has no IPVS (ip_vs)",
        ));
        "iptables"
    } else if r.proxy_ipvs_deprecated() {
        adjustments.push(Adjustment::new(
            "kube-proxy mode iptables instead of ipvs",
            &format!("ipvs mode is deprecated since Kubernetes 1.35 (this is {r})"),
        ));
        "iptables"
    } else {
        "ipvs"
    };
    let conntrack = match facts.conntrack_max_per_core {
        Some(n) => {
            adjustments.push(Adjustment::new(
                &format!("kube-proxy conntrack.maxPerCore: {n}"),
                if facts.in_container {
                    "the host is a container: nf_conntrack_max belongs to the outer machine \
                     and is read-only here"
                } else {
                    "the host's facts require it: nf_conntrack_max is not kube-proxy's to set"
                },
            ));
            Some(Conntrack {
                max_per_core: i32::try_from(n).unwrap_or(i32::MAX),
            })
        }
        None if facts.in_container => {
            adjustments.push(Adjustment::new(
                "kube-proxy conntrack.maxPerCore: 0",
                "the host is a container: nf_conntrack_max belongs to the outer machine and \
                 is read-only here",
            ));
            Some(Conntrack { max_per_core: 0 })
        }
        None => None,
    };
    let config = KubeProxyConfiguration {
        api_version: "kubeproxy.config.k8s.io/v1alpha1".into(),
        kind: "KubeProxyConfiguration".into(),
        client_connection: ClientConnection {
            kubeconfig: l.proxy_kubeconfig.display().to_string(),
        },
        hostname_override: host.name.clone(),
        cluster_cidr: inv.network.pod_cidr.to_string(),
        mode: mode.into(),
        conntrack,
    };
    Ok((config, adjustments))
}

/// kube-proxy's config file, as YAML.
pub fn render_proxy_config(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
) -> Result<Rendered, Error> {
    let (config, adjustments) = proxy_config(inv, name, facts)?;
    Ok(Rendered {
        text: to_yaml("kube-proxy-config.yaml", &config)?,
        adjustments,
    })
}

#[cfg(test)]
mod tests;
