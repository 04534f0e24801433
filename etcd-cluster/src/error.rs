//! The error type of `etcd-cluster`: every variant names the member, endpoint or path.

/// Everything that can go wrong planning for or talking to the etcd cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The named host is not an etcd member in the inventory.
    #[error("{name:?} is not an etcd member in the inventory (members: {members})")]
    NotAMember {
        /// The name asked for.
        name: String,
        /// The inventory's members, comma-separated.
        members: String,
    },
    /// A member has no certificates among those given to the plan.
    #[error("no certificates for etcd member {member:?}")]
    MissingCerts {
        /// The member.
        member: String,
    },
    /// The bundle lacks a binary the deploy needs.
    #[error("the bundle has no {what}: {detail}")]
    Bundle {
        /// Which binary.
        what: String,
        /// Where it was looked for.
        detail: String,
    },
    /// The running cluster's members differ from the inventory's.
    #[error(
        "the running etcd cluster's members differ from the inventory: {}; \
         a deploy never changes the member list of a running cluster: use \
         `kubin etcd member add` / `kubin etcd member remove`",
        describe_change(.only_live, .only_inventory)
    )]
    MembershipChange {
        /// Members running but not in the inventory (`name=peer URL`).
        only_live: Vec<String>,
        /// Members in the inventory but not running (`name=peer URL`).
        only_inventory: Vec<String>,
    },
    /// Removing the member would leave too few healthy members for a quorum.
    #[error(
        "removing {member:?} would leave {healthy_after} healthy of {members_after} members, \
         below the quorum of {quorum}: bring members back first"
    )]
    WouldLoseQuorum {
        /// The member to remove.
        member: String,
        /// Healthy members left after the removal.
        healthy_after: usize,
        /// Members left after the removal.
        members_after: usize,
        /// The quorum of the smaller cluster.
        quorum: usize,
    },
    /// A member operation referred to a member the cluster does not have (or has already).
    #[error("etcd member {member:?}: {message}")]
    Member {
        /// The member.
        member: String,
        /// What is wrong.
        message: String,
    },
    /// A PEM input (CA, client certificate or key) could not be used.
    #[error("{what}: {message}")]
    Pem {
        /// Which input.
        what: String,
        /// What is wrong (never the key's content).
        message: String,
        /// The parser's or rustls' error, when one said so.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A call to an etcd endpoint failed.
    #[error("{endpoint}")]
    Endpoint {
        /// The endpoint.
        endpoint: String,
        /// What failed, classified (refused, timeout, unknown CA, expired, ...).
        #[source]
        problem: crate::health::Problem,
    },
    /// No endpoint answered.
    #[error("no etcd endpoint answered: {}", .failures.join("; "))]
    NoEndpoint {
        /// Each endpoint's failure.
        failures: Vec<String>,
    },
    /// A local file (the snapshot) could not be read or written.
    #[error("{path}")]
    Io {
        /// The path.
        path: String,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
}

fn describe_change(only_live: &[String], only_inventory: &[String]) -> String {
    let mut parts = Vec::new();
    if !only_live.is_empty() {
        parts.push(format!(
            "running but not in the inventory: {}",
            only_live.join(", ")
        ));
    }
    if !only_inventory.is_empty() {
        parts.push(format!(
            "in the inventory but not running: {}",
            only_inventory.join(", ")
        ));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use crate::online::ClientTls;

    /// The chain as the CLI prints it (`{:#}`): each `source()` level joined by ": ".
    fn chain(e: super::Error) -> String {
        format!("{:#}", anyhow::Error::new(e))
    }

    #[test]
    fn a_rustls_cause_is_printed_once() {
        // PEM that parses, holding DER that is no certificate: rustls refuses it as a root.
        let tls = ClientTls {
            ca_pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into(),
            cert_pem: String::new(),
            key_pem: String::new(),
        };
        let e = crate::online::client_config(&tls).unwrap_err();
        let cause = std::error::Error::source(&e)
            .expect("rustls' error")
            .to_string();
        let printed = chain(e);
        assert_eq!(printed.matches(&cause).count(), 1, "{printed}");
        assert!(printed.starts_with("the etcd CA: "), "{printed}");
    }

    #[test]
    fn an_endpoint_problem_is_printed_once() {
        let e = super::Error::Endpoint {
            endpoint: "https://10.0.0.1:2379".into(),
            problem: crate::health::Problem::ConnectionRefused,
        };
        assert_eq!(
            chain(e),
            "https://10.0.0.1:2379: connection refused (etcd not running?)"
        );
    }
}
