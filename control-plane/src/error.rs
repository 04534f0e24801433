//! The crate's one error type.

use crate::versions::Component;
use inventory::Version;

/// What can go wrong rendering or planning the Kubernetes components.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inventory names a release the flag table does not cover.
    #[error(
        "Kubernetes {version} is not supported: kubin renders {oldest} through {}.{}.x \
         (the flag-by-version table covers no other release)",
        newest.major,
        newest.minor
    )]
    UnsupportedVersion {
        /// The inventory's version.
        version: Version,
        /// The oldest release kubin renders.
        oldest: Version,
        /// The newest minor release kubin renders (`x.y.0`; every patch of it is covered).
        newest: Version,
    },
    /// A host asked to run masters' components does not have the master role.
    #[error("{name} is not a master in the inventory (masters: {masters})")]
    NotAMaster {
        /// The host asked for.
        name: String,
        /// The inventory's masters, comma-separated.
        masters: String,
    },
    /// A host asked to run the node components does not have the node role.
    #[error("{name} is not a node in the inventory (nodes: {nodes})")]
    NotANode {
        /// The host asked for.
        name: String,
        /// The inventory's nodes, comma-separated.
        nodes: String,
    },
    /// The inventory names no master, so there is no apiserver to render for.
    #[error("the inventory has no host with the master role")]
    NoMaster,
    /// The facts gathered from the hosts lack a node the plan covers.
    #[error("no facts were gathered from node {host} (ipvs, container): gather them first")]
    MissingFacts {
        /// The node's inventory name.
        host: String,
    },
    /// The inventory asks for the Docker runtime on a release without dockershim.
    #[error("Kubernetes {version} has no dockershim: the kubelet needs containerd")]
    DockerGone {
        /// The inventory's version.
        version: Version,
    },
    /// A renderer produced a flag its release refuses: a bug in kubin, caught before any
    /// file is written.
    #[error("kubin rendered {flag} for {component} {version}, which refuses it ({checked})")]
    FlagRefused {
        /// The component.
        component: Component,
        /// The flag.
        flag: String,
        /// The release.
        version: Version,
        /// The table's reason.
        checked: String,
    },
    /// A config file did not serialize (a bug in kubin).
    #[error("cannot write {file} as YAML")]
    Yaml {
        /// The file's name.
        file: String,
        /// The serializer's error.
        #[source]
        source: serde_saphyr::ser::Error,
    },
}
