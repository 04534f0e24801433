//! Connecting to many hosts at once.

use crate::Error;
use crate::parallel::{HOSTS_AT_ONCE, parallel_map};
use crate::transport::Transport;
use crate::transport::ssh::SshTransport;
pub use crate::transport::ssh::{NewHostKey, SshOptions};
use inventory::{Host, Inventory};
use std::collections::BTreeMap;

/// Open connections, keyed by inventory host name.
pub type Transports = BTreeMap<String, Box<dyn Transport>>;

/// Connects to `hosts` (inventory names; empty means every host) in parallel (at most
/// [`HOSTS_AT_ONCE`] at once) with default timeouts; returns the connections and, per
/// host that could not be reached, why.
pub fn connect_all(inv: &Inventory, hosts: &[&str]) -> (Transports, BTreeMap<String, Error>) {
    connect_all_with(inv, hosts, &SshOptions::default())
}

/// [`connect_all`] with explicit timeouts.
pub fn connect_all_with(
    inv: &Inventory,
    hosts: &[&str],
    opts: &SshOptions,
) -> (Transports, BTreeMap<String, Error>) {
    let targets: Vec<&Host> = inv
        .hosts
        .iter()
        .filter(|h| hosts.is_empty() || hosts.contains(&h.name.as_str()))
        .collect();
    let results = parallel_map(targets, HOSTS_AT_ONCE, |host| {
        (host.name.clone(), SshTransport::connect_with(host, opts))
    });
    let mut ok: Transports = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for (name, r) in results {
        match r {
            Ok(t) => {
                ok.insert(name, Box::new(t));
            }
            Err(e) => {
                failed.insert(name, e);
            }
        }
    }
    (ok, failed)
}
