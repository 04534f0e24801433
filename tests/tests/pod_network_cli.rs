//! `network.pod_network: flannel` with a bundle that has neither flanneld nor the flannel
//! CNI plugin (the lab's, since flanneld is in no registry reachable here): the real kubin
//! binary's preflight fails naming both files and the fix, and `kubin nodes deploy`
//! refuses before it makes anything or contacts any host (their SSH port is a listener
//! that must see no connection).

use std::net::TcpListener;
use std::process::Command;
use tests::kubin::{kubin_bin as kubin, text};

/// An inventory in `mode` whose three hosts are on 127.0.0.x at SSH `port`, with `bundle`.
fn inventory(mode: &str, port: u16, bundle: &std::path::Path) -> String {
    format!(
        r#"cluster_name: pod-network
kubernetes:
  version: "1.20.2"
  service_cidr: 10.0.0.0/24
  cluster_dns: 10.0.0.2
network:
  pod_cidr: 172.17.0.0/16
  pod_network: {mode}
  flannel:
    version: "0.10.0"
bundle: {bundle}
pki_dir: pki
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
"#,
        bundle = bundle.display()
    )
}

#[test]
fn flannel_mode_without_flanneld_fails_preflight_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let cni = bundle.join("cni-plugins-linux-amd64-v1.1.1");
    std::fs::create_dir_all(&cni).unwrap();
    for p in ["bridge", "host-local", "loopback"] {
        std::fs::write(cni.join(p), b"\x7fELF").unwrap();
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let flanneld = format!(
        "{}/flannel-v0.10.0-linux-amd64/flanneld is missing",
        bundle.display()
    );
    let plugin = format!("{}/flannel is missing", cni.display());
    let fix = "or set network.pod_network: routes";

    // Preflight: the hosts are unreachable (a closed port) and the bundle lacks both files.
    let path = dir.path().join("cluster.yaml");
    std::fs::write(&path, inventory("flannel", closed, &bundle)).unwrap();
    let out = Command::new(kubin())
        .args(["preflight", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let shown = text(&out);
    eprintln!("kubin preflight (flannel mode):\n{shown}");
    assert!(!out.status.success(), "{shown}");
    for needle in [flanneld.as_str(), plugin.as_str(), fix] {
        assert!(shown.contains(needle), "no {needle:?} in:\n{shown}");
    }
    // The daemonless mode needs neither file.
    std::fs::write(&path, inventory("routes", closed, &bundle)).unwrap();
    let out = Command::new(kubin())
        .args(["preflight", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!text(&out).contains("pod_network"), "{}", text(&out));

    // nodes deploy: refused before any host is contacted or any file made.
    std::fs::write(&path, inventory("flannel", port, &bundle)).unwrap();
    let out = Command::new(kubin())
        .args(["nodes", "deploy", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    let shown = text(&out);
    eprintln!("kubin nodes deploy (flannel mode):\n{shown}");
    assert!(!out.status.success(), "{shown}");
    assert!(
        shown.contains(&format!("the bundle {}: ", bundle.display())),
        "{shown}"
    );
    for needle in [
        "flannel-v0.10.0-linux-amd64/flanneld is missing",
        "cni-plugins-linux-amd64-v1.1.1/flannel is missing",
        fix,
    ] {
        assert!(shown.contains(needle), "no {needle:?} in:\n{shown}");
    }
    assert!(
        listener.accept().is_err(),
        "kubin nodes deploy contacted a host"
    );
    assert!(
        !dir.path().join("pki").exists(),
        "kubin nodes deploy made the pki"
    );
}
