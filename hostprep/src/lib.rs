//! Host preparation: what a host is, what it needs before Kubernetes, and what is wrong
//! with it.
//!
//! - [`facts`] gathers what a host is ([`HostFacts`]) through an [`executor::Transport`];
//! - [`plan_hostprep`] turns the inventory and facts into the host-preparation
//!   [`plan::Plan`] (pure), which [`executor::apply`] applies;
//! - [`preflight`] decides, purely, what is wrong with the hosts before anything changes.

pub mod error;
pub mod facts;
pub mod preflight;
pub mod prepare;

pub use error::Error;
pub use facts::{HostFacts, gather_all, gather_facts};
pub use prepare::plan_hostprep;
