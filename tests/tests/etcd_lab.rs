//! The proof on real machines: `kubin etcd` deploys the guides' three-member TLS cluster onto
//! a four-machine lab over SSH, and Debian's etcdctl confirms what kubin reports through a
//! stopped member, a cut link, a snapshot restore after a wipe, and a fourth member added
//! and removed.

use lab::{Lab, LabConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tests::kubin::text;
use tests::local_etcd::ETCDCTL;

fn kubin(inv: &Path, args: &[&str]) -> Output {
    tests::kubin::run(inv, &[&["etcd"], args].concat())
}

#[track_caller]
fn kubin_ok(inv: &Path, args: &[&str]) -> String {
    tests::kubin::run_ok(inv, &[&["etcd"], args].concat())
}

/// Debian's etcdctl with the pki set's etcd CA and client certificate.
fn etcdctl(pki: &Path, endpoints: &[String], args: &[&str]) -> Output {
    Command::new(ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--cacert={}", pki.join("etcd/ca.pem").display()))
        .arg(format!("--cert={}", pki.join("etcd/client.pem").display()))
        .arg(format!(
            "--key={}",
            pki.join("etcd/client-key.pem").display()
        ))
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .args(["--dial-timeout=2s", "--command-timeout=5s"])
        .args(args)
        .output()
        .unwrap()
}

/// Polls `kubin etcd health` until it exits with `code`, bounded.
#[track_caller]
fn health_until(inv: &Path, code: i32, within: Duration) -> Output {
    let deadline = Instant::now() + within;
    loop {
        let out = kubin(inv, &["health"]);
        if out.status.code() == Some(code) || Instant::now() > deadline {
            assert_eq!(out.status.code(), Some(code), "{}", text(&out));
            return out;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn main_pid(lab: &Lab, host: &str) -> String {
    lab.ssh_ok(host, "systemctl show -p MainPID --value etcd.service")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn etcd_on_the_lab_deploy_degrade_restore_and_scale() {
    let lab = Lab::up(&LabConfig {
        name: "etcd".into(),
        hosts: 4,
    })
    .expect("lab up");
    let dir = tempfile::tempdir().unwrap();
    // Three members first (the guides', and the lab's: etcd on its first three machines);
    // the fourth machine joins later.
    let three = std::fs::read_to_string(lab.inventory_path()).unwrap();
    let cut = three
        .rfind("roles: [node]")
        .expect("a fourth machine without etcd");
    let full = format!(
        "{}roles: [node, etcd]{}",
        &three[..cut],
        &three[cut + "roles: [node]".len()..]
    );
    let pki = dir.path().join("pki");
    let with_pki = |yaml: &str| {
        yaml.lines()
            .map(|l| {
                if l.starts_with("pki_dir:") {
                    format!("pki_dir: {:?}", pki.display().to_string())
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    let inv3: PathBuf = dir.path().join("cluster3.yaml");
    let inv4: PathBuf = dir.path().join("cluster4.yaml");
    std::fs::write(&inv3, with_pki(&three)).unwrap();
    std::fs::write(&inv4, with_pki(&full)).unwrap();
    let hosts = lab.hosts().to_vec();
    let endpoints: Vec<String> = hosts[..3]
        .iter()
        .map(|h| format!("https://{}:2379", h.address))
        .collect();

    // Deploy: every member healthy, as etcdctl sees it too.
    let start = Instant::now();
    let out = kubin_ok(&inv3, &["deploy"]);
    eprintln!("deploy took {:?}:\n{out}", start.elapsed());
    let ctl = etcdctl(&pki, &endpoints, &["endpoint", "health"]);
    assert!(ctl.status.success(), "{}", text(&ctl));
    let health: serde_json::Value =
        serde_json::from_str(&kubin_ok(&inv3, &["health", "--output", "json"])).unwrap();
    assert_eq!(health["verdict"], "healthy");
    for e in &endpoints {
        assert!(
            text(&ctl).contains(&format!("{e} is healthy")),
            "{}",
            text(&ctl)
        );
    }
    let members: serde_json::Value =
        serde_json::from_str(&kubin_ok(&inv3, &["members", "--output", "json"])).unwrap();
    let list = text(&etcdctl(&pki, &endpoints, &["member", "list"]));
    assert_eq!(list.lines().count(), 3, "{list}");
    for m in members.as_array().unwrap() {
        let line = format!(
            "{}, started, {}",
            m["id"].as_str().unwrap(),
            m["name"].as_str().unwrap()
        );
        assert!(list.contains(&line), "{line} not in {list}");
    }
    // The unit carries --enable-v2 for the guides' flannel 0.10: the v2 API answers.
    let v2 = tests::lab_checks::curl_v2(&pki, &endpoints[0], "/");
    assert!(text(&v2).contains("\"action\":\"get\""), "{}", text(&v2));
    let modes = lab
        .ssh_ok("k8s-node1", "stat -c '%a %n' /var/lib/etcd/default.etcd /opt/etcd/ssl/server-key.pem /opt/etcd/ssl/peer-key.pem")
        .unwrap();
    assert_eq!(
        modes.matches("700 ").count() + modes.matches("600 ").count(),
        3,
        "{modes}"
    );

    // Re-deploy: nothing changes, nothing restarts.
    let pids: Vec<String> = hosts[..3].iter().map(|h| main_pid(&lab, &h.name)).collect();
    let out = kubin_ok(&inv3, &["deploy"]);
    assert!(out.contains("etcd: 0 change(s)"), "{out}");
    let after: Vec<String> = hosts[..3].iter().map(|h| main_pid(&lab, &h.name)).collect();
    assert_eq!(pids, after);

    // Changing the member list of the running cluster through deploy is refused.
    let out = kubin(&inv4, &["deploy"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("member add"), "{}", text(&out));

    // One member's unit stopped: degraded with quorum (exit 2).
    lab.ssh_ok("k8s-node2", "systemctl stop etcd.service")
        .unwrap();
    let out = health_until(&inv3, 2, Duration::from_secs(30));
    assert!(text(&out).contains("connection refused"), "{}", text(&out));

    // A second member's link cut: quorum lost (exit 3), within the timeout, no hang.
    let link = format!("vb-{}", hosts[1].machine);
    let ip = |state: &str| {
        let s = Command::new("ip")
            .args(["link", "set", &link, state])
            .status()
            .unwrap();
        assert!(s.success(), "ip link set {link} {state}");
    };
    ip("down");
    let t = Instant::now();
    let out = kubin(&inv3, &["health"]);
    let took = t.elapsed();
    ip("up");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(took < Duration::from_secs(15), "health took {took:?}");
    assert!(text(&out).contains("timed out"), "{}", text(&out));

    // Back: healthy again.
    lab.ssh_ok("k8s-node2", "systemctl start --no-block etcd.service")
        .unwrap();
    health_until(&inv3, 0, Duration::from_secs(60));

    // Snapshot, refuse a restore over running members, wipe, restore, read back.
    let put = etcdctl(
        &pki,
        &endpoints,
        &["put", "/kubin/lab-key", "before-snapshot"],
    );
    assert!(put.status.success(), "{}", text(&put));
    let snap = dir.path().join("backup.db");
    let out = kubin_ok(&inv3, &["snapshot", "save", snap.to_str().unwrap()]);
    assert!(out.contains("sha256 "), "{out}");
    let out = kubin(&inv3, &["snapshot", "restore", snap.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is running"), "{}", text(&out));
    for h in &hosts[..3] {
        lab.ssh_ok(
            &h.name,
            "systemctl stop etcd.service && rm -rf /var/lib/etcd/default.etcd",
        )
        .unwrap();
    }
    let out = kubin_ok(&inv3, &["snapshot", "restore", snap.to_str().unwrap()]);
    eprintln!("restore:\n{out}");
    let get = etcdctl(
        &pki,
        &endpoints,
        &["get", "/kubin/lab-key", "--print-value-only"],
    );
    assert_eq!(
        String::from_utf8_lossy(&get.stdout).trim(),
        "before-snapshot",
        "{}",
        text(&get)
    );

    // A fourth member: added as a learner, promoted, then removed.
    let out = kubin_ok(&inv4, &["member", "add", "k8s-node3"]);
    eprintln!("member add:\n{out}");
    let all: Vec<String> = hosts
        .iter()
        .map(|h| format!("https://{}:2379", h.address))
        .collect();
    let list = text(&etcdctl(&pki, &all, &["member", "list"]));
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.contains("started, k8s-node3") && !list.contains(", true"),
        "{list}"
    );
    let ctl = etcdctl(&pki, &all, &["endpoint", "health"]);
    assert!(ctl.status.success(), "{}", text(&ctl));

    // With four members in the inventory, every member's ETCD_INITIAL_CLUSTER changes: a
    // re-deploy restarts them one at a time, each healthy before the next, so the cluster
    // keeps its quorum; every etcd has a new MainPID afterwards.
    let pids: Vec<String> = hosts.iter().map(|h| main_pid(&lab, &h.name)).collect();
    let out = kubin_ok(&inv4, &["deploy"]);
    eprintln!("rolling deploy:\n{out}");
    let rolled: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("etcd: restarting "))
        .collect();
    assert_eq!(rolled.len(), 4, "{out}");
    for (i, line) in rolled.iter().enumerate() {
        assert!(line.contains(&format!("({} of 4)", i + 1)), "{out}");
    }
    let after: Vec<String> = hosts.iter().map(|h| main_pid(&lab, &h.name)).collect();
    for ((h, before), now) in hosts.iter().zip(&pids).zip(&after) {
        assert_ne!(before, now, "{} was not restarted", h.name);
    }
    let out = kubin_ok(&inv4, &["deploy"]);
    assert!(out.contains("etcd: 0 change(s)"), "{out}");
    assert!(!out.contains("etcd: restarting"), "{out}");

    kubin_ok(&inv4, &["member", "remove", "k8s-node3"]);
    let list = text(&etcdctl(&pki, &endpoints, &["member", "list"]));
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(!list.contains("k8s-node3"), "{list}");
    health_until(&inv3, 0, Duration::from_secs(30));
    lab.down().expect("lab down");
}
