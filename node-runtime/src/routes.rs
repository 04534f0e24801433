//! The daemonless pod network's routes: idempotent commands for `apply`, and the same
//! commands as a script a oneshot unit runs at boot.
//!
//! Every command has an `unless` check, so a second apply runs none of them; the script
//! runs `check || command` for each, so it is safe to run at any time.

use crate::layout::ROUTES_UNIT;
use ipnet::Ipv4Net;
use plan::CommandSpec;
use std::net::Ipv4Addr;
use std::path::Path;

/// A route the host should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Another node's pod subnet, through that node.
    Via {
        /// The subnet.
        subnet: Ipv4Net,
        /// The node's address.
        gateway: Ipv4Addr,
        /// The node's name, for progress output.
        node: String,
    },
    /// The service range on the host's interface, for hosts without a default route: a
    /// connection to a ClusterIP needs a route before kube-proxy's DNAT rewrites it.
    OnLink {
        /// The service range.
        subnet: Ipv4Net,
        /// The interface.
        dev: String,
    },
}

/// `ip route replace` for `route`, unless the route is there already.
pub fn route_command(route: &Route) -> CommandSpec {
    match route {
        Route::Via {
            subnet,
            gateway,
            node,
        } => CommandSpec::new(
            &format!("route {subnet} via {gateway} ({node}'s pods)"),
            &format!("ip route replace {subnet} via {gateway}"),
            Some(&format!(
                "ip -4 route show exact {subnet} | grep -qF ' via {gateway} '"
            )),
        ),
        Route::OnLink { subnet, dev } => CommandSpec::new(
            &format!("route {subnet} dev {dev} (the service range)"),
            &format!("ip route replace {subnet} dev {dev}"),
            Some(&format!(
                "ip -4 route show exact {subnet} | grep -qF ' dev {dev} '"
            )),
        ),
    }
}

/// Deletes every route inside the pod range that goes through a gateway and is not one of
/// `keep`: the subnets of nodes no longer in the inventory (and stale routes of a node
/// whose subnet moved). The local bridge's own route has no gateway and stays.
pub fn prune_command(pod_cidr: Ipv4Net, keep: &[Ipv4Net]) -> CommandSpec {
    let mut filter = String::from("/ via /");
    for k in keep {
        filter.push_str(&format!(" && $1 != \"{k}\""));
    }
    let stale = format!("ip -4 route show root {pod_cidr} | awk '{filter} {{print $1}}'");
    CommandSpec::new(
        &format!("remove routes in {pod_cidr} to nodes no longer in the inventory"),
        &format!("for r in $({stale}); do ip route del \"$r\"; done"),
        Some(&format!("test -z \"$({stale})\"")),
    )
}

/// Masquerades traffic from the node's pod subnet leaving the pod range (pods reaching
/// the world), never pod-to-pod traffic, unless the rule is there already.
pub fn masquerade_command(subnet: Ipv4Net, pod_cidr: Ipv4Net) -> CommandSpec {
    let rule = format!(
        "POSTROUTING -s {subnet} ! -d {pod_cidr} -m comment --comment kubin-pod-egress -j MASQUERADE"
    );
    CommandSpec::new(
        &format!("masquerade traffic from {subnet} leaving {pod_cidr}"),
        &format!("iptables -t nat -A {rule}"),
        Some(&format!("iptables -t nat -C {rule} 2>/dev/null")),
    )
}

/// The script the routes unit runs: waits (up to a minute) for the host's address, then
/// `check || command` for every command.
pub fn render_script(host: &str, address: Ipv4Addr, commands: &[CommandSpec]) -> String {
    let mut s = format!(
        "#!/bin/sh\n\
         # The daemonless pod network on {host}, written by kubin and run by {ROUTES_UNIT}:\n\
         # routes to every other node's pod subnet through that node, none to removed nodes.\n\
         set -e\n\
         i=0\n\
         until ip -o -4 addr show to {address}/32 | grep -q .; do\n\
         \x20 i=$((i + 1)); [ \"$i\" -le 60 ] || {{ echo \"{address} is not up\" >&2; exit 1; }}; sleep 1\n\
         done\n"
    );
    for c in commands {
        s.push_str(&format!("# {}\n", c.description));
        match &c.unless {
            Some(check) => s.push_str(&format!("{check} || {}\n", c.command)),
            None => s.push_str(&format!("{}\n", c.command)),
        }
    }
    s
}

/// The oneshot unit that runs the script at boot, before containerd and the kubelet.
pub fn render_unit(script: &Path) -> String {
    format!(
        "[Unit]\n\
         Description=kubin: routes of the daemonless pod network\n\
         Wants=network-online.target\n\
         After=network-online.target\n\
         Before=containerd.service kubelet.service\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         RemainAfterExit=yes\n\
         ExecStart=/bin/sh {script}\n\
         TimeoutStartSec=90\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        script = script.display()
    )
}
