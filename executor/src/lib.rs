//! The imperative shell of kubin: reaching hosts and applying plans to them.
//!
//! - [`Transport`] is the narrow host trait (run, put a file atomically, read, stat);
//!   [`SshTransport`] implements it over `ssh2` with known_hosts checking and sudo,
//!   [`RecordingTransport`] in memory for tests.
//! - [`connect_all`] opens one SSH session per host, in parallel.
//! - [`apply`] is the one executor: phases with barriers, hosts in parallel (bounded),
//!   steps in order, files written only when their sha256/mode/owner differ, units
//!   restarted only when a file they depend on changed. It returns a [`Report`];
//!   [`progress`] shows its events as bars, lines or JSON.

pub mod apply;
pub mod connect;
pub mod error;
pub mod parallel;
pub mod progress;
pub mod transport;

pub use apply::{
    ApplyOptions, Change, ChangeKind, Failure, HostReport, Report, UnitAction, apply, apply_with,
};
pub use connect::{NewHostKey, SshOptions, Transports, connect_all, connect_all_with};
pub use error::{Cause, CommandFailed, Error, display_chain};
pub use parallel::{HOSTS_AT_ONCE, parallel_map};
pub use progress::{Event, Observer, Output};
pub use transport::recording::RecordingTransport;
pub use transport::ssh::SshTransport;
pub use transport::{CommandOutput, FileStat, PutFile, Transport};
