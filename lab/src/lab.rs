//! [`Lab`]: a running lab (machines, bridge, state), brought up, used, faulted, torn down.

mod boot;
mod faults;

use crate::error::{Error, Result};
use crate::ssh::{self, Readiness};
use crate::state::{MachineState, State};
use crate::{bundle, cleanup, lock, names, net, paths, rootfs};
use std::collections::HashMap;
use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Debian packages the outer machine needs to run a lab (nspawn, ip, ssh, kill).
pub const RUNTIME_PACKAGES: &[&str] = crate::packages::LAB_RUNTIME;

/// How long a booting machine may take to answer SSH with systemd settled.
pub const READY_TIMEOUT: Duration = Duration::from_secs(180);

/// What lab to bring up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabConfig {
    /// The lab's name: an RFC 1123 label of at most 40 characters, unique among live labs
    /// (name labs per test: one `Lab` per name at a time).
    pub name: String,
    /// How many machines (the guides' topology: 3 = one master and two nodes).
    pub hosts: usize,
}

impl LabConfig {
    /// The guides' topology: three machines, `k8s-master1`, `k8s-node1`, `k8s-node2`.
    pub fn guides(name: &str) -> Self {
        Self {
            name: name.to_string(),
            hosts: 3,
        }
    }
}

/// One machine of a lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabHost {
    /// Its host name (`k8s-master1`, `k8s-node1`, ...), also its name in `cluster.yaml`.
    pub name: String,
    /// Its address on the lab bridge.
    pub address: Ipv4Addr,
    /// The systemd-nspawn machine name (`l<subnet>m<n>`); its link is `vb-<machine>`.
    pub machine: String,
}

/// A running lab. Dropping it tears it down unless [`Lab::keep`] was called or it came
/// from [`Lab::attach`].
pub struct Lab {
    name: String,
    dir: PathBuf,
    hosts: Vec<LabHost>,
    subnet: u8,
    bridge: String,
    inventory: PathBuf,
    key: PathBuf,
    known_hosts: PathBuf,
    bundle: PathBuf,
    ssh_opts: Vec<String>,
    state: Mutex<State>,
    children: Mutex<HashMap<String, Child>>,
    readiness: Vec<Readiness>,
    owned: bool,
    done: bool,
    _lock: File,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn take_lock(name: &str) -> Result<File> {
    let path = paths::lock_file(name);
    lock::try_exclusive(&path)?.ok_or(Error::Busy {
        name: name.to_string(),
        lock: path,
    })
}

impl Lab {
    /// Brings lab `config.name` up: caches ensured, stale remains of a crashed run of the
    /// same name cleaned, bridge created, machines booted in parallel, SSH and systemd
    /// awaited, `cluster.yaml` written. Fails with [`Error::Busy`] if a `Lab` of this name
    /// is alive anywhere. On failure, everything made so far is torn down.
    pub fn up(config: &LabConfig) -> Result<Lab> {
        names::check_name(&config.name)?;
        names::check_hosts(config.hosts)?;
        let name = config.name.as_str();
        let lock = take_lock(name)?;
        crate::apt::install_packages(RUNTIME_PACKAGES)?;
        let base = rootfs::ensure()?;
        let bundle = bundle::ensure()?;
        crate::host_limits::ensure()?;
        let started = Instant::now();
        if !cleanup::leftovers(name).is_empty() {
            eprintln!("lab {name}: cleaning what an earlier run left");
            cleanup::teardown(name, Vec::new())?;
        }
        let state = {
            let _alloc = lock::exclusive(&paths::alloc_lock())?;
            let mut used = State::used_subnets();
            used.extend(net::subnets_in_use());
            let subnet = names::pick_subnet(name, &used).ok_or(Error::NoFreeSubnet)?;
            let state = State {
                name: name.to_string(),
                subnet,
                bridge: names::bridge_name(name),
                base: base.clone(),
                bundle: bundle.clone(),
                machines: (0..config.hosts)
                    .map(|i| MachineState {
                        host: names::host_name(i),
                        address: names::host_address(subnet, i),
                        machine: names::machine_name(subnet, i),
                        pid: None,
                    })
                    .collect(),
            };
            // Saved before anything else is made, so a crash from here on is cleanable.
            state.save()?;
            net::create_bridge(&state.bridge, names::gateway(subnet))?;
            state
        };
        let mut lab = Lab::from_state(state, lock, true)?;
        lab.boot_all(&base)?;
        lab.write_inventory()?;
        eprintln!(
            "lab {name}: {} machines up in {:.1} s",
            lab.hosts.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(lab)
    }

    /// Takes over lab `name`, brought up earlier (by `cargo xtask lab up`), to use, fault or
    /// tear it down. Dropping the result does not tear it down (call [`Lab::down`]).
    pub fn attach(name: &str) -> Result<Lab> {
        names::check_name(name)?;
        let lock = take_lock(name)?;
        let state = State::load(name)?.ok_or_else(|| Error::NotUp {
            name: name.to_string(),
            state: crate::state::state_file(name),
        })?;
        Lab::from_state(state, lock, false)
    }

    fn from_state(state: State, lock: File, owned: bool) -> Result<Lab> {
        let dir = paths::state_dir(&state.name);
        let key = dir.join("id_ed25519");
        let known_hosts = dir.join("known_hosts");
        let hosts = state
            .machines
            .iter()
            .map(|m| LabHost {
                name: m.host.clone(),
                address: m.address,
                machine: m.machine.clone(),
            })
            .collect();
        Ok(Lab {
            name: state.name.clone(),
            inventory: dir.join("cluster.yaml"),
            ssh_opts: ssh::options(&key, &known_hosts),
            key,
            known_hosts,
            hosts,
            subnet: state.subnet,
            bridge: state.bridge.clone(),
            bundle: state.bundle.clone(),
            dir,
            state: Mutex::new(state),
            children: Mutex::new(HashMap::new()),
            readiness: Vec::new(),
            owned,
            done: false,
            _lock: lock,
        })
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The machines, in order (the first is the master).
    pub fn hosts(&self) -> &[LabHost] {
        &self.hosts
    }

    /// The machine called `name`.
    pub fn host(&self, name: &str) -> Result<&LabHost> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .ok_or_else(|| Error::NoSuchHost {
                lab: self.name.clone(),
                host: name.to_string(),
            })
    }

    /// How each machine came up (systemd state, failed units, boot time); empty for an
    /// attached lab.
    pub fn readiness(&self) -> &[Readiness] {
        &self.readiness
    }

    /// The outer machine's address on the lab bridge (`10.213.X.1`).
    pub fn gateway(&self) -> Ipv4Addr {
        names::gateway(self.subnet)
    }

    /// The lab's subnet, `10.213.X.0/24`.
    pub fn subnet(&self) -> String {
        names::subnet_cidr(self.subnet)
    }

    /// The bridge's interface name.
    pub fn bridge(&self) -> &str {
        &self.bridge
    }

    /// The lab's state directory, `/var/lib/kubin-lab/<name>`.
    pub fn state_dir(&self) -> &Path {
        &self.dir
    }

    /// The inventory (`cluster.yaml`) written for these machines.
    pub fn inventory_path(&self) -> &Path {
        &self.inventory
    }

    /// The private key that logs in as root on every machine.
    pub fn key_path(&self) -> &Path {
        &self.key
    }

    /// The `known_hosts` file with every machine's host key.
    pub fn known_hosts_path(&self) -> &Path {
        &self.known_hosts
    }

    /// The bundle directory (upstream tarball layout) the inventory points at.
    pub fn bundle_path(&self) -> &Path {
        &self.bundle
    }

    /// Runs `command` (a shell command line) as root on `host` with the system `ssh`, the lab
    /// key and known_hosts, in batch mode. The output is returned whatever the exit status
    /// (255: ssh itself failed).
    pub fn ssh(&self, host: &str, command: &str) -> Result<Output> {
        ssh::ssh(&self.ssh_opts, self.host(host)?.address, command)
    }

    /// Like [`Lab::ssh`], but a non-zero exit is an error; returns stdout.
    pub fn ssh_ok(&self, host: &str, command: &str) -> Result<String> {
        let out = self.ssh(host, command)?;
        if !out.status.success() {
            return Err(Error::Command {
                command: format!("ssh {host} {command}"),
                status: out.status.to_string(),
                stderr: crate::cmd::tail(&out.stderr),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The `ssh` options (key, known_hosts, batch mode, timeouts) as arguments, for callers
    /// that run `ssh`/`scp` themselves (`ssh <options> root@<address> -- <command>`).
    pub fn ssh_options(&self) -> Vec<String> {
        self.ssh_opts.clone()
    }

    /// Copies the local file `local` to `remote` on `host` (scp), creating no directories.
    pub fn copy_to(&self, host: &str, local: &Path, remote: &Path) -> Result<()> {
        ssh::scp(&self.ssh_opts, self.host(host)?.address, local, remote)
    }

    /// Leaves the lab running when this value is dropped (for `cargo xtask lab up`); a
    /// later [`Lab::attach`] or [`down`] finds it by name.
    pub fn keep(mut self) {
        self.owned = false;
    }

    /// Tears the lab down: machines stopped by PID, overlays unmounted, bridge deleted,
    /// state removed (caches kept). Fails with [`Error::Leftovers`] if anything remains.
    pub fn down(mut self) -> Result<()> {
        self.done = true;
        self.teardown()
    }

    fn teardown(&mut self) -> Result<()> {
        let children: Vec<(u32, Option<Child>)> = guard(&self.children)
            .drain()
            .map(|(_, c)| (c.id(), Some(c)))
            .collect();
        cleanup::teardown(&self.name, children)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if self.owned && !self.done {
            self.done = true;
            if let Err(e) = self.teardown() {
                // The whole chain: the message never repeats its cause.
                let mut message = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    message = format!("{message}: {c}");
                    cause = c.source();
                }
                eprintln!("lab {}: teardown failed: {message}", self.name);
            }
        }
    }
}

/// Tears down lab `name` from its state (and whatever a crashed run left without state).
/// Fails with [`Error::Busy`] while a live `Lab` of that name holds it.
pub fn down(name: &str) -> Result<()> {
    names::check_name(name)?;
    let _lock = take_lock(name)?;
    cleanup::teardown(name, Vec::new())
}

/// What of lab `name` is still on the machine: processes, mounts, links, state directory.
/// Empty after a successful teardown.
pub fn leftovers(name: &str) -> Vec<String> {
    cleanup::leftovers(name)
}

/// The names of the labs that have state on this machine.
pub fn list() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(paths::state_root()) else {
        return Vec::new();
    };
    let mut v: Vec<String> = rd
        .flatten()
        .filter(|e| e.path().join("state.json").exists())
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_lab_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<super::Lab>();
    }

    #[test]
    fn bad_configs_are_refused_before_anything_is_made() {
        let e = super::Lab::up(&super::LabConfig {
            name: "Bad_Name".into(),
            hosts: 3,
        });
        assert!(matches!(e, Err(crate::Error::BadName { .. })));
        let e = super::Lab::up(&super::LabConfig {
            name: "ok".into(),
            hosts: 0,
        });
        assert!(matches!(e, Err(crate::Error::BadHostCount { .. })));
    }
}
