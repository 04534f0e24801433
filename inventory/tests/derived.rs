//! Derived values: snapshot for the guides' topology, properties for any topology.

use inventory::Inventory;
use proptest::prelude::*;

fn guides() -> Inventory {
    Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example")
        .expect("valid")
        .0
}

#[test]
fn guides_derived_values() {
    let inv = guides();
    insta::assert_yaml_snapshot!(serde_json_like(&inv), @r###"
    apiserver_sans:
      - 127.0.0.1
      - 10.0.0.1
      - 192.168.31.63
      - kubernetes
      - kubernetes.default
      - kubernetes.default.svc
      - kubernetes.default.svc.cluster
      - kubernetes.default.svc.cluster.local
    apiserver_url: "https://192.168.31.63:6443"
    etcd_endpoints:
      - "https://192.168.31.63:2379"
      - "https://192.168.31.65:2379"
      - "https://192.168.31.66:2379"
    etcd_initial_cluster: "k8s-master1=https://192.168.31.63:2380,k8s-node1=https://192.168.31.65:2380,k8s-node2=https://192.168.31.66:2380"
    etcd_needs_v2: true
    first_service_ip: 10.0.0.1
    "###);
}

fn serde_json_like(inv: &Inventory) -> std::collections::BTreeMap<&'static str, insta_value::V> {
    use insta_value::V;
    let mut m = std::collections::BTreeMap::new();
    m.insert("etcd_initial_cluster", V::S(inv.etcd_initial_cluster()));
    m.insert("etcd_endpoints", V::L(inv.etcd_endpoints()));
    m.insert(
        "apiserver_url",
        V::S(inv.apiserver_url().unwrap_or_default()),
    );
    m.insert("first_service_ip", V::S(inv.first_service_ip().to_string()));
    m.insert("apiserver_sans", V::L(inv.apiserver_sans()));
    m.insert("etcd_needs_v2", V::B(inv.etcd_needs_v2()));
    m
}

mod insta_value {
    //! A tiny serializable value for snapshots of derived values.
    #[derive(serde::Serialize)]
    #[serde(untagged)]
    pub enum V {
        S(String),
        L(Vec<String>),
        B(bool),
    }
}

#[test]
fn flannel_018_reads_v3_and_etcd_needs_no_v2() {
    let text =
        inventory::example::GUIDES_EXAMPLE.replace("version: \"0.10.0\"", "version: \"0.22.0\"");
    let (inv, _) = Inventory::from_yaml(&text, "x").expect("valid");
    assert_eq!(inv.flannel_etcd_api(), inventory::derived::EtcdApi::V3);
    assert!(!inv.etcd_needs_v2());
}

fn inventory_with(hosts: usize, etcd_every: usize) -> String {
    let mut text = String::from(
        "kubernetes:\n  version: \"1.20.2\"\nnetwork:\n  pod_cidr: 172.17.0.0/16\nhosts:\n",
    );
    for i in 0..hosts {
        let mut roles = vec![if i == 0 { "master" } else { "node" }];
        if i % etcd_every == 0 {
            roles.push("etcd");
        }
        text.push_str(&format!(
            "  - name: host-{i}\n    address: 192.168.{}.{}\n    roles: [{}]\n",
            i / 200,
            10 + i % 200,
            roles.join(", ")
        ));
    }
    text
}

proptest! {
    #[test]
    fn every_etcd_member_exactly_once_in_the_initial_cluster(hosts in 1usize..40, every in 1usize..4) {
        let (inv, _) = Inventory::from_yaml(&inventory_with(hosts, every), "x").expect("valid");
        let initial = inv.etcd_initial_cluster();
        let entries: Vec<&str> = initial.split(',').collect();
        prop_assert_eq!(entries.len(), inv.etcd_members().len());
        for m in inv.etcd_members() {
            let entry = format!("{}={}", m.name, Inventory::etcd_peer_url(m));
            prop_assert_eq!(entries.iter().filter(|e| **e == entry).count(), 1);
        }
        prop_assert_eq!(inv.etcd_endpoints().len(), inv.etcd_members().len());
    }

    #[test]
    fn the_first_service_ip_lies_in_the_service_range(octet in 0u8..=255, len in 8u8..=29) {
        let net = ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(10, octet, 0, 0), len).expect("net").trunc();
        let text = inventory_with(3, 1)
            .replace("kubernetes:\n", &format!("kubernetes:\n  service_cidr: {net}\n  cluster_dns: {}\n", std::net::Ipv4Addr::from(u32::from(net.network()) + 2)));
        let (inv, _) = Inventory::from_yaml(&text, "x").expect("valid");
        prop_assert!(net.contains(&inv.first_service_ip()));
        prop_assert!(inv.apiserver_sans().contains(&inv.first_service_ip().to_string()));
    }
}
