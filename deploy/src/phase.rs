//! The order of a whole deploy as data: the phases, what each depends on, and which phases
//! a failure stops. Pure; [`crate::cluster`] runs them.

use serde::Serialize;
use std::fmt;
use std::str::FromStr;

/// One phase of `kubin deploy`, in the order they run ([`Phase::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Judge the hosts and the bundle; change nothing.
    Preflight,
    /// Host preparation (the guides' chapter 1).
    Prepare,
    /// The certificate set and the bootstrap token under `pki_dir` (local).
    Pki,
    /// The etcd cluster; waits until healthy.
    Etcd,
    /// flannel's network config in etcd, in the API its release reads.
    Flannel,
    /// kube-apiserver, kube-controller-manager, kube-scheduler; `/healthz`; bootstrap RBAC.
    ControlPlane,
    /// The nodes: runtime, kubelet and kube-proxy, client CSR approval.
    Nodes,
    /// The final check: etcd, apiserver, nodes, certificate expiries. Changes nothing.
    Verify,
}

impl Phase {
    /// Every phase, in the order a deploy runs them.
    pub const ALL: [Phase; 8] = [
        Phase::Preflight,
        Phase::Prepare,
        Phase::Pki,
        Phase::Etcd,
        Phase::Flannel,
        Phase::ControlPlane,
        Phase::Nodes,
        Phase::Verify,
    ];

    /// The name the command line and the reports use (`control-plane`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Preflight => "preflight",
            Phase::Prepare => "prepare",
            Phase::Pki => "pki",
            Phase::Etcd => "etcd",
            Phase::Flannel => "flannel",
            Phase::ControlPlane => "control-plane",
            Phase::Nodes => "nodes",
            Phase::Verify => "verify",
        }
    }

    /// The phases that must have succeeded (in this run, or an earlier one when left out
    /// with `--only`) before this one can: the barriers between phases.
    pub fn depends_on(self) -> &'static [Phase] {
        match self {
            Phase::Preflight | Phase::Pki | Phase::Verify => &[],
            Phase::Prepare => &[Phase::Preflight],
            Phase::Etcd => &[Phase::Prepare, Phase::Pki],
            Phase::Flannel => &[Phase::Etcd],
            Phase::ControlPlane => &[Phase::Etcd, Phase::Pki],
            Phase::Nodes => &[Phase::ControlPlane],
        }
    }

    /// Whether this phase changes hosts or local files (the verification and preflight
    /// only read).
    pub fn changes_things(self) -> bool {
        !matches!(self, Phase::Preflight | Phase::Verify)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPhase(pub String);

impl fmt::Display for UnknownPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.name()).collect();
        write!(f, "no phase {:?} (phases: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownPhase {}

impl FromStr for Phase {
    type Err = UnknownPhase;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPhase(s.to_string()))
    }
}

/// The phases to run: every phase, or only those of `only`, always in [`Phase::ALL`]'s
/// order whatever order `only` names them in.
pub fn selected(only: Option<&[Phase]>) -> Vec<Phase> {
    Phase::ALL
        .into_iter()
        .filter(|p| only.is_none_or(|o| o.contains(p)))
        .collect()
}

/// The failed phase that stops `phase`: a dependency (direct or transitive) that failed or
/// was itself stopped. `None`: `phase` may run.
pub fn stopped_by(phase: Phase, failed: &[Phase]) -> Option<Phase> {
    phase.depends_on().iter().find_map(|d| {
        if failed.contains(d) {
            Some(*d)
        } else {
            stopped_by(*d, failed)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_phases() {
        for p in Phase::ALL {
            assert_eq!(p.name().parse::<Phase>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        let e = "kubelet".parse::<Phase>().unwrap_err().to_string();
        assert!(e.contains("control-plane, nodes, verify"), "{e}");
    }

    #[test]
    fn every_dependency_comes_earlier() {
        for p in Phase::ALL {
            for d in p.depends_on() {
                assert!(d < &p, "{p} depends on the later {d}");
            }
        }
    }

    #[test]
    fn only_keeps_the_fixed_order() {
        assert_eq!(selected(None), Phase::ALL.to_vec());
        assert_eq!(
            selected(Some(&[Phase::Nodes, Phase::Etcd])),
            vec![Phase::Etcd, Phase::Nodes]
        );
    }

    #[track_caller]
    fn check(failed: &[Phase], expected: &[(Phase, Option<Phase>)]) {
        for (p, by) in expected {
            assert_eq!(stopped_by(*p, failed), *by, "{p} with {failed:?} failed");
        }
    }

    #[test]
    fn a_failure_stops_what_depends_on_it_and_nothing_else() {
        check(
            &[Phase::Pki],
            &[
                (Phase::Prepare, None),
                (Phase::Etcd, Some(Phase::Pki)),
                (Phase::Flannel, Some(Phase::Pki)),
                (Phase::Nodes, Some(Phase::Pki)),
                (Phase::Verify, None),
            ],
        );
        check(
            &[Phase::Flannel],
            &[
                (Phase::ControlPlane, None),
                (Phase::Nodes, None),
                (Phase::Verify, None),
            ],
        );
        check(
            &[Phase::Preflight],
            &[
                (Phase::Pki, None),
                (Phase::Etcd, Some(Phase::Preflight)),
                (Phase::Nodes, Some(Phase::Preflight)),
            ],
        );
    }
}
