//! `kubin deploy` end to end on three lab machines (the guides' topology: one master, two
//! nodes, etcd on all three), checked by tools no one here wrote: the bundle's etcdctl on a
//! host, openssl over every certificate placed on the hosts, stat for every key's mode,
//! kubectl against the apiserver: both nodes Ready, a pod on each reached by `kubectl logs`
//! and `exec`. Then: a re-run changes and restarts nothing; a stopped etcd member makes
//! `kubin status` exit 2; broken inventories change nothing; a second concurrent deploy
//! fails naming the lock's holder; a node machine stopped during a deploy is left out,
//! named with its cause, while the rest completes, and once back a re-run converges; the
//! master's link cut during the control-plane phase fails it naming the master, and a
//! re-run converges; the CA is byte-identical throughout, locally and on every host;
//! `kubin reset --yes` stops every unit and pod and keeps etcd's data and the local PKI;
//! last, one deploy on the reset machines converges again. Each scenario prints its time.

use lab::{Lab, LabConfig};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tests::deployed::{
    HOSTS, NODES, cas, check_cluster, diagnose, failures, json_report, local_cas, nodes_ready,
    pods_on_every_node, run_bounded, wait_for_lock,
};
use tests::kubin::{kubin_bin, text};
use tests::lab_checks::kubectl;

/// The units whose start times must not move on a re-run.
const STABLE_UNITS: &[(&str, &[&str])] = &[
    (
        "k8s-master1",
        &[
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ],
    ),
    (
        "k8s-node1",
        &["etcd", "containerd", "kubelet", "kube-proxy"],
    ),
    (
        "k8s-node2",
        &["etcd", "containerd", "kubelet", "kube-proxy"],
    ),
];

/// Runs a scenario, printing its time.
fn scenario<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    eprintln!("\n=== scenario: {name}");
    let out = f();
    eprintln!("=== scenario: {name}: {:.1} s", t.elapsed().as_secs_f64());
    out
}

fn kubin(inv: &Path, args: &[&str]) -> Output {
    tests::kubin::run(inv, args)
}

/// The deploy report of `kubin deploy --output json` (its last line).
fn deploy_json(inv: &Path, extra: &[&str]) -> (Output, serde_json::Value) {
    let out = kubin(inv, &[&["deploy", "--output", "json"], extra].concat());
    let v = json_report(&out);
    (out, v)
}

/// Asserts a deploy changed nothing: no change in any host's report, none in the total.
#[track_caller]
fn assert_no_change(out: &Output, report: &serde_json::Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut changes = Vec::new();
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["event"] != "report" {
            continue;
        }
        for (host, h) in v["hosts"].as_object().into_iter().flatten() {
            for c in h["changes"].as_array().into_iter().flatten() {
                changes.push(format!("{host}: {c}"));
            }
        }
    }
    assert!(changes.is_empty(), "a re-run changed: {changes:#?}");
    assert_eq!(report["changes"], 0, "a re-run changed: {report}");
    assert!(out.status.success(), "{}", text(out));
    eprintln!("re-run: 0 changes");
}

/// Each stable unit's `ActiveEnterTimestampMonotonic`.
fn start_times(lab: &Lab) -> Vec<(String, String)> {
    tests::lab_checks::unit_start_times(lab, STABLE_UNITS)
}

/// One `kubin deploy`, which must succeed; prints each phase's outcome and time.
fn deploy_once(lab: &Lab, inv: &Path, kubectl_bin: &Path, admin: &Path, when: &str) {
    let (out, v) = deploy_json(inv, &[]);
    let phases: Vec<String> = v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {}ms", p["phase"], p["state"], p["took_ms"]))
        .collect();
    eprintln!(
        "deploy {when}: success {}; phases {phases:?}; changes {}",
        out.status.success(),
        v["changes"]
    );
    if !out.status.success() && admin.exists() {
        diagnose(lab, kubectl_bin, admin);
    }
    assert!(out.status.success(), "deploy {when}:\n{}", text(&out));
}

/// The lab's inventory with `edit` applied, written next to it.
fn broken(inv: &Path, name: &str, edit: impl FnOnce(&str) -> String) -> std::path::PathBuf {
    let text = std::fs::read_to_string(inv).unwrap();
    let edited = edit(&text);
    assert_ne!(edited, text, "{name}: the edit changed nothing");
    let path = inv.with_file_name(format!("broken-{name}.yaml"));
    std::fs::write(&path, edited).unwrap();
    path
}

#[test]
fn deploy_on_the_lab() {
    let total = Instant::now();
    let lab = Lab::up(&LabConfig::guides("dc")).expect("lab up");
    let inv = lab.inventory_path().to_path_buf();
    let (inventory, _) = inventory::Inventory::load(&inv).unwrap();
    let pki = inventory.pki_dir.clone();
    let kubectl_bin = lab.bundle_path().join("kubernetes/server/bin/kubectl");
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.kubeconfig");

    // 0. The plan: nothing changes anywhere, not even locally.
    scenario("plan on bare machines", || {
        let kh = inventory.hosts[0].ssh.known_hosts.clone().unwrap();
        let known_hosts = std::fs::read(&kh).ok();
        let out = kubin(&inv, &["plan"]);
        eprintln!("{}", text(&out));
        assert!(out.status.success(), "{}", text(&out));
        assert!(!pki.exists(), "plan wrote {}", pki.display());
        let after = std::fs::read(&kh).ok();
        assert_eq!(known_hosts, after, "plan wrote known_hosts");
        for h in HOSTS {
            lab.ssh_ok(h, "test ! -e /opt/etcd && test ! -e /run/kubin.lock")
                .unwrap();
        }
    });

    // 1. From scratch.
    scenario("deploy from scratch", || {
        deploy_once(&lab, &inv, &kubectl_bin, &admin, "from scratch");
        tests::kubin::run_ok(&inv, &["kubeconfig", "-o", admin.to_str().unwrap()]);
        check_cluster(&lab, &pki, &kubectl_bin, &admin, dir.path());
    });
    let cas_before = cas(&lab, &pki);

    // 2. A re-run: zero changes, nothing restarted.
    scenario("re-run", || {
        let before = start_times(&lab);
        let (out, v) = deploy_json(&inv, &[]);
        assert_no_change(&out, &v);
        assert_eq!(before, start_times(&lab), "a unit was restarted");
    });

    // 3. One etcd member stopped: degraded with quorum, exit 2.
    scenario("one etcd member stopped", || {
        lab.ssh_ok("k8s-node2", "systemctl stop etcd").unwrap();
        let out = kubin(&inv, &["status", "--output", "json"]);
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap())
                .unwrap();
        eprintln!("status: {}", v["problems"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert_eq!(
            v["etcd"]["health"]["verdict"], "degraded_with_quorum",
            "{v}"
        );
        assert_eq!(v["overall"], "degraded");
        lab.ssh_ok("k8s-node2", "systemctl start etcd").unwrap();
        let healthy = tests::kubin::run_ok(&inv, &["etcd", "health"]);
        assert!(healthy.contains("healthy"), "{healthy}");
    });

    // 4. Broken inventories: an error naming where, nothing changed on any host.
    scenario("broken inventories", || {
        let before = start_times(&lab);
        let node1 = lab.host("k8s-node1").unwrap().address.to_string();
        let node2 = lab.host("k8s-node2").unwrap().address.to_string();
        let cases = [
            broken(&inv, "duplicate", |t| {
                t.replace(&format!("address: {node2}"), &format!("address: {node1}"))
            }),
            broken(&inv, "overlap", |t| {
                t.replace("pod_cidr: 172.17.0.0/16", "pod_cidr: 10.0.0.0/16")
            }),
            broken(&inv, "unknown", |t| {
                t.replace("cluster_name:", "colour: blue\ncluster_name:")
            }),
        ];
        let expected = ["hosts[2].address", "pod_cidr", "line 2"];
        for (path, want) in cases.iter().zip(expected) {
            let out = kubin(path, &["deploy"]);
            let said = text(&out);
            eprintln!("{}: {said}", path.display());
            assert!(!out.status.success());
            assert!(said.contains(want), "{want:?} not in: {said}");
        }
        assert_eq!(
            before,
            start_times(&lab),
            "a broken inventory restarted a unit"
        );
        for h in HOSTS {
            lab.ssh_ok(h, "test ! -e /run/kubin.lock").unwrap();
        }
    });

    // 5. A second deploy while one runs fails at once, naming the holder.
    scenario("concurrent deploy", || {
        let first = Command::new(kubin_bin())
            .args(["deploy", "-f"])
            .arg(&inv)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_lock(&lab, "k8s-master1", Instant::now());
        let second_t = Instant::now();
        let second = kubin(&inv, &["deploy"]);
        let said = text(&second);
        eprintln!(
            "second deploy ({:.1} s): {said}",
            second_t.elapsed().as_secs_f64()
        );
        assert!(!second.status.success());
        assert!(
            said.contains("is locked by") && said.contains("kubin deploy"),
            "{said}"
        );
        let first = first.wait_with_output().unwrap();
        assert!(first.status.success(), "{}", text(&first));
        for h in HOSTS {
            lab.ssh_ok(h, "test ! -e /run/kubin.lock").unwrap();
        }
    });

    // 5b. A lock left by a run that is gone (its pid on this machine is dead) is taken over
    // with a warning, and released at the end.
    scenario("stale lock", || {
        let here = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let stale = format!(
            "user=root\nhost={}\npid=4194303\nstarted={started}\ncommand=kubin deploy",
            here.trim()
        );
        lab.ssh_ok(
            "k8s-node1",
            &format!("printf '%s' '{stale}' > /run/kubin.lock"),
        )
        .unwrap();
        let out = tests::kubin::run_ok(&inv, &["deploy", "--only", "verify"]);
        assert!(
            out.contains("k8s-node1: took over a stale lock: its holder root@")
                && out.contains("is gone: no process 4194303 here"),
            "{out}"
        );
        for h in HOSTS {
            lab.ssh_ok(h, "test ! -e /run/kubin.lock").unwrap();
        }
    });

    // 5c. A node machine stopped during a deploy: the deploy leaves it out, its summary
    // naming the host and the cause, and the rest completes (files removed on the master
    // and on k8s-node1 are back, k8s-node1 Ready); once the machine is back, a re-run
    // converges with every node Ready.
    scenario("node machine stopped during a deploy, then back", || {
        // The apiserver's env file removed: the control-plane phase restarts it and waits
        // for /healthz, so k8s-node2 is surely stopped before the nodes phase reaches it.
        lab.ssh_ok(
            "k8s-master1",
            "rm /opt/kubernetes/cfg/kube-apiserver.conf /opt/kubernetes/cfg/kube-scheduler.kubeconfig",
        )
        .unwrap();
        lab.ssh_ok("k8s-node1", "rm /opt/kubernetes/cfg/kube-proxy-config.yaml")
            .unwrap();
        let mut command = Command::new(kubin_bin());
        command
            .args(["deploy", "--output", "json", "--ssh-timeout", "30s"])
            .args(["--nodes-timeout", "60s", "-f"])
            .arg(&inv);
        let t = Instant::now();
        let out = run_bounded(command, dir.path(), Duration::from_secs(300), || {
            wait_for_lock(&lab, "k8s-node2", t);
            lab.stop("k8s-node2").unwrap();
            eprintln!(
                "stopped k8s-node2 {:.1} s after the start",
                t.elapsed().as_secs_f64()
            );
        });
        let v = json_report(&out);
        eprintln!(
            "deploy with k8s-node2 stopped: {:.1} s, left out {}, failed {:#?}",
            t.elapsed().as_secs_f64(),
            v["left_out"],
            failures(&v)
        );
        assert!(!out.status.success(), "{}", text(&out));
        let why = v["left_out"]["k8s-node2"].as_str().unwrap_or_default();
        assert!(!why.is_empty(), "k8s-node2 not left out: {v}");
        assert_eq!(v["left_out"].as_object().map(|o| o.len()), Some(1), "{v}");
        for p in v["phases"].as_array().unwrap() {
            assert_eq!(p["state"], "done", "the rest did not complete: {p}");
        }
        lab.ssh_ok(
            "k8s-master1",
            "test -s /opt/kubernetes/cfg/kube-scheduler.kubeconfig && test -s /opt/kubernetes/cfg/kube-apiserver.conf",
        )
        .unwrap();
        lab.ssh_ok(
            "k8s-node1",
            "test -s /opt/kubernetes/cfg/kube-proxy-config.yaml",
        )
        .unwrap();
        let nodes = kubectl(&kubectl_bin, &admin, &["get", "nodes", "--no-headers"]);
        let listed = String::from_utf8_lossy(&nodes.stdout).to_string();
        eprintln!("with k8s-node2 stopped:\n{listed}");
        assert!(
            listed.lines().any(
                |l| l.starts_with("k8s-node1 ") && l.split_whitespace().nth(1) == Some("Ready")
            ),
            "{listed}"
        );
        lab.restart("k8s-node2").unwrap();
        deploy_once(&lab, &inv, &kubectl_bin, &admin, "with k8s-node2 back");
        nodes_ready(&lab, &kubectl_bin, &admin);
    });

    // 5d. The master's link cut during the control-plane phase: the deploy fails naming
    // k8s-master1; with the link back, a re-run converges.
    scenario("master link cut during control-plane", || {
        lab.ssh_ok(
            "k8s-master1",
            "ls /opt/kubernetes/cfg/kube-scheduler* && rm -f /opt/kubernetes/cfg/kube-scheduler*",
        )
        .unwrap();
        let mut command = Command::new(kubin_bin());
        command
            .args(["deploy", "--only", "control-plane", "--output", "json"])
            .args(["--ssh-timeout", "10s", "--apiserver-wait", "20s", "-f"])
            .arg(&inv);
        let t = Instant::now();
        let out = run_bounded(command, dir.path(), Duration::from_secs(120), || {
            wait_for_lock(&lab, "k8s-master1", t);
            lab.cut_link("k8s-master1").unwrap();
            eprintln!(
                "cut k8s-master1's link {:.1} s after the start",
                t.elapsed().as_secs_f64()
            );
        });
        lab.restore_link("k8s-master1").unwrap();
        let v = json_report(&out);
        let failed = failures(&v);
        eprintln!(
            "deploy with k8s-master1's link cut after {:.1} s: failed {failed:#?}",
            t.elapsed().as_secs_f64()
        );
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            failed
                .iter()
                .any(|f| f.starts_with("control-plane") && f.contains("k8s-master1")),
            "no control-plane failure names k8s-master1: {failed:#?}"
        );
        deploy_once(
            &lab,
            &inv,
            &kubectl_bin,
            &admin,
            "with k8s-master1's link back",
        );
        lab.ssh_ok("k8s-master1", "ls /opt/kubernetes/cfg/kube-scheduler*")
            .unwrap();
        nodes_ready(&lab, &kubectl_bin, &admin);
    });

    // 6. The CA, locally and on every host, byte-identical across all of the above.
    scenario("CA unchanged", || {
        assert_eq!(cas_before, cas(&lab, &pki));
    });

    // 7. Reset: kubin's units, files and the pods stopped and gone, system files restored,
    // etcd's data and the local PKI kept; a second reset changes nothing.
    scenario("reset", || {
        let out = tests::kubin::run_ok(&inv, &["reset", "--yes"]);
        eprintln!("{out}");
        for h in HOSTS {
            lab.ssh_ok(
                h,
                "! systemctl is-active -q etcd && test ! -e /opt/kubernetes && test ! -e /opt/etcd/ssl \
                 && test -d /var/lib/etcd && ! ls /etc/hosts.kubin-backup-* 2>/dev/null",
            )
            .unwrap();
        }
        // No unit of the node left running, nor the pods' containers (`808[0]`: the shell
        // running this check does not match itself), nor containerd's shims; systemd has
        // forgotten the pods' units; no pod volume mounted; the kubelet's, containerd's and
        // the CNI plugins' state, the pods' network namespaces and bridge gone.
        for n in NODES {
            lab.ssh_ok(
                n,
                "! systemctl is-active -q containerd && ! systemctl is-active -q kube-proxy \
                 && ! systemctl is-active -q kubelet && ! systemctl is-active -q kubepods.slice \
                 && ! pgrep -f 'nc -l -p 808[0]' && ! pgrep -f '^/usr/local/bin/containerd-shim' \
                 && test ! -e /run/systemd/transient/kubepods.slice \
                 && ! grep -q ' /var/lib/kubelet/' /proc/mounts && test ! -e /var/lib/kubelet \
                 && test ! -e /run/containerd && test ! -e /var/lib/cni \
                 && ! ls -d /run/netns/cni-* 2>/dev/null && ! ip link show cni0 2>/dev/null",
            )
            .unwrap();
        }
        assert_eq!(
            cas_before[..2],
            local_cas(&pki)[..],
            "reset changed the local CA"
        );
        let again = tests::kubin::run_ok(&inv, &["reset", "--yes"]);
        assert!(again.contains("reset: 0 change(s)"), "{again}");
    });

    // 8. Deploy after reset: on nodes that ran pods, one deploy converges. etcd healthy
    // with its data (scenario 1's Deployment still there), both nodes Ready, the echo
    // pods Running on each, the CA unchanged.
    scenario("deploy after reset", || {
        deploy_once(&lab, &inv, &kubectl_bin, &admin, "after reset");
        let health = tests::kubin::run_ok(&inv, &["etcd", "health"]);
        assert!(
            health.contains("cluster: healthy (3 of 3 healthy)"),
            "{health}"
        );
        let kept = kubectl(
            &kubectl_bin,
            &admin,
            &[
                "get",
                "deployment",
                "echo",
                "-o",
                "jsonpath={.metadata.creationTimestamp}",
            ],
        );
        assert!(kept.status.success(), "etcd's data lost: {}", text(&kept));
        eprintln!(
            "deployment echo kept, created {}",
            String::from_utf8_lossy(&kept.stdout)
        );
        nodes_ready(&lab, &kubectl_bin, &admin);
        pods_on_every_node(&kubectl_bin, &admin);
        assert_eq!(cas_before, cas(&lab, &pki), "the CA changed");
    });
    eprintln!(
        "\nwhole deploy lab test: {:.1} s",
        total.elapsed().as_secs_f64()
    );
    lab.down().expect("lab down");
}
