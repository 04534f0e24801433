//! Inventories for the tests: the guides' topology at a chosen release.

use inventory::example::GUIDES_EXAMPLE;
use inventory::{Inventory, Version};

/// The guides' inventory (one master, two nodes) at Kubernetes `version`.
pub(crate) fn guides_at(version: &str) -> Inventory {
    let text = GUIDES_EXAMPLE.replace("version: \"1.20.2\"", &format!("version: \"{version}\""));
    Inventory::from_yaml(&text, "example").unwrap().0
}

/// The guides' inventory with flannel as a DaemonSet (`--kube-subnet-mgr`), which needs
/// per-node pod ranges from the controller-manager.
pub(crate) fn subnet_mgr_at(version: &str) -> Inventory {
    let mut inv = guides_at(version);
    inv.network.flannel.mode = inventory::FlannelMode::KubeSubnetMgr;
    inv
}

/// The guides' inventory at a version the inventory itself may refuse.
pub(crate) fn guides_with(version: Version) -> Inventory {
    let mut inv = guides_at("1.20.2");
    inv.kubernetes.version = version;
    inv
}

/// The two releases every rendered file is snapshotted for.
pub(crate) const SNAPSHOT_VERSIONS: [&str; 2] = ["1.20.2", "1.37.0"];
