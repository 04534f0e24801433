//! The one runner of rollouts: applies each [`Stage`] a concern crate returned, waits
//! until healthy, restarts hosts one at a time where their files changed.

use crate::error::humanize;
use crate::poll::poll_until;
use crate::{Error, Session};
use plan::rollout::{member_start, restart_order};
use plan::{Rollout, Stage};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A service's health, as the runner asks for it between stages.
pub trait HealthCheck {
    /// What one probe returns (shown to the operator, serialized in JSON output).
    type Report: Serialize;
    /// Probes every member once.
    fn probe(&self) -> Result<Self::Report, Error>;
    /// Whether the report says every member is healthy.
    fn healthy(report: &Self::Report) -> bool;
    /// A one-word verdict and a table, for an error that names what is wrong.
    fn describe(report: &Self::Report) -> (String, String);
    /// Where to look when it stays unhealthy.
    fn hint(&self) -> String;
    /// Stops probing the members on `hosts`, left out of the run (by default it probes
    /// every member).
    fn skip(&self, _hosts: &BTreeMap<String, String>) {}
}

/// How a rollout runs.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Compare only: apply stages as dry runs, skip waits and restarts.
    pub dry_run: bool,
    /// How long each wait for health may take.
    pub wait: Duration,
}

/// What a rollout did.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutReport<H> {
    /// Changes over every apply (in a dry run: changes that would be made).
    pub changes: usize,
    /// The hosts restarted, in order.
    pub restarted: Vec<String>,
    /// The last health probe, if the rollout waited for one.
    pub health: Option<H>,
}

/// The paths each host's apply changed, as the executor reports them (typed changes).
pub fn changed_paths(report: &executor::Report) -> BTreeMap<String, Vec<PathBuf>> {
    report
        .hosts
        .keys()
        .map(|host| {
            let paths = report
                .changed_paths(host)
                .into_iter()
                .map(Path::to_path_buf)
                .collect();
            (host.clone(), paths)
        })
        .collect()
}

/// Polls `check` until healthy or `wait` passed; returns the last report, healthy or not.
pub fn poll_healthy<C: HealthCheck>(check: &C, wait: Duration) -> Result<C::Report, Error> {
    poll_until(
        wait,
        Duration::from_secs(1),
        || check.probe(),
        |r| r.as_ref().is_ok_and(C::healthy),
    )
}

/// Polls `check` until healthy or `wait` passed; fails naming `when` otherwise.
pub fn wait_healthy<C: HealthCheck>(
    check: &C,
    wait: Duration,
    when: &str,
) -> Result<C::Report, Error> {
    let last = poll_healthy(check, wait)?;
    if C::healthy(&last) {
        return Ok(last);
    }
    let (verdict, table) = C::describe(&last);
    Err(Error::Unhealthy {
        when: when.to_string(),
        waited: wait,
        verdict,
        table,
        hint: check.hint(),
    })
}

/// Runs `rollout` stage by stage; the first failure stops it, and the hosts after a failed
/// restart are left as they were.
pub fn run<C: HealthCheck>(
    session: &mut Session,
    rollout: Rollout,
    opts: RunOptions,
    check: &C,
) -> Result<RolloutReport<C::Report>, Error> {
    let mut out = RolloutReport {
        changes: 0,
        restarted: Vec::new(),
        health: None,
    };
    let mut changed: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for stage in rollout.stages {
        match stage {
            Stage::Apply(plan) => {
                let report = session.apply(plan, opts.dry_run)?;
                out.changes += report.total_changes();
                for (host, paths) in changed_paths(&report) {
                    changed.entry(host).or_default().extend(paths);
                }
            }
            Stage::WaitHealthy if opts.dry_run => {}
            Stage::WaitHealthy => {
                session.note(format!(
                    "waiting up to {} until every member is healthy",
                    humanize(opts.wait)
                ));
                check.skip(session.left_out());
                out.health = Some(wait_healthy(check, opts.wait, "after the rollout")?);
            }
            Stage::RollingRestart {
                hosts,
                unit,
                restart_if_changed,
            } => {
                // A host left out of the run is neither restarted nor waited for.
                let order: Vec<(String, bool)> =
                    restart_order(&hosts, &restart_if_changed, &changed)
                        .into_iter()
                        .filter(|(h, _)| session.is_in(h))
                        .collect();
                if opts.dry_run {
                    let would: Vec<&str> = order
                        .iter()
                        .filter(|(_, r)| *r)
                        .map(|(h, _)| h.as_str())
                        .collect();
                    if !would.is_empty() {
                        session.note(format!(
                            "would restart {unit} one host at a time on {}",
                            would.join(", ")
                        ));
                    }
                    continue;
                }
                for (i, (host, restart)) in order.iter().enumerate() {
                    if *restart {
                        check.skip(session.left_out());
                        wait_healthy(check, opts.wait, &format!("before restarting {host}"))?;
                        session.note(format!(
                            "{}: restarting {host} ({} of {}), the others keep the quorum",
                            unit.strip_suffix(".service").unwrap_or(&unit),
                            i + 1,
                            order.len()
                        ));
                    }
                    let report = match session.apply(member_start(host, &unit, *restart), false) {
                        Ok(r) => r,
                        // Left out of the run by this failure: the others go on.
                        Err(_) if !session.is_in(host) => continue,
                        Err(e) => return Err(e),
                    };
                    out.changes += report.total_changes();
                    if *restart {
                        out.restarted.push(host.clone());
                        check.skip(session.left_out());
                        wait_healthy(check, opts.wait, &format!("after restarting {host}"))?;
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observer::Silent;
    use crate::session::Settings;
    use executor::transport::recording::Shared;
    use executor::{Output, RecordingTransport};
    use plan::{FileSpec, HostSteps, Phase, Plan, Step};
    use std::sync::Mutex;

    const HOSTS: [&str; 3] = ["k8s-master1", "k8s-node1", "k8s-node2"];
    const CFG: &str = "/opt/etcd/cfg/etcd";

    /// A health check that answers `healthy` and counts its probes.
    struct Fake {
        healthy: bool,
        probes: Mutex<usize>,
    }

    impl HealthCheck for Fake {
        type Report = bool;
        fn probe(&self) -> Result<bool, Error> {
            *self.probes.lock().unwrap() += 1;
            Ok(self.healthy)
        }
        fn healthy(report: &bool) -> bool {
            *report
        }
        fn describe(_: &bool) -> (String, String) {
            ("down".into(), "TABLE".into())
        }
        fn hint(&self) -> String {
            "look".into()
        }
    }

    /// A health check answering `healthy`, and how the rollout runs.
    fn fake(healthy: bool, dry_run: bool, wait: Duration) -> (Fake, RunOptions) {
        let check = Fake {
            healthy,
            probes: Mutex::new(0),
        };
        (check, RunOptions { dry_run, wait })
    }

    /// A session over recording hosts; k8s-node1 already has the new config.
    fn session() -> (Session, Vec<Shared>) {
        let (inv, _) =
            inventory::Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example").unwrap();
        let mut settings = Settings::default();
        settings.apply.output = Output::Quiet;
        let mut s =
            Session::with_inventory(inv, "cluster.yaml".as_ref(), settings, Box::new(Silent));
        let mut hosts = Vec::new();
        for h in HOSTS {
            let mut t = RecordingTransport::new(h);
            if h == "k8s-node1" {
                t.with_file(CFG, "new", 0o644);
            }
            let shared = Shared::new(t);
            s.transports().insert(h.to_string(), shared.boxed());
            hosts.push(shared);
        }
        (s, hosts)
    }

    fn rollout() -> Rollout {
        rollout_for(&HOSTS)
    }

    fn rollout_for(names: &[&str]) -> Rollout {
        let install = Plan {
            phases: vec![Phase {
                name: "etcd: install".into(),
                hosts: names
                    .iter()
                    .map(|h| HostSteps {
                        host: h.to_string(),
                        steps: vec![Step::File(FileSpec::new(CFG, "new", 0o644))],
                    })
                    .collect(),
            }],
        };
        Rollout {
            stages: vec![
                Stage::Apply(install),
                Stage::RollingRestart {
                    hosts: names.iter().map(|h| h.to_string()).collect(),
                    unit: "etcd.service".into(),
                    restart_if_changed: vec![CFG.into()],
                },
                Stage::WaitHealthy,
            ],
        }
    }

    fn restarts(host: &Shared) -> usize {
        host.lock()
            .commands()
            .iter()
            .filter(|c| c.contains("systemctl restart etcd.service"))
            .count()
    }

    #[test]
    fn changed_hosts_restart_one_at_a_time_each_healthy_before_and_after() {
        let (mut s, hosts) = session();
        let (check, opts) = fake(true, false, Duration::from_secs(1));
        let r = run(&mut s, rollout(), opts, &check).unwrap();
        assert_eq!(r.restarted, ["k8s-master1", "k8s-node2"]);
        assert_eq!(hosts.iter().map(restarts).collect::<Vec<_>>(), [1, 0, 1]);
        // Before and after each of two restarts, then the final wait.
        assert_eq!(*check.probes.lock().unwrap(), 5);
        assert_eq!(r.health, Some(true));
    }

    #[test]
    fn a_dry_run_restarts_nothing_and_waits_for_nothing() {
        let (mut s, hosts) = session();
        let (check, opts) = fake(true, true, Duration::from_secs(1));
        let r = run(&mut s, rollout(), opts, &check).unwrap();
        assert_eq!(r.changes, 2);
        assert!(r.restarted.is_empty());
        assert!(hosts.iter().all(|h| h.lock().mutations().is_empty()));
        assert_eq!(*check.probes.lock().unwrap(), 0);
    }

    #[test]
    fn an_unhealthy_cluster_is_never_restarted() {
        let (mut s, hosts) = session();
        let (check, opts) = fake(false, false, Duration::ZERO);
        match run(&mut s, rollout(), opts, &check) {
            Err(Error::Unhealthy { when, table, .. }) => {
                assert_eq!(when, "before restarting k8s-master1");
                assert_eq!(table, "TABLE");
            }
            other => panic!("{other:?}"),
        }
        assert!(hosts.iter().all(|h| restarts(h) == 0));
    }

    #[test]
    fn a_host_that_fails_when_the_run_keeps_going_is_left_out_and_the_others_finish() {
        let (mut s, hosts) = session();
        s.keep_going();
        hosts[2].lock().fail_from(1);
        let (check, opts) = fake(true, false, Duration::from_secs(1));
        let r = run(&mut s, rollout(), opts, &check).unwrap();
        assert_eq!(r.restarted, ["k8s-master1"]);
        assert_eq!(hosts.iter().map(restarts).collect::<Vec<_>>(), [1, 0, 0]);
        let out: Vec<&String> = s.left_out().keys().collect();
        assert_eq!(out, ["k8s-node2"]);
        // Later plans skip it; one for it alone fails naming why it was left out.
        let alone = rollout_for(&["k8s-node2"]);
        match run(&mut s, alone, opts, &check) {
            Err(Error::Apply { hosts, .. }) => {
                assert_eq!(hosts.len(), 1, "{hosts:?}");
                assert!(hosts[0].starts_with("k8s-node2 (left out: "), "{hosts:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_keep_going_a_failed_host_fails_the_run() {
        let (mut s, hosts) = session();
        hosts[2].lock().fail_from(1);
        let (check, opts) = fake(true, false, Duration::from_secs(1));
        match run(&mut s, rollout(), opts, &check) {
            Err(Error::Apply { hosts, .. }) => assert!(hosts[0].starts_with("k8s-node2 ")),
            other => panic!("{other:?}"),
        }
        assert!(s.left_out().is_empty());
    }
}
