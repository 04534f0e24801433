//! Online operations against the running cluster, through etcd's v3 API (`etcd-client`).
//!
//! Everything here is `async` and bounded by [`Timeouts`]: a member whose link is cut
//! makes a call fail with [`Problem::Timeout`](crate::health::Problem::Timeout), never
//! hang. The runtime belongs to the caller (the CLI's shell, the tests).

mod check;
mod ops;
mod probe;

pub use check::{check_endpoint, health};
pub use ops::{
    EndpointStatus, SnapshotInfo, is_reconfiguration_refusal, member_add, member_list,
    member_promote, member_remove, snapshot_save, status,
};

use crate::Error;
use etcd_client::{Certificate, Client, ConnectOptions, Identity, TlsOptions};
use std::sync::Arc;
use std::time::Duration;

/// The client's TLS material, PEM: the etcd CA, and a client certificate with its key.
/// kubin's own calls and flanneld's etcd client use the same shape.
///
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// The CA the members' server certificates are checked against.
    pub ca_pem: String,
    /// The client certificate kubin presents.
    pub cert_pem: String,
    /// The client certificate's key.
    pub key_pem: String,
}

impl std::fmt::Debug for ClientTls {
    // The key never appears in logs or errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls").finish_non_exhaustive()
    }
}

/// How long each step may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting (TCP and TLS) to one endpoint.
    pub connect: Duration,
    /// One request (status, alarms, a read, a member call).
    pub request: Duration,
}

impl Default for Timeouts {
    /// 2 s to connect, 3 s per request: a healthy member on a LAN answers in milliseconds.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(3),
        }
    }
}

/// The cluster to talk to: its client endpoints, TLS material and timeouts.
#[derive(Debug, Clone)]
pub struct Target {
    /// Client URLs, `https://ADDR:2379`, in inventory order.
    pub endpoints: Vec<String>,
    /// TLS material.
    pub tls: ClientTls,
    /// Timeouts.
    pub timeouts: Timeouts,
}

impl Target {
    /// The same target, restricted to one endpoint.
    pub fn only(&self, endpoint: &str) -> Self {
        Self {
            endpoints: vec![endpoint.to_string()],
            ..self.clone()
        }
    }
}

/// The one rustls client config of the workspace (the TLS probe here, flannel-net's v2
/// client): the etcd CA as the only root, the client certificate for client auth, aws-lc-rs
/// as the crypto provider (as etcd-client's tonic, reqwest and rcgen use).
pub fn client_config(tls: &ClientTls) -> Result<Arc<rustls::ClientConfig>, Error> {
    let pem_err = |what: &str, message: &str| Error::Pem {
        what: what.into(),
        message: message.into(),
        source: None,
    };
    let caused = |what: &'static str, message: &'static str| {
        move |e: Box<dyn std::error::Error + Send + Sync>| Error::Pem {
            what: what.into(),
            message: message.into(),
            source: Some(e),
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<_> = rustls_pemfile::certs(&mut tls.ca_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| caused("the etcd CA", "not PEM")(e.into()))?;
    if cas.is_empty() {
        return Err(pem_err("the etcd CA", "no certificate in the PEM"));
    }
    for ca in cas {
        roots
            .add(ca)
            .map_err(|e| caused("the etcd CA", "not a usable CA certificate")(e.into()))?;
    }
    let chain: Vec<_> = rustls_pemfile::certs(&mut tls.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| caused("the client certificate", "not PEM")(e.into()))?;
    if chain.is_empty() {
        return Err(pem_err(
            "the client certificate",
            "no certificate in the PEM",
        ));
    }
    // The parser's error could quote the key; only that it failed is said.
    let key = rustls_pemfile::private_key(&mut tls.key_pem.as_bytes())
        .map_err(|_| pem_err("the client key", "not a PEM private key"))?
        .ok_or_else(|| pem_err("the client key", "no private key in the PEM"))?;
    // aws-lc-rs, the provider etcd-client's tonic, reqwest and rcgen use too: one crypto
    // library per process. Its start-up is cheap because the workspace builds it to seed
    // from getrandom (see `pki::seeds_from_kernel`).
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| caused("TLS", "no protocol version to offer")(e.into()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        // Only the key's shape is wrong here; its content is never shown.
        .map_err(|e| caused("the client certificate and key", "rejected by rustls")(e.into()))?;
    Ok(Arc::new(config))
}

/// An etcd-client connected (lazily) to `endpoints`, with TLS, timeouts and require-leader
/// (so a member without a leader fails fast instead of waiting out the timeout).
pub(crate) async fn connect(
    endpoints: &[String],
    tls: &ClientTls,
    timeouts: Timeouts,
) -> Result<Client, etcd_client::Error> {
    let options = ConnectOptions::new()
        .with_tls(
            TlsOptions::new()
                .ca_certificate(Certificate::from_pem(&tls.ca_pem))
                .identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem)),
        )
        .with_connect_timeout(timeouts.connect)
        .with_timeout(timeouts.request)
        .with_require_leader(true);
    Client::connect(endpoints, Some(options)).await
}
