//! Properties of the pure core: what flannel may lease stays inside the network and out of
//! the service range; every config survives render-then-parse.

use flannel_net::netconf::{
    Backend, HostGwOptions, NetConf, UdpOptions, VxlanOptions, WireguardMode, WireguardOptions,
};
use flannel_net::{Error, Problem, check, flannel_rules};
use inventory::Inventory;
use inventory::example::GUIDES_EXAMPLE;
use ipnet::Ipv4Net;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::net::Ipv4Addr;

fn net(addr: u32, prefix: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(addr), prefix).unwrap().trunc()
}

/// A network, a subnet length flannel may accept (or none), and optional bounds.
fn conf() -> impl Strategy<Value = NetConf> {
    (any::<u32>(), 8u8..=28)
        .prop_flat_map(|(addr, prefix)| {
            let network = net(addr, prefix);
            (
                Just(network),
                proptest::option::of((prefix + 2)..=30u8),
                any::<u32>(),
                any::<u32>(),
                any::<bool>(),
            )
        })
        .prop_map(|(network, len, a, b, bounded)| {
            let mut c = NetConf {
                network: Some(network),
                subnet_len: len,
                backend: Some(Backend::Vxlan(VxlanOptions::default())),
                ..NetConf::default()
            };
            if bounded {
                // Two aligned subnets inside the network, as bounds.
                let l = len.unwrap_or(24).max(network.prefix_len() + 2);
                let span = 1u64 << (32 - network.prefix_len());
                let pick = |x: u32| {
                    let offset = (u64::from(x) % span) as u32;
                    let inside = Ipv4Addr::from(u32::from(network.network()) + offset);
                    Ipv4Net::new(inside, l).unwrap().network()
                };
                let (lo, hi) = (pick(a).min(pick(b)), pick(a).max(pick(b)));
                c.subnet_min = Some(lo);
                c.subnet_max = Some(hi);
            }
            c
        })
}

fn backend() -> impl Strategy<Value = Option<Backend>> {
    prop_oneof![
        Just(None),
        (
            proptest::option::of(1u32..16_777_215),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(vni, port, gbp, learning, direct_routing)| Some(Backend::Vxlan(VxlanOptions {
                    vni,
                    port,
                    gbp,
                    learning,
                    direct_routing
                }))
            ),
        Just(Some(Backend::HostGw(HostGwOptions {}))),
        proptest::option::of(any::<u16>()).prop_map(|port| Some(Backend::Udp(UdpOptions { port }))),
        (
            proptest::option::of("[A-Za-z0-9+/]{43}="),
            proptest::option::of(any::<u16>()),
            proptest::option::of(any::<u16>()),
            proptest::option::of(0u64..3600),
            proptest::option::of(prop_oneof![
                Just(WireguardMode::Separate),
                Just(WireguardMode::Auto),
                Just(WireguardMode::Ipv4),
                Just(WireguardMode::Ipv6)
            ]),
        )
            .prop_map(|(psk, listen_port, listen_port_v6, keepalive, mode)| Some(
                Backend::Wireguard(WireguardOptions {
                    psk,
                    listen_port,
                    listen_port_v6,
                    persistent_keepalive_interval: keepalive,
                    mode
                })
            )),
    ]
}

/// The guides' inventory with `services` as its service range, set after validation: the
/// inventory refuses a service range that overlaps its pod range, and flannel's own check
/// must refuse it too (the inventory's pod range need not be flannel's `Network`).
fn inventory_with_services(services: Ipv4Net) -> Inventory {
    let (mut inv, _) = Inventory::from_yaml(GUIDES_EXAMPLE, "prop").unwrap();
    inv.kubernetes.service_cidr = services;
    inv
}

fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b) || b.contains(&a)
}

/// A config and a service range: half of the ranges are random (and rarely overlap the
/// network), half overlap it by construction, as a supernet or a subnet of it.
fn conf_and_services() -> impl Strategy<Value = (NetConf, Ipv4Net)> {
    conf().prop_flat_map(|c| {
        let pods = c.network.unwrap();
        let base = u32::from(pods.network());
        let span = 1u64 << (32 - pods.prefix_len());
        let random = (any::<u32>(), 12u8..=28)
            .prop_map(|(a, p)| net(a, p))
            .boxed();
        let supernet = (0u8..=pods.prefix_len())
            .prop_map(move |p| net(base, p))
            .boxed();
        let subnet = (any::<u32>(), pods.prefix_len()..=30)
            .prop_map(move |(x, p)| net(base + (u64::from(x) % span) as u32, p))
            .boxed();
        (
            Just(c),
            prop_oneof![2 => random, 1 => supernet, 1 => subnet],
        )
    })
}

#[test]
fn the_generated_cases_include_overlapping_ranges() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = conf_and_services();
    let cases = 256;
    let overlapping = (0..cases)
        .filter(|_| {
            let (c, services) = strategy.new_tree(&mut runner).unwrap().current();
            overlaps(c.network.unwrap(), services)
        })
        .count();
    assert!(
        overlapping >= cases / 4,
        "only {overlapping} of {cases} cases overlap: the property would rarely reach OverlapsServices"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_leasable_subnet_is_inside_the_network(c in conf()) {
        if let Ok(e) = flannel_rules(&c) {
            let network = c.network.unwrap();
            let mut n = 0u64;
            for s in e.leasable().take(4096) {
                prop_assert!(network.contains(&s), "{s} outside {network}");
                prop_assert_eq!(s.prefix_len(), e.subnet_len);
                prop_assert!(s.network() != network.network() || c.subnet_min.is_some());
                n += 1;
            }
            if e.count() <= 4096 {
                prop_assert_eq!(n, e.count());
            }
            // The last one too, without walking millions.
            let last = Ipv4Net::new(e.subnet_max, e.subnet_len).unwrap();
            prop_assert!(network.contains(&last));
        }
    }

    #[test]
    fn checked_configs_never_lease_into_the_service_range((c, services) in conf_and_services()) {
        let pods = c.network.unwrap();
        let inv = inventory_with_services(services);
        let overlap = overlaps(pods, services);
        match check(&c, &inv) {
            Ok(e) => {
                prop_assert!(!overlap, "{pods} overlaps {services} but was accepted");
                for s in e.leasable().take(4096) {
                    prop_assert!(!overlaps(s, services), "{s} overlaps {services}");
                }
                let last = Ipv4Net::new(e.subnet_max, e.subnet_len).unwrap();
                prop_assert!(!overlaps(last, services));
            }
            Err(Error::Invalid { problems }) => {
                prop_assert!(!problems.is_empty());
                let reported = problems.iter().any(|p| {
                    matches!(p, Problem::OverlapsServices { network, services: s }
                        if *network == pods && *s == services)
                });
                prop_assert_eq!(reported, overlap, "{:?}", problems);
            }
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    #[test]
    fn render_then_parse_round_trips(mut c in conf(), b in backend(), v4 in proptest::option::of(any::<bool>())) {
        c.backend = b;
        c.enable_ipv4 = v4;
        let compact = NetConf::parse(&c.to_json(), "compact").unwrap();
        prop_assert_eq!(&compact, &c);
        let pretty = NetConf::parse(&c.to_json_pretty(), "pretty").unwrap();
        prop_assert_eq!(&pretty, &c);
        // Absent options are omitted, never null.
        prop_assert!(!c.to_json().contains("null"));
    }
}
