//! The daemonless pod network on one host (hosts on one L2 segment): the node's CNI
//! conflist, routes to every other node's pod subnet through that node, and a boot unit
//! that restores them. Flannel does the same with a daemon and leases; this needs neither.

use crate::Error;
use crate::adjust::{Adjustment, Target};
use crate::bundle::{FLANNEL_CNI, RuntimeBundle};
use crate::cni::{conflist, render_conflist};
use crate::facts::RuntimeFacts;
use crate::layout::{CNI_CONF_DIR, CNI_CONFLIST, FLANNEL_CONFLIST, ROUTES_SCRIPT, ROUTES_UNIT};
use crate::routes::{self, Route};
use crate::runtime::HostPlan;
use crate::subnets::{NodeSubnet, pod_subnets};
use inventory::{Host, Inventory, Role};
use plan::{CommandSpec, DirSpec, FileSpec, Step, UnitSpec};
use std::net::IpAddr;

/// When a node gets a route for the service range on its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ServiceRoute {
    /// Never.
    Never,
    /// On nodes without a default route (the lab's machines): there a connection to a
    /// ClusterIP fails with "network unreachable" before kube-proxy's DNAT sees it.
    #[default]
    WithoutDefaultRoute,
    /// On every node.
    Always,
}

/// Choices for the pod network beyond the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkOptions {
    /// The service-range route.
    pub service_route: ServiceRoute,
    /// Masquerade pod traffic leaving the pod range (needs `iptables` on the nodes, as
    /// kube-proxy does).
    pub masquerade: bool,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        Self {
            service_route: ServiceRoute::default(),
            masquerade: true,
        }
    }
}

/// The hosts that take part in the pod network: masters (the apiserver reaches pods) and
/// nodes, in file order.
pub fn network_hosts(inv: &Inventory) -> impl Iterator<Item = &Host> {
    inv.hosts
        .iter()
        .filter(|h| h.has(Role::Master) || h.has(Role::Node))
}

/// Removes the conflist kubin's flannel mode writes: containerd reads only the first
/// config of `conf_dir` in name order, and `10-flannel.conflist` sorts before kubin's.
pub fn remove_flannel_conflist() -> CommandSpec {
    CommandSpec::new(
        &format!("remove {FLANNEL_CONFLIST} (the daemonless pod network replaces flannel)"),
        &format!("rm -f {FLANNEL_CONFLIST}"),
        Some(&format!("test ! -e {FLANNEL_CONFLIST}")),
    )
}

/// Leaves the daemonless mode behind on a host switched to flannel, once: when the routes
/// unit is there, stops and removes it, its script and kubin's conflist, deletes the routes
/// through other nodes in the pod range and the masquerading rule (flanneld makes its
/// own).
pub fn leave_routes_mode(inv: &Inventory) -> CommandSpec {
    let script = inv.paths.kubernetes_bin.join(ROUTES_SCRIPT);
    let unit_file = inv.paths.systemd_units.join(ROUTES_UNIT);
    let pod_cidr = inv.network.pod_cidr.trunc();
    let prune = routes::prune_command(pod_cidr, &[]);
    CommandSpec::new(
        &format!(
            "remove the daemonless pod network ({ROUTES_UNIT}, {CNI_CONFLIST}, routes in {pod_cidr}): flannel replaces it"
        ),
        &format!(
            "systemctl disable --now {ROUTES_UNIT} 2>/dev/null || true; rm -f {unit} {script} {CNI_CONFLIST}; systemctl daemon-reload; {prune}; iptables -t nat -S POSTROUTING 2>/dev/null | grep -- '--comment kubin-pod-egress' | sed 's/^-A //' | while read -r r; do eval \"iptables -t nat -D $r\"; done",
            unit = plan::shell::quote_path(&unit_file),
            script = plan::shell::quote_path(&script),
            prune = prune.command,
        ),
        Some(&format!(
            "test ! -e {unit}",
            unit = plan::shell::quote_path(&unit_file)
        )),
    )
}

/// The pod network's steps in flannel mode on `host` (a master or node): flannel-net
/// plans flanneld and its conflist; this leaves the daemonless mode behind where it ran.
/// Refuses a bundle without the flannel CNI plugin.
pub fn plan_flannel_mode(
    inv: &Inventory,
    host: &str,
    bundle: &RuntimeBundle,
) -> Result<HostPlan, Error> {
    network_hosts(inv)
        .find(|h| h.name == host)
        .ok_or_else(|| Error::NotAHost {
            host: host.to_string(),
            wanted: "master or node",
        })?;
    if !bundle.has_cni(FLANNEL_CNI) {
        return Err(Error::Bundle {
            problems: vec![format!(
                "network.pod_network is flannel, and the CNI plugin {FLANNEL_CNI} is not beside the others: put it in the bundle's cni-plugins-linux-amd64-v*/{FLANNEL_CNI}, or set network.pod_network: routes (the daemonless mode, for hosts on one L2 segment)"
            )],
        });
    }
    Ok(HostPlan {
        steps: vec![Step::Command(leave_routes_mode(inv))],
        adjustments: Vec::new(),
    })
}

/// Fails, naming the file, when another CNI config sorts before kubin's conflist:
/// containerd would use that one (libcni sorts the file names bytewise).
pub fn conflist_is_first() -> CommandSpec {
    let first = format!(
        "ls -1 {CNI_CONF_DIR}/*.conf {CNI_CONF_DIR}/*.conflist {CNI_CONF_DIR}/*.json 2>/dev/null | LC_ALL=C sort | head -n 1"
    );
    CommandSpec::new(
        &format!("check that containerd uses {CNI_CONFLIST}"),
        &format!(
            "echo \"containerd would use $({first}) instead of {CNI_CONFLIST}: move that file out of {CNI_CONF_DIR}\" >&2; exit 1"
        ),
        Some(&format!("test \"$({first})\" = {CNI_CONFLIST}")),
    )
}

/// The pod network's steps on `host` (a master or node): on a node, its conflist and the
/// masquerading rule; on both, a route to every other node's subnet, the removal of routes
/// to nodes no longer in the inventory, the service route if chosen, and the boot unit.
pub fn plan_pod_network(
    inv: &Inventory,
    host: &str,
    facts: &RuntimeFacts,
    bundle: &RuntimeBundle,
    options: &NetworkOptions,
) -> Result<HostPlan, Error> {
    let h = network_hosts(inv)
        .find(|h| h.name == host)
        .ok_or_else(|| Error::NotAHost {
            host: host.to_string(),
            wanted: "master or node",
        })?;
    let address = match h.address {
        IpAddr::V4(a) => a,
        IpAddr::V6(address) => {
            return Err(Error::Ipv6Host {
                host: host.to_string(),
                address,
            });
        }
    };
    let portmap = bundle.has_cni("portmap");
    let subnets = pod_subnets(inv)?;
    let pod_cidr = inv.network.pod_cidr.trunc();
    let own: Option<&NodeSubnet> = subnets.iter().find(|n| n.host == host);
    let mut steps = Vec::new();
    let mut adjustments = Vec::new();
    let mut commands = Vec::new();
    if let Some(own) = own {
        if let Some(by) = &own.displaced_by {
            adjustments.push(Adjustment::new(
                Target::PodNetwork,
                format!("pod subnet {} instead of {}", own.subnet, own.preferred),
                format!(
                    "{} (which {} maps to) is taken by {by}; this subnet moves if a host before {host} in the inventory is removed or inserted",
                    own.preferred, own.address
                ),
            ));
        }
        steps.push(Step::Directory(DirSpec {
            path: CNI_CONF_DIR.into(),
            mode: 0o755,
        }));
        steps.push(Step::File(FileSpec::new(
            CNI_CONFLIST,
            render_conflist(&conflist(own.subnet, portmap)),
            0o644,
        )));
        steps.push(Step::Command(remove_flannel_conflist()));
        steps.push(Step::Command(conflist_is_first()));
        if !portmap {
            adjustments.push(Adjustment::new(
                Target::PodNetwork,
                "no portmap in the conflist",
                "the bundle has no portmap plugin: pods' hostPort does not work",
            ));
        }
    }
    let others: Vec<&NodeSubnet> = subnets.iter().filter(|n| n.host != host).collect();
    for n in &others {
        commands.push(routes::route_command(&Route::Via {
            subnet: n.subnet,
            gateway: n.address,
            node: n.host.clone(),
        }));
    }
    let keep: Vec<_> = others.iter().map(|n| n.subnet).collect();
    commands.push(routes::prune_command(pod_cidr, &keep));
    if let Some(own) = own {
        let wanted = match options.service_route {
            ServiceRoute::Never => false,
            ServiceRoute::WithoutDefaultRoute => !facts.default_route,
            ServiceRoute::Always => true,
        };
        if wanted {
            let dev = facts.interface.clone().ok_or_else(|| Error::MissingFact {
                host: host.to_string(),
                fact: "interface",
                why: "the service-range route goes on the interface holding the host's address",
            })?;
            let services = inv.kubernetes.service_cidr.trunc();
            commands.push(routes::route_command(&Route::OnLink {
                subnet: services,
                dev: dev.clone(),
            }));
            adjustments.push(Adjustment::new(
                Target::PodNetwork,
                format!("route {services} dev {dev}"),
                if facts.default_route {
                    "the service-range route was asked for on every node".to_string()
                } else {
                    "the host has no default route: a connection to a ClusterIP would fail before kube-proxy's DNAT".to_string()
                },
            ));
        }
        if options.masquerade {
            commands.push(routes::masquerade_command(own.subnet, pod_cidr));
        }
    }
    let script = inv.paths.kubernetes_bin.join(ROUTES_SCRIPT);
    let unit_file = inv.paths.systemd_units.join(ROUTES_UNIT);
    steps.extend(commands.iter().cloned().map(Step::Command));
    steps.push(Step::Directory(DirSpec {
        path: inv.paths.kubernetes_bin.clone(),
        mode: 0o755,
    }));
    steps.push(Step::File(FileSpec::new(
        &script,
        routes::render_script(host, address, &commands),
        0o755,
    )));
    steps.push(Step::File(FileSpec::new(
        &unit_file,
        routes::render_unit(&script),
        0o644,
    )));
    steps.push(Step::Unit(UnitSpec::running(
        ROUTES_UNIT,
        vec![script.clone(), unit_file],
    )));
    Ok(HostPlan { steps, adjustments })
}

#[cfg(test)]
pub(crate) mod tests;
