//! Booting a lab's machines: preparing overlays, starting nspawn, waiting, the inventory.

use super::{Lab, LabHost, READY_TIMEOUT, guard};
use crate::error::{Error, Result, io};
use crate::inventory_file::{self, InventorySpec};
use crate::machine::{self, Spec};
use crate::paths;
use crate::ssh::{self, Readiness};
use crate::state::machine_dir;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

impl Lab {
    pub(super) fn spec(&self, host: &LabHost) -> Spec {
        Spec {
            host: host.name.clone(),
            machine: host.machine.clone(),
            address: host.address,
            dir: machine_dir(&self.name, &host.name),
        }
    }

    /// Writes the lab key, prepares every machine (in parallel), records the host keys,
    /// boots them all, then waits for all of them (in parallel).
    pub(super) fn boot_all(&mut self, base: &Path) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create", &self.dir))?;
        copy_key(&paths::lab_key(), &self.key)?;
        let all: Vec<(String, Ipv4Addr)> = self
            .hosts
            .iter()
            .map(|h| (h.name.clone(), h.address))
            .collect();
        let specs: Vec<Spec> = self.hosts.iter().map(|h| self.spec(h)).collect();
        let host_keys: Vec<Result<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = specs
                .iter()
                .map(|spec| s.spawn(|| machine::prepare(spec, base, &all)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(panicked("prepare"))))
                .collect()
        });
        let mut known = String::new();
        for (h, k) in self.hosts.iter().zip(host_keys) {
            known.push_str(&format!("{} {}\n", h.address, k?));
        }
        std::fs::write(&self.known_hosts, known).map_err(io("cannot write", &self.known_hosts))?;
        let started = Instant::now();
        let mut pids = Vec::new();
        for spec in &specs {
            pids.push(self.start(spec)?);
        }
        let this: &Lab = self;
        let results: Vec<Result<Readiness>> = std::thread::scope(|s| {
            let handles: Vec<_> = this
                .hosts
                .iter()
                .zip(&pids)
                .map(|(h, pid)| s.spawn(move || this.wait(h, *pid, started)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(panicked("wait"))))
                .collect()
        });
        for r in results {
            let r = r?;
            report(&self.name, &self.hosts, &r);
            self.readiness.push(r);
        }
        Ok(())
    }

    /// Waits until `h` (booted as `pid` at `started`) answers SSH with systemd settled.
    pub(super) fn wait(&self, h: &LabHost, pid: u32, started: Instant) -> Result<Readiness> {
        let log = machine_dir(&self.name, &h.name).join("nspawn.log");
        let booting = ssh::Booting {
            lab: &self.name,
            host: &h.name,
            address: h.address,
            opts: &self.ssh_opts,
            machine_log: &log,
            pid,
            started,
        };
        let ready = ssh::wait_ready(&booting, READY_TIMEOUT)?;
        self.ssh_ok(&h.name, &machine::after_boot())?;
        Ok(ready)
    }

    /// Boots one machine and records its PID.
    pub(super) fn start(&self, spec: &Spec) -> Result<u32> {
        let child = machine::boot(&self.name, spec, &self.bridge)?;
        let pid = child.id();
        guard(&self.children).insert(spec.host.clone(), child);
        let mut st = guard(&self.state);
        if let Some(m) = st.machines.iter_mut().find(|m| m.host == spec.host) {
            m.pid = Some(pid);
        }
        st.save()?;
        Ok(pid)
    }

    pub(super) fn write_inventory(&self) -> Result<()> {
        let pki = self.dir.join("pki");
        let text = inventory_file::render(&InventorySpec {
            cluster_name: &self.name,
            hosts: &self.hosts,
            key: &self.key,
            known_hosts: &self.known_hosts,
            bundle: &self.bundle,
            pki_dir: &pki,
        });
        std::fs::write(&self.inventory, text).map_err(io("cannot write", &self.inventory))?;
        inventory::Inventory::load(&self.inventory).map_err(|source| Error::Inventory {
            lab: self.name.clone(),
            source,
        })?;
        Ok(())
    }
}

pub(super) fn panicked(what: &str) -> Error {
    Error::Command {
        command: what.to_string(),
        status: "panicked".into(),
        stderr: String::new(),
    }
}

pub(super) fn report(lab: &str, hosts: &[LabHost], r: &Readiness) {
    let address = hosts
        .iter()
        .find(|h| h.name == r.host)
        .map(|h| h.address.to_string())
        .unwrap_or_default();
    let failed = if r.failed.is_empty() {
        String::new()
    } else {
        format!(" (failed: {})", r.failed.join(", "))
    };
    eprintln!(
        "lab {lab}: {:<12} {:<14} {} after {:.1} s{failed}",
        r.host,
        address,
        r.state,
        r.took.as_secs_f64()
    );
}

/// Copies the lab's private key (and its public half) into the lab state, mode 0600.
pub(super) fn copy_key(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::copy(from, to).map_err(io("cannot copy", from))?;
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
        .map_err(io("cannot chmod", to))?;
    let (pub_from, pub_to) = (from.with_extension("pub"), to.with_extension("pub"));
    std::fs::copy(&pub_from, &pub_to).map_err(io("cannot copy", &pub_from))?;
    Ok(())
}
