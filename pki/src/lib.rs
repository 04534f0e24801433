//! kubin's certificates: a cfssl drop-in (requests, signing profiles, CA, leaves, CSR signing,
//! certinfo) and the Kubernetes cluster's whole certificate set.
//!
//! The core is pure: functions take data (a parsed request, key material, a `now`, a random
//! source) and return data (PEM strings, parsed summaries, decisions). Only [`store`] touches
//! files: loading an existing CA, writing cfssljson's file names, never overwriting a key or a
//! CA, and keeping a timestamped backup when a changed request reissues a leaf.
//!
//! ```no_run
//! use pki::{ClusterSetRequest, Member};
//! let req = ClusterSetRequest::new(
//!     vec![Member { name: "etcd-1".into(), address: "192.168.31.63".parse().unwrap() }],
//!     vec!["127.0.0.1".into(), "10.0.0.1".into(), "kubernetes".into()],
//! );
//! let set = pki::store::ensure_cluster_set(std::path::Path::new("pki"), &req).unwrap();
//! let server = set.etcd_server("etcd-1").unwrap();
//! println!("{}{}", set.etcd_ca_pem(), server.cert_pem);
//! ```

mod ca;
mod cluster;
mod config;
mod der;
mod duration;
mod error;
mod inspect;
mod issue;
mod key;
pub mod layout;
mod request;
mod seeding;
mod set;
pub mod store;

pub use ca::Ca;
pub use cluster::{ClusterSetRequest, LeafSpec, Member, Signer, cluster_leaves, leaf_mismatch};
pub use config::{Profile, SigningConfig, Usage};
pub use duration::parse_duration;
pub use error::Error;
pub use inspect::{CertInfo, Expiry, NameInfo, cert_info, check_expiration, summary};
pub use issue::{Issued, init_ca, issue, issue_with_key, new_rng, sign_csr};
pub use key::{KeySpec, PrivateKey};
pub use request::{CaRequest, CsrRequest, KeyRequest, NameRequest};
pub use seeding::seeds_from_kernel;
pub use set::{CertKey, ClusterSet, ServiceAccountKey, issue_cluster_set};
