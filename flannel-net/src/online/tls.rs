//! The rustls client config kubin's v2 client uses: the etcd CA as the only root and the
//! client certificate for client authentication (aws-lc-rs, as everywhere in kubin).

use crate::error::Error;
use etcd_cluster::online::ClientTls;
use std::sync::Arc;

fn err(what: &str, message: impl ToString) -> Error {
    Error::Tls {
        what: what.into(),
        message: message.to_string(),
    }
}

/// The client config for `tls`.
pub fn client_config(tls: &ClientTls) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    let cas: Vec<_> = rustls_pemfile::certs(&mut tls.ca_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| err("the etcd CA", e))?;
    if cas.is_empty() {
        return Err(err("the etcd CA", "no certificate in the PEM"));
    }
    for ca in cas {
        roots.add(ca).map_err(|e| err("the etcd CA", e))?;
    }
    let chain: Vec<_> = rustls_pemfile::certs(&mut tls.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| err("the client certificate", e))?;
    if chain.is_empty() {
        return Err(err("the client certificate", "no certificate in the PEM"));
    }
    // The key's content never reaches a message.
    let key = rustls_pemfile::private_key(&mut tls.key_pem.as_bytes())
        .map_err(|_| err("the client key", "not a PEM private key"))?
        .ok_or_else(|| err("the client key", "no private key in the PEM"))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| err("TLS", e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err("the client certificate and key", e))
}
