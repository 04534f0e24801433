//! Adjustments: what a plan changed because of a host's facts or the versions involved,
//! each with its reason, so the plan prints why a host is configured the way it is.

use std::fmt;

/// One decision taken for a host, with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjustment {
    /// The component it applies to; settings for other renderers are typed.
    pub target: Target,
    /// What was chosen, e.g. `snapshotter native`.
    pub what: String,
    /// Why, e.g. `/var/lib/containerd is on overlayfs`.
    pub why: String,
}

/// The component an adjustment applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// containerd's config (already applied in the rendered `config.toml`).
    Containerd,
    /// The kubelet's config: its renderer must apply the setting.
    Kubelet(KubeletSetting),
    /// kube-proxy's config: its renderer must apply the setting.
    KubeProxy(KubeProxySetting),
    /// The pod network (already applied in the conflist and routes).
    PodNetwork,
}

/// A kubelet configuration value another decision requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeletSetting {
    /// `cgroupDriver: systemd`, matching containerd's `SystemdCgroup = true`.
    CgroupDriverSystemd,
    /// `imageGCHighThresholdPercent`: 100 keeps the kubelet from collecting the sandbox
    /// image a containerd that cannot pin it would otherwise lose.
    ImageGcHighThresholdPercent(u8),
}

/// A kube-proxy configuration value a host's facts require.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KubeProxySetting {
    /// `conntrack.maxPerCore`: 0 leaves `nf_conntrack_max` alone (read-only in containers).
    ConntrackMaxPerCore(u32),
    /// `mode`.
    Mode(ProxyMode),
}

/// kube-proxy's proxy mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// iptables rules (works on every kernel kube-proxy supports).
    Iptables,
    /// IPVS (needs the kernel's ip_vs).
    Ipvs,
}

impl Adjustment {
    /// An adjustment of `target`.
    pub fn new(target: Target, what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            target,
            what: what.into(),
            why: why.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Containerd => "containerd",
            Target::Kubelet(_) => "kubelet",
            Target::KubeProxy(_) => "kube-proxy",
            Target::PodNetwork => "pod network",
        })
    }
}

impl fmt::Display for Adjustment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.target, self.what, self.why)
    }
}

/// The kubelet settings among `adjustments`, in order.
pub fn kubelet_settings(adjustments: &[Adjustment]) -> Vec<KubeletSetting> {
    adjustments
        .iter()
        .filter_map(|a| match a.target {
            Target::Kubelet(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// The kube-proxy settings among `adjustments`, in order.
pub fn kube_proxy_settings(adjustments: &[Adjustment]) -> Vec<KubeProxySetting> {
    adjustments
        .iter()
        .filter_map(|a| match a.target {
            Target::KubeProxy(s) => Some(s),
            _ => None,
        })
        .collect()
}
