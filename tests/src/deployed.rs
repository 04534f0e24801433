//! The checks of a cluster kubin deployed on the guides' three lab machines (one master,
//! two nodes, etcd on all three), by tools no one here wrote: etcdctl, curl, openssl,
//! stat, kubectl; and the helpers a lab test drives kubin with (a bounded run, the lock it
//! takes, its JSON report).

use crate::kubin::text;
use crate::lab_checks::{curl_v2, kubectl, kubectl_apply};
use lab::Lab;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The lab's hosts.
pub const HOSTS: [&str; 3] = ["k8s-master1", "k8s-node1", "k8s-node2"];
/// The lab's nodes.
pub const NODES: [&str; 2] = ["k8s-node1", "k8s-node2"];

/// The CA files: local (cluster and etcd CA) and on every host.
pub fn cas(lab: &Lab, pki: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = local_cas(pki);
    for h in HOSTS {
        for f in ["/opt/etcd/ssl/ca.pem", "/opt/kubernetes/ssl/ca.pem"] {
            let got = lab.ssh_ok(h, &format!("cat {f}")).unwrap();
            out.push((format!("{h}:{f}"), got.into_bytes()));
        }
    }
    out
}

/// The CA files on the control machine (the cluster's and etcd's).
pub fn local_cas(pki: &Path) -> Vec<(String, Vec<u8>)> {
    ["ca.pem", "etcd/ca.pem"]
        .iter()
        .map(|f| (format!("local {f}"), std::fs::read(pki.join(f)).unwrap()))
        .collect()
}

/// Scenario 1's checks by tools no one here wrote.
pub fn check_cluster(lab: &Lab, pki: &Path, kubectl_bin: &Path, admin: &Path, dir: &Path) {
    // etcdctl (the bundle's, placed on the host) over ssh on the master.
    let eps: Vec<String> = HOSTS
        .iter()
        .map(|h| format!("https://{}:2379", lab.host(h).unwrap().address))
        .collect();
    let health = lab
        .ssh(
            "k8s-master1",
            &format!(
                "ETCDCTL_API=3 /opt/etcd/bin/etcdctl --cacert=/opt/kubernetes/ssl/etcd-ca.pem \
                 --cert=/opt/kubernetes/ssl/etcd-client.pem --key=/opt/kubernetes/ssl/etcd-client-key.pem \
                 --endpoints={} endpoint health",
                eps.join(",")
            ),
        )
        .unwrap();
    let health_text = text(&health);
    eprintln!("etcdctl endpoint health:\n{health_text}");
    assert!(health.status.success(), "{health_text}");
    assert_eq!(
        health_text.matches("is healthy").count(),
        3,
        "{health_text}"
    );

    // flannel's config where flannel 0.10 (the lab's release) reads it: etcd's v2 API,
    // read with curl on every member.
    for e in &eps {
        let got = curl_v2(pki, e, "/coreos.com/network/config");
        assert!(got.status.success(), "{}", text(&got));
        let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
        let value = v["node"]["value"].as_str().unwrap_or_default();
        let conf: serde_json::Value = serde_json::from_str(value)
            .unwrap_or_else(|e| panic!("flannel's config is no JSON ({e}): {v}"));
        assert_eq!(conf["Network"], "172.17.0.0/16", "{conf}");
    }
    eprintln!("flannel's config in etcd's v2 API on every member (curl)");

    // openssl verify of every certificate placed on the hosts against the local CAs.
    let both = dir.join("cas.pem");
    let mut cas_pem = std::fs::read(pki.join("ca.pem")).unwrap();
    cas_pem.extend(std::fs::read(pki.join("etcd/ca.pem")).unwrap());
    std::fs::write(&both, cas_pem).unwrap();
    let mut verified = 0;
    for h in HOSTS {
        let list = lab
            .ssh_ok(
                h,
                "find /opt/etcd/ssl /opt/kubernetes/ssl -name '*.pem' ! -name '*-key.pem' -type f",
            )
            .unwrap();
        for f in list.lines() {
            let pem = lab.ssh_ok(h, &format!("cat {f}")).unwrap();
            if !pem.contains("BEGIN CERTIFICATE") {
                continue;
            }
            let local = dir.join("placed.pem");
            std::fs::write(&local, &pem).unwrap();
            std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o600)).unwrap();
            let v = Command::new("openssl")
                .args(["verify", "-CAfile"])
                .arg(&both)
                .arg(&local)
                .output()
                .unwrap();
            assert!(v.status.success(), "{h}:{f}: {}", text(&v));
            verified += 1;
        }
    }
    eprintln!("openssl verify: {verified} certificates on the hosts, all signed by the local CAs");
    assert!(verified >= 15, "only {verified} certificates found");

    // Every key and token.csv 0600.
    for h in HOSTS {
        let modes = lab
            .ssh_ok(
                h,
                "find /opt/etcd/ssl /opt/kubernetes -type f \\( -name '*-key.pem' -o -name 'sa.key' \
                 -o -name token.csv -o -name 'kubelet-client-*.pem' \\) -exec stat -c '%a %n' {} +",
            )
            .unwrap();
        assert!(!modes.trim().is_empty(), "{h}: no keys found");
        for line in modes.lines() {
            assert!(line.starts_with("600 "), "{h}: {line}");
        }
    }
    eprintln!("every key and token.csv on the hosts is 0600");
    let token_mode = std::fs::metadata(pki.join("token.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(token_mode & 0o777, 0o600);

    // kubectl as the admin.
    let healthz = kubectl(kubectl_bin, admin, &["get", "--raw", "/healthz"]);
    assert_eq!(
        String::from_utf8_lossy(&healthz.stdout),
        "ok",
        "{}",
        text(&healthz)
    );

    nodes_ready(lab, kubectl_bin, admin);
    pods_on_every_node(kubectl_bin, admin);
}

/// `kubectl get nodes` lists both nodes Ready, and `kubin status` exits 0 with every
/// node ready in its JSON.
pub fn nodes_ready(lab: &Lab, kubectl_bin: &Path, admin: &Path) {
    let nodes = kubectl(kubectl_bin, admin, &["get", "nodes", "-o", "wide"]);
    let listing = text(&nodes);
    eprintln!("kubectl get nodes -o wide:\n{listing}");
    assert!(nodes.status.success(), "{listing}");
    for n in NODES {
        let line = listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(n))
            .unwrap_or_else(|| panic!("{n} not listed:\n{listing}"));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some("Ready"),
            "{n} is not Ready:\n{listing}"
        );
    }
    let out = crate::kubin::run(lab.inventory_path(), &["status", "--output", "json"]);
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&last)
        .unwrap_or_else(|e| panic!("no status JSON ({e}):\n{}", text(&out)));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let listed: Vec<(&str, &str)> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or_default(),
                n["ready"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for n in NODES {
        assert!(
            listed.contains(&(n, "True")),
            "{n} not ready in status: {v}"
        );
    }
    eprintln!("kubin status: exit 0, nodes {listed:?}");
}

/// A Deployment with one replica per node Running on both nodes; `kubectl logs` and
/// `kubectl exec` reach every pod.
pub fn pods_on_every_node(kubectl_bin: &Path, admin: &Path) {
    let applied = kubectl_apply(
        kubectl_bin,
        admin,
        &lab::workload::echo_deployment(NODES.len()),
    );
    assert!(
        applied.status.success(),
        "kubectl apply: {}",
        text(&applied)
    );
    let t = Instant::now();
    let rolled = kubectl(
        kubectl_bin,
        admin,
        &[
            "rollout",
            "status",
            "deployment/echo",
            "--timeout=120s",
            "--request-timeout=0",
        ],
    );
    let listing = kubectl(kubectl_bin, admin, &["get", "pods", "-o", "wide"]);
    eprintln!("kubectl get pods -o wide:\n{}", text(&listing));
    assert!(rolled.status.success(), "{}", text(&rolled));
    let table = kubectl(
        kubectl_bin,
        admin,
        &[
            "get",
            "pods",
            "-l",
            "app=echo",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{\"\\n\"}{end}",
        ],
    );
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    for node in NODES {
        let on: Vec<Vec<&str>> = table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|r| r.get(1) == Some(&node))
            .collect();
        assert_eq!(on.len(), 1, "not one echo pod on {node}:\n{table}");
        let (pod, phase) = (on[0][0], on[0][2]);
        assert_eq!(phase, "Running", "{table}");
        // After a reset the API still shows the pods as the removed kubelets last saw
        // them ("Running"): the new kubelet may not have started their containers yet,
        // and then its answer is NotFound. Asked again for up to a minute.
        let hello = format!("hello from {pod} on {node}");
        let logs = until_ok(
            || kubectl(kubectl_bin, admin, &["logs", pod]),
            |o| text(o).contains(&hello),
        );
        assert!(
            text(&logs).contains(&hello),
            "kubectl logs {pod}: {}",
            text(&logs)
        );
        let exec = until_ok(
            || kubectl(kubectl_bin, admin, &["exec", pod, "--", "hostname"]),
            |o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == pod,
        );
        assert!(
            exec.status.success() && String::from_utf8_lossy(&exec.stdout).trim() == pod,
            "kubectl exec {pod} hostname: {}",
            text(&exec)
        );
    }
    eprintln!(
        "echo pods Running on {NODES:?} in {:.1} s; kubectl logs and exec reach each",
        t.elapsed().as_secs_f64()
    );
}

/// Runs `f` until `ok` says its output is right, for at most a minute; the last output.
pub fn until_ok(f: impl Fn() -> Output, ok: impl Fn(&Output) -> bool) -> Output {
    let t = Instant::now();
    loop {
        let out = f();
        if ok(&out) || t.elapsed() > Duration::from_secs(60) {
            return out;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The failed phases of a deploy report, `phase: error` each.
pub fn failures(report: &serde_json::Value) -> Vec<String> {
    report["phases"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["state"] == "failed")
        .map(|p| {
            format!(
                "{}: {}",
                p["phase"].as_str().unwrap_or_default(),
                p["error"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// Waits until a deploy started at `t` holds `host`'s lock.
pub fn wait_for_lock(lab: &Lab, host: &str, t: Instant) {
    while lab
        .ssh(host, "test -e /run/kubin.lock")
        .unwrap()
        .status
        .code()
        != Some(0)
    {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the deploy took no lock on {host}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON report a `--output json` run printed last.
pub fn json_report(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{}", text(out)))
}

/// Spawns `command` with its output going to files in `dir` (a pipe no one reads could
/// block it), waits at most `bound` (killing it and failing beyond), and returns its output.
pub fn run_bounded(
    mut command: Command,
    dir: &Path,
    bound: Duration,
    on_start: impl FnOnce(),
) -> Output {
    let stdout = dir.join("bounded.stdout");
    let stderr = dir.join("bounded.stderr");
    let mut child = command
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    on_start();
    let t = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {bound:?}:\n{}\n{}",
                std::fs::read_to_string(&stdout).unwrap_or_default(),
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    Output {
        status,
        stdout: std::fs::read(&stdout).unwrap(),
        stderr: std::fs::read(&stderr).unwrap(),
    }
}

/// What the kubelets and the controller-manager said, for a failed node bootstrap.
pub fn diagnose(lab: &Lab, kubectl_bin: &Path, admin: &Path) {
    for n in NODES {
        let o = lab
            .ssh(
                n,
                "ls -la /opt/kubernetes/ssl /opt/kubernetes/cfg; systemctl status kubelet --no-pager | head -5; \
                 journalctl -u kubelet --no-pager | grep -iE 'csr|certif|bootstrap|error' | tail -n 25",
            )
            .unwrap();
        eprintln!("{n}:\n{}", text(&o));
    }
    let o = lab
        .ssh(
            "k8s-master1",
            "journalctl -u kube-controller-manager --no-pager | grep -iE 'csr|certif|sign|leader|error' | tail -n 25",
        )
        .unwrap();
    eprintln!("controller-manager:\n{}", text(&o));
    eprintln!("{}", text(&kubectl(kubectl_bin, admin, &["get", "csr"])));
}
