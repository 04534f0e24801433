//! The Kubernetes components' configuration for the release the inventory names: one
//! version table, pure renderers, and plans.
//!
//! [`versions`] is the one place that knows which flags, config API versions and
//! behaviours each release 1.20–1.37 has; [`Release`] exists only for a covered version.
//! [`master`] renders kube-apiserver, kube-controller-manager and kube-scheduler (env
//! files in the guides' format, units, the scheduler's config); [`node`] renders the
//! kubelet and kube-proxy, adjusted to [`NodeFacts`] with every [`Adjustment`] returned as
//! data. [`deploy`] turns them, with certificates, kubeconfigs, token.csv and binaries
//! passed in as data, into [`plan::Plan`]s. Nothing here reads a file, a clock or a host.

pub mod args;
pub mod config;
pub mod deploy;
pub mod error;
pub mod layout;
pub mod master;
pub mod node;
pub mod versions;

#[cfg(test)]
mod testing;

pub use deploy::{
    ControlPlaneMaterial, MasterBinaries, MasterCerts, NodeBinaries, NodeMaterial,
    node_adjustments, plan_control_plane, plan_node_components, restart_on,
};
pub use error::Error;
pub use layout::Layout;
pub use node::{Adjustment, NodeFacts, Rendered};
pub use versions::{Component, Release, SchedulerApi};
