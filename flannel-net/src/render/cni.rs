//! The CNI conflist for containerd: the flannel plugin (which reads subnet.env) delegating
//! to the bridge plugin, then portmap for hostPort.

use serde::{Deserialize, Serialize};

/// A CNI network configuration list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfList {
    /// The network's name.
    pub name: String,
    /// The CNI spec version.
    #[serde(rename = "cniVersion")]
    pub cni_version: String,
    /// The plugins, in order.
    pub plugins: Vec<Plugin>,
}

/// One plugin in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Plugin {
    /// flannel's CNI plugin.
    Flannel {
        /// What the bridge plugin it delegates to gets.
        delegate: Delegate,
    },
    /// The portmap plugin.
    Portmap {
        /// Capabilities the runtime fills in.
        capabilities: Capabilities,
    },
}

/// The flannel plugin's `delegate` (the bridge plugin's options).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegate {
    /// Let a pod reach itself through a service.
    #[serde(rename = "hairpinMode")]
    pub hairpin_mode: bool,
    /// The bridge is the pods' default gateway.
    #[serde(rename = "isDefaultGateway")]
    pub is_default_gateway: bool,
}

/// portmap's capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// hostPort mappings.
    #[serde(rename = "portMappings")]
    pub port_mappings: bool,
}

/// kube-flannel's conflist (network `cbr0`, CNI 0.3.1).
pub fn conflist() -> ConfList {
    ConfList {
        name: "cbr0".into(),
        cni_version: "0.3.1".into(),
        plugins: vec![
            Plugin::Flannel {
                delegate: Delegate {
                    hairpin_mode: true,
                    is_default_gateway: true,
                },
            },
            Plugin::Portmap {
                capabilities: Capabilities {
                    port_mappings: true,
                },
            },
        ],
    }
}

/// The conflist as the file's text.
pub fn render_conflist() -> String {
    let mut s = serde_json::to_string_pretty(&conflist()).unwrap_or_default();
    s.push('\n');
    s
}
