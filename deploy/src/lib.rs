//! The orchestration below the CLI: a [`Session`] (the inventory, SSH connections opened
//! once and reused, one tokio runtime, the settings, an observer) and one function per
//! phase, each returning data (reports, summaries) and showing progress only through the
//! [`Observer`].
//!
//! Concern crates describe how their changes reach the hosts as [`plan::Rollout`]s; the one
//! [`runner`] carries them out (apply, wait until healthy, restart host by host), with the
//! one poll loop in [`poll`]. Decisions stay in the concern crates and here, so the CLI only
//! parses, calls one function and prints.

pub mod bundle;
pub mod cluster;
pub mod error;
pub mod etcd;
pub mod etcd_access;
pub mod flannel;
pub mod hosts;
pub mod kubernetes;
pub mod lock;
pub mod master;
pub mod nodes;
pub mod observer;
pub mod phase;
pub mod pki;
pub mod poll;
pub mod reset;
pub mod runner;
pub mod runtime_bundle;
pub mod session;
pub mod verify;

pub use error::Error;
pub use observer::{Event, Observer, Silent};
pub use phase::Phase;
pub use session::{EtcdAccess, Session, Settings};
