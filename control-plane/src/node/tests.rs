//! Snapshots of the nodes' files for 1.20 and 1.37, on a host with IPVS and on a lab
//! container without it, and the adjustments each gets.

use super::*;
use crate::master::{render_component_env, render_component_unit};
use crate::testing::{SNAPSHOT_VERSIONS, guides_at};

/// A lab machine: a systemd-nspawn container on a kernel without IPVS.
const LAB: NodeFacts = NodeFacts {
    ipvs: false,
    in_container: true,
    ..NodeFacts::NONE
};
/// A real host whose kernel has IPVS.
const METAL: NodeFacts = NodeFacts {
    ipvs: true,
    in_container: false,
    ..NodeFacts::NONE
};

#[test]
fn snapshots_of_every_node_file() {
    for v in SNAPSHOT_VERSIONS {
        let inv = guides_at(v);
        insta::assert_snapshot!(
            format!("{v}_kubelet.conf"),
            render_component_env(
                Component::Kubelet,
                &kubelet_flags(&inv, "k8s-node1").unwrap()
            )
        );
        insta::assert_snapshot!(
            format!("{v}_kube-proxy.conf"),
            render_component_env(Component::Proxy, &proxy_flags(&inv).unwrap())
        );
        for (facts, name) in [(LAB, "lab"), (METAL, "metal")] {
            let k = render_kubelet_config(&inv, "k8s-node1", &facts).unwrap();
            insta::assert_snapshot!(format!("{v}_{name}_kubelet-config.yaml"), k.text);
            let p = render_proxy_config(&inv, "k8s-node1", &facts).unwrap();
            insta::assert_snapshot!(format!("{v}_{name}_kube-proxy-config.yaml"), p.text);
        }
        insta::assert_snapshot!(
            format!("{v}_kubelet.service"),
            render_component_unit(&inv, Component::Kubelet)
        );
        insta::assert_snapshot!(
            format!("{v}_kube-proxy.service"),
            render_component_unit(&inv, Component::Proxy)
        );
    }
}

#[test]
fn the_runtime_endpoint_moves_from_flag_to_config_at_1_27() {
    let has_flag = |v: &str, flag: &str| {
        kubelet_flags(&guides_at(v), "k8s-node1")
            .unwrap()
            .iter()
            .any(|f| crate::args::flag_name(f) == flag)
    };
    let in_config = |v: &str| {
        kubelet_config(&guides_at(v), "k8s-node1", &METAL)
            .unwrap()
            .0
            .container_runtime_endpoint
    };
    assert!(has_flag("1.20.2", "--container-runtime"));
    assert!(has_flag("1.23.0", "--container-runtime"));
    assert!(!has_flag("1.24.0", "--container-runtime"));
    assert!(has_flag("1.26.0", "--container-runtime-endpoint"));
    assert_eq!(in_config("1.26.0"), None);
    assert!(!has_flag("1.27.0", "--container-runtime-endpoint"));
    assert_eq!(in_config("1.27.0").as_deref(), Some(CONTAINERD_ENDPOINT));
}

#[test]
fn docker_uses_dockershim_flags_and_is_refused_from_1_24() {
    let mut inv = guides_at("1.23.0");
    inv.network.runtime = Runtime::Docker;
    let flags = kubelet_flags(&inv, "k8s-node1").unwrap();
    assert!(flags.contains(&"--network-plugin=cni".to_string()));
    assert!(!flags.iter().any(|f| f.starts_with("--container-runtime")));
    inv.kubernetes.version = inventory::Version::new(1, 24, 0);
    assert!(matches!(
        kubelet_flags(&inv, "k8s-node1"),
        Err(Error::DockerGone { .. })
    ));
}

#[test]
fn adjustments_name_what_and_why() {
    let inv = guides_at("1.20.2");
    let (proxy, adj) = proxy_config(&inv, "k8s-node1", &LAB).unwrap();
    assert_eq!(proxy.mode, "iptables");
    assert_eq!(
        proxy.conntrack,
        Some(crate::config::Conntrack { max_per_core: 0 })
    );
    let whats: Vec<&str> = adj.iter().map(|a| a.what.as_str()).collect();
    assert_eq!(
        whats,
        [
            "kube-proxy mode iptables instead of ipvs",
            "kube-proxy conntrack.maxPerCore: 0"
        ]
    );
    assert!(adj[0].why.contains("no IPVS"), "{adj:?}");

    let (proxy, adj) = proxy_config(&inv, "k8s-node1", &METAL).unwrap();
    assert_eq!(proxy.mode, "ipvs");
    assert_eq!(proxy.conntrack, None);
    assert!(adj.is_empty());

    // 1.35 deprecates ipvs: iptables even where the kernel has it, saying why.
    let (proxy, adj) = proxy_config(&guides_at("1.35.0"), "k8s-node1", &METAL).unwrap();
    assert_eq!(proxy.mode, "iptables");
    assert!(
        adj[0].why.contains("deprecated since Kubernetes 1.35"),
        "{adj:?}"
    );

    let (kubelet, adj) = kubelet_config(&inv, "k8s-node1", &LAB).unwrap();
    assert!(!kubelet.fail_swap_on);
    assert_eq!(adj.len(), 1);
    let (kubelet, adj) = kubelet_config(&inv, "k8s-node1", &METAL).unwrap();
    assert!(kubelet.fail_swap_on && adj.is_empty());
}

#[test]
fn the_kubelet_bootstraps_and_rotates_its_certificates() {
    let inv = guides_at("1.20.2");
    let (k, _) = kubelet_config(&inv, "k8s-node2", &METAL).unwrap();
    assert!(k.server_tls_bootstrap && k.rotate_certificates);
    assert_eq!(k.cgroup_driver, "systemd");
    assert_eq!(k.cluster_dns, ["10.0.0.2"]);
    assert_eq!(k.authorization.mode, "Webhook");
    assert!(!k.authentication.anonymous.enabled);
    assert_eq!(
        k.authentication.x509.client_ca_file,
        "/opt/kubernetes/ssl/ca.pem"
    );
    let flags = kubelet_flags(&inv, "k8s-node2").unwrap();
    for f in [
        "--hostname-override=k8s-node2",
        "--node-ip=192.168.31.66",
        "--bootstrap-kubeconfig=/opt/kubernetes/cfg/bootstrap.kubeconfig",
        "--kubeconfig=/opt/kubernetes/cfg/kubelet.kubeconfig",
        "--cert-dir=/opt/kubernetes/ssl",
        "--config=/opt/kubernetes/cfg/kubelet-config.yaml",
    ] {
        assert!(flags.contains(&f.to_string()), "{f}: {flags:?}");
    }
}

#[test]
fn a_host_without_the_node_role_is_refused_by_name() {
    let inv = guides_at("1.20.2");
    match kubelet_config(&inv, "k8s-master1", &METAL) {
        Err(Error::NotANode { name, nodes }) => {
            assert_eq!(name, "k8s-master1");
            assert_eq!(nodes, "k8s-node1, k8s-node2");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn settings_the_runtime_requires_are_rendered_with_their_reason() {
    let inv = guides_at(SNAPSHOT_VERSIONS[0]);
    let facts = NodeFacts {
        image_gc_high_threshold_percent: Some(100),
        conntrack_max_per_core: Some(0),
        ..METAL
    };
    let k = render_kubelet_config(&inv, "k8s-node1", &facts).unwrap();
    assert!(
        k.text.contains("imageGCHighThresholdPercent: 100"),
        "{}",
        k.text
    );
    assert!(
        k.adjustments
            .iter()
            .any(|a| a.what == "kubelet imageGCHighThresholdPercent: 100"),
        "{:?}",
        k.adjustments
    );
    let p = render_proxy_config(&inv, "k8s-node1", &facts).unwrap();
    assert!(p.text.contains("maxPerCore: 0"), "{}", p.text);
    // Without the settings, a host outside a container keeps the defaults.
    let plain = render_kubelet_config(&inv, "k8s-node1", &METAL).unwrap();
    assert!(!plain.text.contains("imageGC"), "{}", plain.text);
    let plain = render_proxy_config(&inv, "k8s-node1", &METAL).unwrap();
    assert!(!plain.text.contains("maxPerCore"), "{}", plain.text);
}

#[test]
fn the_inventorys_kubelet_settings_are_rendered() {
    let mut inv = guides_at(SNAPSHOT_VERSIONS[0]);
    inv.kubernetes.kubelet.image_gc_high_threshold_percent = Some(95);
    inv.kubernetes
        .kubelet
        .eviction_hard
        .insert("nodefs.available".into(), "1%".into());
    let k = render_kubelet_config(&inv, "k8s-node1", &METAL).unwrap();
    assert!(
        k.text.contains("imageGCHighThresholdPercent: 95"),
        "{}",
        k.text
    );
    assert!(
        k.text.contains("evictionHard:\n  nodefs.available: 1%"),
        "{}",
        k.text
    );
    // What the runtime requires wins.
    let facts = NodeFacts {
        image_gc_high_threshold_percent: Some(100),
        ..METAL
    };
    let k = render_kubelet_config(&inv, "k8s-node1", &facts).unwrap();
    assert!(
        k.text.contains("imageGCHighThresholdPercent: 100"),
        "{}",
        k.text
    );
}
