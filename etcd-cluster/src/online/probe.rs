//! A TCP and TLS probe of one endpoint that names what fails: refused, timed out, unknown
//! CA, expired certificate, client certificate rejected.
//!
//! etcd-client (tonic) folds all of these into "transport error"; an operator needs to know
//! which it is, so each endpoint is probed with rustls first.

use crate::health::Problem;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, CertificateError};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// Splits `https://HOST:PORT[/...]` into host and port.
pub(crate) fn host_port(endpoint: &str) -> Option<(String, u16)> {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"))
        .unwrap_or(endpoint);
    let authority = rest.split('/').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Some((host.to_string(), port.parse().ok()?))
}

/// Connects, completes the TLS handshake and reads etcd's `/version`, so that a client
/// certificate the member rejects (TLS 1.3 reports it only after the handshake) shows too.
/// Blocking: run it on a blocking thread.
pub(crate) fn probe(
    endpoint: &str,
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<(), Problem> {
    let (host, port) = host_port(endpoint).ok_or_else(|| Problem::Rpc {
        call: "parse endpoint".into(),
        detail: format!("{endpoint:?} is not https://HOST:PORT"),
    })?;
    let addr: SocketAddr = (host.as_str(), port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| Problem::Unreachable {
            detail: format!("cannot resolve {host}"),
        })?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| io_problem(&e, "connecting", timeout))?;
    // Small TLS flights must not wait for delayed ACKs (Nagle would add ~40 ms).
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));
    let name = ServerName::try_from(host.clone()).map_err(|e| Problem::Tls {
        detail: format!("{host}: {e}"),
    })?;
    let mut conn = rustls::ClientConnection::new(config, name).map_err(|e| tls_problem(&e))?;
    let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
    let request = format!("GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())
        .map_err(|e| io_problem(&e, "during the TLS handshake", timeout))?;
    let mut buf = [0u8; 64];
    let n = tls
        .read(&mut buf)
        .map_err(|e| io_problem(&e, "waiting for the member's answer", timeout))?;
    if n == 0 {
        return Err(Problem::Tls {
            detail: "the member closed the connection without answering".into(),
        });
    }
    Ok(())
}

fn io_problem(e: &std::io::Error, during: &str, timeout: Duration) -> Problem {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return tls_problem(tls);
    }
    match e.kind() {
        ErrorKind::ConnectionRefused => Problem::ConnectionRefused,
        ErrorKind::TimedOut | ErrorKind::WouldBlock => Problem::Timeout {
            during: during.into(),
            after_ms: timeout.as_millis() as u64,
        },
        ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => Problem::Unreachable {
            detail: e.to_string(),
        },
        _ => Problem::Tls {
            detail: format!("{during}: {e}"),
        },
    }
}

fn tls_problem(e: &rustls::Error) -> Problem {
    let detail = e.to_string();
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                Problem::UnknownCa { detail }
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => Problem::ServerCertExpired { detail },
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                Problem::ServerCertName { detail }
            }
            _ => Problem::Tls { detail },
        },
        rustls::Error::AlertReceived(
            a @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateRequired
            | AlertDescription::UnsupportedCertificate),
        ) => Problem::ClientCertRejected {
            alert: format!("{a:?}"),
        },
        _ => Problem::Tls { detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_split() {
        assert_eq!(
            host_port("https://192.168.31.63:2379"),
            Some(("192.168.31.63".into(), 2379))
        );
        assert_eq!(host_port("https://[::1]:2379/"), Some(("::1".into(), 2379)));
        assert_eq!(host_port("https://host"), None);
    }

    #[test]
    fn refused_is_named() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = Arc::new(
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        );
        assert_eq!(
            probe(
                &format!("https://127.0.0.1:{port}"),
                config,
                Duration::from_secs(1)
            ),
            Err(Problem::ConnectionRefused)
        );
    }
}
