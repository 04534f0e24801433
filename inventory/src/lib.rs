//! The cluster inventory: one `cluster.yaml` describing hosts, versions, networks and paths.
//!
//! The file is read into [`file::InventoryFile`] (strings, as the operator wrote them) and
//! validated into [`Inventory`] (typed values) by [`Inventory::from_yaml`], which reports
//! every problem at once with its path in the file. Values other crates need (the etcd
//! initial cluster, the first service IP, the apiserver SANs, endpoint lists) are derived
//! here once, in [`derived`].

pub mod derived;
pub mod error;
pub mod example;
pub mod file;
pub mod locate;
pub mod model;
mod validate;
pub mod version;

pub use error::{Error, Problem, Severity};
pub use model::*;
pub use version::Version;

/// The etcd client port every member listens on.
pub const ETCD_CLIENT_PORT: u16 = 2379;
/// The etcd peer port every member listens on.
pub const ETCD_PEER_PORT: u16 = 2380;
/// The kube-apiserver's secure port.
pub const APISERVER_PORT: u16 = 6443;
