//! `kubin prepare` and `kubin preflight` on bad inventories: each kind gives a clear error
//! naming the offending value, and no host is contacted (the hosts' SSH port is a listener
//! that must see no connection).

use std::net::TcpListener;
use std::process::Command;
use tests::kubin::kubin_bin as kubin;

/// A valid inventory whose hosts' SSH port is `port` on 127.0.0.x.
fn good(port: u16) -> String {
    format!(
        r#"cluster_name: bad-inventories
kubernetes:
  version: "1.20.2"
  service_cidr: 10.0.0.0/24
  cluster_dns: 10.0.0.2
network:
  pod_cidr: 172.17.0.0/16
  flannel:
    version: "0.10.0"
ssh:
  user: root
  port: {port}
  key: /nonexistent/key
  host_key_policy: strict
hosts:
  - name: k8s-master1
    address: 127.0.0.1
    roles: [master, etcd]
  - name: k8s-node1
    address: 127.0.0.2
    roles: [node, etcd]
  - name: k8s-node2
    address: 127.0.0.3
    roles: [node, etcd]
"#
    )
}

/// An edit turning the good inventory into a bad one.
type Edit = Box<dyn Fn(String) -> String>;

/// (what is wrong, edit of the good inventory, text the error must contain)
fn cases() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
        (
            "unknown key",
            Box::new(|s| s.replace("cluster_name:", "clustr_name: x\ncluster_name:")),
            "clustr_name",
        ),
        (
            "duplicate names",
            Box::new(|s| s.replace("name: k8s-node2", "name: k8s-node1")),
            "k8s-node1",
        ),
        (
            "duplicate addresses",
            Box::new(|s| s.replace("127.0.0.3", "127.0.0.2")),
            "127.0.0.2",
        ),
        (
            "name not RFC 1123",
            Box::new(|s| s.replace("name: k8s-node2", "name: K8s_Node2")),
            "K8s_Node2",
        ),
        (
            "bad service CIDR",
            Box::new(|s| s.replace("10.0.0.0/24", "10.0.0.0/33")),
            "10.0.0.0/33",
        ),
        (
            "pod range overlaps services",
            Box::new(|s| s.replace("172.17.0.0/16", "10.0.0.0/16")),
            "pod_cidr",
        ),
        (
            "no master",
            Box::new(|s| s.replace("[master, etcd]", "[etcd]")),
            "master",
        ),
        (
            "no etcd member",
            Box::new(|s| s.replace(", etcd]", "]")),
            "etcd",
        ),
        (
            "unsupported version",
            Box::new(|s| s.replace("\"1.20.2\"", "\"1.19.0\"")),
            "1.19.0",
        ),
        (
            "bad address",
            Box::new(|s| s.replace("127.0.0.3", "300.1.1.1")),
            "300.1.1.1",
        ),
        (
            "yaml syntax",
            Box::new(|s| s.replace("hosts:\n", "hosts: [\n")),
            "bad-inventories.yaml",
        ),
        (
            "bad host key policy",
            Box::new(|s| s.replace("host_key_policy: strict", "host_key_policy: yolo")),
            "yolo",
        ),
        (
            "bad role",
            Box::new(|s| s.replace("[node, etcd]", "[worker, etcd]")),
            "worker",
        ),
        (
            "cluster dns outside services",
            Box::new(|s| s.replace("10.0.0.2\n", "10.9.0.2\n")),
            "10.9.0.2",
        ),
    ]
}

#[test]
fn every_bad_inventory_is_refused_clearly_and_touches_no_host() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (what, edit, needle) in cases() {
        let text = edit(good(port));
        assert_ne!(text, good(port), "case {what:?} edits nothing");
        let path = dir.path().join("bad-inventories.yaml");
        std::fs::write(&path, &text).unwrap();
        for sub in ["prepare", "preflight"] {
            let out = Command::new(kubin())
                .args([sub, "-f"])
                .arg(&path)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() || !stderr.contains(needle) {
                failures.push(format!(
                    "{sub} / {what}: status {:?}, stderr: {stderr}",
                    out.status
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
    assert!(
        listener.accept().is_err(),
        "a host was contacted although the inventory was bad"
    );
}

#[test]
fn a_missing_inventory_file_is_named() {
    let out = Command::new(kubin())
        .args(["prepare", "-f", "/nonexistent/cluster.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/cluster.yaml"));
}

#[test]
fn unreachable_hosts_are_named_in_the_summary() {
    // A valid inventory whose SSH port nothing listens on: prepare fails per host, naming each.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, good(port)).unwrap();
    let out = Command::new(kubin())
        .args(["prepare", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("3 host(s) failed"), "{stdout}");
    for h in ["k8s-master1", "k8s-node1", "k8s-node2"] {
        assert!(stdout.contains(&format!("  {h}: ")), "{stdout}");
    }
    assert!(stdout.contains("cannot connect"), "{stdout}");
    let out = Command::new(kubin())
        .args(["preflight", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("k8s-node2:\n  error: reach:"), "{stdout}");
}
