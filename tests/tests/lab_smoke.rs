//! The lab's proof: three real machines over SSH, an etcd cluster of systemd units on them
//! from the bundle, a machine stopped, and nothing of the lab left after teardown.
//!
//! Checked with tools no one here wrote: OpenSSH, iproute2, Debian's etcd and etcdctl.

use lab::{Lab, LabConfig};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The etcd unit each machine gets: plain HTTP, the three members as initial cluster.
fn etcd_unit(name: &str, address: &str, initial_cluster: &str) -> String {
    format!(
        "[Unit]\nDescription=etcd (kubin lab smoke test)\nAfter=network.target\n\n[Service]\nType=notify\nExecStart=/opt/etcd/bin/etcd --name={name} --data-dir=/var/lib/etcd/default.etcd --listen-peer-urls=http://{address}:2380 --listen-client-urls=http://{address}:2379,http://127.0.0.1:2379 --advertise-client-urls=http://{address}:2379 --initial-advertise-peer-urls=http://{address}:2380 --initial-cluster={initial_cluster} --initial-cluster-token=lab-smoke --initial-cluster-state=new\nRestart=on-failure\n\n[Install]\nWantedBy=multi-user.target\n"
    )
}

/// Debian's etcdctl on the outer machine (v3 API).
fn etcdctl(endpoints: &[String], args: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .arg("--dial-timeout=2s")
        .arg("--command-timeout=4s")
        .args(args)
        .output()
        .expect("etcdctl runs (Debian etcd-client)")
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match f() {
            Ok(()) => return,
            Err(e) if start.elapsed() > timeout => {
                panic!("{what}: still failing after {timeout:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

#[test]
fn lab_smoke_three_machines_etcd_stop_and_teardown() {
    let lab = Lab::up(&LabConfig::guides("smoke")).expect("lab up");
    let hosts = lab.hosts().to_vec();
    assert_eq!(hosts.len(), 3);

    // The inventory written for these machines validates and names them.
    let (inv, _warnings) =
        inventory::Inventory::load(lab.inventory_path()).expect("inventory validates");
    let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["k8s-master1", "k8s-node1", "k8s-node2"]);
    assert_eq!(inv.masters().len(), 1);
    assert_eq!(inv.etcd_members().len(), 3);

    // A command on each machine: own hostname, own address, no default route.
    let mut seen_names = BTreeSet::new();
    let mut seen_addrs = BTreeSet::new();
    for h in &hosts {
        let out = lab
            .ssh_ok(&h.name, "hostname; ip -4 -o addr show dev host0 | awk '{print $4}'; ip route show default | wc -l; systemd-detect-virt")
            .expect("ssh");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], h.name, "hostname of {}", h.address);
        assert_eq!(lines[1], format!("{}/24", h.address));
        assert_eq!(lines[2], "0", "{} has a default route", h.name);
        assert_eq!(lines[3], "systemd-nspawn");
        seen_names.insert(lines[0].to_string());
        seen_addrs.insert(lines[1].to_string());
    }
    assert_eq!(seen_names.len(), 3, "hostnames distinct");
    assert_eq!(seen_addrs.len(), 3, "addresses distinct");

    // Machines reach each other (TCP to sshd), and nothing off the lab subnet: with no
    // default route, the kernel refuses before any packet leaves.
    for from in &hosts {
        for to in hosts.iter().filter(|t| t.name != from.name) {
            lab.ssh_ok(
                &from.name,
                &format!("timeout 3 bash -c 'echo > /dev/tcp/{}/22'", to.address),
            )
            .unwrap_or_else(|e| panic!("{} cannot reach {}: {e}", from.name, to.name));
        }
        let out = lab
            .ssh(
                &from.name,
                "timeout 3 bash -c 'echo > /dev/tcp/192.0.2.1/80' 2>&1",
            )
            .expect("ssh");
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Network is unreachable"),
            "{}: {}",
            from.name,
            String::from_utf8_lossy(&out.stdout)
        );
    }

    // An etcd member on each machine, as a systemd unit, binary from the bundle.
    let etcd_bin = std::fs::read_dir(lab.bundle_path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("etcd-v")
        })
        .expect("bundle has etcd-v*-linux-amd64")
        .join("etcd");
    let initial: Vec<String> = hosts
        .iter()
        .map(|h| format!("{}=http://{}:2380", h.name, h.address))
        .collect();
    let initial = initial.join(",");
    let dir = tempfile::tempdir().unwrap();
    for h in &hosts {
        lab.ssh_ok(&h.name, "mkdir -p /opt/etcd/bin").unwrap();
        lab.copy_to(&h.name, &etcd_bin, Path::new("/opt/etcd/bin/etcd"))
            .expect("scp etcd");
        let unit = dir.path().join(format!("{}.service", h.name));
        std::fs::write(&unit, etcd_unit(&h.name, &h.address.to_string(), &initial)).unwrap();
        lab.copy_to(
            &h.name,
            &unit,
            Path::new("/etc/systemd/system/etcd.service"),
        )
        .expect("scp unit");
        lab.ssh_ok(&h.name, "chmod 755 /opt/etcd/bin/etcd && systemctl daemon-reload && systemctl enable --now --no-block etcd")
            .expect("start etcd");
    }
    let endpoints: Vec<String> = hosts
        .iter()
        .map(|h| format!("http://{}:2379", h.address))
        .collect();
    wait_for("three started members", Duration::from_secs(60), || {
        let out = etcdctl(&endpoints, &["member", "list"]);
        let text = String::from_utf8_lossy(&out.stdout);
        let started = text.lines().filter(|l| l.contains(", started,")).count();
        if out.status.success() && started == 3 {
            Ok(())
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
        }
    });
    for h in &hosts {
        let state = lab.ssh_ok(&h.name, "systemctl is-active etcd").unwrap();
        assert_eq!(state.trim(), "active", "etcd unit on {}", h.name);
    }
    let health = etcdctl(&endpoints, &["endpoint", "health"]);
    assert!(
        health.status.success(),
        "{}",
        String::from_utf8_lossy(&health.stderr)
    );

    // Stop one machine: the other two answer, it is reported unreachable.
    let stopped = &hosts[2];
    lab.stop(&stopped.name).expect("stop");
    assert!(!lab.is_running(&stopped.name).unwrap());
    let alive: Vec<String> = endpoints[..2].to_vec();
    let out = etcdctl(&alive, &["endpoint", "health"]);
    assert!(
        out.status.success(),
        "two members healthy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = etcdctl(&endpoints, &["endpoint", "health"]);
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.lines()
            .any(|l| l.contains(&endpoints[2]) && l.contains("is unhealthy")),
        "{text}"
    );
    assert_eq!(
        text.lines().filter(|l| l.contains("is healthy")).count(),
        2,
        "{text}"
    );
    let out = etcdctl(&alive, &["put", "lab-smoke", "two of three"]);
    assert!(
        out.status.success(),
        "quorum of two writes: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Teardown leaves no process, mount, link or state of the lab.
    let (state_dir, bridge) = (lab.state_dir().to_path_buf(), lab.bridge().to_string());
    let veths: Vec<String> = hosts.iter().map(|h| format!("vb-{}", h.machine)).collect();
    lab.down().expect("down");
    assert_eq!(lab::leftovers("smoke"), Vec::<String>::new());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&state_dir.display().to_string()),
        "a mount remains"
    );
    for link in std::iter::once(&bridge).chain(&veths) {
        let st = Command::new("ip")
            .args(["link", "show", "dev", link])
            .output()
            .unwrap();
        assert!(!st.status.success(), "link {link} remains");
    }
    let pgrep = Command::new("pgrep")
        .args(["-f", &state_dir.display().to_string()])
        .output()
        .unwrap();
    assert!(
        pgrep.stdout.is_empty(),
        "processes remain: {}",
        String::from_utf8_lossy(&pgrep.stdout)
    );
    assert!(!state_dir.exists());
}
