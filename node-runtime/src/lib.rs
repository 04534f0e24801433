//! The node runtime as pure plans: containerd, runc, the CNI plugins, offline images and the
//! daemonless pod network.
//!
//! Nothing here does IO. The caller reads the bundle into a [`RuntimeBundle`] and gathers
//! each host's [`RuntimeFacts`]; [`plan_runtime`] turns them into the steps that install
//! and configure containerd on one host, [`plan_pod_network`] into the CNI config and the
//! routes of the daemonless pod network, and [`plan_nodes`] into a whole [`plan::Plan`].
//! Every decision taken because of a fact comes back as an [`Adjustment`] with its reason,
//! so the plan can print it; those meant for the kubelet's or kube-proxy's renderer carry
//! a typed setting ([`KubeletSetting`], [`KubeProxySetting`]).

pub mod adjust;
pub mod bundle;
pub mod cni;
pub mod containerd;
pub mod error;
pub mod facts;
pub mod layout;
pub mod network;
pub mod nodes;
pub mod routes;
pub mod runtime;
pub mod subnets;

pub use adjust::{
    Adjustment, KubeProxySetting, KubeletSetting, ProxyMode, Target, kube_proxy_settings,
    kubelet_settings,
};
pub use bundle::{Blob, ImageArchive, RuntimeBundle};
pub use error::Error;
pub use facts::RuntimeFacts;
pub use network::{NetworkOptions, ServiceRoute, plan_pod_network};
pub use nodes::{NodesPlan, plan_nodes, plan_nodes_except};
pub use runtime::{HostPlan, plan_runtime};
pub use subnets::{NodeSubnet, pod_subnets};

#[cfg(test)]
mod tests;
