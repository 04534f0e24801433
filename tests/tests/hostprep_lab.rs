//! `kubin prepare` on three lab machines (systemd-nspawn, real sshd and systemd), checked
//! with plain `ssh` commands: the files, zero changes on a re-run, a host whose link is cut
//! mid-run failing alone and named, and convergence once the link is back.

use lab::{Lab, LabConfig};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use tests::kubin::{json_report, kubin_bin as kubin, report_changes};

const HOSTS: [&str; 3] = ["k8s-master1", "k8s-node1", "k8s-node2"];

fn prepare(lab: &Lab, extra: &[&str]) -> Output {
    let out = Command::new(kubin())
        .args(["prepare", "--timeout", "10s", "-f"])
        .arg(lab.inventory_path())
        .args(extra)
        .output()
        .unwrap();
    eprintln!(
        "kubin prepare {extra:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

fn preflight(lab: &Lab) -> Output {
    let out = Command::new(kubin())
        .args(["preflight", "-f"])
        .arg(lab.inventory_path())
        .output()
        .unwrap();
    eprintln!(
        "kubin preflight: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn link(lab: &Lab, host: &str, state: &str) {
    let veth = lab::names::veth_name(&lab.host(host).unwrap().machine);
    let st = Command::new("ip")
        .args(["link", "set", &veth, state])
        .status()
        .unwrap();
    assert!(st.success(), "ip link set {veth} {state}");
}

#[test]
fn prepare_three_lab_hosts() {
    let lab = Lab::up(&LabConfig::guides("hostprep-lab")).expect("lab up");

    // Preflight on fresh machines passes; a port taken on one host is named, with the exit
    // status non-zero.
    let pf = preflight(&lab);
    assert!(
        pf.status.success(),
        "{}",
        String::from_utf8_lossy(&pf.stdout)
    );
    assert!(String::from_utf8_lossy(&pf.stdout).contains("0 error(s)"));
    lab.ssh_ok(
        "k8s-node1",
        "/usr/sbin/sshd -p 2379 -o PidFile=/run/kubin-test-2379.pid",
    )
    .unwrap();
    let pf = preflight(&lab);
    lab.ssh_ok("k8s-node1", "kill $(cat /run/kubin-test-2379.pid)")
        .unwrap();
    let text = String::from_utf8_lossy(&pf.stdout);
    assert!(!pf.status.success(), "{text}");
    assert!(
        text.contains("k8s-node1:\n  error: port: port 2379 (etcd client) is already in use"),
        "{text}"
    );

    // A dry run changes nothing.
    let dry = prepare(&lab, &["--dry-run"]);
    assert!(dry.status.success());
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains("would change") && text.contains("+net.ipv4.ip_forward = 1"),
        "{text}"
    );
    for h in HOSTS {
        let st = lab.ssh(h, "test -e /etc/sysctl.d/k8s.conf").unwrap();
        assert!(!st.status.success(), "dry run wrote on {h}");
    }

    // The real run.
    let first = prepare(&lab, &[]);
    assert!(first.status.success());
    let text = String::from_utf8_lossy(&first.stdout);
    assert!(
        text.contains("not applicable: inside a systemd-nspawn container"),
        "{text}"
    );

    // Each file, checked with plain ssh.
    for h in HOSTS {
        assert_eq!(
            lab.ssh_ok(h, "cat /etc/hostname").unwrap(),
            format!("{h}\n")
        );
        assert_eq!(lab.ssh_ok(h, "hostname").unwrap().trim(), h);
        let hosts = lab.ssh_ok(h, "cat /etc/hosts").unwrap();
        assert!(hosts.contains("# BEGIN kubin managed hosts\n"), "{hosts}");
        for other in lab.hosts() {
            assert!(
                hosts.contains(&format!("{} {}\n", other.address, other.name)),
                "{hosts}"
            );
        }
        assert!(
            hosts.contains("localhost"),
            "lines outside the block kept: {hosts}"
        );
        let backups = lab
            .ssh_ok(h, "ls /etc/ | grep -c '^hosts.kubin-backup-'")
            .unwrap();
        assert_eq!(backups.trim(), "1");
        let sysctl = lab.ssh_ok(h, "cat /etc/sysctl.d/k8s.conf").unwrap();
        for key in [
            "net.bridge.bridge-nf-call-iptables = 1",
            "net.bridge.bridge-nf-call-ip6tables = 1",
            "net.ipv4.ip_forward = 1",
        ] {
            assert!(sysctl.contains(key), "{sysctl}");
        }
        let modules = lab
            .ssh_ok(h, "grep -v '^#' /etc/modules-load.d/k8s.conf")
            .unwrap();
        assert_eq!(modules, "br_netfilter\noverlay\n");
        let ipvs = lab
            .ssh_ok(h, "grep -v '^#' /etc/modules-load.d/ipvs.conf")
            .unwrap();
        assert_eq!(ipvs, "ip_vs\nip_vs_rr\nip_vs_wrr\nip_vs_sh\nnf_conntrack\n");
        let mode = lab
            .ssh_ok(h, "stat -c '%a %U' /etc/hosts /etc/sysctl.d/k8s.conf")
            .unwrap();
        assert_eq!(mode, "644 root\n644 root\n");
        // `getent` resolves the other machines through the managed block.
        assert!(
            lab.ssh_ok(h, "getent hosts k8s-node2")
                .unwrap()
                .contains("k8s-node2")
        );
    }

    // A re-run changes nothing.
    let again = prepare(&lab, &["--output", "json"]);
    assert!(again.status.success());
    assert_eq!(report_changes(&json_report(&again)), 0);

    // Break something everywhere, then cut k8s-node2's link while the run is under way.
    for h in HOSTS {
        lab.ssh_ok(h, "rm /etc/sysctl.d/k8s.conf /etc/modules-load.d/ipvs.conf")
            .unwrap();
    }
    let mut child = Command::new(kubin())
        .args(["prepare", "--timeout", "10s", "--output", "json", "-f"])
        .arg(lab.inventory_path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut cut = false;
    // The report: the last line saying whether the run succeeded (releasing the lock on the
    // cut host may warn after it).
    let mut last = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if !cut && line.contains("\"step_started\"") && line.contains("\"host\":\"k8s-node2\"") {
            link(&lab, "k8s-node2", "down");
            cut = true;
        }
        if line.contains("\"success\"") {
            last = line;
        } else if line.contains("\"warning\"") {
            eprintln!("{line}");
        }
    }
    let status = child.wait().unwrap();
    link(&lab, "k8s-node2", "up");
    assert!(cut, "never saw k8s-node2 start a step");
    assert!(
        !status.success(),
        "a failed host makes the exit status non-zero"
    );
    let r: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(r["success"], false, "{r}");
    let failure = &r["hosts"]["k8s-node2"]["failure"];
    assert_eq!(failure["host"], "k8s-node2", "{r}");
    eprintln!("k8s-node2 failed as: {failure}");
    for h in ["k8s-master1", "k8s-node1"] {
        assert!(r["hosts"][h]["failure"].is_null(), "{h} finished: {r}");
        lab.ssh_ok(
            h,
            "test -e /etc/sysctl.d/k8s.conf && test -e /etc/modules-load.d/ipvs.conf",
        )
        .unwrap();
    }

    // With the link back, a run converges and the next changes nothing.
    let mut converged = false;
    for _ in 0..5 {
        let out = prepare(&lab, &["--output", "json"]);
        if out.status.success() {
            converged = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    assert!(
        converged,
        "prepare never succeeded after the link came back"
    );
    lab.ssh_ok(
        "k8s-node2",
        "test -e /etc/sysctl.d/k8s.conf && test -e /etc/modules-load.d/ipvs.conf",
    )
    .unwrap();
    let last = prepare(&lab, &["--output", "json"]);
    assert!(last.status.success());
    assert_eq!(report_changes(&json_report(&last)), 0);
    lab.down().expect("lab down");
}
