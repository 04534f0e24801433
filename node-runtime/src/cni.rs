//! The daemonless pod network's CNI conflist: the `bridge` plugin with `host-local`
//! addresses from the node's subnet, then `portmap` for hostPort when the bundle has it.
//!
//! `cniVersion` 0.4.0: the CNI plugins 1.1.1 accept 0.1.0 to 1.0.0 (`CNI_COMMAND=VERSION`
//! prints `supportedVersions`), and 0.4.0 is also the newest that the libcni of older
//! containerd releases (1.4, 1.5) knows; it has CHECK. containerd's CRI plugin brings up
//! each pod's `lo` itself with the `loopback` plugin, so that plugin is in no conflist.

use crate::layout::{BRIDGE, CNI_NETWORK};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

/// The CNI spec version of the conflist.
pub const CNI_VERSION: &str = "0.4.0";

/// A CNI network configuration list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfList {
    /// The CNI spec version.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The network's name.
    pub name: String,
    /// The plugins, in order.
    pub plugins: Vec<Plugin>,
}

/// One plugin of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Plugin {
    /// The bridge plugin: a veth per pod on the node's bridge.
    Bridge(Bridge),
    /// The portmap plugin.
    Portmap {
        /// Capabilities the runtime fills in.
        capabilities: Capabilities,
    },
}

/// The bridge plugin's options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bridge {
    /// The bridge's name.
    pub bridge: String,
    /// The bridge gets the subnet's gateway address.
    pub is_gateway: bool,
    /// Pods route everything through the bridge (ClusterIPs are outside the subnet).
    pub is_default_gateway: bool,
    /// The bridge plugin's masquerading rewrites everything leaving the node's own
    /// subnet, pod-to-pod traffic to other nodes too; kubin masquerades only traffic
    /// leaving the pod range instead.
    pub ip_masq: bool,
    /// A pod reaches itself through a Service.
    pub hairpin_mode: bool,
    /// Addresses.
    pub ipam: Ipam,
}

/// host-local address management.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipam {
    /// `host-local`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The address ranges: one set holding the node's subnet.
    pub ranges: Vec<Vec<Range>>,
}

/// One host-local range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    /// The node's pod subnet (the gateway is its first address).
    pub subnet: Ipv4Net,
}

/// portmap's capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// hostPort mappings.
    #[serde(rename = "portMappings")]
    pub port_mappings: bool,
}

/// The conflist of a node with pod subnet `subnet`; `portmap` when the bundle has it.
pub fn conflist(subnet: Ipv4Net, portmap: bool) -> ConfList {
    let mut plugins = vec![Plugin::Bridge(Bridge {
        bridge: BRIDGE.into(),
        is_gateway: true,
        is_default_gateway: true,
        ip_masq: false,
        hairpin_mode: true,
        ipam: Ipam {
            kind: "host-local".into(),
            ranges: vec![vec![Range { subnet }]],
        },
    })];
    if portmap {
        plugins.push(Plugin::Portmap {
            capabilities: Capabilities {
                port_mappings: true,
            },
        });
    }
    ConfList {
        cni_version: CNI_VERSION.into(),
        name: CNI_NETWORK.into(),
        plugins,
    }
}

/// The conflist as the file's text.
pub fn render_conflist(list: &ConfList) -> String {
    // Plain structs of strings, bools and lists always serialize.
    let mut s = serde_json::to_string_pretty(list).unwrap_or_default();
    s.push('\n');
    s
}
