//! Progress output while applying: events, and observers that print them as plain log
//! lines, indicatif bars on a terminal, or JSON lines.
//!
//! Events carry descriptions and paths, never file content: a secret's content cannot reach
//! any observer.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// How progress and the report are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Bars on a terminal, plain lines otherwise.
    #[default]
    Text,
    /// One JSON object per event on standard output.
    Json,
    /// Nothing (library callers that print the report themselves).
    Quiet,
}

/// Something that happened while applying a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A phase starts on `hosts` hosts.
    PhaseStarted {
        /// The phase's name.
        phase: String,
        /// How many hosts take part.
        hosts: usize,
        /// The number of steps per host (the largest).
        steps: usize,
    },
    /// A step starts on a host.
    StepStarted {
        /// The host.
        host: String,
        /// The phase.
        phase: String,
        /// The step's description (a path, a unit, a command's description).
        step: String,
    },
    /// A step finished.
    StepFinished {
        /// The host.
        host: String,
        /// The phase.
        phase: String,
        /// The step's description.
        step: String,
        /// `changed`, `unchanged`, `would_change`, `not_applicable` or `failed`.
        status: StepStatus,
        /// A short detail: what changed, why not applicable, or the failure.
        detail: String,
    },
    /// A host's remaining steps are skipped after a failure.
    HostStopped {
        /// The host.
        host: String,
        /// The phase it failed in.
        phase: String,
    },
    /// A phase ended on every host.
    PhaseFinished {
        /// The phase's name.
        phase: String,
    },
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Something on the host changed.
    Changed,
    /// Everything already held.
    Unchanged,
    /// Dry run: something would change.
    WouldChange,
    /// The step does not apply on this host (reported, not faked).
    NotApplicable,
    /// The step failed; the host's remaining steps are skipped.
    Failed,
}

impl StepStatus {
    fn word(self) -> &'static str {
        match self {
            StepStatus::Changed => "changed",
            StepStatus::Unchanged => "ok",
            StepStatus::WouldChange => "would change",
            StepStatus::NotApplicable => "not applicable",
            StepStatus::Failed => "FAILED",
        }
    }
}

/// Receives events from the executor's threads.
pub trait Observer: Sync {
    /// Called for every event, from any thread.
    fn event(&self, event: &Event);
}

/// Discards every event.
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event) {}
}

/// Keeps every event, for tests.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl Observer for Collect {
    fn event(&self, event: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(event.clone());
        }
    }
}

/// Plain log lines on standard error: one per finished step that was not unchanged, and
/// one per phase.
pub struct Lines;

impl Observer for Lines {
    fn event(&self, event: &Event) {
        let line = match event {
            Event::PhaseStarted { phase, hosts, .. } => {
                format!("==> {phase} ({hosts} host(s))")
            }
            Event::StepFinished {
                host,
                step,
                status,
                detail,
                ..
            } => {
                if detail.is_empty() {
                    format!("[{host}] {}: {step}", status.word())
                } else {
                    let first = detail.lines().next().unwrap_or_default();
                    format!("[{host}] {}: {step}: {first}", status.word())
                }
            }
            Event::HostStopped { host, phase } => {
                format!("[{host}] stopped: remaining steps of {phase} and later phases skipped")
            }
            Event::StepStarted { .. } | Event::PhaseFinished { .. } => return,
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// One JSON object per event on standard output.
pub struct JsonLines;

impl Observer for JsonLines {
    fn event(&self, event: &Event) {
        if let Ok(s) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{s}");
        }
    }
}

/// indicatif bars: one per host, showing the step in progress.
pub struct Bars {
    multi: MultiProgress,
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    /// The current phase's step count, for bars made during the phase.
    steps: Mutex<u64>,
}

impl Bars {
    /// Bars drawn on standard error.
    pub fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr())
    }

    /// Bars drawn on `target` (tests draw into memory).
    pub fn with_target(target: ProgressDrawTarget) -> Self {
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(BTreeMap::new()),
            steps: Mutex::new(0),
        }
    }

    fn bar(&self, host: &str) -> Option<ProgressBar> {
        let mut bars = self.bars.lock().ok()?;
        Some(
            bars.entry(host.to_string())
                .or_insert_with(|| {
                    let style = ProgressStyle::with_template(
                        "{prefix:>16.bold} [{bar:20}] {pos}/{len} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                    let steps = self.steps.lock().map(|s| *s).unwrap_or(0);
                    let b = self.multi.add(ProgressBar::new(steps).with_style(style));
                    b.set_prefix(host.to_string());
                    b
                })
                .clone(),
        )
    }
}

impl Default for Bars {
    fn default() -> Self {
        Self::new()
    }
}

impl Observer for Bars {
    fn event(&self, event: &Event) {
        match event {
            Event::PhaseStarted { phase, steps, .. } => {
                let _ = self.multi.println(format!("==> {phase}"));
                if let Ok(mut s) = self.steps.lock() {
                    *s = *steps as u64;
                }
                if let Ok(bars) = self.bars.lock() {
                    for b in bars.values() {
                        b.set_length(*steps as u64);
                        b.set_position(0);
                    }
                }
            }
            Event::StepStarted {
                host, step, phase, ..
            } => {
                if let Some(b) = self.bar(host) {
                    if b.length() == Some(0) {
                        b.set_length(1);
                    }
                    b.set_message(format!("{phase}: {step}"));
                }
            }
            Event::StepFinished {
                host,
                step,
                status,
                detail,
                ..
            } => {
                if let Some(b) = self.bar(host) {
                    b.inc(1);
                    if *status != StepStatus::Unchanged {
                        let first = detail.lines().next().unwrap_or_default();
                        b.println(format!("[{host}] {}: {step} {first}", status.word()));
                    }
                }
            }
            Event::HostStopped { host, .. } => {
                if let Some(b) = self.bar(host) {
                    b.abandon_with_message("stopped after a failure");
                }
            }
            Event::PhaseFinished { .. } => {}
        }
    }
}

/// The observer for `output`: bars when standard error is a terminal.
pub fn observer_for(output: Output) -> Box<dyn Observer> {
    match output {
        Output::Quiet => Box::new(Silent),
        Output::Json => Box::new(JsonLines),
        Output::Text if std::io::stderr().is_terminal() => Box::new(Bars::new()),
        Output::Text => Box::new(Lines),
    }
}

#[cfg(test)]
mod tests;
