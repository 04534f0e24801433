//! The subnet rule: examples, and its promises as properties.

use super::*;
use proptest::prelude::*;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

fn nodes(list: &[(&str, &str)]) -> Vec<(String, Ipv4Addr)> {
    list.iter()
        .map(|(n, a)| (n.to_string(), a.parse().unwrap()))
        .collect()
}

#[track_caller]
fn check(pods: &str, services: &str, len: u8, list: &[(&str, &str)], expected: &[(&str, &str)]) {
    let got = assign(net(pods), net(services), len, &nodes(list)).unwrap();
    let got: Vec<(String, String)> = got
        .iter()
        .map(|n| (n.host.clone(), n.subnet.to_string()))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(h, s)| (h.to_string(), s.to_string()))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn the_address_names_the_subnet() {
    check(
        "172.17.0.0/16",
        "10.0.0.0/24",
        24,
        &[
            ("k8s-node1", "192.168.31.65"),
            ("k8s-node2", "192.168.31.66"),
        ],
        &[
            ("k8s-node1", "172.17.65.0/24"),
            ("k8s-node2", "172.17.66.0/24"),
        ],
    );
    // /25 subnets of a /22: eight subnets, the address modulo 8.
    check(
        "10.244.0.0/22",
        "10.0.0.0/24",
        25,
        &[("a", "192.168.1.10"), ("b", "192.168.1.13")],
        &[("a", "10.244.1.0/25"), ("b", "10.244.2.128/25")],
    );
}

#[test]
fn a_collision_moves_the_later_node_and_says_why() {
    let got = assign(
        net("10.244.0.0/22"),
        net("10.0.0.0/24"),
        24,
        &nodes(&[
            ("a", "192.168.1.5"),
            ("b", "192.168.1.9"),
            ("c", "192.168.1.6"),
        ]),
    )
    .unwrap();
    // a: 5 % 4 = 1; b: 9 % 4 = 1, taken, so 2; c: 6 % 4 = 2, taken, so 3.
    let subnets: Vec<String> = got.iter().map(|n| n.subnet.to_string()).collect();
    assert_eq!(subnets, ["10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"]);
    assert_eq!(got[0].displaced_by, None);
    assert_eq!(got[1].displaced_by.as_deref(), Some("a"));
    assert_eq!(got[1].preferred.to_string(), "10.244.1.0/24");
    assert_eq!(got[2].displaced_by.as_deref(), Some("b"));
}

#[test]
fn the_service_range_is_skipped() {
    // The inventory refuses overlapping ranges; the rule stays safe without that check.
    let got = assign(
        net("10.0.0.0/16"),
        net("10.0.4.0/23"),
        24,
        &nodes(&[("a", "192.168.1.4"), ("b", "192.168.1.5")]),
    )
    .unwrap();
    assert_eq!(got[0].subnet.to_string(), "10.0.6.0/24");
    assert_eq!(
        got[0].displaced_by.as_deref(),
        Some("the service range 10.0.4.0/23")
    );
    assert_eq!(got[1].subnet.to_string(), "10.0.7.0/24");
}

#[test]
fn too_many_nodes_and_bad_lengths_are_refused() {
    let four = nodes(&[
        ("a", "10.1.0.1"),
        ("b", "10.1.0.2"),
        ("c", "10.1.0.3"),
        ("d", "10.1.0.4"),
        ("e", "10.1.0.5"),
    ]);
    let err = assign(net("10.244.0.0/22"), net("10.0.0.0/24"), 24, &four).unwrap_err();
    assert!(
        matches!(
            err,
            Error::PodRangeFull {
                free: 4,
                nodes: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the pod range 10.244.0.0/22 has 4 free /24 subnets for 5 nodes; use a larger pod range or a longer network.flannel.subnet_len"
    );
    assert!(matches!(
        assign(net("10.244.0.0/16"), net("10.0.0.0/24"), 31, &four),
        Err(Error::SubnetLen { subnet_len: 31, .. })
    ));
}

#[test]
fn the_inventory_default_is_slash_24_like_flannel() {
    let inv = crate::tests::inv(&[]);
    assert_eq!(subnet_len(&inv), 24);
    let got = pod_subnets(&inv).unwrap();
    let hosts: Vec<(&str, String)> = got
        .iter()
        .map(|n| (n.host.as_str(), n.subnet.to_string()))
        .collect();
    // The guides' masters run no kubelet: only nodes get subnets.
    assert_eq!(
        hosts,
        [
            ("k8s-node1", "172.17.65.0/24".to_string()),
            ("k8s-node2", "172.17.66.0/24".to_string())
        ]
    );
}

fn arb_case() -> impl Strategy<Value = (Ipv4Net, Ipv4Net, u8, Vec<(String, Ipv4Addr)>)> {
    (8u8..=24, 0u8..=8, any::<u32>(), any::<u32>(), 8u8..=28).prop_flat_map(
        |(pod_prefix, extra, pod_bits, svc_bits, svc_prefix)| {
            let len = (pod_prefix + extra).min(30);
            let pods = Ipv4Net::new(Ipv4Addr::from(pod_bits), pod_prefix)
                .unwrap()
                .trunc();
            let services = Ipv4Net::new(Ipv4Addr::from(svc_bits), svc_prefix)
                .unwrap()
                .trunc();
            let count = 1usize << (len - pod_prefix);
            let max = count.min(12);
            (
                Just(pods),
                Just(services),
                Just(len),
                prop::collection::vec(any::<u32>(), 0..=max).prop_map(|addrs| {
                    addrs
                        .into_iter()
                        .enumerate()
                        .map(|(i, a)| (format!("n{i}"), Ipv4Addr::from(a)))
                        .collect()
                }),
            )
        },
    )
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

proptest! {
    #[test]
    fn subnets_are_inside_disjoint_and_clear_of_services(
        (pods, services, len, list) in arb_case()
    ) {
        match assign(pods, services, len, &list) {
            Ok(got) => {
                prop_assert_eq!(got.len(), list.len());
                for (i, n) in got.iter().enumerate() {
                    prop_assert!(pods.contains(&n.subnet), "{} outside {}", n.subnet, pods);
                    prop_assert_eq!(n.subnet.prefix_len(), len);
                    prop_assert!(!overlaps(n.subnet, services), "{} overlaps {}", n.subnet, services);
                    for m in &got[i + 1..] {
                        prop_assert!(!overlaps(n.subnet, m.subnet), "{} and {}", n.subnet, m.subnet);
                    }
                    prop_assert_eq!(n.displaced_by.is_none(), n.subnet == n.preferred);
                }
            }
            // Only a full range is refused, and only when it truly is.
            Err(Error::PodRangeFull { free, nodes, .. }) => prop_assert!(free < nodes as u64),
            Err(e) => prop_assert!(false, "{}", e),
        }
    }

    #[test]
    fn appending_a_node_moves_no_other(
        (pods, services, len, list) in arb_case(), extra in any::<u32>()
    ) {
        let Ok(before) = assign(pods, services, len, &list) else { return Ok(()) };
        let mut longer = list.clone();
        longer.push(("new".into(), Ipv4Addr::from(extra)));
        if let Ok(after) = assign(pods, services, len, &longer) {
            prop_assert_eq!(&after[..before.len()], &before[..]);
        }
    }

    #[test]
    fn removing_a_node_moves_none_that_has_its_own_subnet(
        (pods, services, len, list) in arb_case(), pick in any::<prop::sample::Index>()
    ) {
        prop_assume!(!list.is_empty());
        let Ok(before) = assign(pods, services, len, &list) else { return Ok(()) };
        let gone = pick.index(list.len());
        let mut shorter = list.clone();
        shorter.remove(gone);
        let after = assign(pods, services, len, &shorter).unwrap();
        for n in before.iter().filter(|n| n.displaced_by.is_none() && n.host != list[gone].0) {
            let now = after.iter().find(|m| m.host == n.host).unwrap();
            prop_assert_eq!(now.subnet, n.subnet, "{} moved", n.host);
        }
    }
}
