//! The one runner of rollouts: applies each [`Stage`] a concern crate returned, waits
//! until healthy, restarts hosts one at a time where their files changed.

use crate::error::humanize;
use crate::poll::poll_until;
use crate::{Error, Session};
use plan::rollout::{member_start, restart_order};
use plan::{Rollout, Stage};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
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

/// The paths each host's apply changed. (The executor reports file changes under the
/// file's path; this is the one place that reads them.)
pub fn changed_paths(report: &hostprep::Report) -> BTreeMap<String, Vec<PathBuf>> {
    report
        .hosts
        .iter()
        .map(|(host, r)| {
            let paths = r.changes.iter().map(|c| PathBuf::from(&c.step)).collect();
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
    rollout: &Rollout,
    opts: RunOptions,
    check: &C,
) -> Result<RolloutReport<C::Report>, Error> {
    let mut out = RolloutReport {
        changes: 0,
        restarted: Vec::new(),
        health: None,
    };
    let mut changed: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for stage in &rollout.stages {
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
                out.health = Some(wait_healthy(check, opts.wait, "after the rollout")?);
            }
            Stage::RollingRestart {
                hosts,
                unit,
                restart_if_changed,
            } => {
                let order = restart_order(hosts, restart_if_changed, &changed);
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
                        wait_healthy(check, opts.wait, &format!("before restarting {host}"))?;
                        session.note(format!(
                            "{}: restarting {host} ({} of {}), the others keep the quorum",
                            unit.strip_suffix(".service").unwrap_or(unit),
                            i + 1,
                            order.len()
                        ));
                    }
                    let report = session.apply(&member_start(host, unit, *restart), false)?;
                    out.changes += report.total_changes();
                    if *restart {
                        out.restarted.push(host.clone());
                        wait_healthy(check, opts.wait, &format!("after restarting {host}"))?;
                    }
                }
            }
        }
    }
    Ok(out)
}
