//! The etcd cluster: rendered configs, deploy and restore plans, health and online operations.
//!
//! The core is pure: [`render`] turns the inventory into each member's env file and the
//! systemd unit; [`deploy::plan_deploy`] and [`restore::plan_restore`] return
//! [`plan::Plan`]s that `executor` applies; [`membership`] decides whether the running
//! member list matches the inventory and whether a member may go; [`health`] judges
//! endpoint results (healthy, degraded with quorum, quorum lost).
//!
//! [`online`] is the only IO here: async calls to the members through etcd's v3 API
//! (`etcd-client` with TLS), each bounded by a timeout. The caller owns the runtime.

pub mod deploy;
pub mod error;
pub mod health;
pub mod layout;
pub mod membership;
pub mod online;
pub mod render;
pub mod restore;
pub mod rollout;

pub use deploy::{BINARIES, MemberCerts, plan_deploy};
pub use error::Error;
pub use health::{EndpointHealth, HealthReport, Problem, Verdict};
pub use layout::Layout;
pub use membership::{LiveMember, check_add, check_membership, check_remove, quorum};
pub use online::{ClientTls, Target, Timeouts};
pub use render::{ClusterState, render_env, render_unit};
pub use restore::plan_restore;
pub use rollout::{plan_member_add, plan_member_stop, rollout};
