//! Each node's pod subnet for the daemonless pod network: stable, pure, and never inside
//! the service range.
//!
//! There is no lease store (that is what flanneld's etcd leases are for), so the subnet must
//! follow from the inventory alone, and a node must keep its subnet when others come and
//! go: its pods keep their addresses and every other host routes that subnet to it.
//! Numbering nodes by their position in the file (or in a sorted list) fails that: removing
//! or inserting one node renumbers every node after it.
//!
//! The rule: a node's subnet is the one whose index among the pod range's subnets equals
//! its IPv4 address modulo the number of subnets. With a /16 pod range and /24 subnets,
//! node `192.168.31.65` gets `x.y.65.0/24`: readable, and a function of the node's own
//! address only, so adding, removing or reordering other nodes never moves it. Nodes on one
//! L2 segment no larger than the number of subnets (a /24 segment and 256 subnets) never
//! collide. When two nodes do collide, or a node's subnet would overlap the service range,
//! the later node in file order takes the next free subnet and the plan says so. Then:
//! appending a node never moves another; removing a node never moves a node that has the
//! subnet its address maps to (a displaced node may move into a freed one); a node
//! inserted before a node it collides with takes that node's subnet, so add nodes at the
//! end of the file. The tests hold these as properties.

use crate::Error;
use inventory::{Inventory, Role};
use ipnet::Ipv4Net;
use std::net::{IpAddr, Ipv4Addr};

/// A node and its pod subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSubnet {
    /// The node's inventory name.
    pub host: String,
    /// Its address (the gateway other hosts route its subnet through).
    pub address: Ipv4Addr,
    /// Its pod subnet.
    pub subnet: Ipv4Net,
    /// The subnet its address maps to; differs from `subnet` only after a collision.
    pub preferred: Ipv4Net,
    /// Why `subnet` is not `preferred` (the colliding node, or the service range).
    pub displaced_by: Option<String>,
}

/// The per-node subnet length: the inventory's `network.flannel.subnet_len`, else
/// flannel's own default (/24 for pod ranges of /22 and larger, else four subnets), so
/// switching between flannel and the daemonless network keeps the subnet size.
pub fn subnet_len(inv: &Inventory) -> u8 {
    let pods = inv.network.pod_cidr;
    inv.network
        .flannel
        .subnet_len
        .unwrap_or(match pods.prefix_len() {
            p if p <= 22 => 24,
            p => (p + 2).min(32),
        })
}

/// Every node's pod subnet, in inventory order (hosts with the `node` role).
pub fn pod_subnets(inv: &Inventory) -> Result<Vec<NodeSubnet>, Error> {
    let mut nodes = Vec::new();
    for h in inv.with_role(Role::Node) {
        match h.address {
            IpAddr::V4(a) => nodes.push((h.name.clone(), a)),
            IpAddr::V6(address) => {
                return Err(Error::Ipv6Host {
                    host: h.name.clone(),
                    address,
                });
            }
        }
    }
    assign(
        inv.network.pod_cidr,
        inv.kubernetes.service_cidr,
        subnet_len(inv),
        &nodes,
    )
}

/// The rule of this module on plain data: `nodes` in file order, each `(name, address)`.
pub fn assign(
    pod_cidr: Ipv4Net,
    services: Ipv4Net,
    subnet_len: u8,
    nodes: &[(String, Ipv4Addr)],
) -> Result<Vec<NodeSubnet>, Error> {
    let pods = pod_cidr.trunc();
    if subnet_len < pods.prefix_len() || subnet_len > 30 {
        return Err(Error::SubnetLen {
            pod_cidr: pods,
            subnet_len,
        });
    }
    let slots = Slots::new(pods, services, subnet_len);
    let free = slots.count - slots.blocked_count();
    if (nodes.len() as u64) > free {
        return Err(Error::PodRangeFull {
            pod_cidr: pods,
            subnet_len,
            free,
            nodes: nodes.len(),
        });
    }
    let mut taken: Vec<(u64, &str)> = Vec::with_capacity(nodes.len());
    let mut out = Vec::with_capacity(nodes.len());
    for (name, address) in nodes {
        let want = u64::from(u32::from(*address)) % slots.count;
        let mut index = want;
        let mut displaced_by = None;
        // At most `taken.len() + 1` free-slot probes: the capacity check above guarantees a
        // free slot, and blocked runs are skipped whole.
        loop {
            if let Some(end) = slots.blocked_run(index) {
                displaced_by.get_or_insert_with(|| format!("the service range {services}"));
                index = end % slots.count;
                continue;
            }
            if let Some((_, owner)) = taken.iter().find(|(i, _)| *i == index) {
                displaced_by.get_or_insert_with(|| (*owner).to_string());
                index = (index + 1) % slots.count;
                continue;
            }
            break;
        }
        taken.push((index, name));
        out.push(NodeSubnet {
            host: name.clone(),
            address: *address,
            subnet: slots.subnet(index),
            preferred: slots.subnet(want),
            displaced_by,
        });
    }
    Ok(out)
}

/// The pod range cut into subnets, and the run of them the service range blocks.
struct Slots {
    pods: Ipv4Net,
    len: u8,
    count: u64,
    /// Indexes `[start, end)` of subnets overlapping the service range.
    blocked: Option<(u64, u64)>,
}

impl Slots {
    fn new(pods: Ipv4Net, services: Ipv4Net, len: u8) -> Self {
        let count = 1u64 << (len - pods.prefix_len());
        let size = 1u64 << (32 - len);
        let base = u64::from(u32::from(pods.network()));
        let s_start = u64::from(u32::from(services.network()));
        let s_end = u64::from(u32::from(services.broadcast())) + 1;
        let p_end = base + count * size;
        let blocked = (s_start < p_end && base < s_end).then(|| {
            let from = s_start.max(base);
            let to = s_end.min(p_end);
            ((from - base) / size, (to - base).div_ceil(size))
        });
        Self {
            pods,
            len,
            count,
            blocked,
        }
    }

    fn blocked_count(&self) -> u64 {
        self.blocked.map_or(0, |(a, b)| b - a)
    }

    /// The end of the blocked run `index` is in, if it is blocked.
    fn blocked_run(&self, index: u64) -> Option<u64> {
        self.blocked
            .filter(|(a, b)| (*a..*b).contains(&index))
            .map(|(_, b)| b)
    }

    fn subnet(&self, index: u64) -> Ipv4Net {
        let size = 1u64 << (32 - self.len);
        let base = u64::from(u32::from(self.pods.network()));
        // index < count, so the address stays inside the pod range (a u32).
        let addr = u32::try_from(base + index * size).unwrap_or(u32::MAX);
        Ipv4Net::new(Ipv4Addr::from(addr), self.len).unwrap_or(self.pods)
    }
}

#[cfg(test)]
mod tests;
