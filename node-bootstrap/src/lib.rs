//! Nodes joining the cluster: the apiserver's token file, the components' kubeconfigs, the
//! RBAC that lets kubelets bootstrap, and CSR approval by policy instead of by hand.
//!
//! The core is pure: [`token`] parses and renders `token.csv` and decides whether an
//! existing one is kept, [`kubeconfig`] builds kube-rs [`kube::config::Kubeconfig`]s with
//! embedded certificates, [`rbac`] is the cluster's bootstrap RBAC as data, and
//! [`policy::decide`] judges a certificate signing request against the inventory. The only
//! IO is in [`online`], through a kube-rs client.

mod error;
pub mod kubeconfig;
pub mod online;
pub mod plan;
pub mod policy;
pub mod rbac;
pub mod token;

pub use error::Error;
pub use policy::{CsrFacts, CsrKind, CsrState, Decision, Grant, KeyKind, Pkcs10, decide};
pub use token::{
    BOOTSTRAP_GROUP, BOOTSTRAP_UID, BOOTSTRAP_USER, Token, TokenDecision, TokenFile, TokenLine,
};
