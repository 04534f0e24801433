//! The rendered files of a member: the env file in the guides' format and the systemd unit.
//!
//! Both are pure functions of the inventory (and the member's name); the same inventory
//! always renders the same bytes, so a re-deploy changes nothing.

use crate::Error;
use crate::layout::Layout;
use inventory::{Host, Inventory};
use std::collections::BTreeMap;
use std::fmt::Write;

/// `ETCD_INITIAL_CLUSTER_STATE`: a new cluster, or a member joining a running one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterState {
    /// Every member starts together (the deploy).
    New,
    /// The member joins a running cluster (`kubin etcd member add`).
    Existing,
}

impl ClusterState {
    /// The value etcd reads.
    pub fn as_str(self) -> &'static str {
        match self {
            ClusterState::New => "new",
            ClusterState::Existing => "existing",
        }
    }
}

/// The inventory's etcd member called `name`.
pub fn member<'a>(inv: &'a Inventory, name: &str) -> Result<&'a Host, Error> {
    let members = inv.etcd_members();
    members
        .iter()
        .find(|h| h.name == name)
        .copied()
        .ok_or_else(|| Error::NotAMember {
            name: name.to_string(),
            members: members
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The env file (`<etcd_cfg>/etcd`) of member `name`, in the guides' format.
///
/// The member listens for clients on its address and on `https://127.0.0.1:2379`, so
/// etcdctl on the member itself works without naming the address.
pub fn render_env(inv: &Inventory, name: &str, state: ClusterState) -> Result<String, Error> {
    let host = member(inv, name)?;
    let layout = Layout::new(&inv.paths);
    let peer = Inventory::etcd_peer_url(host);
    let client = Inventory::etcd_client_url(host);
    let local = format!("https://127.0.0.1:{}", inventory::ETCD_CLIENT_PORT);
    let listen_client = if client == local {
        client.clone()
    } else {
        format!("{client},{local}")
    };
    let mut s = String::new();
    let mut line = |k: &str, v: &str| {
        // Writing to a String cannot fail.
        let _ = writeln!(s, "{k}=\"{v}\"");
    };
    line("#[Member]\nETCD_NAME", &host.name);
    line("ETCD_DATA_DIR", &layout.data_dir.display().to_string());
    line("ETCD_LISTEN_PEER_URLS", &peer);
    line("ETCD_LISTEN_CLIENT_URLS", &listen_client);
    line("\n#[Clustering]\nETCD_INITIAL_ADVERTISE_PEER_URLS", &peer);
    line("ETCD_ADVERTISE_CLIENT_URLS", &client);
    line("ETCD_INITIAL_CLUSTER", &inv.etcd_initial_cluster());
    line("ETCD_INITIAL_CLUSTER_TOKEN", &inv.etcd_cluster_token());
    line("ETCD_INITIAL_CLUSTER_STATE", state.as_str());
    Ok(s)
}

/// The systemd unit (`<systemd_units>/etcd.service`), the same on every member.
///
/// The flags use etcd 3.4's names; `--enable-v2` is there exactly when the inventory's
/// flannel reads its config through the v2 API.
pub fn render_unit(inv: &Inventory) -> String {
    let l = Layout::new(&inv.paths);
    let mut flags = vec![
        format!("--cert-file={}", l.server_cert.display()),
        format!("--key-file={}", l.server_key.display()),
        format!("--peer-cert-file={}", l.peer_cert.display()),
        format!("--peer-key-file={}", l.peer_key.display()),
        format!("--trusted-ca-file={}", l.ca.display()),
        format!("--peer-trusted-ca-file={}", l.ca.display()),
        "--client-cert-auth".to_string(),
        "--peer-client-cert-auth".to_string(),
        "--logger=zap".to_string(),
    ];
    if inv.etcd_needs_v2() {
        flags.push("--enable-v2".to_string());
    }
    let mut exec = format!("ExecStart={}", l.etcd.display());
    for f in flags {
        exec.push_str(" \\\n  ");
        exec.push_str(&f);
    }
    format!(
        "[Unit]\n\
         Description=Etcd Server (kubin)\n\
         After=network.target\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         EnvironmentFile={env}\n\
         {exec}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         LimitNOFILE=65536\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        env = l.env_file.display(),
    )
}

/// Parses an env file as systemd's `EnvironmentFile=` reads it (comments and blank lines
/// skipped, double quotes removed): the inverse of [`render_env`], for checks.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

#[cfg(test)]
mod tests;
