//! A lab's state file (`state.json`): what `down` needs to find everything the lab made,
//! even from another process or after a crash.

use crate::error::{Error, Result, io};
use crate::paths;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Everything a lab made, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct State {
    /// The lab name.
    pub name: String,
    /// The third octet of the lab's /24.
    pub subnet: u8,
    /// The bridge interface.
    pub bridge: String,
    /// The base root the overlays use as their lower layer.
    pub base: PathBuf,
    /// The bundle the inventory points at.
    pub bundle: PathBuf,
    /// The machines, in host order.
    pub machines: Vec<MachineState>,
}

/// One machine of [`State`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MachineState {
    /// Host name.
    pub host: String,
    /// Address on the bridge.
    pub address: Ipv4Addr,
    /// nspawn machine name.
    pub machine: String,
    /// PID of its `systemd-nspawn` process while it runs.
    pub pid: Option<u32>,
}

/// The state file of lab `name`.
pub(crate) fn state_file(name: &str) -> PathBuf {
    paths::state_dir(name).join("state.json")
}

/// The directory of one machine (`upper`, `work`, `merged`, `nspawn.log`).
pub(crate) fn machine_dir(name: &str, host: &str) -> PathBuf {
    paths::state_dir(name).join("machines").join(host)
}

impl State {
    /// Reads lab `name`'s state, `None` if it has none.
    pub fn load(name: &str) -> Result<Option<State>> {
        let path = state_file(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io("cannot read", &path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::BadState {
                path,
                message: e.to_string(),
            })
    }

    /// Writes the state (atomically: a temporary file renamed over the old one).
    pub fn save(&self) -> Result<()> {
        let path = state_file(&self.name);
        let dir = path.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::BadState {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(io("cannot write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("cannot rename into", &path))
    }

    /// The subnets of every lab with state on this machine.
    pub fn used_subnets() -> Vec<u8> {
        crate::lab::list()
            .iter()
            .filter_map(|n| State::load(n).ok().flatten())
            .map(|s| s.subnet)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let s = State {
            name: "t".into(),
            subnet: 9,
            bridge: "kl-t-0000".into(),
            base: "/b".into(),
            bundle: "/u".into(),
            machines: vec![MachineState {
                host: "k8s-master1".into(),
                address: Ipv4Addr::new(10, 213, 9, 11),
                machine: "l9m1".into(),
                pid: Some(42),
            }],
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<State>(&text).unwrap(), s);
    }
}
