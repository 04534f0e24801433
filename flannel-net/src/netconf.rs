//! flannel's net-conf: the JSON at `<prefix>/config` in etcd and in kube-flannel's
//! `net-conf.json`, modelled key for key as flannel's `subnet.Config` and backends parse it.
//!
//! Keys are capitalized as flannel writes them; an absent option is omitted (never `null`),
//! so flannel applies its own default, exactly as for a hand-written config.

use crate::error::Error;
use inventory::{FlannelBackend, Inventory};
use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use std::net::{Ipv4Addr, Ipv6Addr};

/// flannel's network config (`subnet.Config`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetConf {
    /// The IPv4 pod network every node's subnet is leased from.
    #[serde(rename = "Network", default, skip_serializing_if = "Option::is_none")]
    pub network: Option<Ipv4Net>,
    /// Each node's subnet length (flannel: 24, or the network's prefix + 2 for /23../28).
    #[serde(rename = "SubnetLen", default, skip_serializing_if = "Option::is_none")]
    pub subnet_len: Option<u8>,
    /// The lowest subnet flannel leases (flannel: the second subnet of `Network`).
    #[serde(rename = "SubnetMin", default, skip_serializing_if = "Option::is_none")]
    pub subnet_min: Option<Ipv4Addr>,
    /// The highest subnet flannel leases (flannel: the last subnet of `Network`).
    #[serde(rename = "SubnetMax", default, skip_serializing_if = "Option::is_none")]
    pub subnet_max: Option<Ipv4Addr>,
    /// IPv4 on (flannel's default: true; flannel before 0.15 ignores the key).
    #[serde(
        rename = "EnableIPv4",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv4: Option<bool>,
    /// IPv6 on (flannel's default: false).
    #[serde(
        rename = "EnableIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enable_ipv6: Option<bool>,
    /// The IPv6 pod network.
    #[serde(
        rename = "IPv6Network",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_network: Option<Ipv6Net>,
    /// Each node's IPv6 subnet length (flannel: 64).
    #[serde(
        rename = "IPv6SubnetLen",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_subnet_len: Option<u8>,
    /// The lowest IPv6 subnet flannel leases.
    #[serde(
        rename = "IPv6SubnetMin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_subnet_min: Option<Ipv6Addr>,
    /// The highest IPv6 subnet flannel leases.
    #[serde(
        rename = "IPv6SubnetMax",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ipv6_subnet_max: Option<Ipv6Addr>,
    /// The backend (flannel: `udp` when absent).
    #[serde(rename = "Backend", default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<Backend>,
}

/// flannel's `Backend` object, tagged by its `Type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "Type")]
pub enum Backend {
    /// In-kernel VXLAN (flannel's recommended backend).
    #[serde(rename = "vxlan")]
    Vxlan(VxlanOptions),
    /// Routes to other hosts' subnets via their addresses; needs one L2 network.
    #[serde(rename = "host-gw")]
    HostGw(HostGwOptions),
    /// The userspace UDP tunnel (debugging only).
    #[serde(rename = "udp")]
    Udp(UdpOptions),
    /// WireGuard tunnels (flannel 0.14 and later).
    #[serde(rename = "wireguard")]
    Wireguard(WireguardOptions),
    /// A type kubin does not configure (aws-vpc, gce, alloc, ipip, extension...), kept so
    /// that an existing config can be read and shown; never written.
    #[serde(other, skip_serializing)]
    Unknown,
}

/// `vxlan` options (flannel's `pkg/backend/vxlan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VxlanOptions {
    /// The VXLAN ID (flannel: 1; the device is `flannel.<VNI>`).
    #[serde(rename = "VNI", default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    /// The UDP port (flannel: the kernel's default, 8472).
    #[serde(rename = "Port", default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// VXLAN Group Based Policy.
    #[serde(rename = "GBP", default, skip_serializing_if = "Option::is_none")]
    pub gbp: Option<bool>,
    /// Kernel learning of remote VTEPs (flannel 0.12 and later).
    #[serde(rename = "Learning", default, skip_serializing_if = "Option::is_none")]
    pub learning: Option<bool>,
    /// Direct routes (like host-gw) to hosts on the same subnet.
    #[serde(
        rename = "DirectRouting",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub direct_routing: Option<bool>,
}

/// `host-gw` takes no options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostGwOptions {}

/// `udp` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UdpOptions {
    /// The UDP port (flannel: 8285).
    #[serde(rename = "Port", default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// `wireguard` options (flannel's `pkg/backend/wireguard`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireguardOptions {
    /// A pre-shared key: a secret, never shown (see [`NetConf::redacted`]).
    #[serde(rename = "PSK", default, skip_serializing_if = "Option::is_none")]
    pub psk: Option<String>,
    /// The IPv4 listen port (flannel: 51820).
    #[serde(
        rename = "ListenPort",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub listen_port: Option<u16>,
    /// The IPv6 listen port (flannel: 51821).
    #[serde(
        rename = "ListenPortV6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub listen_port_v6: Option<u16>,
    /// Keepalive, in seconds (flannel: 0, off).
    #[serde(
        rename = "PersistentKeepaliveInterval",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub persistent_keepalive_interval: Option<u64>,
    /// One device per family or one for both.
    #[serde(rename = "Mode", default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<WireguardMode>,
}

impl std::fmt::Debug for WireguardOptions {
    // The PSK never appears in logs or errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WireguardOptions")
            .field("psk", &self.psk.as_ref().map(|_| "<redacted>"))
            .field("listen_port", &self.listen_port)
            .field("listen_port_v6", &self.listen_port_v6)
            .field(
                "persistent_keepalive_interval",
                &self.persistent_keepalive_interval,
            )
            .field("mode", &self.mode)
            .finish()
    }
}

/// WireGuard's `Mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WireguardMode {
    /// One device per address family (flannel's default).
    Separate,
    /// One device, family chosen automatically.
    Auto,
    /// One device over IPv4.
    Ipv4,
    /// One device over IPv6.
    Ipv6,
}

/// What a secret is replaced with when a config is shown.
pub const REDACTED: &str = "<redacted>";

impl Backend {
    /// The `Type` string flannel reads.
    pub fn kind(&self) -> &'static str {
        match self {
            Backend::Vxlan(_) => "vxlan",
            Backend::HostGw(_) => "host-gw",
            Backend::Udp(_) => "udp",
            Backend::Wireguard(_) => "wireguard",
            Backend::Unknown => "unknown",
        }
    }

    /// The backend with flannel's defaults for `kind` (no options set).
    pub fn from_inventory(kind: FlannelBackend) -> Self {
        match kind {
            FlannelBackend::Vxlan => Backend::Vxlan(VxlanOptions::default()),
            FlannelBackend::HostGw => Backend::HostGw(HostGwOptions::default()),
            FlannelBackend::Udp => Backend::Udp(UdpOptions::default()),
            FlannelBackend::Wireguard => Backend::Wireguard(WireguardOptions::default()),
        }
    }
}

impl NetConf {
    /// The config the inventory asks for: `Network` from `network.pod_cidr`, `SubnetLen`
    /// from `network.flannel.subnet_len` (absent: flannel's default) and the backend with
    /// flannel's default options, the guides' `{"Network":..., "Backend":{"Type":"vxlan"}}`.
    pub fn from_inventory(inv: &Inventory) -> Self {
        Self {
            network: Some(inv.network.pod_cidr),
            subnet_len: inv.network.flannel.subnet_len,
            backend: Some(Backend::from_inventory(inv.network.flannel.backend)),
            ..Self::default()
        }
    }

    /// Parses net-conf JSON as flannel does (unknown keys are ignored, as Go's decoder
    /// ignores them); `what` names the source in the error.
    pub fn parse(text: &str, what: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|source| Error::Parse {
            what: what.to_string(),
            source,
        })
    }

    /// The compact JSON written to etcd (one line, as the guides' `etcdctl set` writes it).
    pub fn to_json(&self) -> String {
        // Serializing plain strings, numbers and booleans cannot fail; `Unknown` backends
        // are never built by kubin (only parsed), and are dropped rather than panicking.
        serde_json::to_string(&self.writable()).unwrap_or_default()
    }

    /// Indented JSON, for display, diffs and kube-flannel's ConfigMap.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(&self.writable()).unwrap_or_default()
    }

    /// The same config with secrets (WireGuard's PSK) replaced by [`REDACTED`].
    pub fn redacted(&self) -> Self {
        let mut c = self.clone();
        if let Some(Backend::Wireguard(w)) = &mut c.backend
            && w.psk.is_some()
        {
            w.psk = Some(REDACTED.into());
        }
        c
    }

    /// Whether the config holds a secret.
    pub fn has_secret(&self) -> bool {
        matches!(&self.backend, Some(Backend::Wireguard(w)) if w.psk.is_some())
    }

    fn writable(&self) -> Self {
        let mut c = self.clone();
        if c.backend == Some(Backend::Unknown) {
            c.backend = None;
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_config_serializes_as_flannel_reads_it() {
        let c = NetConf {
            network: Some("172.17.0.0/16".parse().unwrap()),
            backend: Some(Backend::Vxlan(VxlanOptions::default())),
            ..NetConf::default()
        };
        assert_eq!(
            c.to_json(),
            r#"{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}"#
        );
    }

    #[test]
    fn flannels_documented_example_parses() {
        let text = r#"{
            "Network": "10.0.0.0/8",
            "SubnetLen": 20,
            "SubnetMin": "10.10.0.0",
            "SubnetMax": "10.99.0.0",
            "Backend": { "Type": "udp", "Port": 7890 }
        }"#;
        let c = NetConf::parse(text, "example").unwrap();
        assert_eq!(c.subnet_len, Some(20));
        assert_eq!(c.subnet_max, Some("10.99.0.0".parse().unwrap()));
        assert_eq!(
            c.backend,
            Some(Backend::Udp(UdpOptions { port: Some(7890) }))
        );
    }

    #[test]
    fn options_use_flannels_key_names() {
        let c = NetConf {
            network: Some("10.244.0.0/16".parse().unwrap()),
            backend: Some(Backend::Vxlan(VxlanOptions {
                vni: Some(4096),
                port: Some(4789),
                gbp: Some(false),
                learning: None,
                direct_routing: Some(true),
            })),
            ..NetConf::default()
        };
        assert_eq!(
            c.to_json(),
            r#"{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan","VNI":4096,"Port":4789,"GBP":false,"DirectRouting":true}}"#
        );
        let w = NetConf {
            backend: Some(Backend::Wireguard(WireguardOptions {
                psk: Some("secret".into()),
                listen_port: Some(51820),
                mode: Some(WireguardMode::Auto),
                ..WireguardOptions::default()
            })),
            ..NetConf::default()
        };
        assert_eq!(
            w.to_json(),
            r#"{"Backend":{"Type":"wireguard","PSK":"secret","ListenPort":51820,"Mode":"auto"}}"#
        );
        assert!(!format!("{w:?}").contains("secret"));
        assert!(!w.redacted().to_json().contains("secret"));
        let h = NetConf::parse(
            r#"{"Network":"10.1.0.0/16","Backend":{"Type":"host-gw"}}"#,
            "t",
        );
        assert_eq!(h.unwrap().backend, Some(Backend::HostGw(HostGwOptions {})));
    }

    #[test]
    fn unknown_backends_and_keys_are_read_not_refused() {
        let c = NetConf::parse(
            r#"{"Network":"10.1.0.0/16","Backend":{"Type":"aws-vpc","RouteTableID":"x"},"Extra":1}"#,
            "t",
        )
        .unwrap();
        assert_eq!(c.backend, Some(Backend::Unknown));
        assert!(NetConf::parse("{not json", "the key").is_err());
    }
}
