//! Executor tests over the recording transport.

use super::*;
use crate::progress::{Collect, Event, Silent, StepStatus};
use crate::transport::recording::{Call, MemUnit, RecordingTransport, Shared};
use plan::{CommandSpec, DirSpec, FileSpec, Phase, Step, UnitSpec};
use std::path::Path;

const SECRET: &str = "-----BEGIN PRIVATE KEY----- TOPSECRET";

fn steps() -> Vec<Step> {
    vec![
        Step::Directory(DirSpec {
            path: "/opt/etcd/cfg".into(),
            mode: 0o755,
        }),
        Step::File(FileSpec::new("/opt/etcd/cfg/etcd.conf", "NAME=a\n", 0o644)),
        Step::File(FileSpec::new("/opt/etcd/ssl/server-key.pem", SECRET, 0o600).secret()),
        Step::File(FileSpec::new("/etc/hosts", "10.0.0.1 a\n", 0o644).backed_up()),
        Step::File(FileSpec::new(
            "/usr/lib/systemd/system/etcd.service",
            "[Service]\nExecStart=/opt/etcd/bin/etcd\n",
            0o644,
        )),
        Step::Command(CommandSpec::new(
            "mark done",
            "touch /done",
            Some("test -e /done"),
        )),
        Step::Unit(UnitSpec::running(
            "etcd.service",
            vec!["/opt/etcd/cfg/etcd.conf".into()],
        )),
    ]
}

fn plan_for(hosts: &[&str], steps: Vec<Step>) -> Plan {
    Plan::single(
        "test",
        hosts
            .iter()
            .map(|h| HostSteps {
                host: h.to_string(),
                steps: steps.clone(),
            })
            .collect(),
    )
}

fn hosts(names: &[&str]) -> (BTreeMap<String, Box<dyn Transport>>, Vec<Shared>) {
    let shared: Vec<Shared> = names
        .iter()
        .map(|n| {
            let mut t = RecordingTransport::new(n);
            t.with_file("/etc/hosts", "127.0.0.1 localhost\n", 0o644);
            Shared::new(t)
        })
        .collect();
    let map = shared
        .iter()
        .map(|s| (s.host().to_string(), s.boxed()))
        .collect();
    (map, shared)
}

fn quiet(dry_run: bool) -> ApplyOptions {
    ApplyOptions {
        dry_run,
        parallel: 4,
        output: Output::Quiet,
    }
}

#[test]
fn second_apply_changes_nothing() {
    let plan = plan_for(&["a", "b"], steps());
    let (mut map, shared) = hosts(&["a", "b"]);
    let first = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert!(first.is_success(), "{}", first.render_text());
    assert_eq!(first.hosts["a"].changes.len(), 7, "{}", first.render_text());
    assert_eq!(
        first.changed_paths("a"),
        [
            "/opt/etcd/cfg",
            "/opt/etcd/cfg/etcd.conf",
            "/opt/etcd/ssl/server-key.pem",
            "/etc/hosts",
            "/usr/lib/systemd/system/etcd.service",
        ]
        .map(Path::new)
    );
    assert_eq!(first.changed_units("a"), ["etcd.service"]);
    assert_eq!(
        first.hosts["a"].changes.last().map(|c| &c.kind),
        Some(&ChangeKind::Unit {
            name: "etcd.service".into(),
            actions: vec![
                UnitAction::DaemonReload,
                UnitAction::Enable,
                UnitAction::Start
            ],
        })
    );
    assert!(first.changed_paths("nobody").is_empty());
    let t = shared[0].lock();
    assert_eq!(
        t.text("/opt/etcd/cfg/etcd.conf").as_deref(),
        Some("NAME=a\n")
    );
    assert_eq!(t.dirs.get(Path::new("/opt/etcd/cfg")), Some(&0o755));
    assert_eq!(
        t.units.get("etcd.service"),
        Some(&MemUnit {
            enabled: true,
            active: true
        })
    );
    // The unit file changed and the unit gets enabled: `systemctl enable` reloads the
    // manager itself, so there is no separate daemon-reload, and it starts the unit too.
    assert!(
        t.commands()
            .contains(&"systemctl enable --now etcd.service"),
        "{:?}",
        t.commands()
    );
    assert!(
        !t.commands().iter().any(|c| c.contains("daemon-reload")),
        "{:?}",
        t.commands()
    );
    drop(t);

    let calls_before = shared[0].lock().calls.len();
    let second = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert!(second.is_success());
    assert_eq!(second.total_changes(), 0, "{}", second.render_text());
    assert_eq!(second.hosts["a"].unchanged, 7);
    let t = shared[0].lock();
    let new_calls = &t.calls[calls_before..];
    assert!(
        new_calls
            .iter()
            .all(|c| !matches!(c, Call::Put(_) | Call::Copy(..))),
        "{new_calls:?}"
    );
    assert!(
        !new_calls
            .iter()
            .any(|c| matches!(c, Call::Run(s) if s.contains("restart")))
    );
}

#[test]
fn a_failing_host_stops_alone_and_is_named() {
    let mut plan = plan_for(&["a", "b", "c"], steps());
    plan.phases.push(Phase {
        name: "second".into(),
        hosts: ["a", "b", "c"]
            .iter()
            .map(|h| HostSteps {
                host: h.to_string(),
                steps: vec![Step::File(FileSpec::new("/later", "x", 0o644))],
            })
            .collect(),
    });
    let (mut map, shared) = hosts(&["a", "b", "c"]);
    shared[1].lock().fail_call(3);
    let report = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert!(!report.is_success());
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].host, "b");
    assert_eq!(failures[0].phase, "test");
    assert!(
        failures[0].message.contains("injected failure"),
        "{:?}",
        failures[0]
    );
    for i in [0, 2] {
        let t = shared[i].lock();
        assert!(
            t.files.contains_key(Path::new("/later")),
            "host {i} finished"
        );
    }
    assert!(!shared[1].lock().files.contains_key(Path::new("/later")));
    let text = report.render_text();
    assert!(
        text.contains("1 host(s) failed") && text.contains("  b: phase \"test\""),
        "{text}"
    );
}

#[test]
fn failing_command_reports_its_stderr() {
    let plan = plan_for(
        &["a"],
        vec![Step::Command(CommandSpec::new(
            "break it",
            "false-cmd",
            None,
        ))],
    );
    let (mut map, shared) = hosts(&["a"]);
    shared[0].lock().script_status("false-cmd", 2, "");
    let report = apply_with(&plan, &mut map, &quiet(false), &Silent);
    let f = report.failures()[0].clone();
    assert_eq!(f.step, "break it");
    assert!(f.message.contains("status 2"), "{f:?}");
    assert!(f.stderr.contains("scripted failure"), "{f:?}");
}

#[test]
fn replaced_system_files_are_backed_up_first() {
    let plan = plan_for(&["a"], steps());
    let (mut map, shared) = hosts(&["a"]);
    apply_with(&plan, &mut map, &quiet(false), &Silent);
    let t = shared[0].lock();
    let backups: Vec<(&PathBuf, &crate::transport::recording::MemFile)> = t
        .files
        .iter()
        .filter(|(p, _)| p.to_string_lossy().starts_with("/etc/hosts.kubin-backup-"))
        .collect();
    assert_eq!(backups.len(), 1, "{:?}", t.files.keys());
    assert_eq!(backups[0].1.content, b"127.0.0.1 localhost\n");
    let copy_at = t.calls.iter().position(|c| matches!(c, Call::Copy(..)));
    let put_at = t
        .calls
        .iter()
        .position(|c| *c == Call::Put("/etc/hosts".into()));
    assert!(copy_at < put_at);
    // A file that did not exist has nothing to back up.
    assert_eq!(
        t.calls
            .iter()
            .filter(|c| matches!(c, Call::Copy(..)))
            .count(),
        1
    );
}

#[test]
fn units_restart_only_when_a_file_they_depend_on_changed() {
    let (mut map, shared) = hosts(&["a"]);
    let plan = plan_for(&["a"], steps());
    apply_with(&plan, &mut map, &quiet(false), &Silent);
    let restarts = |s: &Shared| {
        s.lock()
            .commands()
            .iter()
            .filter(|c| c.contains("systemctl restart"))
            .count()
    };
    assert_eq!(
        restarts(&shared[0]),
        0,
        "first start is a start, not a restart"
    );

    // A change to a file the unit does not depend on: no restart.
    let mut other = steps();
    other[3] = Step::File(FileSpec::new("/etc/hosts", "10.0.0.9 z\n", 0o644).backed_up());
    let r = apply_with(
        &plan_for(&["a"], other.clone()),
        &mut map,
        &quiet(false),
        &Silent,
    );
    assert_eq!(r.total_changes(), 1, "{}", r.render_text());
    assert_eq!(restarts(&shared[0]), 0);

    // A change to its config: exactly one restart.
    let mut changed = other.clone();
    changed[1] = Step::File(FileSpec::new("/opt/etcd/cfg/etcd.conf", "NAME=b\n", 0o644));
    let r = apply_with(&plan_for(&["a"], changed), &mut map, &quiet(false), &Silent);
    assert_eq!(r.total_changes(), 2, "{}", r.render_text());
    assert_eq!(restarts(&shared[0]), 1);
}

#[test]
fn no_block_starts_without_waiting() {
    let (mut map, shared) = hosts(&["a"]);
    let mut u = UnitSpec::running("etcd.service", vec![]);
    u.no_block = true;
    apply_with(
        &plan_for(&["a"], vec![Step::Unit(u)]),
        &mut map,
        &quiet(false),
        &Silent,
    );
    assert!(
        shared[0]
            .lock()
            .commands()
            .iter()
            .any(|c| c.contains("systemctl start --no-block etcd.service"))
    );
}

#[test]
fn stopped_units_are_stopped_and_disabled() {
    let (mut map, shared) = hosts(&["a"]);
    shared[0].lock().units.insert(
        "firewalld.service".into(),
        MemUnit {
            enabled: true,
            active: true,
        },
    );
    let step = Step::Unit(UnitSpec {
        name: "firewalld.service".into(),
        enabled: false,
        running: Some(false),
        restart_on: vec![],
        no_block: false,
    });
    let plan = plan_for(&["a"], vec![step]);
    let r = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert_eq!(r.total_changes(), 1);
    assert_eq!(
        shared[0].lock().units["firewalld.service"],
        MemUnit::default()
    );
    let r = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert_eq!(r.total_changes(), 0);
}

#[test]
fn dry_run_changes_nothing_and_shows_diffs() {
    let (mut map, shared) = hosts(&["a"]);
    let report = apply_with(&plan_for(&["a"], steps()), &mut map, &quiet(true), &Silent);
    assert!(report.dry_run);
    assert_eq!(report.total_changes(), 7);
    let t = shared[0].lock();
    assert!(t.mutations().is_empty(), "{:?}", t.mutations());
    assert_eq!(
        t.text("/etc/hosts").as_deref(),
        Some("127.0.0.1 localhost\n")
    );
    let text = report.render_text();
    assert!(text.contains("-127.0.0.1 localhost"), "{text}");
    assert!(text.contains("+10.0.0.1 a"), "{text}");
    assert!(text.contains("would run: mark done"), "{text}");
    assert!(
        text.contains("would daemon-reload, enable, start"),
        "{text}"
    );
}

#[test]
fn mode_only_changes_are_chmods() {
    let (mut map, shared) = hosts(&["a"]);
    shared[0].lock().with_file("/x", "same", 0o600);
    let plan = plan_for(&["a"], vec![Step::File(FileSpec::new("/x", "same", 0o644))]);
    let r = apply_with(&plan, &mut map, &quiet(false), &Silent);
    assert_eq!(r.hosts["a"].changes[0].detail, "mode 600 -> 644");
    let t = shared[0].lock();
    assert!(!t.calls.iter().any(|c| matches!(c, Call::Put(_))));
    assert_eq!(t.files[Path::new("/x")].mode, 0o644);
}

#[test]
fn secrets_never_reach_output() {
    let (mut map, shared) = hosts(&["a"]);
    shared[0]
        .lock()
        .with_file("/opt/etcd/ssl/server-key.pem", "OLDSECRET", 0o600);
    for dry_run in [true, false] {
        let events = Collect::default();
        let report = apply_with(
            &plan_for(&["a"], steps()),
            &mut map,
            &quiet(dry_run),
            &events,
        );
        let all = format!(
            "{}{}{:?}",
            report.render_text(),
            serde_json::to_string(&report).unwrap(),
            events.0.lock().unwrap()
        );
        assert!(
            !all.contains("TOPSECRET") && !all.contains("OLDSECRET"),
            "{all}"
        );
        if dry_run {
            assert!(all.contains("content changed (secret)"), "{all}");
        }
    }
    // The executor never even read the old secret to diff it.
    assert!(
        !shared[0]
            .lock()
            .calls
            .contains(&Call::Read("/opt/etcd/ssl/server-key.pem".into()))
    );
}

#[test]
fn hosts_without_a_transport_fail_as_not_connected() {
    let (mut map, _shared) = hosts(&["a"]);
    let report = apply_with(
        &plan_for(&["a", "ghost"], steps()),
        &mut map,
        &quiet(false),
        &Silent,
    );
    assert!(report.hosts["a"].failure.is_none());
    let f = report.hosts["ghost"].failure.as_ref().unwrap();
    assert_eq!(f.message, "not connected");
    let mut report = report;
    report.record_unreachable("ghost", "connection refused");
    assert!(report.render_text().contains("connection refused"));
}

#[test]
fn events_follow_the_steps() {
    let (mut map, _shared) = hosts(&["a"]);
    let events = Collect::default();
    apply_with(&plan_for(&["a"], steps()), &mut map, &quiet(false), &events);
    let events = events.0.into_inner().unwrap();
    assert!(matches!(
        events.first(),
        Some(Event::PhaseStarted {
            hosts: 1,
            steps: 7,
            ..
        })
    ));
    let finished = events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::StepFinished {
                    status: StepStatus::Changed,
                    ..
                }
            )
        })
        .count();
    assert_eq!(finished, 7);
    assert!(matches!(events.last(), Some(Event::PhaseFinished { .. })));
}

#[test]
fn backup_stamps_are_utc() {
    let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
    assert_eq!(backup_stamp(t), "20261118T110640Z");
    assert_eq!(backup_stamp(SystemTime::UNIX_EPOCH), "19700101T000000Z");
}

#[test]
fn a_changed_unit_file_of_a_running_unit_reloads_once_then_restarts() {
    let (mut map, shared) = hosts(&["a"]);
    let unit_file = "/etc/systemd/system/etcd.service";
    let steps = |body: &str| {
        vec![
            Step::File(FileSpec::new(unit_file, body, 0o644)),
            Step::Unit(UnitSpec::running("etcd.service", vec![unit_file.into()])),
        ]
    };
    let first = apply_with(
        &plan_for(&["a"], steps("[Service]\nExecStart=/a\n")),
        &mut map,
        &quiet(false),
        &Silent,
    );
    assert!(first.is_success(), "{}", first.render_text());
    let before = shared[0].lock().calls.len();
    let second = apply_with(
        &plan_for(&["a"], steps("[Service]\nExecStart=/b\n")),
        &mut map,
        &quiet(false),
        &Silent,
    );
    assert!(second.is_success(), "{}", second.render_text());
    assert_eq!(
        second.hosts["a"].changes[1].detail,
        "daemon-reload, restart"
    );
    let t = shared[0].lock();
    let commands: Vec<&str> = t.calls[before..]
        .iter()
        .filter_map(|c| match c {
            Call::Run(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    // The reload and the restart travel together, the reload first.
    assert!(
        commands.contains(&"systemctl daemon-reload && systemctl restart etcd.service"),
        "{commands:?}"
    );
    assert_eq!(
        commands
            .iter()
            .filter(|c| c.contains("daemon-reload"))
            .count(),
        1,
        "{commands:?}"
    );
}

#[test]
fn unit_query_output_parses() {
    let check = |text: &str, want: (&str, &str)| {
        assert_eq!(
            host::parse_unit_query(text),
            (want.0.to_string(), want.1.to_string()),
            "{text:?}"
        );
    };
    check("enabled\n--\nactive\n", ("enabled", "active"));
    check("--\ninactive\n", ("", "inactive"));
    check("static\n--\nactivating\n", ("static", "activating"));
    check("", ("", ""));
}
