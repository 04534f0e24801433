//! containerd's `config.toml` (version 2, containerd 1.x) chosen for a host's facts, and
//! containerd's upstream systemd unit.

use crate::Error;
use crate::adjust::{Adjustment, KubeletSetting, Target};
use crate::facts::RuntimeFacts;
use crate::layout::{
    CNI_BIN_DIR, CNI_CONF_DIR, CONTAINERD_BIN_DIR, CONTAINERD_ROOT, CONTAINERD_STATE, RUNC,
};
use inventory::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The CRI plugin's name in containerd 1.x's config.
pub const CRI_PLUGIN: &str = "io.containerd.grpc.v1.cri";
/// The first containerd release that marks the sandbox image pinned for the kubelet.
pub const PINS_SANDBOX_SINCE: Version = Version::new(1, 7, 0);
/// The first kubelet release kubin gives `imageGCHighThresholdPercent: 100` when the
/// sandbox image cannot be pinned.
pub const KUBELET_GC_UNPINNED_SINCE: Version = Version::new(1, 29, 0);
/// The first kubelet release that speaks only CRI v1 (containerd 1.6 serves it).
pub const KUBELET_CRI_V1_ONLY_SINCE: Version = Version::new(1, 26, 0);

/// containerd's config file, the keys kubin sets (containerd's defaults hold for the rest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerdConfig {
    /// The config format: 2 for containerd 1.x.
    pub version: u32,
    /// The persistent root.
    pub root: String,
    /// The state directory.
    pub state: String,
    /// Plugin configs.
    pub plugins: Plugins,
}

/// The `[plugins]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plugins {
    /// The CRI plugin, the kubelet's endpoint.
    #[serde(rename = "io.containerd.grpc.v1.cri")]
    pub cri: Cri,
}

/// `[plugins."io.containerd.grpc.v1.cri"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cri {
    /// The pause image every pod sandbox runs.
    pub sandbox_image: String,
    /// Never ask runc for an `oom_score_adj` below containerd's own.
    pub restrict_oom_score_adj: bool,
    /// Runtimes and the snapshotter.
    pub containerd: CriContainerd,
    /// The CNI directories.
    pub cni: Cni,
}

/// `[plugins."io.containerd.grpc.v1.cri".containerd]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CriContainerd {
    /// The snapshotter images are unpacked with.
    pub snapshotter: String,
    /// The runtime pods get unless they name another.
    pub default_runtime_name: String,
    /// The runtimes by name.
    pub runtimes: BTreeMap<String, RuntimeConfig>,
}

/// One runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// The shim, e.g. `io.containerd.runc.v2`.
    pub runtime_type: String,
    /// The shim's options.
    pub options: RuncOptions,
}

/// The runc v2 shim's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuncOptions {
    /// Cgroups through systemd, matching the kubelet's `cgroupDriver: systemd`.
    #[serde(rename = "SystemdCgroup")]
    pub systemd_cgroup: bool,
    /// The runc binary, so a distribution's runc elsewhere on `PATH` is never used.
    #[serde(rename = "BinaryName")]
    pub binary_name: String,
}

/// `[plugins."io.containerd.grpc.v1.cri".cni]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cni {
    /// The plugins' directory.
    pub bin_dir: String,
    /// The configs' directory.
    pub conf_dir: String,
}

/// containerd's config for a host, with the adjustments its facts caused.
///
/// - snapshotter `native` when `/var/lib/containerd` sits on overlayfs (overlayfs cannot
///   be an upperdir), `overlayfs` otherwise;
/// - `restrict_oom_score_adj` where the host cannot lower scores (no `CAP_SYS_RESOURCE`),
///   else runc fails to give pods the kubelet's negative scores;
/// - `SystemdCgroup = true` always, so the kubelet's cgroup driver must be systemd;
/// - `sandbox_image` named here because kubelet 1.20 ignores `--pod-infra-container-image`
///   with a remote runtime.
pub fn containerd_config(
    facts: &RuntimeFacts,
    sandbox_image: &str,
) -> (ContainerdConfig, Vec<Adjustment>) {
    let mut adjustments = Vec::new();
    let snapshotter = if facts.containerd_on_overlay() {
        adjustments.push(Adjustment::new(
            Target::Containerd,
            "snapshotter native",
            format!("{CONTAINERD_ROOT} is on overlayfs, which overlayfs cannot use as an upperdir"),
        ));
        "native"
    } else {
        "overlayfs"
    };
    let restrict = !facts.can_lower_oom_score;
    if restrict {
        adjustments.push(Adjustment::new(
            Target::Containerd,
            "restrict_oom_score_adj = true",
            "the host lacks CAP_SYS_RESOURCE, so runc cannot set an oom_score_adj below containerd's",
        ));
    }
    adjustments.push(Adjustment::new(
        Target::Kubelet(KubeletSetting::CgroupDriverSystemd),
        "cgroupDriver: systemd",
        "containerd runs runc with SystemdCgroup = true; the kubelet's cgroup driver must match",
    ));
    let runc = RuntimeConfig {
        runtime_type: "io.containerd.runc.v2".into(),
        options: RuncOptions {
            systemd_cgroup: true,
            binary_name: RUNC.into(),
        },
    };
    let config = ContainerdConfig {
        version: 2,
        root: CONTAINERD_ROOT.into(),
        state: CONTAINERD_STATE.into(),
        plugins: Plugins {
            cri: Cri {
                sandbox_image: sandbox_image.into(),
                restrict_oom_score_adj: restrict,
                containerd: CriContainerd {
                    snapshotter: snapshotter.into(),
                    default_runtime_name: "runc".into(),
                    runtimes: BTreeMap::from([("runc".to_string(), runc)]),
                },
                cni: Cni {
                    bin_dir: CNI_BIN_DIR.into(),
                    conf_dir: CNI_CONF_DIR.into(),
                },
            },
        },
    };
    (config, adjustments)
}

/// Refuses containerd releases whose config kubin does not write or that cannot serve the
/// kubelet, and returns the kubelet adjustments the pair needs.
pub fn version_adjustments(
    containerd: Version,
    kubelet: Version,
) -> Result<Vec<Adjustment>, Error> {
    let refuse = |reason: &str| Error::Versions {
        containerd,
        kubelet,
        reason: reason.into(),
    };
    if containerd.major != 1 {
        return Err(refuse(
            "kubin writes containerd 1.x's config (version 2); containerd 2 reads version 3",
        ));
    }
    if containerd < Version::new(1, 6, 0) && kubelet >= KUBELET_CRI_V1_ONLY_SINCE {
        return Err(refuse(
            "this kubelet speaks only CRI v1, which containerd serves from 1.6 on",
        ));
    }
    let mut out = Vec::new();
    if containerd < PINS_SANDBOX_SINCE && kubelet >= KUBELET_GC_UNPINNED_SINCE {
        out.push(Adjustment::new(
            Target::Kubelet(KubeletSetting::ImageGcHighThresholdPercent(100)),
            "imageGCHighThresholdPercent: 100",
            format!(
                "containerd {containerd} cannot pin the sandbox image, and kubelet {kubelet} would collect it; offline it is never pulled back"
            ),
        ));
    }
    Ok(out)
}

/// `config.toml`: a comment naming the host and each containerd adjustment, then the
/// config.
pub fn render_config(
    host: &str,
    config: &ContainerdConfig,
    adjustments: &[Adjustment],
) -> Result<String, Error> {
    let body = toml::to_string(config).map_err(|e| Error::Render {
        file: "config.toml",
        source: Box::new(e),
    })?;
    let mut s = format!("# containerd's config, written by kubin for {host}.\n");
    for a in adjustments
        .iter()
        .filter(|a| a.target == Target::Containerd)
    {
        s.push_str(&format!("# {}: {}.\n", a.what, a.why));
    }
    s.push('\n');
    s.push_str(&body);
    Ok(s)
}

/// Parses a `config.toml` as [`render_config`] writes it: the inverse, for checks.
pub fn parse_config(text: &str) -> Result<ContainerdConfig, toml::de::Error> {
    toml::from_str(text)
}

/// `containerd.service` as containerd's release ships it (1.6), starting the binary from
/// `/usr/local/bin`. `Delegate=yes` lets containerd manage its pods' cgroups;
/// `KillMode=process` keeps pods running while containerd restarts.
pub fn render_unit() -> String {
    format!(
        "# containerd's upstream unit (containerd.service of the release), written by kubin.\n\
         [Unit]\n\
         Description=containerd container runtime\n\
         Documentation=https://containerd.io\n\
         After=network.target local-fs.target\n\
         \n\
         [Service]\n\
         ExecStartPre=-/sbin/modprobe overlay\n\
         ExecStart={CONTAINERD_BIN_DIR}/containerd\n\
         \n\
         Type=notify\n\
         Delegate=yes\n\
         KillMode=process\n\
         Restart=always\n\
         RestartSec=5\n\
         # Having non-zero Limit*s causes performance problems due to accounting overhead\n\
         # in the kernel. We recommend using cgroups to do container-local accounting.\n\
         LimitNPROC=infinity\n\
         LimitCORE=infinity\n\
         LimitNOFILE=infinity\n\
         # Comment TasksMax if your systemd version does not supports it.\n\
         # Only systemd 226 and above support this version.\n\
         TasksMax=infinity\n\
         OOMScoreAdjust=-999\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n"
    )
}

#[cfg(test)]
mod tests;
