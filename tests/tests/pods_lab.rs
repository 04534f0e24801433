//! The proof that kubin's nodes run pods: the real kubin binary deploys etcd, flannel's
//! config, the control plane and the nodes (containerd, runc, the CNI plugins and the
//! bundle's images, the daemonless pod network, the kubelet and kube-proxy) on three lab
//! machines, one of them master and node. Then kubectl from the bundle checks it: every
//! node Ready, a Deployment with one busybox replica Running on every node (a required
//! anti-affinity on the hostname), pod to pod across nodes (ping and nc), a ClusterIP
//! Service answering from the pods on the other nodes, `kubectl logs` and `exec`.
//! Before that, the same inventory in flannel mode fails preflight and nodes deploy
//! (the lab's bundle has no flanneld) and changes nothing.
//! A second `kubin nodes deploy` changes nothing and restarts nothing. The test prints
//! each machine's memory and each kubelet's start-to-Ready time.

use lab::{Lab, LabConfig};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use tests::kubin::text;
use tests::lab_checks::{kubectl, kubectl_apply, kubin_timed};

const HOSTS: [&str; 3] = ["k8s-master1", "k8s-node1", "k8s-node2"];
const UNITS: [&str; 3] = ["containerd", "kubelet", "kube-proxy"];

struct Kubectl<'a> {
    bin: &'a Path,
    kubeconfig: &'a Path,
}

impl Kubectl<'_> {
    fn run(&self, args: &[&str]) -> Output {
        kubectl(self.bin, self.kubeconfig, args)
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// `kubectl apply -f -` with `manifest` on stdin.
    #[track_caller]
    fn apply(&self, manifest: &str) {
        let out = kubectl_apply(self.bin, self.kubeconfig, manifest);
        assert!(out.status.success(), "kubectl apply: {}", text(&out));
    }

    /// `kubectl exec POD -- sh -c SCRIPT`, its output and whether it succeeded.
    fn exec(&self, pod: &str, script: &str) -> (bool, String) {
        let out = self.run(&["exec", pod, "--", "sh", "-c", script]);
        (out.status.success(), text(&out))
    }
}

/// Polls `f` every second until it returns `Some`, for at most `timeout`.
fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(t) = f() {
            return Some(t);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Each unit's `ActiveEnterTimestampMonotonic` on every host.
fn start_times(lab: &Lab) -> Vec<(String, String)> {
    let units: Vec<(&str, &[&str])> = HOSTS.iter().map(|h| (*h, &UNITS[..])).collect();
    tests::lab_checks::unit_start_times(lab, &units)
}

/// Seconds since the epoch of a time `date -d` reads (systemd's and RFC 3339 alike).
fn epoch(time: &str) -> i64 {
    let out = Command::new("date")
        .args(["-u", "+%s", "-d", time.trim()])
        .output()
        .expect("date runs");
    assert!(out.status.success(), "date -d {time:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn pods_run_and_reach_each_other_across_the_lab() {
    let total = Instant::now();
    let lab = Lab::up(&LabConfig::guides("rtpods")).expect("lab up");
    let inv = lab.inventory_path().to_path_buf();
    // One master that is also a node, and two nodes.
    let yaml = std::fs::read_to_string(&inv).unwrap();
    let yaml = yaml.replace("roles: [master, etcd]\n", "roles: [master, etcd, node]\n");
    assert!(yaml.contains("roles: [master, etcd, node]"), "{yaml}");
    std::fs::write(&inv, yaml).unwrap();
    let bin = lab.bundle_path().join("kubernetes/server/bin/kubectl");
    let dir = tempfile::tempdir().unwrap();

    // flannel mode: the lab's bundle has no flanneld (in no registry reachable here) and
    // no flannel CNI plugin, so preflight fails naming both, and nodes deploy changes
    // nothing.
    let flannel = inv.with_file_name("flannel.yaml");
    let routes = std::fs::read_to_string(&inv).unwrap();
    assert!(routes.contains("pod_network: routes"), "{routes}");
    std::fs::write(
        &flannel,
        routes.replace("pod_network: routes", "pod_network: flannel"),
    )
    .unwrap();
    for args in [&["preflight"][..], &["nodes", "deploy"]] {
        let out = tests::kubin::run(&flannel, args);
        let shown = text(&out);
        eprintln!("kubin {} in flannel mode:\n{shown}", args.join(" "));
        assert!(!out.status.success(), "{shown}");
        for needle in [
            "flannel-v0.10.0-linux-amd64/flanneld is missing",
            "/flannel is missing",
            "or set network.pod_network: routes",
        ] {
            assert!(shown.contains(needle), "no {needle:?} in:\n{shown}");
        }
    }
    let untouched = lab
        .ssh(
            "k8s-node1",
            "test -e /usr/local/bin/containerd && echo installed",
        )
        .unwrap();
    assert!(
        !text(&untouched).contains("installed"),
        "nodes deploy in flannel mode installed containerd"
    );
    std::fs::remove_file(&flannel).unwrap();

    let preflight = kubin_timed(&inv, &["preflight"]);
    assert!(preflight.contains("0 error(s)"), "{preflight}");
    kubin_timed(&inv, &["prepare", "--timeout", "10s"]);
    kubin_timed(&inv, &["etcd", "deploy"]);
    kubin_timed(&inv, &["flannel", "set"]);
    kubin_timed(&inv, &["control-plane", "deploy"]);
    let dry = kubin_timed(&inv, &["nodes", "deploy", "--dry-run"]);
    assert!(dry.contains("dry run: nothing was changed"), "{dry}");
    let unit = lab
        .ssh(
            "k8s-node1",
            "test -e /etc/containerd/config.toml && echo written",
        )
        .unwrap();
    assert!(
        !text(&unit).contains("written"),
        "a dry run wrote containerd's config"
    );
    let deployed = Instant::now();
    let out = kubin_timed(&inv, &["nodes", "deploy", "--timeout", "4m"]);
    let deploy_secs = deployed.elapsed().as_secs_f64();
    eprintln!("{out}");
    assert!(out.contains("every node is Ready"), "{out}");
    assert!(out.contains("snapshotter native"), "{out}");

    let admin = dir.path().join("admin.kubeconfig");
    kubin_timed(&inv, &["kubeconfig", "-o", admin.to_str().unwrap()]);
    let k = Kubectl {
        bin: &bin,
        kubeconfig: &admin,
    };

    // Every node Ready, as kubectl sees it.
    let nodes = k.ok(&["get", "nodes", "-o", "wide"]);
    eprintln!("kubectl get nodes -o wide:\n{nodes}");
    for host in HOSTS {
        let ready = k.ok(&[
            "get",
            "node",
            host,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
        ]);
        assert_eq!(ready.trim(), "True", "{host} is not Ready:\n{nodes}");
    }
    // Serving CSRs approved by kubin's policy.
    let csrs = k.ok(&["get", "csr"]);
    eprintln!("kubectl get csr:\n{csrs}");
    assert!(
        csrs.lines()
            .filter(|l| l.contains("kubernetes.io/kubelet-serving"))
            .filter(|l| l.contains("Approved,Issued"))
            .count()
            >= HOSTS.len(),
        "{csrs}"
    );

    // From each kubelet's start to its node's Ready.
    let mut ready_after = Vec::new();
    for host in HOSTS {
        let started = lab
            .ssh_ok(
                host,
                "systemctl show -p ActiveEnterTimestamp --value kubelet",
            )
            .unwrap();
        let ready = k.ok(&[
            "get",
            "node",
            host,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].lastTransitionTime}",
        ]);
        ready_after.push((host, epoch(&ready) - epoch(&started)));
    }

    // The guides' Deployment: one busybox replica per node.
    let applied = Instant::now();
    k.apply(&lab::workload::echo_deployment(HOSTS.len()));
    let rolled = k.run(&["rollout", "status", "deployment/echo", "--timeout=180s"]);
    let listing = k.ok(&["get", "deployment,pods", "-o", "wide"]);
    eprintln!("kubectl get deployment,pods -o wide:\n{listing}");
    assert!(rolled.status.success(), "{}", text(&rolled));
    let running_after = applied.elapsed().as_secs_f64();
    // (pod, node, IP) in the order of HOSTS: exactly one pod on every node.
    let table = k.ok(&[
        "get",
        "pods",
        "-l",
        "app=echo",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.podIP} {.status.phase}{\"\\n\"}{end}",
    ]);
    let rows: Vec<Vec<String>> = table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    let pods: Vec<(String, &str, String)> = HOSTS
        .iter()
        .map(|node| {
            let on: Vec<&Vec<String>> = rows.iter().filter(|r| r[1] == *node).collect();
            assert_eq!(on.len(), 1, "not one echo pod on {node}:\n{table}");
            let r = on[0];
            assert_eq!(r[3], "Running", "{table}");
            assert!(r[2].starts_with("172.17."), "{} has IP {:?}", r[0], r[2]);
            (r[0].clone(), *node, r[2].clone())
        })
        .collect();

    // Pod to pod across nodes, both ways round the lab: ping (the guides' check) and a
    // TCP connection answered by the other pod.
    for (i, (from, from_node, _)) in pods.iter().enumerate() {
        let (to, to_node, to_ip) = &pods[(i + 1) % pods.len()];
        let (ok, out) = k.exec(from, &format!("ping -c 1 -W 3 {to_ip}"));
        assert!(ok, "{from} cannot ping {to} ({to_ip}) on {to_node}: {out}");
        let (_, out) = k.exec(from, &format!("nc -w 3 {to_ip} 8080 </dev/null"));
        assert!(
            out.contains(&format!("pong from {to}")),
            "{from} -> {to} ({to_ip}:8080) on {to_node}: {out:?}"
        );
        eprintln!(
            "{from} on {from_node} -> {to} on {to_node}: ping ok, {}",
            out.trim()
        );
    }

    // A ClusterIP Service in front of the Deployment, reached from the master's pod until
    // it has answered from a pod on each other node.
    k.apply(
        r#"apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  type: ClusterIP
  selector:
    app: echo
  ports:
  - port: 80
    targetPort: 8080
"#,
    );
    let cluster_ip = k.ok(&["get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}"]);
    let (master_pod, _, _) = &pods[0];
    for (pod, node, _) in &pods[1..] {
        let answer = poll(Duration::from_secs(60), || {
            let (_, out) = k.exec(master_pod, &format!("nc -w 3 {cluster_ip} 80 </dev/null"));
            out.contains(&format!("pong from {pod}")).then_some(out)
        });
        assert!(
            answer.is_some(),
            "{master_pod} never reached {pod} on {node} through service echo at {cluster_ip}:80"
        );
        eprintln!(
            "{master_pod} -> service echo ({cluster_ip}:80) -> {pod} on {node}: {}",
            answer.unwrap().trim()
        );
    }

    // kubectl logs and exec go through the apiserver to each kubelet's serving certificate.
    for (pod, node, _) in &pods {
        let logs = k.ok(&["logs", pod]);
        assert!(
            logs.contains(&format!("hello from {pod} on {node}")),
            "{pod}: {logs:?}"
        );
        let (ok, out) = k.exec(pod, "hostname");
        assert!(
            ok && out.trim() == pod,
            "kubectl exec {pod} hostname: {out:?}"
        );
    }
    eprintln!("kubectl logs and exec: ok on every node");

    // A second deploy: no change, no unit restarted.
    let before = start_times(&lab);
    let again = Instant::now();
    let out = kubin_timed(&inv, &["nodes", "deploy"]);
    let rerun_secs = again.elapsed().as_secs_f64();
    eprintln!("second nodes deploy:\n{out}");
    assert!(out.contains("node components: 0 change(s)"), "{out}");
    assert!(
        !out.lines().any(|l| l.starts_with("  ~ ")),
        "a re-run changed something:\n{out}"
    );
    let after = start_times(&lab);
    assert_eq!(before, after, "a re-run restarted a unit");

    // Figures for the note.
    eprintln!("\nfigures:");
    eprintln!("  kubin nodes deploy (runtime, network, kubelets, CSRs, Ready): {deploy_secs:.1} s");
    eprintln!("  second kubin nodes deploy (no change): {rerun_secs:.1} s");
    for (host, secs) in &ready_after {
        eprintln!("  {host}: kubelet start to node Ready: {secs} s");
    }
    eprintln!("  pods applied to all Ready: {running_after:.1} s");
    for host in HOSTS {
        // The machine's own memory cgroup (nspawn shows the machine its own subtree).
        let mem = lab
            .ssh_ok(
                host,
                "u=$(cat /sys/fs/cgroup/memory/memory.usage_in_bytes); \
                 rss=$(awk '$1==\"total_rss\"{print $2}' /sys/fs/cgroup/memory/memory.stat); \
                 cache=$(awk '$1==\"total_cache\"{print $2}' /sys/fs/cgroup/memory/memory.stat); \
                 echo \"$((u/1048576)) MiB in use ($((rss/1048576)) MiB rss, $((cache/1048576)) MiB cache)\"",
            )
            .unwrap();
        eprintln!("  {host}: memory {}", mem.trim());
    }
    let down = Instant::now();
    lab.down().expect("lab down");
    eprintln!(
        "  lab with pods down in {:.1} s",
        down.elapsed().as_secs_f64()
    );
    eprintln!("  whole test: {:.1} s", total.elapsed().as_secs_f64());
}
