//! The orchestration's one error type: every variant names what an operator needs to act.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can stop a phase.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The inventory could not be read or is not a usable cluster (its error names the
    /// file).
    #[error("cannot load the inventory")]
    Inventory {
        /// The inventory file.
        path: PathBuf,
        /// Why.
        #[source]
        source: inventory::Error,
    },
    /// `--host` names a host the inventory lacks.
    #[error("no host named {} in the inventory", names.join(", "))]
    UnknownHosts {
        /// The unknown names.
        names: Vec<String>,
    },
    /// The certificate set could not be checked, loaded or completed.
    #[error("certificates in {}", dir.display())]
    Pki {
        /// The inventory's pki_dir.
        dir: PathBuf,
        /// Why.
        #[source]
        source: pki::Error,
    },
    /// The certificate set lacks a member's certificate (it was issued for other members).
    #[error("no etcd {kind} certificate for {member} in {}", dir.display())]
    MissingCert {
        /// The pki_dir.
        dir: PathBuf,
        /// `server` or `peer`.
        kind: &'static str,
        /// The member.
        member: String,
    },
    /// A client certificate file for etcd could not be read.
    #[error("cannot read {} (make the certificates with `kubin pki cluster -f FILE`)", path.display())]
    ClientCert {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The inventory names no bundle.
    #[error("the inventory names no bundle: set `bundle:` to the directory of release tarballs")]
    NoBundle,
    /// The bundle has no `etcd-v*/` directory.
    #[error("{} has no etcd-v*/ directory", bundle.display())]
    NoEtcdInBundle {
        /// The bundle directory.
        bundle: PathBuf,
    },
    /// A local file (the bundle, a snapshot) could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime for the online calls could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Some hosts could not be reached over SSH.
    #[error("cannot reach {}", unreachable.iter().map(|(h, e)| format!("{h} ({e})")).collect::<Vec<_>>().join(", "))]
    Unreachable {
        /// Each host and why.
        unreachable: Vec<(String, String)>,
    },
    /// A plan failed on some hosts (the report was shown through the observer).
    #[error("{phase} failed on {}", hosts.join(", "))]
    Apply {
        /// What was applied.
        phase: String,
        /// The hosts that failed, each with its step and cause.
        hosts: Vec<String>,
    },
    /// The service did not become healthy in time.
    #[error("not healthy {when} (waited {}): {verdict}; {hint}\n{table}", humanize(*waited))]
    Unhealthy {
        /// When: `after the start`, `before restarting k8s-node1`, ...
        when: String,
        /// How long was waited.
        waited: Duration,
        /// The last verdict.
        verdict: String,
        /// The last health table.
        table: String,
        /// What to look at next.
        hint: String,
    },
    /// A learner never caught up with the leader.
    #[error("{member} never caught up within {}", humanize(*waited))]
    NeverCaughtUp {
        /// The new member.
        member: String,
        /// How long was waited.
        waited: Duration,
        /// The last refusal.
        #[source]
        source: etcd_cluster::Error,
    },
    /// A local file (token.csv, a kubeconfig) could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// token.csv has no line for the bootstrap user.
    #[error("{} has no kubelet-bootstrap line: add one, or move the file away to have kubin make a new token", path.display())]
    NoBootstrapToken {
        /// The token file.
        path: PathBuf,
    },
    /// The inventory has no master (nor load balancer) to reach the apiserver at.
    #[error("the inventory has no master and no load balancer: there is no apiserver to reach")]
    NoApiserver,
    /// A kubeconfig the phase needs is not in the set node-bootstrap made.
    #[error("no kubeconfig {file} in the cluster's set")]
    NoKubeconfig {
        /// Its file name.
        file: String,
    },
    /// The certificate set is not complete, and this command issues nothing.
    #[error("the certificate set in {} is not complete: run `kubin control-plane deploy` (or `kubin pki cluster`) first", dir.display())]
    IncompletePki {
        /// The pki_dir.
        dir: PathBuf,
    },
    /// Some nodes' kubelets had no client or serving certificate in time.
    #[error("no client and serving certificates for {} within {}{}; journalctl -u kubelet on those nodes tells why", nodes.join(", "), humanize(*waited), if approvals.is_empty() { String::from(" (no CSR was approved)") } else { format!(" (approved: {})", approvals.join("; ")) })]
    NoCertificate {
        /// How long was waited.
        waited: Duration,
        /// The nodes that were waited for.
        nodes: Vec<String>,
        /// What the approver did meanwhile.
        approvals: Vec<String>,
    },
    /// The bundle's runtime part (containerd, runc, CNI plugins, images) is unusable.
    #[error("the bundle {}: {problem}", bundle.display())]
    RuntimeBundle {
        /// The bundle directory.
        bundle: PathBuf,
        /// What is wrong, and where.
        problem: String,
    },
    /// Some nodes did not become Ready in time.
    #[error("{} not Ready within {}: {}; journalctl -u kubelet -u containerd on those nodes tells why", nodes.join(", "), humanize(*waited), conditions.join("; "))]
    NotReady {
        /// How long was waited.
        waited: Duration,
        /// The nodes not Ready.
        nodes: Vec<String>,
        /// Each one's last Ready condition (`k8s-node1: not registered`, ...).
        conditions: Vec<String>,
    },
    /// The node runtime or pod network could not be planned.
    #[error(transparent)]
    NodeRuntime(#[from] node_runtime::Error),
    /// Another run of kubin holds a host's lock.
    #[error(
        "{host} is locked by {holder}: another kubin run is changing it (the lock, /run/kubin.lock, goes when that run ends, on a reboot, or when found stale)"
    )]
    Locked {
        /// The host.
        host: String,
        /// Who holds it.
        holder: String,
    },
    /// A host's lock could not be read, taken or released.
    #[error("cannot handle the lock on {host}")]
    Lock {
        /// The host.
        host: String,
        /// Why (boxed: the executor's error is large).
        #[source]
        source: Box<executor::Error>,
    },
    /// A local directory (the PKI, on `reset --remove-pki`) could not be removed.
    #[error("cannot remove {}", path.display())]
    Remove {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A control plane or node component could not be planned.
    #[error(transparent)]
    ControlPlane(#[from] control_plane::Error),
    /// A token, kubeconfig or API call of node bootstrap failed.
    #[error(transparent)]
    NodeBootstrap(#[from] node_bootstrap::Error),
    /// An etcd operation failed.
    #[error(transparent)]
    Etcd(#[from] etcd_cluster::Error),
    /// A flannel operation failed.
    #[error(transparent)]
    Flannel(#[from] flannel_net::Error),
}

/// `2m`, `500ms`: durations as the flags take them.
pub(crate) fn humanize(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
