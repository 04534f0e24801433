//! Where the runtime's files go on a host: upstream's layout for containerd, runc and the
//! CNI plugins, so a host set up by hand from the release tarballs looks the same.

/// containerd's release tarball unpacks into `/usr/local` (`tar Cxzf /usr/local ...`).
pub const CONTAINERD_BIN_DIR: &str = "/usr/local/bin";
/// runc's install path in containerd's getting-started guide.
pub const RUNC: &str = "/usr/local/sbin/runc";
/// Where the CNI plugins tarball unpacks, and containerd's CRI `bin_dir`.
pub const CNI_BIN_DIR: &str = "/opt/cni/bin";
/// The CNI config directory containerd's CRI plugin reads (`conf_dir`).
pub const CNI_CONF_DIR: &str = "/etc/cni/net.d";
/// containerd's config directory.
pub const CONTAINERD_CONF_DIR: &str = "/etc/containerd";
/// containerd's config file (its default `--config`).
pub const CONTAINERD_CONFIG: &str = "/etc/containerd/config.toml";
/// containerd's persistent root.
pub const CONTAINERD_ROOT: &str = "/var/lib/containerd";
/// containerd's state directory.
pub const CONTAINERD_STATE: &str = "/run/containerd";
/// containerd's unit.
pub const CONTAINERD_UNIT: &str = "containerd.service";
/// Where the plan puts image archives for `ctr images import`.
pub const IMAGES_DIR: &str = "/opt/kubernetes/images";
/// The containerd namespace the CRI plugin (and so the kubelet) uses.
pub const K8S_NAMESPACE: &str = "k8s.io";
/// The daemonless pod network's conflist. containerd's CRI plugin uses the first file of
/// `conf_dir` in name order.
pub const CNI_CONFLIST: &str = "/etc/cni/net.d/10-kubin-bridge.conflist";
/// The conflist kubin's flannel mode writes (`flannel-net`'s `CNI_CONFLIST`).
pub const FLANNEL_CONFLIST: &str = "/etc/cni/net.d/10-flannel.conflist";
/// The CNI network's name (host-local keeps its leases under `/var/lib/cni/networks/<name>`).
pub const CNI_NETWORK: &str = "kubin";
/// The pods' bridge on each node.
pub const BRIDGE: &str = "cni0";
/// The unit that restores the pod routes at boot.
pub const ROUTES_UNIT: &str = "kubin-pod-routes.service";
/// The script the routes unit runs, under the inventory's `kubernetes_bin`.
pub const ROUTES_SCRIPT: &str = "kubin-pod-routes";
