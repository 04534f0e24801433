//! flannel's pod network: its config in etcd, in the API the flannel release reads, and
//! the node side of flannel.
//!
//! The core is pure: [`netconf::NetConf`] models flannel's net-conf JSON key for key;
//! [`validate`] applies flannel's own rules (and defaults) plus what a cluster needs and
//! flannel does not check; [`decide::decide`] says whether a write may replace what a key
//! holds; [`leases`] reads subnet leases; [`render`] turns the inventory into flanneld's
//! env file and unit, docker's drop-in or the CNI conflist, or kube-flannel.yml, as a
//! [`plan::Plan`].
//!
//! [`online`] is the only IO: reading and writing `<prefix>/config` and listing
//! `<prefix>/subnets/` through etcd's v3 API (`etcd-client`) or its v2 keys API (HTTPS
//! with client certificates), whichever [`inventory::Inventory::flannel_etcd_api`] says
//! the flannel release reads.

pub mod decide;
pub mod error;
pub mod leases;
pub mod netconf;
pub mod online;
pub mod render;
pub mod validate;

pub use decide::{WriteDecision, decide};
pub use error::{Error, Problem};
pub use netconf::{Backend, NetConf};
pub use render::{NodeInputs, plan_node};
pub use validate::{Effective, check, flannel_rules};
