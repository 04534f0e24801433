//! The whole cluster's node side as one plan: the runtime on every node, then the pod
//! network on every master and node (the daemonless routes, or in flannel mode what
//! flannel's own plan does not do).

use crate::Error;
use crate::adjust::Adjustment;
use crate::bundle::RuntimeBundle;
use crate::facts::RuntimeFacts;
use crate::network::{NetworkOptions, network_hosts, plan_flannel_mode, plan_pod_network};
use crate::runtime::plan_runtime;
use inventory::{Inventory, PodNetwork, Role};
use plan::{HostSteps, Phase, Plan};
use std::collections::{BTreeMap, BTreeSet};

/// The plan and every host's adjustments.
#[derive(Debug, Clone, PartialEq)]
pub struct NodesPlan {
    /// Phase `runtime: install` (nodes), then `pod network: routes` or `pod network:
    /// flannel` (masters and nodes); in flannel mode the caller adds flannel's own phase.
    pub plan: Plan,
    /// Each host's adjustments, runtime's first.
    pub adjustments: BTreeMap<String, Vec<Adjustment>>,
}

/// The node side for the whole inventory, for its `network.pod_network`. Every master
/// and node needs its facts in `facts`.
pub fn plan_nodes(
    inv: &Inventory,
    facts: &BTreeMap<String, RuntimeFacts>,
    bundle: &RuntimeBundle,
    options: &NetworkOptions,
) -> Result<NodesPlan, Error> {
    plan_nodes_except(inv, facts, bundle, options, &BTreeSet::new())
}

/// [`plan_nodes`] without the hosts in `left_out` (a deploy going on without hosts it
/// cannot reach): they need no facts and get no steps, and the others' plans still
/// reach them (each node's routes to every pod subnet).
pub fn plan_nodes_except(
    inv: &Inventory,
    facts: &BTreeMap<String, RuntimeFacts>,
    bundle: &RuntimeBundle,
    options: &NetworkOptions,
    left_out: &BTreeSet<String>,
) -> Result<NodesPlan, Error> {
    let facts_of = |host: &str| {
        facts.get(host).ok_or_else(|| Error::MissingFact {
            host: host.to_string(),
            fact: "runtime facts",
            why: "the runtime and the pod network are chosen for each host's facts",
        })
    };
    let mut adjustments: BTreeMap<String, Vec<Adjustment>> = BTreeMap::new();
    let mut runtime = Vec::new();
    for h in inv
        .with_role(Role::Node)
        .filter(|h| !left_out.contains(&h.name))
    {
        let p = plan_runtime(inv, &h.name, facts_of(&h.name)?, bundle)?;
        adjustments
            .entry(h.name.clone())
            .or_default()
            .extend(p.adjustments);
        runtime.push(HostSteps {
            host: h.name.clone(),
            steps: p.steps,
        });
    }
    let mut network = Vec::new();
    for h in network_hosts(inv).filter(|h| !left_out.contains(&h.name)) {
        let p = match inv.network.pod_network {
            PodNetwork::Routes => {
                plan_pod_network(inv, &h.name, facts_of(&h.name)?, bundle, options)?
            }
            PodNetwork::Flannel => plan_flannel_mode(inv, &h.name, bundle)?,
        };
        adjustments
            .entry(h.name.clone())
            .or_default()
            .extend(p.adjustments);
        network.push(HostSteps {
            host: h.name.clone(),
            steps: p.steps,
        });
    }
    Ok(NodesPlan {
        plan: Plan {
            phases: vec![
                Phase {
                    name: "runtime: install".into(),
                    hosts: runtime,
                },
                Phase {
                    name: format!("pod network: {}", inv.network.pod_network.as_str()),
                    hosts: network,
                },
            ],
        },
        adjustments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::tests::lab_bundle;
    use crate::network::tests::nspawn;
    use crate::tests::inv;

    fn lab() -> Inventory {
        inv(&[
            ("roles: [master, etcd]", "roles: [master, etcd, node]"),
            ("pod_network: flannel", "pod_network: routes"),
        ])
    }

    fn flannel() -> Inventory {
        inv(&[("roles: [master, etcd]", "roles: [master, etcd, node]")])
    }

    #[test]
    fn flannel_mode_leaves_the_routes_to_flannel() {
        let i = flannel();
        let mut bundle = lab_bundle();
        let err = plan_nodes(&i, &all_facts(&i), &bundle, &NetworkOptions::default()).unwrap_err();
        insta::assert_snapshot!(err.to_string());
        bundle.cni_plugins.insert(
            crate::bundle::FLANNEL_CNI.into(),
            crate::Blob(b"\x7fELF flannel".into()),
        );
        let p = plan_nodes(&i, &all_facts(&i), &bundle, &NetworkOptions::default()).unwrap();
        assert_eq!(p.plan.phases[1].name, "pod network: flannel");
        let steps: Vec<String> = p.plan.phases[1].hosts[0]
            .steps
            .iter()
            .map(|s| serde_json::to_string_pretty(s).unwrap())
            .collect();
        insta::assert_snapshot!(steps.join("\n"));
        // The flannel plugin goes to /opt/cni/bin with the others.
        let runtime = serde_json::to_string(&p.plan.phases[0]).unwrap();
        assert!(runtime.contains("/opt/cni/bin/flannel"), "{runtime}");
    }

    fn all_facts(inv: &Inventory) -> BTreeMap<String, RuntimeFacts> {
        inv.hosts
            .iter()
            .map(|h| (h.name.clone(), nspawn()))
            .collect()
    }

    #[test]
    fn the_lab_cluster_in_two_phases() {
        let i = lab();
        let p = plan_nodes(
            &i,
            &all_facts(&i),
            &lab_bundle(),
            &NetworkOptions::default(),
        )
        .unwrap();
        let shape: Vec<(String, Vec<String>)> = p
            .plan
            .phases
            .iter()
            .map(|ph| {
                (
                    ph.name.clone(),
                    ph.hosts.iter().map(|h| h.host.clone()).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (
                    "runtime: install".to_string(),
                    vec![
                        "k8s-master1".to_string(),
                        "k8s-node1".into(),
                        "k8s-node2".into()
                    ]
                ),
                (
                    "pod network: routes".to_string(),
                    vec![
                        "k8s-master1".to_string(),
                        "k8s-node1".into(),
                        "k8s-node2".into()
                    ]
                ),
            ]
        );
        let printed: Vec<String> = p.adjustments["k8s-node1"]
            .iter()
            .map(|a| a.to_string())
            .collect();
        insta::assert_snapshot!(printed.join("\n"));
        // The plan's JSON never carries file contents (binaries, archives).
        let json = serde_json::to_string(&p.plan).unwrap();
        assert!(!json.contains("ELF"), "{json}");
    }

    #[test]
    fn a_host_without_facts_is_named() {
        let i = lab();
        let mut facts = all_facts(&i);
        facts.remove("k8s-node2");
        let err = plan_nodes(&i, &facts, &lab_bundle(), &NetworkOptions::default()).unwrap_err();
        assert!(
            matches!(&err, Error::MissingFact { host, .. } if host == "k8s-node2"),
            "{err:?}"
        );
    }

    #[test]
    fn a_host_left_out_needs_no_facts_and_the_others_plans_stay_as_they_are() {
        let i = lab();
        let bundle = lab_bundle();
        let all = plan_nodes(&i, &all_facts(&i), &bundle, &NetworkOptions::default()).unwrap();
        let mut facts = all_facts(&i);
        facts.remove("k8s-node2");
        let left_out = BTreeSet::from(["k8s-node2".to_string()]);
        let p =
            plan_nodes_except(&i, &facts, &bundle, &NetworkOptions::default(), &left_out).unwrap();
        for (with, without) in all.plan.phases.iter().zip(&p.plan.phases) {
            let kept: Vec<&HostSteps> = with
                .hosts
                .iter()
                .filter(|h| h.host != "k8s-node2")
                .collect();
            assert_eq!(kept, without.hosts.iter().collect::<Vec<_>>());
        }
        assert!(
            p.plan
                .phases
                .iter()
                .all(|ph| ph.hosts.iter().all(|h| h.host != "k8s-node2"))
        );
    }
}
