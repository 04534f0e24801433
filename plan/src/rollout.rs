//! Rollouts as data: the stages a concern crate asks for (apply a plan, wait until healthy,
//! restart hosts one at a time where their files changed), and the pure decisions a runner
//! needs to carry them out.

use crate::{CommandSpec, HostSteps, Phase, Plan, Step, UnitSpec};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a concern crate asks the orchestrator to do, in order. The orchestrator (the
/// `deploy` crate) has one runner for every rollout, so the order of applies, waits and
/// restarts is decided here, as data, and tested without hosts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollout {
    /// The stages, run one after another; a failed stage stops the rollout.
    pub stages: Vec<Stage>,
}

/// One stage of a [`Rollout`].
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// Apply this plan to its hosts.
    Apply(Plan),
    /// Wait until the service reports every member healthy.
    WaitHealthy,
    /// Host by host: restart `unit` where one of `restart_if_changed` changed during this
    /// rollout (only while every member is healthy, and healthy again before the next
    /// host), or just make sure it is enabled and running. Hosts that only need starting
    /// go first: a start never costs the quorum and may restore it.
    RollingRestart {
        /// The hosts, in inventory order.
        hosts: Vec<String>,
        /// The systemd unit, e.g. `etcd.service`.
        unit: String,
        /// The files whose change means the unit must restart.
        restart_if_changed: Vec<PathBuf>,
    },
}

/// Whether any of `changed` is one of `watched`.
pub fn needs_restart(watched: &[PathBuf], changed: &[PathBuf]) -> bool {
    changed.iter().any(|c| watched.contains(c))
}

/// The order of a rolling restart: each host with whether it restarts, the hosts that only
/// start first, inventory order otherwise kept. `changed` holds each host's changed paths.
pub fn restart_order(
    hosts: &[String],
    watched: &[PathBuf],
    changed: &BTreeMap<String, Vec<PathBuf>>,
) -> Vec<(String, bool)> {
    let mut order: Vec<(String, bool)> = hosts
        .iter()
        .map(|h| {
            let restart = changed.get(h).is_some_and(|c| needs_restart(watched, c));
            (h.clone(), restart)
        })
        .collect();
    order.sort_by_key(|(_, restart)| *restart);
    order
}

/// One host of a rolling restart: restarted when `restart` (with a daemon-reload first, as
/// the unit file may have changed; `systemctl` waits until the unit reports ready), then
/// enabled and running.
pub fn member_start(host: &str, unit: &str, restart: bool) -> Plan {
    let mut steps = Vec::new();
    if restart {
        steps.push(Step::Command(CommandSpec::new(
            &format!("restart {unit} (its files changed)"),
            &format!("systemctl daemon-reload && systemctl restart {unit}"),
            None,
        )));
    }
    steps.push(Step::Unit(UnitSpec::running(unit, Vec::new())));
    let service = unit.strip_suffix(".service").unwrap_or(unit);
    Plan {
        phases: vec![Phase {
            name: format!(
                "{service}: {} {host}",
                if restart { "restart" } else { "start" }
            ),
            hosts: vec![HostSteps {
                host: host.to_string(),
                steps,
            }],
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<PathBuf> {
        p.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn only_watched_files_restart() {
        let watched = paths(&["/opt/etcd/cfg/etcd", "/opt/etcd/ssl/server.pem"]);
        assert!(needs_restart(&watched, &paths(&["/opt/etcd/cfg/etcd"])));
        assert!(!needs_restart(&watched, &paths(&["/var/lib/etcd"])));
        assert!(!needs_restart(&watched, &[]));
    }

    #[test]
    fn starts_go_before_restarts_in_inventory_order() {
        let hosts: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let watched = paths(&["/f"]);
        let changed = BTreeMap::from([
            ("a".to_string(), paths(&["/f"])),
            ("c".to_string(), paths(&["/g"])),
        ]);
        assert_eq!(
            restart_order(&hosts, &watched, &changed),
            [
                ("b".to_string(), false),
                ("c".to_string(), false),
                ("a".to_string(), true)
            ]
        );
    }

    #[test]
    fn a_member_restarts_alone_and_waits_until_ready() {
        let plan = member_start("k8s-node1", "etcd.service", true);
        assert_eq!(plan.phases.len(), 1);
        assert_eq!(plan.phases[0].name, "etcd: restart k8s-node1");
        assert_eq!(plan.phases[0].hosts.len(), 1);
        assert_eq!(plan.phases[0].hosts[0].host, "k8s-node1");
        let steps = &plan.phases[0].hosts[0].steps;
        let Step::Command(c) = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(
            c.command,
            "systemctl daemon-reload && systemctl restart etcd.service"
        );
        assert!(c.unless.is_none());
        let Step::Unit(u) = &steps[1] else {
            panic!("{steps:?}")
        };
        assert!(!u.no_block && u.enabled && u.running == Some(true));
        let start = member_start("k8s-node1", "etcd.service", false);
        assert_eq!(start.phases[0].hosts[0].steps.len(), 1);
        assert_eq!(start.phases[0].name, "etcd: start k8s-node1");
    }
}
