//! kubin's online etcd operations against a real etcd cluster on loopback, checked with
//! Debian's etcdctl.

use etcd_cluster::online::{self, ClientTls, Target, Timeouts};
use etcd_cluster::{HealthReport, Problem, Verdict, check_remove};
use std::process::Command;
use std::time::{Duration, Instant};
use tests::local_etcd::{self, LocalEtcd, LocalEtcdConfig};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn target(etcd: &LocalEtcd) -> Target {
    Target {
        endpoints: etcd.endpoints(),
        tls: ClientTls {
            ca_pem: etcd.ca_pem(),
            cert_pem: etcd.client_cert_pem(),
            key_pem: etcd.client_key_pem(),
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            request: Duration::from_secs(2),
        },
    }
}

fn three() -> LocalEtcd {
    LocalEtcd::start(LocalEtcdConfig {
        members: 3,
        enable_v2: false,
    })
}

/// Health, asked again for up to 30 s until the verdict is `want`: what an operator does while
/// a leader election is under way. Returns the last report, whatever its verdict.
fn health_once_settled(rt: &tokio::runtime::Runtime, t: &Target, want: Verdict) -> HealthReport {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let report = rt.block_on(online::health(t)).unwrap();
        if report.verdict == want || Instant::now() > deadline {
            return report;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn health_agrees_with_etcdctl_then_degrades_then_loses_quorum() {
    let rt = rt();
    let mut etcd = three();
    let t = target(&etcd);
    let report = rt.block_on(online::health(&t)).unwrap();
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{}",
        report.render_table()
    );
    let ctl = etcd.etcdctl_output(&["endpoint", "health"]);
    assert!(ctl.status.success(), "{ctl:?}");
    let ctl_text =
        String::from_utf8_lossy(&ctl.stderr).to_string() + &String::from_utf8_lossy(&ctl.stdout);
    for e in &report.endpoints {
        assert!(
            ctl_text.contains(&format!("{} is healthy", e.endpoint)),
            "{ctl_text}"
        );
        assert_eq!(e.version.as_deref(), Some("3.4.23"));
    }
    let names: Vec<_> = report
        .endpoints
        .iter()
        .filter_map(|e| e.member.clone())
        .collect();
    assert_eq!(names, ["m0", "m1", "m2"]);

    // The member list agrees with etcdctl's.
    let members = rt.block_on(online::member_list(&t)).unwrap();
    let ctl = etcd.etcdctl_output(&["member", "list"]);
    let ctl_text = String::from_utf8_lossy(&ctl.stdout);
    assert_eq!(ctl_text.lines().count(), members.len());
    for m in &members {
        assert!(
            ctl_text.contains(&format!(
                "{}, started, {}, {}",
                m.id, m.name, m.peer_urls[0]
            )),
            "{ctl_text}"
        );
    }

    // Status: one leader, everyone agreeing on it.
    let status = rt.block_on(online::status(&t));
    assert_eq!(
        status.iter().filter(|s| s.is_leader).count(),
        1,
        "{status:?}"
    );
    let leader = status[0].leader.clone();
    assert!(
        status
            .iter()
            .all(|s| s.leader == leader && s.error.is_none())
    );

    // One member down: degraded, quorum kept; the stopped member is named as refused.
    // If it was the leader, the other two hold an election first (etcd's default election
    // timeout is one second, longer on a loaded machine); until then nothing answers.
    etcd.kill(1);
    let report = health_once_settled(&rt, &t, Verdict::DegradedWithQuorum);
    assert_eq!(
        report.verdict,
        Verdict::DegradedWithQuorum,
        "{}",
        report.render_table()
    );
    assert_eq!(report.verdict.exit_code(), 2);
    assert_eq!(
        report.endpoints[1].problem,
        Some(Problem::ConnectionRefused)
    );
    let ctl = etcd.etcdctl_output(&["endpoint", "health"]);
    assert!(!ctl.status.success());

    // A second one down: quorum lost, reported within the bound, no hang.
    etcd.kill(2);
    let start = Instant::now();
    let report = rt.block_on(online::health(&t)).unwrap();
    let took = start.elapsed();
    assert_eq!(
        report.verdict,
        Verdict::QuorumLost,
        "{}",
        report.render_table()
    );
    assert_eq!(report.verdict.exit_code(), 3);
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!report.endpoints[0].healthy, "{}", report.render_table());

    // Back: healthy again.
    etcd.restart(1);
    etcd.restart(2);
    etcd.wait_healthy(Duration::from_secs(30));
    let report = rt.block_on(online::health(&t)).unwrap();
    assert_eq!(
        report.verdict,
        Verdict::Healthy,
        "{}",
        report.render_table()
    );
}

#[test]
fn certificate_failures_are_named() {
    let rt = rt();
    let etcd = three();
    let dir = tempfile::tempdir().unwrap();
    // A CA that did not sign the members' certificates.
    let other = local_etcd::make_ca(dir.path(), "other", "some-other-ca");
    let mut t = target(&etcd);
    t.tls.ca_pem = other.cert_pem();
    let report = rt.block_on(online::health(&t)).unwrap();
    assert_eq!(report.verdict, Verdict::QuorumLost);
    assert!(
        matches!(report.endpoints[0].problem, Some(Problem::UnknownCa { .. })),
        "{}",
        report.render_table()
    );

    // An expired client certificate from the right CA.
    let expired = local_etcd::issue(
        dir.path(),
        etcd.ca(),
        "expired",
        "old",
        "extendedKeyUsage=clientAuth\n",
        -1,
    );
    let mut t = target(&etcd);
    t.tls.cert_pem = expired.cert_pem();
    t.tls.key_pem = expired.key_pem();
    let report = rt.block_on(online::health(&t)).unwrap();
    assert!(
        matches!(
            report.endpoints[0].problem,
            Some(Problem::ClientCertExpired { .. })
        ),
        "{}",
        report.render_table()
    );

    // A client certificate from a CA the members do not trust: the member's alert is named.
    let foreign = local_etcd::issue(
        dir.path(),
        &other,
        "foreign",
        "stranger",
        "extendedKeyUsage=clientAuth\n",
        30,
    );
    let mut t = target(&etcd);
    t.tls.cert_pem = foreign.cert_pem();
    t.tls.key_pem = foreign.key_pem();
    let report = rt.block_on(online::health(&t)).unwrap();
    assert!(
        matches!(
            report.endpoints[0].problem,
            Some(Problem::ClientCertRejected { .. })
        ),
        "{}",
        report.render_table()
    );
}

#[test]
fn snapshot_save_matches_etcdctl_and_restores_a_key() {
    let rt = rt();
    let etcd = three();
    let put = etcd.etcdctl_output(&["put", "/kubin/before-snapshot", "kept"]);
    assert!(put.status.success(), "{put:?}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("etcd.db");
    let info = rt
        .block_on(online::snapshot_save(&target(&etcd), &file))
        .unwrap();
    let sha = Command::new("sha256sum").arg(&file).output().unwrap();
    assert!(String::from_utf8_lossy(&sha.stdout).starts_with(&info.sha256));
    let status = Command::new(local_etcd::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "status", "-w", "json"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(status.status.success(), "{status:?}");
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json["revision"].as_i64(), Some(info.revision), "{json}");

    // Restore with Debian's etcdctl, start a member on it, read the key back.
    let peer = local_etcd::free_port();
    let client = local_etcd::free_port();
    let data = dir.path().join("restored.etcd");
    let restore = Command::new(local_etcd::ETCDCTL)
        .env("ETCDCTL_API", "3")
        .args(["snapshot", "restore"])
        .arg(&file)
        .args(["--name", "r0"])
        .arg(format!("--initial-cluster=r0=http://127.0.0.1:{peer}"))
        .arg(format!(
            "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
        ))
        .arg(format!("--data-dir={}", data.display()))
        .output()
        .unwrap();
    assert!(restore.status.success(), "{restore:?}");
    let mut child = Command::new(local_etcd::ETCD)
        .args(["--name", "r0"])
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
        .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
        .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let value = loop {
        let get = Command::new(local_etcd::ETCDCTL)
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints=http://127.0.0.1:{client}"))
            .args(["get", "/kubin/before-snapshot", "--print-value-only"])
            .output()
            .unwrap();
        let v = String::from_utf8_lossy(&get.stdout).trim().to_string();
        if get.status.success() && !v.is_empty() {
            break v;
        }
        assert!(
            Instant::now() < deadline,
            "restored member never answered: {get:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(value, "kept");
}

#[test]
fn a_fourth_member_joins_as_learner_is_promoted_and_removed() {
    let rt = rt();
    let mut etcd = three();
    let t = target(&etcd);
    let i = etcd.reserve_member();
    let peer = etcd.members()[i].peer_url();
    // Right after the cluster formed, etcd refuses reconfiguration for a few seconds: the
    // orchestration's retry carries the change through that window.
    let (added, all) =
        deploy::etcd::reconfigure(rt.handle(), || online::member_add(&t, &peer, true)).unwrap();
    assert!(added.is_learner);
    assert_eq!(all.len(), 4);
    etcd.start_joining(i);
    // Promotion is refused until the learner caught up: retry within a bound.
    deploy::poll::poll_until(
        Duration::from_secs(30),
        Duration::from_millis(500),
        || rt.block_on(online::member_promote(&t, &added.id)),
        Result::is_ok,
    )
    .expect("promote never succeeded");
    let list = etcd.etcdctl_output(&["member", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.contains(&format!("{}, started, m3", added.id)) && !text.contains("true"),
        "{text}"
    );

    let members = rt.block_on(online::member_list(&t)).unwrap();
    let healthy: Vec<String> = members.iter().map(|m| m.name.clone()).collect();
    let target_member = check_remove(&members, &healthy, "m3").unwrap();
    deploy::etcd::reconfigure(rt.handle(), || online::member_remove(&t, &target_member.id))
        .unwrap();
    let list = etcd.etcdctl_output(&["member", "list"]);
    let text = String::from_utf8_lossy(&list.stdout).to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
    etcd.kill(i);
}
