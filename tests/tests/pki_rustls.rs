//! A TLS handshake in memory (rustls, client auth required) with kubin-issued server and
//! client certificates, for RSA and ECDSA.

use pki::{ClusterSetRequest, KeySpec, Member, issue_cluster_set, new_rng};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::SystemTime;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .map(|c| c.unwrap())
        .collect()
}

fn key(pem: &str) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).unwrap()
}

fn roots(ca_pem: &str) -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for c in certs(ca_pem) {
        roots.add(c).unwrap();
    }
    Arc::new(roots)
}

/// Moves bytes between the two ends until neither has anything to say; returns the first error.
fn handshake(
    client: &mut ClientConnection,
    server: &mut ServerConnection,
) -> Result<(), rustls::Error> {
    for _ in 0..20 {
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        if !buf.is_empty() {
            server.read_tls(&mut &buf[..]).unwrap();
            server.process_new_packets()?;
        }
        let mut back = Vec::new();
        server.write_tls(&mut back).unwrap();
        if !back.is_empty() {
            client.read_tls(&mut &back[..]).unwrap();
            client.process_new_packets()?;
        }
        if !client.is_handshaking() && !server.is_handshaking() && buf.is_empty() && back.is_empty()
        {
            return Ok(());
        }
    }
    Ok(())
}

fn check(spec: KeySpec) {
    let mut req = ClusterSetRequest::new(
        vec![Member {
            name: "etcd-1".into(),
            address: "127.0.0.1".parse().unwrap(),
        }],
        vec!["127.0.0.1".into(), "kubernetes.default.svc".into()],
    );
    req.key = spec;
    let set = issue_cluster_set(&req, SystemTime::now(), &new_rng()).unwrap();

    // The apiserver's serving cert, and the admin client cert, under the cluster CA.
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(set.ca_pem()), provider())
        .build()
        .unwrap();
    let server_config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            certs(&set.apiserver().cert_pem),
            key(&set.apiserver().key_pem),
        )
        .unwrap();
    let client_config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(set.ca_pem()))
        .with_client_auth_cert(certs(&set.admin().cert_pem), key(&set.admin().key_pem))
        .unwrap();
    let server_config = Arc::new(server_config);
    for name in ["kubernetes.default.svc", "127.0.0.1"] {
        let mut server = ServerConnection::new(server_config.clone()).unwrap();
        let mut client = ClientConnection::new(
            Arc::new(client_config.clone()),
            ServerName::try_from(name.to_string()).unwrap(),
        )
        .unwrap();
        handshake(&mut client, &mut server).unwrap_or_else(|e| panic!("{spec} {name}: {e}"));
        assert!(!client.is_handshaking() && !server.is_handshaking());
        let peer = server.peer_certificates().unwrap();
        assert_eq!(peer[0].as_ref(), certs(&set.admin().cert_pem)[0].as_ref());
        client.writer().write_all(b"ping").unwrap();
        let mut buf = Vec::new();
        client.write_tls(&mut buf).unwrap();
        server.read_tls(&mut &buf[..]).unwrap();
        server.process_new_packets().unwrap();
        let mut got = [0u8; 4];
        server.reader().read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    }

    // A name not in the SANs, and a client cert from the other CA, are refused.
    let mut server = ServerConnection::new(server_config.clone()).unwrap();
    let mut client = ClientConnection::new(
        Arc::new(client_config.clone()),
        ServerName::try_from("evil.example").unwrap(),
    )
    .unwrap();
    assert!(handshake(&mut client, &mut server).is_err());
    let etcd_client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(set.ca_pem()))
        .with_client_auth_cert(
            certs(&set.etcd_client().cert_pem),
            key(&set.etcd_client().key_pem),
        )
        .unwrap();
    let mut server = ServerConnection::new(server_config).unwrap();
    let mut client = ClientConnection::new(
        Arc::new(etcd_client),
        ServerName::try_from("127.0.0.1").unwrap(),
    )
    .unwrap();
    assert!(handshake(&mut client, &mut server).is_err());
}

#[test]
fn rsa_server_and_client_certs_handshake_with_client_auth() {
    check(KeySpec::Rsa2048);
}

#[test]
fn ecdsa_server_and_client_certs_handshake_with_client_auth() {
    check(KeySpec::EcdsaP256);
    check(KeySpec::EcdsaP384);
}
