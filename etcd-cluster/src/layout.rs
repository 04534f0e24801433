//! Where etcd's files live on a member, from the inventory's `paths`.

use inventory::Paths;
use std::path::PathBuf;

/// The systemd unit's name.
pub const UNIT: &str = "etcd.service";

/// Every path the deploy writes on a member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The config directory (guides: `/opt/etcd/cfg`).
    pub cfg_dir: PathBuf,
    /// The binary directory (guides: `/opt/etcd/bin`).
    pub bin_dir: PathBuf,
    /// The certificate directory (guides: `/opt/etcd/ssl`).
    pub ssl_dir: PathBuf,
    /// The data directory (guides: `/var/lib/etcd/default.etcd`).
    pub data_dir: PathBuf,
    /// The env file, `<cfg>/etcd`.
    pub env_file: PathBuf,
    /// The unit file, `<units>/etcd.service`.
    pub unit_file: PathBuf,
    /// `<bin>/etcd`.
    pub etcd: PathBuf,
    /// `<bin>/etcdctl`.
    pub etcdctl: PathBuf,
    /// `<ssl>/ca.pem`.
    pub ca: PathBuf,
    /// `<ssl>/server.pem`.
    pub server_cert: PathBuf,
    /// `<ssl>/server-key.pem`.
    pub server_key: PathBuf,
    /// `<ssl>/peer.pem`.
    pub peer_cert: PathBuf,
    /// `<ssl>/peer-key.pem`.
    pub peer_key: PathBuf,
}

impl Layout {
    /// The layout for the inventory's paths.
    pub fn new(paths: &Paths) -> Self {
        let ssl = &paths.etcd_ssl;
        Self {
            cfg_dir: paths.etcd_cfg.clone(),
            bin_dir: paths.etcd_bin.clone(),
            ssl_dir: ssl.clone(),
            data_dir: paths.etcd_data.clone(),
            env_file: paths.etcd_cfg.join("etcd"),
            unit_file: paths.systemd_units.join(UNIT),
            etcd: paths.etcd_bin.join("etcd"),
            etcdctl: paths.etcd_bin.join("etcdctl"),
            ca: ssl.join("ca.pem"),
            server_cert: ssl.join("server.pem"),
            server_key: ssl.join("server-key.pem"),
            peer_cert: ssl.join("peer.pem"),
            peer_key: ssl.join("peer-key.pem"),
        }
    }
}
