//! Preflight decisions on hand-made facts.

use super::*;
use crate::preflight::bundle::parse_sums;

fn inventory() -> Inventory {
    Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example")
        .expect("example validates")
        .0
}

fn good(i: u8) -> HostFacts {
    HostFacts {
        os_id: "debian".into(),
        cpus: 2,
        mem_bytes: 2 << 30,
        hostname: format!("h{i}"),
        machine_id: format!("{i:032x}"),
        macs: vec![("eth0".into(), format!("02:00:00:00:00:{i:02x}"))],
        disk_free: vec![("/".into(), 50 << 30)],
        listening: vec![22],
        chrony_unit: Some("chrony.service".into()),
        tools: crate::facts::NODE_TOOLS
            .iter()
            .map(|t| t.to_string())
            .collect(),
        ..HostFacts::default()
    }
}

fn facts(edit: impl Fn(&str, &mut HostFacts)) -> HashMap<String, HostFacts> {
    inventory()
        .hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let mut f = good(i as u8);
            edit(&h.name, &mut f);
            (h.name.clone(), f)
        })
        .collect()
}

#[track_caller]
fn check(facts: HashMap<String, HostFacts>, expected: &[(&str, Severity, &str, &str)]) {
    let got = check_hosts(&inventory(), &facts, &BTreeMap::new());
    let summary: Vec<String> = got
        .iter()
        .map(|f| format!("{} {:?} {} {}", f.host, f.severity, f.check, f.message))
        .collect();
    assert_eq!(got.len(), expected.len(), "{summary:#?}");
    for (host, sev, check, needle) in expected {
        assert!(
            got.iter().any(|f| f.host == *host
                && f.severity == *sev
                && f.check == *check
                && f.message.contains(needle)),
            "missing {host} {sev:?} {check} {needle:?} in {summary:#?}"
        );
    }
}

#[test]
fn good_hosts_pass() {
    check(facts(|_, _| {}), &[]);
}

#[test]
fn every_problem_of_every_host_at_once() {
    use Severity::*;
    let f = facts(|name, f| match name {
        "k8s-master1" => {
            f.cpus = 1;
            f.mem_bytes = 1 << 30;
            f.swaps = vec!["/dev/sda2".into()];
            f.listening = vec![22, 6443, 2379];
        }
        "k8s-node1" => {
            f.clock_skew = -0.8;
            f.disk_free = vec![("/".into(), 1 << 30)];
            f.machine_id = good(2).machine_id;
        }
        _ => {
            f.macs = good(0).macs;
        }
    });
    check(
        f,
        &[
            ("k8s-master1", Error, "cpus", "1 CPU(s)"),
            ("k8s-master1", Error, "memory", "1024 MiB"),
            ("k8s-master1", Error, "swap", "/dev/sda2"),
            ("k8s-master1", Error, "port", "port 6443 (kube-apiserver)"),
            ("k8s-master1", Error, "port", "port 2379 (etcd client)"),
            ("k8s-node1", Warning, "clock", "-0.800 s"),
            ("k8s-node1", Error, "disk", "1024 MiB free"),
            ("k8s-node1", Error, "unique", "machine-id"),
            ("k8s-node2", Error, "unique", "machine-id"),
            (
                "k8s-master1",
                Error,
                "unique",
                "MAC address \"02:00:00:00:00:00\"",
            ),
            ("k8s-node2", Error, "unique", "MAC address"),
        ],
    );
}

#[test]
fn container_swap_is_only_a_warning_and_unreachable_hosts_are_errors() {
    let mut f = facts(|_, f| {
        f.container = Some("systemd-nspawn".into());
        f.chrony_unit = None;
        f.swaps = vec!["/swap".into()];
    });
    f.remove("k8s-node2");
    let mut unreachable = BTreeMap::new();
    unreachable.insert("k8s-node2".to_string(), "connection refused".to_string());
    let got = check_hosts(&inventory(), &f, &unreachable);
    assert_eq!(
        got.iter()
            .filter(|f| f.check == "swap" && f.severity == Severity::Warning)
            .count(),
        2
    );
    assert!(
        got.iter()
            .any(|f| f.host == "k8s-node2" && f.message == "connection refused")
    );
    assert!(has_errors(&got));
    let text = render_findings(&got);
    assert!(
        text.contains("k8s-node2:\n  error: reach: connection refused"),
        "{text}"
    );
}

#[test]
fn ports_follow_roles() {
    let etcd_only = required_ports(&[Role::Etcd]);
    assert_eq!(
        etcd_only.iter().map(|p| p.0).collect::<Vec<_>>(),
        [2379, 2380]
    );
    let master = required_ports(&[Role::Master]);
    assert_eq!(
        master.iter().map(|p| p.0).collect::<Vec<_>>(),
        [6443, 10257, 10259, 10250]
    );
}

#[test]
fn bundle_findings() {
    let sums = parse_sums("aa  etcd-v3.4.23/etcd\nbb *kubernetes/server/bin/kubelet\n");
    assert_eq!(
        sums[1],
        ("kubernetes/server/bin/kubelet".into(), "bb".into())
    );
    let b = BundleFacts {
        dir: "/b".into(),
        exists: true,
        sums: Some(sums),
        files: vec![
            ("etcd-v3.4.23/etcd".into(), Some("aa".into())),
            ("kubernetes/server/bin/kubelet".into(), Some("cc".into())),
            ("kubernetes/server/bin/kubectl".into(), None),
        ],
    };
    let got = check_bundle(&b);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0]
            .message
            .contains("kubelet does not match SHA256SUMS (expected bb, found cc)")
    );
    assert!(got[1].message.contains("kubectl is missing"));
    let missing = BundleFacts {
        dir: "/nope".into(),
        ..BundleFacts::default()
    };
    assert!(
        check_bundle(&missing)[0]
            .message
            .contains("/nope does not exist")
    );
}

#[test]
fn inspecting_a_real_bundle_hashes_files() {
    let dir = tempfile::tempdir().unwrap();
    let etcd = dir.path().join("etcd-v3.4.23");
    std::fs::create_dir_all(&etcd).unwrap();
    std::fs::write(etcd.join("etcd"), b"etcd").unwrap();
    std::fs::write(
        dir.path().join("SHA256SUMS"),
        // sha256("etcd")
        "a8b3a23a2d6a8b0bb3b8b6b9d3e5ea9d8f3ba1f50e7b10bcd8d1c9f4ef1e9fa9  etcd-v3.4.23/etcd\n",
    )
    .unwrap();
    let b = inspect_bundle(dir.path());
    assert!(b.exists);
    let etcd_hash = b
        .files
        .iter()
        .find(|(p, _)| p == "etcd-v3.4.23/etcd")
        .unwrap();
    assert_eq!(etcd_hash.1.as_deref().map(str::len), Some(64));
    let got = check_bundle(&b);
    // The made-up sum does not match; the other binaries are missing.
    assert!(
        got.iter()
            .any(|f| f.message.contains("etcd does not match"))
    );
    assert!(got.iter().any(|f| f.message.contains("etcdctl is missing")));
    assert!(
        got.iter()
            .any(|f| f.message.contains("kube-apiserver is missing"))
    );
}

#[test]
fn the_newest_etcd_in_the_bundle_is_chosen_by_version() {
    let dir = tempfile::tempdir().unwrap();
    for v in ["etcd-v3.5.9-linux-amd64", "etcd-v3.5.10-linux-amd64"] {
        std::fs::create_dir_all(dir.path().join(v)).unwrap();
    }
    let b = inspect_bundle(dir.path());
    let etcd: Vec<&str> = b
        .files
        .iter()
        .map(|(p, _)| p.as_str())
        .filter(|p| p.starts_with("etcd-"))
        .collect();
    assert_eq!(
        etcd,
        [
            "etcd-v3.5.10-linux-amd64/etcd",
            "etcd-v3.5.10-linux-amd64/etcdctl"
        ]
    );
}

#[test]
fn masters_and_nodes_need_iptables_nodes_want_conntrack() {
    check(
        facts(|h, f| match h {
            "k8s-master1" => f.tools.clear(),
            "k8s-node1" => f.tools.retain(|t| t != "conntrack"),
            _ => f.tools.retain(|t| t != "iptables-restore"),
        }),
        &[
            (
                "k8s-master1",
                Severity::Error,
                "iptables",
                "no iptables or iptables-restore",
            ),
            ("k8s-node1", Severity::Warning, "conntrack", "no conntrack"),
            (
                "k8s-node2",
                Severity::Error,
                "iptables",
                "no iptables-restore on the PATH",
            ),
        ],
    );
}

#[test]
fn flannel_mode_needs_flanneld_and_its_cni_plugin_in_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let cni = dir.path().join("cni-plugins-linux-amd64-v1.1.1");
    std::fs::create_dir_all(&cni).unwrap();
    std::fs::write(cni.join("bridge"), b"bridge").unwrap();
    let text = inventory::example::GUIDES_EXAMPLE;
    let (flannel, _) = inventory::Inventory::from_yaml(text, "t").unwrap();
    let got = check_pod_network(&inspect_pod_network(dir.path(), &flannel));
    let shown: Vec<String> = got
        .iter()
        .map(|f| {
            f.message
                .replace(&dir.path().display().to_string(), "BUNDLE")
        })
        .collect();
    insta::assert_snapshot!(shown.join("\n"));
    assert!(got.iter().all(|f| f.severity == Severity::Error));
    // Both there: nothing to say.
    let fl = dir.path().join("flannel-v0.10.0-linux-amd64");
    std::fs::create_dir_all(&fl).unwrap();
    std::fs::write(fl.join("flanneld"), b"ELF").unwrap();
    std::fs::write(cni.join("flannel"), b"ELF").unwrap();
    assert_eq!(
        check_pod_network(&inspect_pod_network(dir.path(), &flannel)),
        []
    );
    // The daemonless mode needs neither.
    let (routes, _) = inventory::Inventory::from_yaml(
        &text.replace("pod_network: flannel", "pod_network: routes"),
        "t",
    )
    .unwrap();
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        check_pod_network(&inspect_pod_network(empty.path(), &routes)),
        []
    );
}
