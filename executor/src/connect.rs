//! Connecting to many hosts at once.

use crate::Error;
use crate::transport::Transport;
pub use crate::transport::ssh::SshOptions;
use crate::transport::ssh::SshTransport;
use inventory::{Host, Inventory};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Open connections, keyed by inventory host name.
pub type Transports = BTreeMap<String, Box<dyn Transport>>;

/// Connects to `hosts` (inventory names; empty means every host) in parallel with default
/// timeouts; returns the connections and, per host that could not be reached, why.
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
    let queue = Mutex::new(targets);
    let results: Mutex<Vec<(String, Result<SshTransport, Error>)>> = Mutex::new(Vec::new());
    let workers = queue.lock().map(|q| q.len()).unwrap_or(0).min(32);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let next = queue.lock().ok().and_then(|mut q| q.pop());
                    let Some(host) = next else { break };
                    let r = SshTransport::connect_with(host, opts);
                    if let Ok(mut v) = results.lock() {
                        v.push((host.name.clone(), r));
                    }
                }
            });
        }
    });
    let mut ok: Transports = BTreeMap::new();
    let mut failed = BTreeMap::new();
    for (name, r) in results.into_inner().unwrap_or_default() {
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
