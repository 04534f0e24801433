//! What an apply did: per host, changes, unchanged steps, steps not applicable, a failure.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The result of applying a plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// Whether this was a dry run (changes are what *would* change).
    pub dry_run: bool,
    /// Each host of the plan, by name.
    pub hosts: BTreeMap<String, HostReport>,
}

/// One host's part of the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostReport {
    /// Steps that changed something (or would, in a dry run).
    pub changes: Vec<Change>,
    /// How many steps already held.
    pub unchanged: usize,
    /// Steps that do not apply on this host, with why.
    pub not_applicable: Vec<NotApplicable>,
    /// The failure that stopped this host, if any.
    pub failure: Option<Failure>,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The phase.
    pub phase: String,
    /// The step as shown (a path, a unit, a command's description).
    pub step: String,
    /// What changed, as data: callers decide on this, never on `step` or `detail`.
    pub kind: ChangeKind,
    /// What changed: "created", "content updated", a unified diff in a dry run, or
    /// "content changed (secret)"; never a secret's content.
    pub detail: String,
}

/// What a change changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChangeKind {
    /// A file was created, or its content, mode or owner changed.
    File {
        /// The file's path on the host.
        path: PathBuf,
    },
    /// A directory was created or its mode changed.
    Directory {
        /// The directory's path on the host.
        path: PathBuf,
    },
    /// A systemd unit was acted on.
    Unit {
        /// The unit's name.
        name: String,
        /// What was done to it, in order.
        actions: Vec<UnitAction>,
    },
    /// A command ran.
    Command {
        /// The command's description (never its command line, which may be long).
        description: String,
    },
}

/// One thing done to a systemd unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnitAction {
    /// `systemctl daemon-reload` (a unit file changed).
    DaemonReload,
    /// `systemctl enable`.
    Enable,
    /// `systemctl disable`.
    Disable,
    /// `systemctl start`.
    Start,
    /// `systemctl restart` (a file the unit depends on changed).
    Restart,
    /// `systemctl stop`.
    Stop,
}

impl UnitAction {
    /// The `systemctl` verb.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DaemonReload => "daemon-reload",
            Self::Enable => "enable",
            Self::Disable => "disable",
            Self::Start => "start",
            Self::Restart => "restart",
            Self::Stop => "stop",
        }
    }
}

/// A step reported as not applicable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotApplicable {
    /// The phase.
    pub phase: String,
    /// What would have been done.
    pub what: String,
    /// Why it does not apply.
    pub why: String,
}

/// Why a host stopped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The host.
    pub host: String,
    /// The phase.
    pub phase: String,
    /// The step (a path, a unit, a command's description).
    pub step: String,
    /// The path, unit or command description concerned.
    pub target: String,
    /// What went wrong.
    pub message: String,
    /// An excerpt of the command's standard error, if any.
    pub stderr: String,
}

impl Report {
    /// Whether no host failed.
    pub fn is_success(&self) -> bool {
        self.hosts.values().all(|h| h.failure.is_none())
    }

    /// The number of changes over all hosts.
    pub fn total_changes(&self) -> usize {
        self.hosts.values().map(|h| h.changes.len()).sum()
    }

    /// The paths of the files and directories that changed on `host` (or would, in a dry
    /// run), in the order they changed; empty for a host the report does not hold.
    pub fn changed_paths(&self, host: &str) -> Vec<&Path> {
        self.changes_of(host)
            .filter_map(|c| match &c.kind {
                ChangeKind::File { path } | ChangeKind::Directory { path } => Some(path.as_path()),
                _ => None,
            })
            .collect()
    }

    /// The names of the units acted on on `host` (or that would be, in a dry run).
    pub fn changed_units(&self, host: &str) -> Vec<&str> {
        self.changes_of(host)
            .filter_map(|c| match &c.kind {
                ChangeKind::Unit { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    fn changes_of(&self, host: &str) -> impl Iterator<Item = &Change> {
        self.hosts.get(host).into_iter().flat_map(|h| &h.changes)
    }

    /// The failures, by host name order.
    pub fn failures(&self) -> Vec<&Failure> {
        self.hosts
            .values()
            .filter_map(|h| h.failure.as_ref())
            .collect()
    }

    /// Records that `host` could not be reached, replacing a "not connected" failure.
    pub fn record_unreachable(&mut self, host: &str, message: &str) {
        let entry = self.hosts.entry(host.to_string()).or_default();
        let phase = entry
            .failure
            .as_ref()
            .map(|f| f.phase.clone())
            .unwrap_or_default();
        entry.failure = Some(Failure {
            host: host.to_string(),
            phase,
            step: "connect".into(),
            target: host.to_string(),
            message: message.to_string(),
            stderr: String::new(),
        });
    }

    /// The human summary: per host its counts and changes (with diffs in a dry run), steps
    /// not applicable with the reason, and every failure with its step and stderr.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let verb = if self.dry_run {
            "would change"
        } else {
            "changed"
        };
        for (name, h) in &self.hosts {
            let _ = writeln!(
                s,
                "{name}: {} {verb}, {} unchanged, {} not applicable{}",
                h.changes.len(),
                h.unchanged,
                h.not_applicable.len(),
                if h.failure.is_some() { ", FAILED" } else { "" }
            );
            for c in &h.changes {
                if c.detail.contains('\n') {
                    let _ = writeln!(s, "  ~ {}: {}", c.phase, c.step);
                    for line in c.detail.lines() {
                        let _ = writeln!(s, "      {line}");
                    }
                } else {
                    let _ = writeln!(s, "  ~ {}: {}: {}", c.phase, c.step, c.detail);
                }
            }
            for n in &h.not_applicable {
                let _ = writeln!(s, "  - {}: {}: not applicable: {}", n.phase, n.what, n.why);
            }
        }
        let failures = self.failures();
        if failures.is_empty() {
            let _ = writeln!(
                s,
                "{} host(s), {} change(s){}",
                self.hosts.len(),
                self.total_changes(),
                if self.dry_run {
                    " (dry run: nothing was changed)"
                } else {
                    ""
                }
            );
        } else {
            let _ = writeln!(s, "{} host(s) failed:", failures.len());
            for f in failures {
                let _ = write!(
                    s,
                    "  {}: phase {:?}, step {:?} ({}): {}",
                    f.host, f.phase, f.step, f.target, f.message
                );
                if !f.stderr.is_empty() {
                    let _ = write!(
                        s,
                        "\n    stderr: {}",
                        f.stderr.replace('\n', "\n            ")
                    );
                }
                s.push('\n');
            }
        }
        s
    }
}
