//! The one table of what each Kubernetes release accepts: flags by version, config API
//! versions and the few behaviours that changed, for every release kubin renders.
//!
//! Every renderer asks this module, never compares versions itself, so supporting a new
//! release means reading its changelog once and editing this file. A rule names where it
//! was checked: `PR #N` is a pull request in kubernetes/kubernetes whose thread (merged,
//! release note, or users hitting `unknown flag` on that release) was read for this table;
//! a path is a file of the Kubernetes source that was read; `issue 9` marks a fact taken
//! from the changelogs as issue 9 quotes them and not read again here.

use crate::Error;
use inventory::Version;
use std::fmt;

/// The oldest minor release kubin renders: 1.20, the first without the insecure port and
/// with all three service-account flags required.
pub const OLDEST_MINOR: u32 = 20;
/// The newest minor release kubin renders: 1.37, the newest `k8s-openapi` 0.29 knows.
pub const NEWEST_MINOR: u32 = 37;

/// A Kubernetes release kubin renders for: a version inside the supported range.
///
/// The field is private: a `Release` exists only for a version the table covers, so
/// every renderer holding one may ask the table without checking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    version: Version,
}

/// A Kubernetes component with its own command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// `kube-apiserver`.
    Apiserver,
    /// `kube-controller-manager`.
    ControllerManager,
    /// `kube-scheduler`.
    Scheduler,
    /// `kubelet`.
    Kubelet,
    /// `kube-proxy`.
    Proxy,
}

impl Component {
    /// Every component, in the order the control plane starts them.
    pub const ALL: [Component; 5] = [
        Component::Apiserver,
        Component::ControllerManager,
        Component::Scheduler,
        Component::Kubelet,
        Component::Proxy,
    ];

    /// The binary's name, e.g. `kube-apiserver`.
    pub fn binary(self) -> &'static str {
        match self {
            Component::Apiserver => "kube-apiserver",
            Component::ControllerManager => "kube-controller-manager",
            Component::Scheduler => "kube-scheduler",
            Component::Kubelet => "kubelet",
            Component::Proxy => "kube-proxy",
        }
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.binary())
    }
}

/// Which components a [`FlagRule`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// One component.
    Only(Component),
    /// Every component (klog's flags, registered by the shared logging code).
    Every,
}

impl Applies {
    fn covers(self, c: Component) -> bool {
        match self {
            Applies::Only(only) => only == c,
            Applies::Every => true,
        }
    }
}

/// One fact of the table: a flag a component accepts from minor `since` up to, not
/// including, minor `removed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagRule {
    /// The component(s).
    pub applies: Applies,
    /// The flag, with its dashes: `--kubelet-https`.
    pub flag: &'static str,
    /// The first minor release (of 1.x) that accepts it; 0 when older than any we render.
    pub since: u32,
    /// The first minor release that refuses it (`unknown flag`), if any.
    pub removed: Option<u32>,
    /// What changed, and where that was checked.
    pub checked: &'static str,
}

impl FlagRule {
    /// Whether release minor `minor` accepts the flag.
    pub fn accepted_in(&self, minor: u32) -> bool {
        minor >= self.since && self.removed.is_none_or(|r| minor < r)
    }
}

const fn gone(c: Component, flag: &'static str, removed: u32, checked: &'static str) -> FlagRule {
    FlagRule {
        applies: Applies::Only(c),
        flag,
        since: 0,
        removed: Some(removed),
        checked,
    }
}

const fn klog(flag: &'static str) -> FlagRule {
    FlagRule {
        applies: Applies::Every,
        flag,
        since: 0,
        removed: Some(26),
        checked: "issue 9 (CHANGELOG-1.26, KEP-2845): klog's deprecated flags removed from \
                  every component; kubin logs to the journal and never renders them",
    }
}

use Component::*;

/// The flag table: every flag whose acceptance changed between 1.20 and 1.37 that a
/// guide or kubin renders or once rendered. A flag with no rule is accepted by every
/// release kubin renders (checked for 1.20 against the real 1.20.2 binaries' `--help` by
/// the `tests` crate).
pub const FLAGS: &[FlagRule] = &[
    // kube-apiserver.
    gone(
        Apiserver,
        "--insecure-port",
        24,
        "PR #95856 (1.20): may only be 0, no insecure serving, removal set for 1.24; \
         kubernetes/kubeadm#2156, CHANGELOG-1.24: removed",
    ),
    gone(
        Apiserver,
        "--insecure-bind-address",
        24,
        "PR #95856 (1.20): no effect, removal set for 1.24; CHANGELOG-1.24: removed",
    ),
    gone(
        Apiserver,
        "--address",
        24,
        "PR #95856 (1.20): the insecure address, no effect; CHANGELOG-1.24: removed",
    ),
    gone(
        Apiserver,
        "--port",
        24,
        "PR #95856 (1.20): the insecure port, only 0; CHANGELOG-1.24: removed",
    ),
    gone(
        Apiserver,
        "--kubelet-https",
        22,
        "PR #91630 (1.19): deprecated, HTTPS to kubelets unconditional; PR #101178 (1.22): \
         removed (1.22 apiservers exit on `unknown flag: --kubelet-https`)",
    ),
    gone(
        Apiserver,
        "--enable-swagger-ui",
        24,
        "PR #105032 (merged for 1.24): removed, no effect since 1.14; 1.24 apiservers exit \
         on `unknown flag: --enable-swagger-ui`",
    ),
    // kube-controller-manager.
    gone(
        ControllerManager,
        "--experimental-cluster-signing-duration",
        25,
        "issue 9 (CHANGELOG-1.19: deprecated for --cluster-signing-duration; \
         CHANGELOG-1.25: removed)",
    ),
    FlagRule {
        applies: Applies::Only(ControllerManager),
        flag: "--cluster-signing-duration",
        since: 19,
        removed: None,
        checked: "issue 9 (CHANGELOG-1.19): added, replacing the --experimental- name",
    },
    gone(
        ControllerManager,
        "--address",
        24,
        "PR #96216 (1.20): no effect (`--port` only 0; health on the secure port 10257); \
         PR #106860 (1.24): removed",
    ),
    gone(
        ControllerManager,
        "--port",
        24,
        "PR #96216 (1.20): no effect (`--port` only 0; health on the secure port 10257); \
         PR #106860 (1.24): removed",
    ),
    // kube-scheduler.
    gone(
        Scheduler,
        "--address",
        24,
        "issue 9 (CHANGELOG-1.24): insecure serving flags removed; kubin never renders them",
    ),
    gone(
        Scheduler,
        "--port",
        24,
        "issue 9 (CHANGELOG-1.24): insecure serving flags removed; kubin never renders them",
    ),
    // kubelet.
    gone(
        Kubelet,
        "--network-plugin",
        24,
        "issue 9 (CHANGELOG-1.24): removed with dockershim",
    ),
    gone(
        Kubelet,
        "--cni-bin-dir",
        24,
        "issue 9 (CHANGELOG-1.24): removed with dockershim",
    ),
    gone(
        Kubelet,
        "--cni-conf-dir",
        24,
        "issue 9 (CHANGELOG-1.24): removed with dockershim",
    ),
    gone(
        Kubelet,
        "--cni-cache-dir",
        24,
        "issue 9 (CHANGELOG-1.24): removed with dockershim",
    ),
    gone(
        Kubelet,
        "--container-runtime",
        27,
        "CHANGELOG-1.24: `remote` is the only runtime left; PR #114017 (1.27): removed",
    ),
    gone(
        Kubelet,
        "--pod-infra-container-image",
        35,
        "CHANGELOG-1.27: deprecated (the runtime names the sandbox image); \
         CHANGELOG-1.35 (PR #133779): removed, kubelet exits on `unknown flag`",
    ),
    // Every component.
    klog("--logtostderr"),
    klog("--alsologtostderr"),
    klog("--log-dir"),
    klog("--log-file"),
];

/// The `apiVersion` of the `KubeSchedulerConfiguration` kubin writes: the newest
/// non-alpha version the release serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerApi {
    /// `kubescheduler.config.k8s.io/v1beta1` (1.19–1.22).
    V1beta1,
    /// `kubescheduler.config.k8s.io/v1beta2` (1.22–1.27).
    V1beta2,
    /// `kubescheduler.config.k8s.io/v1beta3` (1.23–1.28).
    V1beta3,
    /// `kubescheduler.config.k8s.io/v1` (from 1.25).
    V1,
}

impl SchedulerApi {
    /// The `apiVersion` string.
    pub fn api_version(self) -> &'static str {
        match self {
            SchedulerApi::V1beta1 => "kubescheduler.config.k8s.io/v1beta1",
            SchedulerApi::V1beta2 => "kubescheduler.config.k8s.io/v1beta2",
            SchedulerApi::V1beta3 => "kubescheduler.config.k8s.io/v1beta3",
            SchedulerApi::V1 => "kubescheduler.config.k8s.io/v1",
        }
    }

    /// Whether the version still has `healthzBindAddress`/`metricsBindAddress` (the
    /// insecure health port 10251). Checked in
    /// `staging/src/k8s.io/kube-scheduler/config/v1beta2/types.go` (present) and
    /// CHANGELOG-1.23 (v1beta3 drops them).
    pub fn has_insecure_bind_addresses(self) -> bool {
        matches!(self, SchedulerApi::V1beta1 | SchedulerApi::V1beta2)
    }
}

impl Release {
    /// The release for `version`, refused with [`Error::UnsupportedVersion`] (naming the
    /// version and the supported range) when the table does not cover it.
    pub fn new(version: Version) -> Result<Self, Error> {
        if version.major == 1 && (OLDEST_MINOR..=NEWEST_MINOR).contains(&version.minor) {
            Ok(Self { version })
        } else {
            Err(Error::UnsupportedVersion {
                version,
                oldest: Version::new(1, OLDEST_MINOR, 0),
                newest: Version::new(1, NEWEST_MINOR, 0),
            })
        }
    }

    /// Every minor release kubin renders, as `1.N.0`.
    pub fn all() -> impl Iterator<Item = Release> {
        (OLDEST_MINOR..=NEWEST_MINOR).map(|m| Release {
            version: Version::new(1, m, 0),
        })
    }

    /// The version.
    pub fn version(self) -> Version {
        self.version
    }

    /// The minor release number (`20` for 1.20.2).
    pub fn minor(self) -> u32 {
        self.version.minor
    }

    /// Whether `component` of this release accepts `flag` (a flag without a rule is
    /// accepted by every release kubin renders).
    pub fn accepts(self, component: Component, flag: &str) -> bool {
        FLAGS
            .iter()
            .filter(|r| r.flag == flag && r.applies.covers(component))
            .all(|r| r.accepted_in(self.minor()))
    }

    /// The flags of `component` this release refuses (removed, or not yet there).
    pub fn refused(self, component: Component) -> impl Iterator<Item = &'static FlagRule> {
        FLAGS
            .iter()
            .filter(move |r| r.applies.covers(component) && !r.accepted_in(self.minor()))
    }

    /// The scheduler config API version kubin writes. v1beta2 from 1.22, v1beta3 from
    /// 1.23, v1 from 1.25; v1beta1 gone in 1.23, v1beta2 in 1.28, v1beta3 in 1.29 (issue 9;
    /// v1beta1 on 1.20 checked by the real 1.20.2 scheduler loading kubin's file, in the
    /// `tests` crate). kubin takes the newest non-alpha version the release serves, so a
    /// config never sits on a deprecated version longer than it must.
    pub fn scheduler_api(self) -> SchedulerApi {
        match self.minor() {
            ..=21 => SchedulerApi::V1beta1,
            22 => SchedulerApi::V1beta2,
            23 | 24 => SchedulerApi::V1beta3,
            _ => SchedulerApi::V1,
        }
    }

    /// Whether the kubelet needs `--container-runtime=remote` to talk CRI to containerd:
    /// below 1.24, where dockershim was the default (CHANGELOG-1.24).
    pub fn kubelet_needs_remote_runtime_flag(self) -> bool {
        self.minor() < 24
    }

    /// Whether the runtime endpoint is the `KubeletConfiguration` field
    /// `containerRuntimeEndpoint` rather than the `--container-runtime-endpoint` flag: from
    /// 1.27 (PR #112136; the flag is deprecated since, and a 1.26 kubelet ignores the field:
    /// kubernetes/kubernetes#118787).
    pub fn kubelet_runtime_endpoint_in_config(self) -> bool {
        self.minor() >= 27
    }

    /// Whether the kubelet can still use dockershim (the Docker runtime): below 1.24.
    pub fn kubelet_has_dockershim(self) -> bool {
        self.minor() < 24
    }

    /// Whether kube-proxy's ipvs mode is deprecated: from 1.35 (CHANGELOG-1.35, KEP-5495:
    /// nftables is the successor). kubin then uses iptables, which every release has.
    pub fn proxy_ipvs_deprecated(self) -> bool {
        self.minor() >= 35
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.version.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(minor: u32, component: Component, flag: &str, accepted: bool) {
        let r = Release::new(Version::new(1, minor, 0)).unwrap();
        assert_eq!(
            r.accepts(component, flag),
            accepted,
            "1.{minor} {component} {flag}"
        );
    }

    #[test]
    fn the_facts_of_issue_9() {
        check(20, Apiserver, "--insecure-port", true);
        check(23, Apiserver, "--insecure-port", true);
        check(24, Apiserver, "--insecure-port", false);
        check(23, Apiserver, "--insecure-bind-address", true);
        check(24, Apiserver, "--insecure-bind-address", false);
        check(21, Apiserver, "--kubelet-https", true);
        check(22, Apiserver, "--kubelet-https", false);
        check(23, Apiserver, "--enable-swagger-ui", true);
        check(24, Apiserver, "--enable-swagger-ui", false);
        for c in Component::ALL {
            check(25, c, "--logtostderr", true);
            check(26, c, "--logtostderr", false);
            check(26, c, "--log-dir", false);
            check(26, c, "--alsologtostderr", false);
        }
        check(
            24,
            ControllerManager,
            "--experimental-cluster-signing-duration",
            true,
        );
        check(
            25,
            ControllerManager,
            "--experimental-cluster-signing-duration",
            false,
        );
        check(20, ControllerManager, "--cluster-signing-duration", true);
        check(37, ControllerManager, "--cluster-signing-duration", true);
        for c in [ControllerManager, Scheduler] {
            check(23, c, "--address", true);
            check(24, c, "--address", false);
            check(24, c, "--port", false);
        }
        // The apiserver's own `--port` is not the kubelet's.
        check(37, Kubelet, "--port", true);
        check(23, Kubelet, "--network-plugin", true);
        check(24, Kubelet, "--network-plugin", false);
        check(24, Kubelet, "--cni-bin-dir", false);
        check(26, Kubelet, "--container-runtime", true);
        check(27, Kubelet, "--container-runtime", false);
        check(34, Kubelet, "--pod-infra-container-image", true);
        check(35, Kubelet, "--pod-infra-container-image", false);
        check(37, Kubelet, "--container-runtime-endpoint", true);
    }

    #[test]
    fn behaviours_by_version() {
        let r = |m| Release::new(Version::new(1, m, 0)).unwrap();
        assert_eq!(r(20).scheduler_api(), SchedulerApi::V1beta1);
        assert_eq!(r(21).scheduler_api(), SchedulerApi::V1beta1);
        assert_eq!(r(22).scheduler_api(), SchedulerApi::V1beta2);
        assert_eq!(r(23).scheduler_api(), SchedulerApi::V1beta3);
        assert_eq!(r(24).scheduler_api(), SchedulerApi::V1beta3);
        assert_eq!(r(25).scheduler_api(), SchedulerApi::V1);
        assert_eq!(r(37).scheduler_api(), SchedulerApi::V1);
        assert!(r(23).kubelet_needs_remote_runtime_flag());
        assert!(!r(24).kubelet_needs_remote_runtime_flag());
        assert!(!r(26).kubelet_runtime_endpoint_in_config());
        assert!(r(27).kubelet_runtime_endpoint_in_config());
        assert!(!r(34).proxy_ipvs_deprecated());
        assert!(r(35).proxy_ipvs_deprecated());
    }

    #[test]
    fn a_served_scheduler_api_is_never_one_already_removed() {
        // v1beta1 gone in 1.23, v1beta2 in 1.28, v1beta3 in 1.29; v1 only from 1.25.
        for r in Release::all() {
            let m = r.minor();
            let ok = match r.scheduler_api() {
                SchedulerApi::V1beta1 => m < 23,
                SchedulerApi::V1beta2 => (22..28).contains(&m),
                SchedulerApi::V1beta3 => (23..29).contains(&m),
                SchedulerApi::V1 => m >= 25,
            };
            assert!(ok, "1.{m}: {:?}", r.scheduler_api());
        }
    }

    #[test]
    fn versions_outside_the_table_are_refused_with_the_range() {
        for v in ["1.19.16", "1.38.0", "2.0.0", "0.20.0"] {
            let version: Version = v.parse().unwrap();
            let err = Release::new(version).unwrap_err();
            assert!(
                matches!(err, Error::UnsupportedVersion { version: got, .. } if got == version)
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "Kubernetes {v} is not supported: kubin renders 1.20.0 through 1.37.x \
                     (the flag-by-version table covers no other release)"
                )
            );
        }
        assert!(Release::new(Version::new(1, 20, 2)).is_ok());
        assert!(Release::new(Version::new(1, 37, 9)).is_ok());
    }

    #[test]
    fn every_rule_names_its_source_and_a_sane_window() {
        for r in FLAGS {
            assert!(r.flag.starts_with("--"), "{r:?}");
            assert!(!r.checked.is_empty(), "{r:?}");
            if let Some(removed) = r.removed {
                assert!(removed > r.since, "{r:?}");
            }
        }
    }
}
