//! The file names of the set.
//!
//! On-disk layout under the directory (cfssljson's names; keys mode 0600):
//!
//! | file | what |
//! | --- | --- |
//! | `etcd/ca.pem`, `etcd/ca-key.pem` | the etcd CA |
//! | `etcd/server-<member>.pem`, `-key.pem` | etcd member's client-facing cert (server + client auth) |
//! | `etcd/peer-<member>.pem`, `-key.pem` | etcd member's peer cert (server + client auth) |
//! | `etcd/client.pem`, `-key.pem` | etcd client cert (apiserver, flannel, etcdctl) |
//! | `ca.pem`, `ca-key.pem` | the cluster CA |
//! | `apiserver.pem`, `-key.pem` | kube-apiserver's serving cert, SANs from the caller |
//! | `admin.pem`, `-key.pem` | `CN=admin, O=system:masters` |
//! | `kube-proxy.pem`, `-key.pem` | `CN=system:kube-proxy` |
//! | `kube-controller-manager.pem`, `-key.pem` | `CN=system:kube-controller-manager` |
//! | `kube-scheduler.pem`, `-key.pem` | `CN=system:kube-scheduler` |
//! | `apiserver-kubelet-client.pem`, `-key.pem` | `CN=kube-apiserver-kubelet-client, O=system:masters` |
//! | `sa.key`, `sa.pub` | the service-account key pair (RSA PKCS#1, public key PEM) |

/// The etcd CA's base name.
pub const ETCD_CA: &str = "etcd/ca";
/// The cluster CA's base name.
pub const CLUSTER_CA: &str = "ca";
/// The etcd client cert's base name.
pub const ETCD_CLIENT: &str = "etcd/client";
/// The apiserver's base name.
pub const APISERVER: &str = "apiserver";
/// The admin's base name.
pub const ADMIN: &str = "admin";
/// kube-proxy's base name.
pub const KUBE_PROXY: &str = "kube-proxy";
/// kube-controller-manager's base name.
pub const KUBE_CONTROLLER_MANAGER: &str = "kube-controller-manager";
/// kube-scheduler's base name.
pub const KUBE_SCHEDULER: &str = "kube-scheduler";
/// The apiserver's client cert towards kubelets.
pub const APISERVER_KUBELET_CLIENT: &str = "apiserver-kubelet-client";
/// The service-account private key (PKCS#1 PEM).
pub const SA_KEY: &str = "sa.key";
/// The service-account public key (PEM).
pub const SA_PUB: &str = "sa.pub";

/// An etcd member's server cert base name.
pub fn etcd_server(member: &str) -> String {
    format!("etcd/server-{member}")
}

/// An etcd member's peer cert base name.
pub fn etcd_peer(member: &str) -> String {
    format!("etcd/peer-{member}")
}

/// The certificate file of a base name.
pub fn cert_file(base: &str) -> String {
    format!("{base}.pem")
}

/// The key file of a base name.
pub fn key_file(base: &str) -> String {
    format!("{base}-key.pem")
}
