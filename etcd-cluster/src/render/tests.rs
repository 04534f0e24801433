//! Snapshots of the guides' topology and properties over generated inventories.

use super::*;
use inventory::example::GUIDES_EXAMPLE;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

fn guides() -> Inventory {
    Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0
}

#[test]
fn guides_env_files() {
    let inv = guides();
    for m in inv.etcd_members() {
        let env = render_env(&inv, &m.name, ClusterState::New).unwrap();
        insta::assert_snapshot!(format!("env_{}", m.name), env);
    }
}

#[test]
fn guides_unit_has_v2_for_flannel_0_10() {
    let inv = guides();
    assert!(inv.etcd_needs_v2());
    insta::assert_snapshot!("unit_guides", render_unit(&inv));
}

#[test]
fn unit_without_v2_for_flannel_0_22() {
    let text = GUIDES_EXAMPLE.replace("version: \"0.10.0\"", "version: \"0.22.0\"");
    let inv = Inventory::from_yaml(&text, "x").unwrap().0;
    assert!(!inv.etcd_needs_v2());
    let unit = render_unit(&inv);
    assert!(!unit.contains("--enable-v2"), "{unit}");
    assert_eq!(
        unit,
        render_unit(&guides()).replace(" \\\n  --enable-v2", "")
    );
}

#[test]
fn a_non_member_is_refused_by_name() {
    let inv = guides();
    match render_env(&inv, "k8s-node9", ClusterState::New) {
        Err(Error::NotAMember { name, members }) => {
            assert_eq!(name, "k8s-node9");
            assert_eq!(members, "k8s-master1, k8s-node1, k8s-node2");
        }
        other => panic!("{other:?}"),
    }
}

/// An inventory like the guides' with `n` etcd members of generated names and addresses.
pub(crate) fn with_members(names: &[String], last_octets: &[u8]) -> Inventory {
    let mut inv = guides();
    let template = inv.hosts[0].clone();
    inv.hosts = names
        .iter()
        .zip(last_octets)
        .map(|(n, o)| {
            let mut h = template.clone();
            h.name = n.clone();
            h.address = IpAddr::V4(Ipv4Addr::new(192, 168, 31, *o));
            h
        })
        .collect();
    inv
}

pub(crate) fn members_strategy() -> impl Strategy<Value = (Vec<String>, Vec<u8>)> {
    (1usize..8).prop_flat_map(|n| {
        (
            proptest::collection::btree_set("[a-z][a-z0-9-]{0,10}[a-z0-9]", n),
            proptest::collection::btree_set(1u8..255, n),
        )
            .prop_map(|(names, octets)| {
                (
                    names.into_iter().collect::<Vec<_>>(),
                    octets.into_iter().collect::<Vec<_>>(),
                )
            })
    })
}

proptest! {
    #[test]
    fn every_member_once_and_files_agree((names, octets) in members_strategy()) {
        let inv = with_members(&names, &octets);
        let envs: Vec<BTreeMap<String, String>> = names
            .iter()
            .map(|n| parse_env(&render_env(&inv, n, ClusterState::New).unwrap()))
            .collect();
        let first = &envs[0]["ETCD_INITIAL_CLUSTER"];
        let entries: Vec<(&str, &str)> = first
            .split(',')
            .map(|e| e.split_once('=').unwrap())
            .collect();
        prop_assert_eq!(entries.len(), names.len());
        for n in &names {
            prop_assert_eq!(entries.iter().filter(|(k, _)| k == n).count(), 1);
        }
        for (env, host) in envs.iter().zip(&inv.hosts) {
            // The same initial cluster and token everywhere.
            prop_assert_eq!(&env["ETCD_INITIAL_CLUSTER"], first);
            prop_assert_eq!(&env["ETCD_INITIAL_CLUSTER_TOKEN"], &envs[0]["ETCD_INITIAL_CLUSTER_TOKEN"]);
            // The member's own name and peer URL are its entry in the initial cluster.
            let name = &env["ETCD_NAME"];
            prop_assert_eq!(name, &host.name);
            let own = entries.iter().find(|(k, _)| k == name).unwrap().1;
            prop_assert_eq!(&env["ETCD_INITIAL_ADVERTISE_PEER_URLS"], own);
            prop_assert_eq!(&env["ETCD_LISTEN_PEER_URLS"], own);
            let addr = host.address.to_string();
            prop_assert_eq!(own, format!("https://{addr}:2380"));
            prop_assert_eq!(&env["ETCD_ADVERTISE_CLIENT_URLS"], &format!("https://{addr}:2379"));
            let client = format!("https://{addr}:2379");
            prop_assert!(env["ETCD_LISTEN_CLIENT_URLS"].split(',').any(|u| u == client));
        }
        // The unit names the env file every member's env is written to.
        let unit = render_unit(&inv);
        let env_file = format!("EnvironmentFile={}", Layout::new(&inv.paths).env_file.display());
        prop_assert!(unit.contains(&env_file));
    }

    #[test]
    fn rendering_is_deterministic((names, octets) in members_strategy()) {
        let inv = with_members(&names, &octets);
        for n in &names {
            prop_assert_eq!(
                render_env(&inv, n, ClusterState::New).unwrap(),
                render_env(&inv, n, ClusterState::New).unwrap()
            );
        }
    }
}
