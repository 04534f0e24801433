//! `kubin deploy`: every [`Phase`] in order, each by its existing phase function, with the
//! barriers of [`crate::phase`]: a failed phase stops the phases that depend on it, the
//! others still run. Ends with the [`crate::verify`] summary.

mod phases;

pub use phases::{judge_preflight, kubin_units};

use crate::phase::{Phase, selected, stopped_by};
use crate::verify::Verification;
use crate::{Error, Event, Session};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What `kubin deploy` does.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Show what would change (files as diffs, commands, per host) and change nothing,
    /// locally (no certificate, token or known_hosts line written) or on a host.
    pub dry_run: bool,
    /// Only these phases (in their fixed order); `None`: all.
    pub only: Option<Vec<Phase>>,
    /// How long each wait until etcd is healthy may take.
    pub etcd_wait: Duration,
    /// How long the wait until the apiserver answers `/healthz` may take.
    pub apiserver_wait: Duration,
    /// How long to wait for every node's client certificate.
    pub nodes_timeout: Duration,
}

impl Default for DeployOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            only: None,
            etcd_wait: Duration::from_secs(120),
            apiserver_wait: Duration::from_secs(120),
            nodes_timeout: Duration::from_secs(120),
        }
    }
}

/// How one phase ended.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Outcome {
    /// It ran to its end.
    Done {
        /// Changes it made (in a dry run: would make).
        changes: usize,
        /// What it did, a line each (issued certificates, restarts, approvals).
        summary: Vec<String>,
    },
    /// It failed; the error names the host(s), step and cause.
    Failed {
        /// The error, with its causes.
        error: String,
    },
    /// It did not run: a phase it depends on failed.
    Stopped {
        /// The failed phase.
        by: Phase,
    },
}

/// One phase's result.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    /// The phase.
    pub phase: Phase,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub took_ms: u64,
    /// The hosts this phase left out of the rest of the run (unreachable, failed a check
    /// or a step), each with why; it went on with the others.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub left_out: BTreeMap<String, String>,
}

/// What `kubin deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Each phase run (or stopped), in order.
    pub phases: Vec<PhaseResult>,
    /// Changes over every phase (in a dry run: changes that would be made).
    pub changes: usize,
    /// The final verification, when it ran.
    pub verification: Option<Verification>,
    /// Every host left out of the run, with why: the phases went on without them.
    pub left_out: BTreeMap<String, String>,
}

impl DeployReport {
    /// Whether every phase ran to its end on every host.
    pub fn success(&self) -> bool {
        self.left_out.is_empty()
            && self
                .phases
                .iter()
                .all(|p| matches!(p.outcome, Outcome::Done { .. }))
    }

    /// The failed phases with their errors.
    pub fn failures(&self) -> Vec<(Phase, &str)> {
        self.phases
            .iter()
            .filter_map(|p| match &p.outcome {
                Outcome::Failed { error } => Some((p.phase, error.as_str())),
                _ => None,
            })
            .collect()
    }

    /// The summary line: `no changes`, `N change(s)` or `N change(s) would be made`.
    pub fn changes_line(&self) -> String {
        match (self.changes, self.dry_run) {
            (0, false) if !self.left_out.is_empty() => "no changes on the hosts in the run".into(),
            (0, false) => "no changes: the cluster already was as the inventory says".into(),
            (0, true) => "no changes would be made".into(),
            (n, false) => format!("{n} change(s)"),
            (n, true) => format!("{n} change(s) would be made (dry run: nothing was changed)"),
        }
    }
}

/// `kubin deploy`: takes every host's lock (not in a dry run), then runs the selected
/// phases in order; a failed phase stops the phases that depend on it. A host that cannot
/// be reached, fails a check or a step is left out of the rest of the run, and the phases
/// go on with the others. Returns the report (failures are in it); fails only when the
/// run cannot start (the lock is held).
pub fn deploy(s: &mut Session, opts: &DeployOptions) -> Result<DeployReport, Error> {
    s.keep_going();
    if opts.dry_run {
        // Connections of a dry run accept an unknown host key for the run only.
        s.settings.ssh.dry_run = true;
    } else {
        s.lock("kubin deploy")?;
    }
    let mut report = DeployReport {
        dry_run: opts.dry_run,
        phases: Vec::new(),
        changes: 0,
        verification: None,
        left_out: BTreeMap::new(),
    };
    let mut failed: Vec<Phase> = Vec::new();
    for phase in selected(opts.only.as_deref()) {
        let started = Instant::now();
        let out_before = s.left_out().clone();
        let outcome = match stopped_by(phase, &failed) {
            Some(by) => Outcome::Stopped { by },
            None => {
                s.event(&Event::PhaseStarted {
                    phase: phase.name(),
                });
                match phases::run(s, phase, opts, &mut report.verification) {
                    Ok((changes, summary)) => Outcome::Done { changes, summary },
                    Err(e) => Outcome::Failed {
                        error: executor::display_chain(&e),
                    },
                }
            }
        };
        let left_out: BTreeMap<String, String> = s
            .left_out()
            .iter()
            .filter(|(h, _)| !out_before.contains_key(*h))
            .map(|(h, why)| (h.clone(), why.clone()))
            .collect();
        let shown = match &outcome {
            Outcome::Done { changes, .. } if !left_out.is_empty() => format!(
                "done on the other hosts, {changes} change(s); left out: {}",
                left_out.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            Outcome::Done { changes, .. } => format!("done, {changes} change(s)"),
            Outcome::Failed { error } => format!("FAILED: {error}"),
            Outcome::Stopped { by } => format!("not run: it depends on {by}, which failed"),
        };
        s.event(&Event::PhaseEnded {
            phase: phase.name(),
            outcome: shown,
        });
        match &outcome {
            Outcome::Done { changes, .. } => report.changes += changes,
            Outcome::Failed { .. } | Outcome::Stopped { .. } => failed.push(phase),
        }
        report.phases.push(PhaseResult {
            phase,
            outcome,
            took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            left_out,
        });
    }
    report.left_out = s.left_out().clone();
    s.unlock();
    Ok(report)
}

/// `kubin plan`: the deploy as a dry run.
pub fn plan(s: &mut Session) -> Result<DeployReport, Error> {
    deploy(
        s,
        &DeployOptions {
            dry_run: true,
            ..DeployOptions::default()
        },
    )
}
