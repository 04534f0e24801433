//! Every kind of bad inventory gives a clear error naming the path and the value.

use inventory::{Error, Inventory, PodNetwork, Severity};

const GOOD: &str = inventory::example::GUIDES_EXAMPLE;

/// The example with `from` replaced by `to` (which must occur).
#[track_caller]
fn edit(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "the example has no {from:?}");
    GOOD.replacen(from, to, 1)
}

/// Validating `text` fails, and some problem has `path` and a message containing `needle`.
#[track_caller]
fn check_error(text: &str, path: &str, needle: &str) {
    match Inventory::from_yaml(text, "cluster.yaml") {
        Err(Error::Invalid { problems, .. }) => assert!(
            problems
                .iter()
                .any(|p| p.path == path && p.message.contains(needle)),
            "no problem at {path} mentioning {needle:?} in {problems:#?}"
        ),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn duplicate_names() {
    check_error(
        &edit("name: k8s-node2", "name: k8s-node1"),
        "hosts[2].name",
        "already the name of hosts[1]",
    );
}

#[test]
fn duplicate_addresses() {
    check_error(
        &edit("address: 192.168.31.66", "address: 192.168.31.65"),
        "hosts[2].address",
        "192.168.31.65 is already the address of hosts[1]",
    );
}

#[test]
fn names_not_rfc1123() {
    check_error(
        &edit("name: k8s-node2", "name: K8s_Node2"),
        "hosts[2].name",
        "\"K8s_Node2\" is not an RFC 1123 host name",
    );
}

#[test]
fn bad_cidr() {
    check_error(
        &edit("service_cidr: 10.0.0.0/24", "service_cidr: 10.0.0.0/33"),
        "kubernetes.service_cidr",
        "\"10.0.0.0/33\" is not an IPv4 CIDR",
    );
}

#[test]
fn cidr_with_host_bits() {
    check_error(
        &edit("pod_cidr: 172.17.0.0/16", "pod_cidr: 172.17.3.0/16"),
        "network.pod_cidr",
        "host bits set; the network is 172.17.0.0/16",
    );
}

#[test]
fn pod_range_overlaps_service_range() {
    check_error(
        &edit("pod_cidr: 172.17.0.0/16", "pod_cidr: 10.0.0.0/16"),
        "network.pod_cidr",
        "10.0.0.0/16 overlaps the service range 10.0.0.0/24",
    );
}

#[test]
fn pod_range_overlaps_hosts_network() {
    check_error(
        &edit("pod_cidr: 172.17.0.0/16", "pod_cidr: 192.168.0.0/16"),
        "hosts[0].address",
        "lies inside the pod network 192.168.0.0/16",
    );
}

#[test]
fn no_master() {
    check_error(
        &edit("roles: [master, etcd]", "roles: [etcd]"),
        "hosts",
        "no host has the master role",
    );
}

#[test]
fn no_etcd_member() {
    let text = GOOD
        .replace("roles: [master, etcd]", "roles: [master]")
        .replace("roles: [node, etcd]", "roles: [node]");
    check_error(&text, "hosts", "no host has the etcd role");
}

#[test]
fn unsupported_kubernetes_version() {
    check_error(
        &edit("version: \"1.20.2\"", "version: \"1.12.1\""),
        "kubernetes.version",
        "1.12.1 is not supported",
    );
}

#[test]
fn docker_after_dockershim_removal() {
    let text = edit("version: \"1.20.2\"", "version: \"1.28.0\"")
        .replace("runtime: containerd", "runtime: docker");
    check_error(&text, "network.runtime", "removed in Kubernetes 1.24");
}

#[test]
fn unknown_role_and_bad_address() {
    let text = edit("roles: [node, etcd]", "roles: [node, etdc]")
        .replace("address: 192.168.31.66", "address: 192.168.31.266");
    check_error(&text, "hosts[1].roles[1]", "\"etdc\" is not a role");
    check_error(
        &text,
        "hosts[2].address",
        "\"192.168.31.266\" is not an IP address",
    );
}

#[test]
fn cluster_dns_outside_service_range() {
    check_error(
        &edit("cluster_dns: 10.0.0.2", "cluster_dns: 10.0.1.2"),
        "kubernetes.cluster_dns",
        "10.0.1.2 is outside the service range 10.0.0.0/24",
    );
}

#[test]
fn relative_install_path() {
    check_error(
        &edit("etcd_cfg: /opt/etcd/cfg", "etcd_cfg: opt/etcd/cfg"),
        "paths.etcd_cfg",
        "must be an absolute path",
    );
}

#[test]
fn bad_flannel_settings() {
    let text = edit("backend: vxlan", "backend: vxlan2").replace(
        "etcd_prefix: /coreos.com/network",
        "etcd_prefix: coreos.com/network/",
    );
    check_error(
        &text,
        "network.flannel.backend",
        "\"vxlan2\" is not a flannel backend",
    );
    check_error(&text, "network.flannel.etcd_prefix", "must start with /");
}

#[test]
fn pod_network_modes() {
    let (inv, _) = Inventory::from_yaml(GOOD, "cluster.yaml").unwrap();
    assert_eq!(
        inv.network.pod_network,
        PodNetwork::Flannel,
        "the guides' default"
    );
    let (inv, _) =
        Inventory::from_yaml(&edit("pod_network: flannel", "pod_network: routes"), "c").unwrap();
    assert_eq!(inv.network.pod_network, PodNetwork::Routes);
    // Absent: flannel, as the guides.
    let (inv, _) = Inventory::from_yaml(&edit("pod_network: flannel", ""), "c").unwrap();
    assert_eq!(inv.network.pod_network, PodNetwork::Flannel);
    check_error(
        &edit("pod_network: flannel", "pod_network: calico"),
        "network.pod_network",
        "\"calico\" is not a pod network kubin sets up (flannel: ",
    );
}

#[test]
fn unknown_keys_are_rejected_with_their_line() {
    let text = edit(
        "cluster_domain: cluster.local",
        "cluster_domian: cluster.local",
    );
    match Inventory::from_yaml(&text, "cluster.yaml") {
        Err(Error::Parse { message, .. }) => {
            assert!(message.contains("cluster_domian"), "{message}");
        }
        other => panic!("expected Error::Parse, got {other:?}"),
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = edit("name: k8s-node2", "name: k8s-node1")
        .replace("service_cidr: 10.0.0.0/24", "service_cidr: nonsense")
        .replace("roles: [master, etcd]", "roles: [etcd]");
    match Inventory::from_yaml(&text, "cluster.yaml") {
        Err(Error::Invalid { problems, .. }) => {
            let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
            for want in ["hosts[2].name", "kubernetes.service_cidr", "hosts"] {
                assert!(paths.contains(&want), "{want} missing from {paths:?}");
            }
        }
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[test]
fn even_etcd_member_count_is_a_warning() {
    let text = edit(
        "roles: [node, etcd]\n  - name: k8s-node2",
        "roles: [node, etcd]\n  - name: k8s-node2x",
    )
    .replace(
        "name: k8s-node2x\n    address: 192.168.31.66\n    roles: [node, etcd]",
        "name: k8s-node2\n    address: 192.168.31.66\n    roles: [node]",
    );
    let (inv, warnings) = Inventory::from_yaml(&text, "cluster.yaml").expect("valid");
    assert_eq!(inv.etcd_members().len(), 2);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].severity, Severity::Warning);
    assert!(warnings[0].message.contains("use an odd count"));
}

#[test]
fn error_display_names_file_path_and_value() {
    let yaml = edit("address: 192.168.31.66", "address: nowhere");
    let line = 1 + yaml
        .lines()
        .position(|l| l.contains("address: nowhere"))
        .unwrap();
    let err = Inventory::from_yaml(&yaml, "lab/cluster.yaml").expect_err("invalid");
    let text = err.to_string();
    assert!(text.starts_with("lab/cluster.yaml: 1 problem(s)"), "{text}");
    assert!(
        text.contains(&format!(
            "error: line {line}: hosts[2].address: \"nowhere\" is not an IP address"
        )),
        "{text}"
    );
}

/// The example with a `pki:` section appended.
fn with_pki(section: &str) -> String {
    format!("{GOOD}\npki:\n{section}")
}

#[test]
fn pki_section_is_read() {
    let text = with_pki(
        "  key: ecdsa-256\n  validity: 365d\n  ca_validity: 3650d\n  subject: { C: DE, O: Acme, OU: Ops }\n",
    );
    let (inv, _) = Inventory::from_yaml(&text, "cluster.yaml").expect("valid");
    assert_eq!(inv.pki.key, inventory::KeyKind::EcdsaP256);
    assert_eq!(inv.pki.validity.as_secs(), 365 * 86400);
    assert_eq!(inv.pki.ca_validity.as_secs(), 3650 * 86400);
    assert_eq!(inv.pki.subject.c.as_deref(), Some("DE"));
    assert_eq!(
        inv.pki.subject.st, None,
        "a subject given replaces the default"
    );
    assert_eq!(inv.pki.subject.ou.as_deref(), Some("Ops"));
}

#[test]
fn every_pki_problem_is_reported_with_its_path() {
    let text = with_pki(
        "  key: rsa-1024\n  validity: forever\n  ca_validity: 0s\n  subject: { C: Germany, L: \"\" }\n",
    );
    for (path, needle) in [
        ("pki.key", "\"rsa-1024\" is not a key kind"),
        ("pki.validity", "\"forever\" is not a duration"),
        ("pki.ca_validity", "\"0s\" is no lifetime"),
        ("pki.subject.C", "not a two-letter country code"),
        ("pki.subject.L", "empty"),
    ] {
        check_error(&text, path, needle);
    }
    match Inventory::from_yaml(&with_pki("  bits: 2048\n"), "cluster.yaml") {
        Err(Error::Parse { message, .. }) => assert!(message.contains("bits"), "{message}"),
        other => panic!("expected Error::Parse, got {other:?}"),
    }
}

#[test]
fn a_missing_file_is_a_read_error_with_the_os_cause_once() {
    let path = std::path::Path::new("/nonexistent/kubin/cluster.yaml");
    let err = Inventory::load(path).expect_err("no such file");
    assert!(matches!(err, Error::Read { .. }), "{err:?}");
    // The full chain names the file and the cause, each once.
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(": {s}"));
        source = s.source();
    }
    assert_eq!(
        chain.matches("/nonexistent/kubin/cluster.yaml").count(),
        1,
        "{chain}"
    );
    assert_eq!(chain.matches("No such file").count(), 1, "{chain}");
}

#[test]
fn kubelet_settings() {
    let with = |yaml: &str| {
        edit(
            "service_cidr: 10.0.0.0/24",
            &format!("service_cidr: 10.0.0.0/24\n  kubelet: {yaml}"),
        )
    };
    let (inv, _) = Inventory::from_yaml(
        &with("{ image_gc_high_threshold_percent: 100, eviction_hard: { nodefs.available: 1%, memory.available: 100Mi } }"),
        "cluster.yaml",
    )
    .unwrap();
    assert_eq!(
        inv.kubernetes.kubelet.image_gc_high_threshold_percent,
        Some(100)
    );
    assert_eq!(
        inv.kubernetes.kubelet.eviction_hard["memory.available"],
        "100Mi"
    );
    check_error(
        &with("{ image_gc_high_threshold_percent: 80 }"),
        "kubernetes.kubelet.image_gc_high_threshold_percent",
        "80 is not between 81 and 100",
    );
    check_error(
        &with("{ eviction_hard: { disk.free: 1% } }"),
        "kubernetes.kubelet.eviction_hard.disk.free",
        "is not an eviction signal",
    );
    check_error(
        &with("{ eviction_hard: { nodefs.available: lots } }"),
        "kubernetes.kubelet.eviction_hard.nodefs.available",
        "neither a percentage",
    );
}
