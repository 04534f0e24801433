//! The executor: applies a [`Plan`] to hosts through their [`Transport`]s.
//!
//! Phases run in order with a barrier; within a phase the hosts run in parallel (at most
//! [`ApplyOptions::parallel`] at once) and each host's steps in order. A failing host stops
//! only its own remaining steps and its later phases; the others finish. Files are written
//! only when their sha256, mode or owner differ; units restart only when a file in their
//! `restart_on` changed during this apply. Applying the same plan twice reports zero
//! changes the second time.

mod diff;
mod host;
mod report;

pub use report::{Change, ChangeKind, Failure, HostReport, NotApplicable, Report, UnitAction};

use crate::parallel::parallel_map;
use crate::progress::{Event, Observer, Output, observer_for};
use crate::transport::Transport;
use plan::{HostSteps, Plan};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::SystemTime;

/// How to apply a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    /// Report what would change and change nothing.
    pub dry_run: bool,
    /// At most this many hosts at once (0 is taken as 1).
    pub parallel: usize,
    /// How progress is shown.
    pub output: Output,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            parallel: 16,
            output: Output::Text,
        }
    }
}

/// What one host carries from phase to phase.
#[derive(Default)]
pub(crate) struct HostState {
    /// Files changed (or, in a dry run, that would change) during this apply.
    pub changed_files: HashSet<PathBuf>,
    /// A unit file changed since the last `systemctl daemon-reload`.
    pub reload_pending: bool,
    /// The host's report so far.
    pub report: HostReport,
}

struct Slot<'a> {
    transport: Option<&'a mut Box<dyn Transport>>,
    state: HostState,
}

/// Applies `plan` over `transports` (keyed by inventory host name), printing progress as
/// `opts.output` says. Hosts of the plan without a transport fail with "not connected".
pub fn apply(
    plan: &Plan,
    transports: &mut BTreeMap<String, Box<dyn Transport>>,
    opts: &ApplyOptions,
) -> Report {
    let observer = observer_for(opts.output);
    apply_with(plan, transports, opts, observer.as_ref())
}

/// [`apply`] with a caller-chosen observer (tests collect events with it).
pub fn apply_with(
    plan: &Plan,
    transports: &mut BTreeMap<String, Box<dyn Transport>>,
    opts: &ApplyOptions,
    observer: &dyn Observer,
) -> Report {
    let stamp = backup_stamp(SystemTime::now());
    let mut slots: BTreeMap<String, Slot<'_>> = transports
        .iter_mut()
        .map(|(name, t)| {
            (
                name.clone(),
                Slot {
                    transport: Some(t),
                    state: HostState::default(),
                },
            )
        })
        .collect();
    for phase in &plan.phases {
        for hs in &phase.hosts {
            slots.entry(hs.host.clone()).or_insert_with(|| Slot {
                transport: None,
                state: HostState::default(),
            });
        }
    }
    let involved: HashSet<&str> = plan
        .phases
        .iter()
        .flat_map(|p| p.hosts.iter().map(|h| h.host.as_str()))
        .collect();

    for phase in &plan.phases {
        let mut by_host: BTreeMap<&str, Vec<&HostSteps>> = BTreeMap::new();
        for hs in &phase.hosts {
            by_host.entry(hs.host.as_str()).or_default().push(hs);
        }
        let steps = by_host
            .values()
            .map(|v| v.iter().map(|h| h.steps.len()).sum::<usize>())
            .max()
            .unwrap_or(0);
        observer.event(&Event::PhaseStarted {
            phase: phase.name.clone(),
            hosts: by_host.len(),
            steps,
        });
        let mut jobs: Vec<host::Job<'_, '_>> = Vec::new();
        for (name, slot) in slots.iter_mut() {
            let Some(steps) = by_host.get(name.as_str()) else {
                continue;
            };
            if slot.state.report.failure.is_some() {
                continue;
            }
            match slot.transport.as_mut() {
                Some(t) => jobs.push(host::Job {
                    phase: &phase.name,
                    steps: steps.iter().flat_map(|h| h.steps.iter()).collect(),
                    transport: t.as_mut(),
                    state: &mut slot.state,
                }),
                None => {
                    slot.state.report.failure = Some(Failure {
                        host: name.clone(),
                        phase: phase.name.clone(),
                        step: "connect".into(),
                        target: name.clone(),
                        message: "not connected".into(),
                        stderr: String::new(),
                    });
                    observer.event(&Event::HostStopped {
                        host: name.clone(),
                        phase: phase.name.clone(),
                    });
                }
            }
        }
        run_jobs(jobs, opts, &stamp, observer);
        observer.event(&Event::PhaseFinished {
            phase: phase.name.clone(),
        });
    }

    Report {
        dry_run: opts.dry_run,
        hosts: slots
            .into_iter()
            .filter(|(name, _)| involved.contains(name.as_str()))
            .map(|(name, slot)| (name, slot.state.report))
            .collect(),
    }
}

/// Runs the jobs of one phase, at most `opts.parallel` at once; returns when all end.
fn run_jobs(
    jobs: Vec<host::Job<'_, '_>>,
    opts: &ApplyOptions,
    stamp: &str,
    observer: &dyn Observer,
) {
    parallel_map(jobs, opts.parallel, |job| {
        host::run(job, opts.dry_run, stamp, observer);
    });
}

/// The UTC time as `YYYYMMDDTHHMMSSZ`, for backup file names.
pub fn backup_stamp(now: SystemTime) -> String {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests;
