//! Applying one host's steps of one phase, in order, stopping at the first failure.

use super::diff;
use super::{Change, ChangeKind, Failure, HostState, NotApplicable, UnitAction};
use crate::Error;
use crate::error::display_chain;
use crate::progress::{Event, Observer, StepStatus};
use crate::transport::{CommandOutput, FileStat, PutFile, Transport};
use plan::shell::{quote, quote_path};
use plan::{CommandSpec, DirSpec, FileSpec, Step, UnitSpec};
use std::path::PathBuf;

/// One host's work in one phase.
pub(crate) struct Job<'a, 'p> {
    pub phase: &'p str,
    pub steps: Vec<&'p Step>,
    pub transport: &'a mut dyn Transport,
    pub state: &'a mut HostState,
}

/// How one step ended.
enum Outcome {
    Changed(ChangeKind, String),
    Unchanged,
    NotApplicable(String),
}

/// A step's failure: what was concerned, the message, stderr.
struct StepError {
    target: String,
    message: String,
    stderr: String,
}

impl StepError {
    fn from_error(target: &str, e: Error) -> Self {
        Self {
            target: target.to_string(),
            message: display_chain(&e),
            stderr: String::new(),
        }
    }
    fn from_output(target: &str, what: &str, out: &CommandOutput) -> Self {
        Self {
            target: target.to_string(),
            message: format!("{what} exited with status {}", out.status),
            stderr: out.stderr_excerpt(600),
        }
    }
}

/// The name a step is shown under.
pub(crate) fn step_name(step: &Step) -> String {
    match step {
        Step::Directory(d) => format!("directory {}", d.path.display()),
        Step::File(f) => f.path.display().to_string(),
        Step::Command(c) => c.description.clone(),
        Step::Unit(u) => format!("unit {}", u.name),
        Step::NotApplicable { what, .. } => what.clone(),
    }
}

/// Runs a job to its end or its first failure, then has the transport keep what it learnt
/// for the next run (the quick-check records of the files it stat'ed and wrote).
pub(crate) fn run(job: Job<'_, '_>, dry_run: bool, stamp: &str, observer: &dyn Observer) {
    let Job {
        phase,
        steps,
        transport,
        state,
    } = job;
    run_steps(
        phase,
        &steps,
        &mut *transport,
        &mut *state,
        dry_run,
        stamp,
        observer,
    );
    if dry_run {
        return;
    }
    if let Err(e) = transport.flush() {
        let host = transport.host().to_string();
        let what = "record the files placed";
        if state.report.failure.is_none() {
            fail(
                state,
                observer,
                &host,
                phase,
                what,
                StepError::from_error(what, e),
            );
        }
    }
}

fn run_steps(
    phase: &str,
    steps: &[&Step],
    transport: &mut dyn Transport,
    state: &mut HostState,
    dry_run: bool,
    stamp: &str,
    observer: &dyn Observer,
) {
    let host = transport.host().to_string();
    let mut stats: Vec<Option<Option<FileStat>>> = vec![None; steps.len()];
    let mut written = vec![false; steps.len()];
    // Each file's sha256, computed once: the batch write and the step both compare it, and
    // binaries run to a hundred megabytes.
    let mut digests: Vec<Option<String>> = vec![None; steps.len()];
    for (i, step) in steps.iter().enumerate() {
        let name = step_name(step);
        observer.event(&Event::StepStarted {
            host: host.clone(),
            phase: phase.to_string(),
            step: name.clone(),
        });
        // Stat every file of a run of consecutive file steps in one round trip.
        if matches!(step, Step::File(_)) && stats[i].is_none() {
            let run_end = steps[i..]
                .iter()
                .position(|s| !matches!(s, Step::File(_)))
                .map_or(steps.len(), |p| i + p);
            let paths: Vec<PathBuf> = steps[i..run_end]
                .iter()
                .filter_map(|s| match s {
                    Step::File(f) => Some(f.path.clone()),
                    _ => None,
                })
                .collect();
            match transport.stat_files(&paths) {
                Ok(found) => {
                    for (k, st) in found.into_iter().enumerate() {
                        stats[i + k] = Some(st);
                    }
                    // Write every file whose content differs and that needs no backup in
                    // one round trip too; the steps below then only report.
                    if !dry_run {
                        let batch: Vec<(usize, &FileSpec)> = (i..run_end)
                            .filter_map(|k| match steps[k] {
                                Step::File(f) => {
                                    let st = stats[k].as_ref().and_then(|s| s.as_ref());
                                    let want = digests[k]
                                        .get_or_insert_with(|| f.content.sha256_hex().to_string());
                                    let differs = st.is_none_or(|s| &s.sha256 != want);
                                    (differs && !(f.backup && st.is_some())).then_some((k, f))
                                }
                                _ => None,
                            })
                            .collect();
                        if batch.len() > 1 {
                            let puts: Vec<PutFile<'_>> = batch
                                .iter()
                                .map(|(k, f)| PutFile {
                                    path: &f.path,
                                    content: &f.content,
                                    mode: f.mode,
                                    owner: f.owner.as_deref(),
                                    sha256: digests[*k].as_deref(),
                                })
                                .collect();
                            if let Err(e) = transport.put_files(&puts) {
                                fail(
                                    state,
                                    observer,
                                    &host,
                                    phase,
                                    &name,
                                    StepError::from_error(&name, e),
                                );
                                return;
                            }
                            for (k, _) in batch {
                                written[k] = true;
                            }
                        }
                    }
                }
                Err(e) => {
                    fail(
                        state,
                        observer,
                        &host,
                        phase,
                        &name,
                        StepError::from_error(&name, e),
                    );
                    return;
                }
            }
        }
        let result = match step {
            Step::Directory(d) => directory(transport, d, dry_run),
            Step::File(f) => {
                let found = Found {
                    stat: stats[i].take().flatten(),
                    want_sha: digests[i].take(),
                };
                file(transport, state, f, found, dry_run, stamp, written[i])
            }
            Step::Command(c) => command(transport, c, dry_run),
            Step::Unit(u) => unit(transport, state, u, dry_run),
            Step::NotApplicable { why, .. } => Ok(Outcome::NotApplicable(why.clone())),
        };
        match result {
            Ok(outcome) => {
                let (status, detail) = match outcome {
                    Outcome::Changed(kind, detail) => {
                        state.report.changes.push(Change {
                            phase: phase.to_string(),
                            step: name.clone(),
                            kind,
                            detail: detail.clone(),
                        });
                        let st = if dry_run {
                            StepStatus::WouldChange
                        } else {
                            StepStatus::Changed
                        };
                        (st, detail)
                    }
                    Outcome::Unchanged => {
                        state.report.unchanged += 1;
                        (StepStatus::Unchanged, String::new())
                    }
                    Outcome::NotApplicable(why) => {
                        state.report.not_applicable.push(NotApplicable {
                            phase: phase.to_string(),
                            what: name.clone(),
                            why: why.clone(),
                        });
                        (StepStatus::NotApplicable, why)
                    }
                };
                observer.event(&Event::StepFinished {
                    host: host.clone(),
                    phase: phase.to_string(),
                    step: name,
                    status,
                    detail,
                });
            }
            Err(e) => {
                fail(state, observer, &host, phase, &name, e);
                return;
            }
        }
    }
}

fn fail(
    state: &mut HostState,
    observer: &dyn Observer,
    host: &str,
    phase: &str,
    step: &str,
    e: StepError,
) {
    observer.event(&Event::StepFinished {
        host: host.to_string(),
        phase: phase.to_string(),
        step: step.to_string(),
        status: StepStatus::Failed,
        detail: format!("{}: {}", e.target, e.message),
    });
    observer.event(&Event::HostStopped {
        host: host.to_string(),
        phase: phase.to_string(),
    });
    state.report.failure = Some(Failure {
        host: host.to_string(),
        phase: phase.to_string(),
        step: step.to_string(),
        target: e.target,
        message: e.message,
        stderr: e.stderr,
    });
}

fn run_checked(
    t: &mut dyn Transport,
    target: &str,
    what: &str,
    cmd: &str,
) -> Result<CommandOutput, StepError> {
    let out = t.run(cmd).map_err(|e| StepError::from_error(target, e))?;
    if out.success() {
        Ok(out)
    } else {
        Err(StepError::from_output(target, what, &out))
    }
}

fn directory(t: &mut dyn Transport, d: &DirSpec, dry_run: bool) -> Result<Outcome, StepError> {
    let p = quote_path(&d.path);
    let target = d.path.display().to_string();
    let mode = format!("{:o}", d.mode);
    let check = format!("[ -d {p} ] && [ \"$(stat -c %a -- {p})\" = {mode} ]");
    let kind = || ChangeKind::Directory {
        path: d.path.clone(),
    };
    if dry_run {
        let out = t
            .run(&check)
            .map_err(|e| StepError::from_error(&target, e))?;
        return Ok(if out.success() {
            Outcome::Unchanged
        } else {
            Outcome::Changed(kind(), format!("create or chmod {mode}"))
        });
    }
    // Check and, where needed, fix in one round trip; `changed` says it fixed.
    let out = run_checked(
        t,
        &target,
        "mkdir",
        &format!(
            "if {check}; then :; else mkdir -p -- {p} && chmod {mode} -- {p} && echo changed; fi"
        ),
    )?;
    Ok(if out.stdout_text().trim() == "changed" {
        Outcome::Changed(kind(), format!("directory mode {mode}"))
    } else {
        Outcome::Unchanged
    })
}

/// Whether a path is a systemd unit file (a change means `daemon-reload`).
fn is_unit_file(f: &FileSpec) -> bool {
    let s = f.path.to_string_lossy();
    [
        ".service", ".socket", ".timer", ".mount", ".target", ".path",
    ]
    .iter()
    .any(|ext| s.ends_with(ext))
        || s.contains("/systemd/system/")
}

/// What the host has at a file step's path, and the sha256 the step wants there when the
/// batch write already computed it.
struct Found {
    stat: Option<FileStat>,
    want_sha: Option<String>,
}

fn file(
    t: &mut dyn Transport,
    state: &mut HostState,
    f: &FileSpec,
    found: Found,
    dry_run: bool,
    stamp: &str,
    already_written: bool,
) -> Result<Outcome, StepError> {
    let target = f.path.display().to_string();
    let Found { stat, want_sha } = found;
    let want_sha = want_sha.unwrap_or_else(|| f.content.sha256_hex().to_string());
    let content_differs = stat.as_ref().is_none_or(|s| s.sha256 != want_sha);
    let mode_differs = stat.as_ref().is_some_and(|s| s.mode != f.mode);
    let owner_differs = match (&stat, &f.owner) {
        (Some(s), Some(o)) => &s.owner != o,
        _ => false,
    };
    if !content_differs && !mode_differs && !owner_differs {
        return Ok(Outcome::Unchanged);
    }
    state.changed_files.insert(f.path.clone());
    let kind = || ChangeKind::File {
        path: f.path.clone(),
    };
    if is_unit_file(f) && content_differs {
        state.reload_pending = true;
    }
    let mut notes: Vec<String> = Vec::new();
    if let Some(s) = &stat {
        if mode_differs {
            notes.push(format!("mode {:o} -> {:o}", s.mode, f.mode));
        }
        if owner_differs {
            notes.push(format!(
                "owner {} -> {}",
                s.owner,
                f.owner.as_deref().unwrap_or_default()
            ));
        }
    }
    if dry_run {
        if content_differs {
            let old = if stat.is_some() && !f.secret {
                t.read_file(&f.path)
                    .map_err(|e| StepError::from_error(&target, e))?
            } else if stat.is_some() {
                Some(Vec::new())
            } else {
                None
            };
            let mut d = diff::describe(&target, old.as_deref(), &f.content, f.secret);
            if f.backup && stat.is_some() {
                d = format!("back up to {target}.kubin-backup-<time>, then:\n{d}");
            }
            notes.insert(0, d);
        }
        return Ok(Outcome::Changed(kind(), notes.join("; ")));
    }
    if content_differs {
        if f.backup && stat.is_some() {
            let backup = PathBuf::from(format!("{target}.kubin-backup-{stamp}"));
            t.copy_file(&f.path, &backup)
                .map_err(|e| StepError::from_error(&target, e))?;
            notes.push(format!("backed up to {}", backup.display()));
        }
        if !already_written {
            t.put_files(&[PutFile {
                path: &f.path,
                content: &f.content,
                mode: f.mode,
                owner: f.owner.as_deref(),
                sha256: Some(&want_sha),
            }])
            .map_err(|e| StepError::from_error(&target, e))?;
        }
        let what = if stat.is_some() {
            "content updated"
        } else {
            "created"
        };
        notes.insert(0, format!("{what} ({} bytes)", f.content.len()));
    } else {
        let p = quote_path(&f.path);
        let mut cmd = format!("chmod {:o} -- {p}", f.mode);
        if let Some(o) = &f.owner {
            cmd.push_str(&format!(" && chown {} -- {p}", quote(o)));
        }
        run_checked(t, &target, "chmod/chown", &cmd)?;
    }
    Ok(Outcome::Changed(kind(), notes.join("; ")))
}

fn command(t: &mut dyn Transport, c: &CommandSpec, dry_run: bool) -> Result<Outcome, StepError> {
    let target = c.description.clone();
    let kind = || ChangeKind::Command {
        description: c.description.clone(),
    };
    if let Some(check) = &c.unless {
        let out = t
            .run(check)
            .map_err(|e| StepError::from_error(&target, e))?;
        if out.success() {
            return Ok(Outcome::Unchanged);
        }
    }
    if dry_run {
        return Ok(Outcome::Changed(
            kind(),
            format!("would run: {}", c.description),
        ));
    }
    let out = t
        .run(&c.command)
        .map_err(|e| StepError::from_error(&target, e))?;
    if out.success() || c.ok_status.contains(&out.status) {
        Ok(Outcome::Changed(kind(), "ran".into()))
    } else {
        Err(StepError::from_output(&target, "command", &out))
    }
}

/// The enablement and activity words of the unit query's output (empty when absent).
pub(crate) fn parse_unit_query(text: &str) -> (String, String) {
    let (enabled, active) = text.split_once("--\n").unwrap_or(("", text));
    let word = |s: &str| s.split_whitespace().next().unwrap_or_default().to_string();
    (word(enabled), word(active))
}

fn unit(
    t: &mut dyn Transport,
    state: &mut HostState,
    u: &UnitSpec,
    dry_run: bool,
) -> Result<Outcome, StepError> {
    let target = u.name.clone();
    let mut actions: Vec<UnitAction> = Vec::new();
    let reload = state.reload_pending;
    if reload {
        actions.push(UnitAction::DaemonReload);
    }
    let n = quote(&u.name);
    // Two `systemctl` processes and no subshell: the enablement (nothing for a unit that
    // does not exist), a `--` line, then the activity.
    let query = format!(
        "{{ systemctl is-enabled {n} || :; }} 2>/dev/null; echo --; systemctl is-active {n} 2>/dev/null || :"
    );
    let out = t
        .run(&query)
        .map_err(|e| StepError::from_error(&target, e))?;
    let (enabled_state, active_state) = parse_unit_query(&out.stdout_text());
    let is_enabled = matches!(
        enabled_state.as_str(),
        "enabled" | "enabled-runtime" | "static" | "alias" | "indirect" | "generated"
    );
    let is_active = matches!(active_state.as_str(), "active" | "reloading")
        || (u.no_block && active_state == "activating");
    let enable = u.enabled && !is_enabled;
    let disable = !u.enabled && enabled_state == "enabled";
    let action = match u.running {
        Some(true) if !is_active => Some(UnitAction::Start),
        Some(true) if u.restart_on.iter().any(|p| state.changed_files.contains(p)) => {
            Some(UnitAction::Restart)
        }
        Some(false) if is_active => Some(UnitAction::Stop),
        _ => None,
    };
    let no_block = if u.no_block && action != Some(UnitAction::Stop) {
        " --no-block"
    } else {
        ""
    };
    if enable {
        actions.push(UnitAction::Enable);
    }
    if disable {
        actions.push(UnitAction::Disable);
    }
    if let Some(a) = action {
        actions.push(a);
    }
    if actions.is_empty() {
        // A stopped, disabled unit that is not installed at all is what was asked for.
        return Ok(Outcome::Unchanged);
    }
    // The detail as before: the verbs, `--no-block` on the start, restart or stop.
    let shown = actions
        .iter()
        .map(|a| {
            if Some(*a) == action {
                format!("{}{no_block}", a.as_str())
            } else {
                a.as_str().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let kind = ChangeKind::Unit {
        name: u.name.clone(),
        actions,
    };
    if dry_run {
        return Ok(Outcome::Changed(kind, format!("would {shown}")));
    }
    // `systemctl enable` and `disable` reload the manager themselves (systemctl(1)), so a
    // pending reload is left to them: a reload re-runs every generator and re-reads every
    // unit, the costliest thing systemd does, and once is enough. Enable-then-start is one
    // `systemctl enable --now`: one process, one bus connection.
    let mut cmds: Vec<String> = Vec::new();
    if reload && !enable && !disable {
        cmds.push("systemctl daemon-reload".into());
    }
    let mut action = action;
    if enable {
        if action == Some(UnitAction::Start) && no_block.is_empty() {
            cmds.push(format!("systemctl enable --now {n}"));
            action = None;
        } else {
            cmds.push(format!("systemctl enable {n}"));
        }
    }
    if disable {
        cmds.push(format!("systemctl disable {n}"));
    }
    if let Some(a) = action {
        cmds.push(format!("systemctl {}{no_block} {n}", a.as_str()));
    }
    run_checked(t, &target, "systemctl", &cmds.join(" && "))?;
    state.reload_pending = false;
    Ok(Outcome::Changed(kind, shown))
}
