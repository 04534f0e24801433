//! The whole cluster's node side as one plan: the runtime on every node, then the pod
//! network on every master and node.

use crate::adjust::Adjustment;
use crate::bundle::RuntimeBundle;
use crate::facts::RuntimeFacts;
use crate::network::{NetworkOptions, network_hosts, plan_pod_network};
use crate::runtime::plan_runtime;
use crate::Error;
use inventory::{Inventory, Role};
use plan::{HostSteps, Phase, Plan};
use std::collections::BTreeMap;

/// The plan and every host's adjustments.
#[derive(Debug, Clone, PartialEq)]
pub struct NodesPlan {
    /// Phase `runtime: install` (nodes), then `pod network: routes` (masters and nodes).
    pub plan: Plan,
    /// Each host's adjustments, runtime's first.
    pub adjustments: BTreeMap<String, Vec<Adjustment>>,
}

/// The node side for the whole inventory. Every master and node needs its facts in
/// `facts`.
pub fn plan_nodes(
    inv: &Inventory,
    facts: &BTreeMap<String, RuntimeFacts>,
    bundle: &RuntimeBundle,
    options: &NetworkOptions,
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
    for h in inv.with_role(Role::Node) {
        let p = plan_runtime(inv, &h.name, facts_of(&h.name)?, bundle)?;
        adjustments.entry(h.name.clone()).or_default().extend(p.adjustments);
        runtime.push(HostSteps {
            host: h.name.clone(),
            steps: p.steps,
        });
    }
    let mut network = Vec::new();
    for h in network_hosts(inv) {
        let p = plan_pod_network(inv, &h.name, facts_of(&h.name)?, bundle, options)?;
        adjustments.entry(h.name.clone()).or_default().extend(p.adjustments);
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
                    name: "pod network: routes".into(),
                    hosts: network,
                },
            ],
        },
        adjustments,
    })
}
