//! The crate's one error type.

/// What went wrong, with what an operator needs to act on it.
///
/// No variant ever carries a token or a key: a token file's problems name the line, not
/// its content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token file does not parse; it is left as it is.
    #[error("{source_name} is not a valid token file (left as it is): {}", problems.join("; "))]
    MalformedTokenFile {
        /// Where the file came from, e.g. `/opt/kubernetes/cfg/token.csv`.
        source_name: String,
        /// Every problem, each naming its line.
        problems: Vec<String>,
    },

    /// The token file parses but has no line for the bootstrap user.
    #[error("{source_name} has no line for user {user:?}; add one or rotate the token explicitly")]
    NoBootstrapLine {
        /// Where the file came from.
        source_name: String,
        /// The user looked for (`kubelet-bootstrap`).
        user: String,
    },

    /// The operating system's random source failed.
    #[error("the system's secure random source failed")]
    Random,

    /// A kubeconfig did not serialize.
    #[error("cannot render the kubeconfig {name}")]
    RenderKubeconfig {
        /// The kubeconfig's file name.
        name: String,
        /// Why.
        #[source]
        source: serde_saphyr::SerializeError,
    },

    /// A kubeconfig did not load.
    #[error("cannot load the kubeconfig {name}")]
    LoadKubeconfig {
        /// Where it came from.
        name: String,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },

    /// No client could be made from a kubeconfig.
    #[error("cannot make a Kubernetes client from {name}")]
    Client {
        /// The kubeconfig's name or path.
        name: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A call to the Kubernetes API failed.
    #[error("{action} failed")]
    Api {
        /// What was being done, naming the object, e.g. `approve CSR csr-abc`.
        action: String,
        /// The API's answer.
        #[source]
        source: kube::Error,
    },

    /// A request changed under every attempt to decide it (three conflicts in a row).
    #[error("CSR {name} kept changing while kubin decided it; run again")]
    KeptChanging {
        /// The request.
        name: String,
    },

    /// The watch on certificate signing requests ended before its goal.
    #[error("the watch on certificate signing requests ended: {reason}")]
    WatchEnded {
        /// Why.
        reason: String,
    },
}
