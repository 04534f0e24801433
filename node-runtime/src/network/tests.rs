//! The pod network's files as snapshots, their round trips, and the routing promises as
//! properties.

use super::*;
use crate::bundle::tests::lab_bundle;
use crate::cni::ConfList;
use crate::tests::inv;
use plan::CommandSpec;
use proptest::prelude::*;

/// The lab's topology: the master runs a kubelet too.
fn lab() -> Inventory {
    inv(&[("roles: [master, etcd]", "roles: [master, etcd, node]")])
}

/// An nspawn machine of the lab: overlay root, no CAP_SYS_RESOURCE, no default route.
pub(crate) fn nspawn() -> RuntimeFacts {
    RuntimeFacts {
        containerd_fs: "overlayfs".into(),
        can_lower_oom_score: false,
        container: Some("systemd-nspawn".into()),
        ipvs: false,
        interface: Some("host0".into()),
        default_route: false,
    }
}

fn plan_for(inv: &Inventory, host: &str, facts: &RuntimeFacts) -> HostPlan {
    plan_pod_network(inv, host, facts, &lab_bundle(), &NetworkOptions::default()).unwrap()
}

fn file<'a>(p: &'a HostPlan, path: &str) -> Option<&'a str> {
    p.steps.iter().find_map(|s| match s {
        Step::File(f) if f.path == std::path::Path::new(path) => {
            Some(std::str::from_utf8(&f.content).unwrap())
        }
        _ => None,
    })
}

fn commands(p: &HostPlan) -> Vec<&CommandSpec> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::Command(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// `(subnet, gateway)` of every `ip route replace S via G` command.
fn via_routes(p: &HostPlan) -> Vec<(String, String)> {
    commands(p)
        .iter()
        .filter_map(|c| {
            let rest = c.command.strip_prefix("ip route replace ")?;
            let (subnet, gw) = rest.split_once(" via ")?;
            Some((subnet.to_string(), gw.to_string()))
        })
        .collect()
}

#[test]
fn conflist_and_its_round_trip() {
    let p = plan_for(&lab(), "k8s-node1", &nspawn());
    let text = file(&p, CNI_CONFLIST).unwrap();
    insta::assert_snapshot!(text);
    let parsed: ConfList = serde_json::from_str(text).unwrap();
    assert_eq!(parsed, conflist("172.17.65.0/24".parse().unwrap(), true));
    // Untyped, with the keys the CNI plugins read.
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["cniVersion"], "0.4.0");
    assert_eq!(v["plugins"][0]["type"], "bridge");
    assert_eq!(v["plugins"][0]["ipam"]["type"], "host-local");
    assert_eq!(
        v["plugins"][0]["ipam"]["ranges"][0][0]["subnet"],
        "172.17.65.0/24"
    );
    assert_eq!(v["plugins"][0]["isDefaultGateway"], true);
    assert_eq!(v["plugins"][1]["type"], "portmap");
}

#[test]
fn without_portmap_the_conflist_says_so() {
    let mut bundle = lab_bundle();
    bundle.cni_plugins.remove("portmap");
    let p = plan_pod_network(
        &lab(),
        "k8s-node1",
        &nspawn(),
        &bundle,
        &NetworkOptions::default(),
    )
    .unwrap();
    let parsed: ConfList = serde_json::from_str(file(&p, CNI_CONFLIST).unwrap()).unwrap();
    assert_eq!(parsed.plugins.len(), 1);
    assert!(
        p.adjustments
            .iter()
            .any(|a| a.what == "no portmap in the conflist")
    );
}

#[test]
fn routes_script_and_unit_on_a_lab_node() {
    let i = lab();
    let p = plan_for(&i, "k8s-node1", &nspawn());
    insta::assert_snapshot!(
        "routes_script_lab_node1",
        file(&p, "/opt/kubernetes/bin/kubin-pod-routes").unwrap()
    );
    insta::assert_snapshot!(
        "routes_unit",
        file(&p, "/usr/lib/systemd/system/kubin-pod-routes.service").unwrap()
    );
    let adjustments: Vec<String> = p.adjustments.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        adjustments,
        [
            "pod network: route 10.0.0.0/24 dev host0 (the host has no default route: a connection to a ClusterIP would fail before kube-proxy's DNAT)"
        ]
    );
    let Some(Step::Unit(u)) = p.steps.last() else {
        panic!("the unit comes last")
    };
    assert_eq!(u.name, ROUTES_UNIT);
    assert_eq!(u.restart_on.len(), 2);
}

#[test]
fn every_step_of_a_node_as_json() {
    let p = plan_for(&lab(), "k8s-node2", &nspawn());
    insta::assert_json_snapshot!(p.steps);
}

#[test]
fn a_master_routes_but_has_no_pods() {
    // The guides' master runs no kubelet: routes to both nodes, nothing else.
    let i = inv(&[]);
    let p = plan_for(&i, "k8s-master1", &nspawn());
    assert_eq!(file(&p, CNI_CONFLIST), None);
    assert_eq!(
        via_routes(&p),
        [
            ("172.17.65.0/24".to_string(), "192.168.31.65".to_string()),
            ("172.17.66.0/24".to_string(), "192.168.31.66".to_string())
        ]
    );
    assert!(!commands(&p).iter().any(|c| c.command.contains("iptables")));
    assert!(!commands(&p).iter().any(|c| c.command.contains(" dev ")));
    assert!(p.adjustments.is_empty());
}

#[test]
fn the_service_route_follows_the_option_and_the_facts() {
    let i = lab();
    let bundle = lab_bundle();
    let has_service_route = |facts: &RuntimeFacts, service_route| {
        let options = NetworkOptions {
            service_route,
            masquerade: true,
        };
        plan_pod_network(&i, "k8s-node1", facts, &bundle, &options)
            .unwrap()
            .steps
            .iter()
            .any(|s| matches!(s, Step::Command(c) if c.command == "ip route replace 10.0.0.0/24 dev host0"))
    };
    let routed = RuntimeFacts {
        default_route: true,
        ..nspawn()
    };
    assert!(has_service_route(
        &nspawn(),
        ServiceRoute::WithoutDefaultRoute
    ));
    assert!(!has_service_route(
        &routed,
        ServiceRoute::WithoutDefaultRoute
    ));
    assert!(has_service_route(&routed, ServiceRoute::Always));
    assert!(!has_service_route(&nspawn(), ServiceRoute::Never));
    let no_interface = RuntimeFacts {
        interface: None,
        ..nspawn()
    };
    let err = plan_pod_network(
        &i,
        "k8s-node1",
        &no_interface,
        &bundle,
        &NetworkOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::MissingFact { ref host, fact: "interface", .. } if host == "k8s-node1"),
        "{err:?}"
    );
}

#[test]
fn a_removed_node_loses_its_route_everywhere() {
    let three = lab();
    let two = inv(&[
        ("roles: [master, etcd]", "roles: [master, etcd, node]"),
        (
            "  - name: k8s-node2\n    address: 192.168.31.66\n    roles: [node, etcd]\n",
            "",
        ),
    ]);
    let before = plan_for(&three, "k8s-master1", &nspawn());
    let after = plan_for(&two, "k8s-master1", &nspawn());
    assert!(
        via_routes(&before)
            .iter()
            .any(|(s, _)| s == "172.17.66.0/24")
    );
    assert!(
        !via_routes(&after)
            .iter()
            .any(|(s, _)| s == "172.17.66.0/24")
    );
    // The other node kept its subnet, and the prune keeps only that one.
    assert_eq!(
        via_routes(&after),
        [("172.17.65.0/24".to_string(), "192.168.31.65".to_string())]
    );
    let prune = commands(&after)
        .into_iter()
        .find(|c| c.command.starts_with("for r in"))
        .unwrap();
    assert_eq!(
        prune.command,
        "for r in $(ip -4 route show root 172.17.0.0/16 | awk '/ via / && $1 != \"172.17.65.0/24\" {print $1}'); do ip route del \"$r\"; done"
    );
}

#[test]
fn hosts_outside_the_network_are_refused() {
    let i = inv(&[]);
    let err = plan_pod_network(
        &i,
        "nobody",
        &nspawn(),
        &lab_bundle(),
        &NetworkOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"nobody\" is not a master or node in the inventory"
    );
}

/// An inventory of `roles.len()` hosts at 192.168.31.10+i, with the given roles.
fn inventory_of(roles: &[(bool, bool)]) -> Inventory {
    let mut hosts = String::new();
    for (i, (master, node)) in roles.iter().enumerate() {
        let mut r = vec!["etcd"];
        if *master || i == 0 {
            r.push("master");
        }
        if *node {
            r.push("node");
        }
        hosts.push_str(&format!(
            "  - name: h{i}\n    address: 192.168.31.{}\n    roles: [{}]\n",
            10 + i,
            r.join(", ")
        ));
    }
    let text = inventory::example::GUIDES_EXAMPLE;
    let start = text.find("  - name: k8s-master1").unwrap();
    let yaml = format!("{}{hosts}", &text[..start]);
    Inventory::from_yaml(&yaml, "test")
        .expect("valid inventory")
        .0
}

proptest! {
    #[test]
    fn every_other_node_is_routed_exactly_once_on_each_host(
        roles in prop::collection::vec((any::<bool>(), any::<bool>()), 1..8)
    ) {
        let i = inventory_of(&roles);
        let subnets = pod_subnets(&i).unwrap();
        for h in network_hosts(&i) {
            let p = plan_for(&i, &h.name, &nspawn());
            let routes = via_routes(&p);
            for n in &subnets {
                let count = routes.iter().filter(|(s, _)| *s == n.subnet.to_string()).count();
                if n.host == h.name {
                    prop_assert_eq!(count, 0, "{} routes its own subnet", h.name);
                } else {
                    prop_assert_eq!(count, 1, "{} routes {} {} times", h.name, n.subnet, count);
                    prop_assert!(routes.contains(&(n.subnet.to_string(), n.address.to_string())));
                }
            }
            prop_assert_eq!(routes.len(), subnets.len() - usize::from(h.has(Role::Node)));
            // The script repeats the commands, each exactly once.
            let script = file(&p, "/opt/kubernetes/bin/kubin-pod-routes").unwrap();
            for c in commands(&p).iter().filter(|c| !c.command.contains(CNI_CONF_DIR)) {
                prop_assert_eq!(script.matches(c.command.as_str()).count(), 1);
            }
        }
    }
}
