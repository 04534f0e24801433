//! The error type of `node-runtime`: every variant names the host, file or value at fault.

use ipnet::Ipv4Net;

/// Everything that stops a runtime or pod-network plan.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named host is not in the inventory, or has none of the roles the plan is for.
    #[error("{host:?} is not a {wanted} in the inventory")]
    NotAHost {
        /// The name asked for.
        host: String,
        /// What it should have been (`node`, `master or node`).
        wanted: &'static str,
    },
    /// The bundle is unusable; every problem is listed.
    #[error("the runtime bundle is unusable: {}", .problems.join("; "))]
    Bundle {
        /// Each problem, naming the file or image.
        problems: Vec<String>,
    },
    /// The bundle's containerd cannot serve the inventory's kubelet, or is a release whose
    /// config format kubin does not write.
    #[error("containerd {containerd} cannot be used with kubelet {kubelet}: {reason}")]
    Versions {
        /// The bundle's containerd.
        containerd: inventory::Version,
        /// The inventory's Kubernetes release.
        kubelet: inventory::Version,
        /// Why not, and what to do.
        reason: String,
    },
    /// The daemonless pod network routes IPv4 pod subnets through IPv4 node addresses.
    #[error(
        "host {host:?} has the IPv6 address {address}; the daemonless pod network needs IPv4 node addresses"
    )]
    Ipv6Host {
        /// The host.
        host: String,
        /// Its address.
        address: std::net::Ipv6Addr,
    },
    /// The per-node subnet length does not fit the pod range.
    #[error("per-node subnets of /{subnet_len} do not fit the pod range {pod_cidr}; set network.flannel.subnet_len between /{} and /30", .pod_cidr.prefix_len() + 1)]
    SubnetLen {
        /// The pod range.
        pod_cidr: Ipv4Net,
        /// The per-node length asked for.
        subnet_len: u8,
    },
    /// There are more nodes than free per-node subnets.
    #[error(
        "the pod range {pod_cidr} has {free} free /{subnet_len} subnets for {nodes} nodes; use a larger pod range or a longer network.flannel.subnet_len"
    )]
    PodRangeFull {
        /// The pod range.
        pod_cidr: Ipv4Net,
        /// The per-node length.
        subnet_len: u8,
        /// Subnets not overlapping the service range.
        free: u64,
        /// Nodes that need one.
        nodes: usize,
    },
    /// A fact the plan needs was not gathered for the host.
    #[error("host {host:?}: the fact {fact} is missing ({why})")]
    MissingFact {
        /// The host.
        host: String,
        /// Which fact.
        fact: &'static str,
        /// Why the plan needs it.
        why: &'static str,
    },
    /// Rendering a config file failed (a bug: the models always serialize).
    #[error("cannot render {file}")]
    Render {
        /// The file.
        file: &'static str,
        /// The serializer's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}
