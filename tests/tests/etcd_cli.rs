//! `kubin etcd health|members|status|snapshot save` as an operator runs them, against a real
//! three-member TLS etcd on loopback addresses with etcd's own ports, checked with etcdctl.

use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tests::kubin::{kubin_bin, text};
use tests::local_etcd::{LocalEtcd, LocalEtcdConfig};

fn kubin(inventory: &std::path::Path, args: &[&str]) -> Output {
    Command::new(kubin_bin())
        .arg("etcd")
        .args(args)
        .arg("-f")
        .arg(inventory)
        .args(["--connect-timeout", "1s", "--request-timeout", "2s"])
        .output()
        .unwrap()
}

#[test]
fn the_cli_reports_what_etcdctl_sees() {
    let addrs = [1, 2, 3].map(|i| Ipv4Addr::new(127, 0, 10, i));
    let mut etcd = LocalEtcd::start_on(
        LocalEtcdConfig {
            members: 3,
            enable_v2: false,
        },
        &addrs,
    );
    let dir = tempfile::tempdir().unwrap();
    let inv = etcd.write_inventory(dir.path());

    let out = kubin(&inv, &["health"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let rows = text(&out)
        .lines()
        .filter(|l| l.starts_with("https://") && l.contains(" healthy "))
        .count();
    assert_eq!(rows, 3, "{}", text(&out));

    let out = kubin(&inv, &["health", "--output", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["verdict"], "healthy");
    assert_eq!(json["endpoints"][2]["endpoint"], "https://127.0.10.3:2379");

    // members: the same IDs and names as etcdctl's member list.
    let out = kubin(&inv, &["members", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let members: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ctl = etcd.etcdctl_output(&["member", "list"]);
    let ctl = String::from_utf8_lossy(&ctl.stdout).to_string();
    for m in members.as_array().unwrap() {
        let line = format!(
            "{}, started, {}",
            m["id"].as_str().unwrap(),
            m["name"].as_str().unwrap()
        );
        assert!(ctl.contains(&line), "{line} not in {ctl}");
    }

    let out = kubin(&inv, &["status"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(text(&out).matches("3.4.23").count(), 3, "{}", text(&out));

    // snapshot save prints a sha256 that sha256sum agrees with.
    let snap = dir.path().join("backup.db");
    let out = Command::new(kubin_bin())
        .args(["etcd", "snapshot", "save"])
        .arg(&snap)
        .arg("-f")
        .arg(&inv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // The whole keyspace: private from its creation, as etcdctl writes it.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&snap).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshot mode {mode:o}");
    let sum = Command::new("sha256sum").arg(&snap).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout);
    let sha = sum.split_whitespace().next().unwrap();
    assert!(
        text(&out).contains(&format!("sha256 {sha}")),
        "{}",
        text(&out)
    );

    // Degraded with quorum: exit 2, the stopped member named as refused.
    // (If the killed member led, the others need an election first: poll, bounded.)
    etcd.kill(1);
    let deadline = Instant::now() + Duration::from_secs(20);
    let out = loop {
        let out = kubin(&inv, &["health"]);
        if out.status.code() == Some(2) || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("connection refused"), "{}", text(&out));

    // Quorum lost: exit 3, within the bound.
    etcd.kill(2);
    let start = Instant::now();
    let out = kubin(&inv, &["health"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(text(&out).contains("quorum lost"), "{}", text(&out));
}

#[test]
fn help_has_examples() {
    let out = Command::new(kubin_bin())
        .args(["etcd", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("kubin etcd health -f cluster.yaml"), "{help}");
    for sub in [
        "deploy", "health", "members", "status", "snapshot", "member",
    ] {
        assert!(help.contains(sub), "{sub} missing: {help}");
    }
}
