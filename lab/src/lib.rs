//! The lab: real Debian hosts (systemd-nspawn machines booting systemd) on a private bridge,
//! and the bundle of binaries kubin deploys onto them.
//!
//! [`Lab::up`] makes sure the caches exist (the base root, [`rootfs::ensure`]; the bundle,
//! [`bundle::ensure`]), creates a bridge and a /24 for the lab, mounts an overlay of the
//! base root per machine, writes each machine's own files (hostname, static address, SSH
//! host key), boots them in parallel and waits until each answers SSH and systemd settled.
//! It writes `cluster.yaml` for these machines into the lab state
//! (`/var/lib/kubin-lab/<name>/`). Dropping a [`Lab`] tears it down: nothing of it remains
//! (no process, mount or link), only the caches under `/var/cache/kubin/`.
//!
//! # One lab per name
//! A lab is identified by its name. While a `Lab` value is alive it holds an exclusive lock
//! on `/var/lib/kubin-lab/<name>.lock`, so a second `Lab::up` of the same name, from another
//! thread or another process, fails with [`Error::Busy`]. Tests in one test binary run in
//! parallel threads: give each test its own lab name (e.g. the test's name). Labs of
//! different names coexist: each gets its own bridge and its own /24 in 10.213.0.0/16.
//! `Lab` is `Send + Sync`: threads of one test may share `&Lab` (e.g. to ssh in parallel).
//!
//! # Example (a test in `tests/tests/<prefix>_*.rs`)
//! ```no_run
//! use lab::{Lab, LabConfig};
//! let lab = Lab::up(&LabConfig::guides("etcd-tls"))?; // k8s-master1, k8s-node1, k8s-node2
//! let inventory = lab.inventory_path(); // cluster.yaml for `kubin deploy -f`
//! let hostname = lab.ssh_ok("k8s-node1", "hostname")?;
//! lab.stop("k8s-node2")?; // a fault: the machine shuts down, its disk stays
//! lab.restart("k8s-node2")?;
//! lab.down()?; // or just drop `lab`: teardown happens either way
//! # Ok::<(), lab::Error>(())
//! ```

pub mod apt;
pub mod bundle;
mod cleanup;
mod cmd;
mod error;
pub mod host_limits;
pub mod inventory_file;
pub mod k8s;
mod lock;
mod machine;
pub mod names;
mod net;
pub mod oci;
pub mod packages;
pub mod paths;
pub mod rootfs;
mod ssh;
mod state;
pub mod workload;

pub use error::{Error, Result};
pub use lab::{Lab, LabConfig, LabHost, READY_TIMEOUT, RUNTIME_PACKAGES, down, leftovers, list};
pub use ssh::Readiness;

mod lab;
