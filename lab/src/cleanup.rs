//! Finding and removing everything of a lab: nspawn processes, overlay mounts, links,
//! state. Works from the state file and, for what a crash left unrecorded, from scans.

use crate::error::{Error, Result, io};
use crate::machine;
use crate::names;
use crate::net;
use crate::paths;
use crate::state::State;
use std::path::Path;
use std::process::Child;

/// PIDs of live `systemd-nspawn` processes booting a directory under `dir`.
pub(crate) fn nspawn_under(dir: &Path) -> Vec<u32> {
    let want = format!("--directory={}/", dir.display());
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                return false;
            };
            let args: Vec<String> = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            args.first().is_some_and(|a| a.ends_with("systemd-nspawn"))
                && args.iter().any(|a| a.starts_with(&want))
                && machine::is_alive(*pid)
        })
        .collect()
}

/// What of lab `name` remains on this machine.
pub(crate) fn leftovers(name: &str) -> Vec<String> {
    let dir = paths::state_dir(name);
    let mut v: Vec<String> = nspawn_under(&dir)
        .into_iter()
        .map(|p| format!("process {p} (systemd-nspawn)"))
        .collect();
    v.extend(
        machine::mounts_under(&dir)
            .into_iter()
            .map(|m| format!("mount {}", m.display())),
    );
    let bridge = names::bridge_name(name);
    if net::link_exists(&bridge) {
        v.push(format!("link {bridge}"));
    }
    if let Ok(Some(state)) = State::load(name) {
        for m in &state.machines {
            let veth = names::veth_name(&m.machine);
            if net::link_exists(&veth) {
                v.push(format!("link {veth}"));
            }
        }
    }
    for cg in machine::lab_cgroups(name) {
        if cg.exists() {
            v.push(format!("cgroup {}", cg.display()));
        }
    }
    if dir.exists() {
        v.push(format!("directory {}", dir.display()));
    }
    v
}

/// Tears lab `name` down: the given processes (and any other nspawn under its state) are
/// stopped, overlays unmounted, the bridge deleted and the state directory removed.
pub(crate) fn teardown(name: &str, mut procs: Vec<(u32, Option<Child>)>) -> Result<()> {
    let dir = paths::state_dir(name);
    let state = State::load(name).ok().flatten();
    if let Some(s) = &state {
        for m in &s.machines {
            if let Some(pid) = m.pid
                && !procs.iter().any(|(p, _)| *p == pid)
                && machine::is_nspawn_of(pid, &m.machine)
            {
                procs.push((pid, None));
            }
        }
    }
    for pid in nspawn_under(&dir) {
        if !procs.iter().any(|(p, _)| *p == pid) {
            procs.push((pid, None));
        }
    }
    machine::stop_all(&mut procs, machine::STOP_BOUND);
    for m in machine::mounts_under(&dir) {
        machine::unmount(&m)?;
    }
    machine::remove_cgroups(name)?;
    net::delete_link(&names::bridge_name(name))?;
    if let Some(s) = &state
        && s.bridge != names::bridge_name(name)
    {
        net::delete_link(&s.bridge)?;
    }
    if dir.exists() {
        // Never follow into a still-mounted lower layer: unmounted above, checked here.
        if !machine::mounts_under(&dir).is_empty() {
            return Err(Error::Leftovers {
                lab: name.to_string(),
                leftovers: leftovers(name),
            });
        }
        std::fs::remove_dir_all(&dir).map_err(io("cannot remove", &dir))?;
    }
    let left = leftovers(name);
    if !left.is_empty() {
        return Err(Error::Leftovers {
            lab: name.to_string(),
            leftovers: left,
        });
    }
    Ok(())
}
