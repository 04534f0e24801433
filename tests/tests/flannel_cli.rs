//! `kubin flannel set|get|subnets|render` as an operator runs them, against a real etcd on
//! loopback, the results checked with Debian's `etcdctl` and `curl`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tests::kubin::kubin_bin;
use tests::local_etcd::{LocalEtcd, LocalEtcdConfig};

const KEY: &str = "/coreos.com/network/config";

/// An inventory file for `flannel` with `pod_cidr`, in a temporary directory.
fn inventory(dir: &Path, flannel: &str, pods: &str) -> PathBuf {
    let text = inventory::example::GUIDES_EXAMPLE
        .replace("version: \"0.10.0\"", &format!("version: \"{flannel}\""))
        .replace("pod_cidr: 172.17.0.0/16", &format!("pod_cidr: {pods}"));
    let path = dir.join(format!("cluster-{flannel}-{}.yaml", pods.replace('/', "_")));
    std::fs::write(&path, text).unwrap();
    path
}

fn kubin(etcd: &LocalEtcd, file: &Path, args: &[&str]) -> Output {
    Command::new(kubin_bin())
        .arg("flannel")
        .args(args)
        .arg("-f")
        .arg(file)
        .arg("--endpoints")
        .arg(etcd.endpoints_csv())
        .arg("--cacert")
        .arg(etcd.ca_file())
        .arg("--cert")
        .arg(etcd.client_cert_file())
        .arg("--key")
        .arg(etcd.client_key_file())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn set_get_replace_through_v3() {
    let etcd = LocalEtcd::start(LocalEtcdConfig {
        members: 1,
        enable_v2: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let first = inventory(dir.path(), "0.22.0", "172.17.0.0/16");

    let out = kubin(&etcd, &first, &["set"]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("etcd v3 API"), "{out:?}");
    let v = etcd.etcdctl_output(&["get", KEY, "--print-value-only"]);
    assert_eq!(
        text(&v.stdout).trim(),
        r#"{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}"#
    );

    let out = kubin(&etcd, &first, &["get"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).contains("\"Network\": \"172.17.0.0/16\""),
        "{out:?}"
    );

    // Another pod network: refused with the old value and a diff, exit 1, key unchanged.
    let second = inventory(dir.path(), "0.22.0", "10.244.0.0/16");
    let out = kubin(&etcd, &second, &["set"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.contains("--replace")
            && err.contains("172.17.0.0/16")
            && err.contains("+  \"Network\": \"10.244.0.0/16\""),
        "{err}"
    );
    let v = etcd.etcdctl_output(&["get", KEY, "--print-value-only"]);
    assert!(text(&v.stdout).contains("172.17.0.0/16"));

    let out = kubin(&etcd, &second, &["set", "--replace"]);
    assert!(out.status.success(), "{out:?}");
    assert!(text(&out.stdout).contains("the old value was"), "{out:?}");
    let v = etcd.etcdctl_output(&["get", KEY, "--print-value-only"]);
    assert!(text(&v.stdout).contains("10.244.0.0/16"));
}

#[test]
fn set_and_subnets_through_v2_and_the_explanation_without_it() {
    let etcd = LocalEtcd::start(LocalEtcdConfig {
        members: 1,
        enable_v2: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let file = inventory(dir.path(), "0.10.0", "172.17.0.0/16");
    let out = kubin(&etcd, &file, &["set"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).contains("etcd v2 API, as flannel 0.10.0 reads it"),
        "{out:?}"
    );

    let curl = Command::new("curl")
        .arg("-sS")
        .arg("--cacert")
        .arg(etcd.ca_file())
        .arg("--cert")
        .arg(etcd.client_cert_file())
        .arg("--key")
        .arg(etcd.client_key_file())
        .arg(format!("{}/v2/keys{KEY}", etcd.endpoints()[0]))
        .output()
        .unwrap();
    assert!(text(&curl.stdout).contains(r#"172.17.0.0/16"#), "{curl:?}");

    let out = kubin(&etcd, &file, &["subnets"]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        text(&out.stdout).starts_with("# /coreos.com/network/subnets/ (v2 API)"),
        "{out:?}"
    );

    let plain = LocalEtcd::start(LocalEtcdConfig {
        members: 1,
        enable_v2: false,
    });
    let out = kubin(&plain, &file, &["set"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        text(&out.stderr).contains("does not serve etcd's v2 API"),
        "{out:?}"
    );
}

#[test]
fn render_prints_the_node_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = inventory(dir.path(), "0.10.0", "172.17.0.0/16");
    let out = Command::new(kubin_bin())
        .args(["flannel", "render", "-f"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s = text(&out.stdout);
    assert!(
        s.contains("### k8s-node1: /opt/kubernetes/cfg/flanneld"),
        "{s}"
    );
    assert!(
        s.contains("### k8s-node2: /etc/cni/net.d/10-flannel.conflist"),
        "{s}"
    );
}
