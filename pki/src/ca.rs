//! A loaded certificate authority: its certificate, its key, checked to belong together.

use crate::{Error, PrivateKey};
use rcgen::{Issuer, KeyPair};
use std::fmt;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

/// A CA ready to sign: a CA certificate and the key that matches it (cfssl's or kubin's).
///
/// `Ca` is `Send + Sync`, so one CA can sign on every core at once.
pub struct Ca {
    cert_pem: String,
    cert_der: Vec<u8>,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for Ca {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ca")
            .field("issuer", &self.issuer)
            .field("key_pem", &"[secret elided]")
            .finish()
    }
}

impl Ca {
    /// Loads a CA from its certificate and key PEM. Refuses a certificate that is not a CA
    /// and a key that is not the certificate's. The names only label errors.
    pub fn from_pem(
        cert_pem: &str,
        cert_name: &str,
        key_pem: &str,
        key_name: &str,
    ) -> Result<Ca, Error> {
        let cert_der = pem_der(cert_pem, "CERTIFICATE", cert_name)?;
        let (_, cert) =
            X509Certificate::from_der(&cert_der).map_err(|e| Error::BadCertificate {
                source_name: cert_name.to_string(),
                message: e.to_string(),
            })?;
        if !cert.is_ca() {
            return Err(Error::NotACa {
                cert_name: cert_name.to_string(),
            });
        }
        let key = PrivateKey::from_pem(key_pem, key_name)?;
        if key.spki_der() != cert.tbs_certificate.subject_pki.raw {
            return Err(Error::CaKeyMismatch {
                cert_name: cert_name.to_string(),
                key_name: key_name.to_string(),
            });
        }
        let issuer =
            Issuer::from_ca_cert_der(&cert_der.clone().into(), key.into_pair()).map_err(|e| {
                Error::BadCertificate {
                    source_name: cert_name.to_string(),
                    message: e.to_string(),
                }
            })?;
        Ok(Ca {
            cert_pem: cert_pem.to_string(),
            cert_der,
            key_pem: key_pem.to_string(),
            issuer,
        })
    }

    /// The CA certificate's PEM, as loaded.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA key's PEM, as loaded.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Whether `leaf_pem` is a certificate whose signature this CA made.
    pub fn signed(&self, leaf_pem: &str) -> bool {
        let Ok(der) = pem_der(leaf_pem, "CERTIFICATE", "leaf") else {
            return false;
        };
        let (Ok((_, leaf)), Ok((_, ca))) = (
            X509Certificate::from_der(&der),
            X509Certificate::from_der(&self.cert_der),
        ) else {
            return false;
        };
        leaf.issuer() == ca.subject()
            && leaf
                .verify_signature(Some(&ca.tbs_certificate.subject_pki))
                .is_ok()
    }

    pub(crate) fn issuer(&self) -> &Issuer<'static, KeyPair> {
        &self.issuer
    }
}

/// The DER of the first PEM block labelled `label` in `text`.
pub(crate) fn pem_der(text: &str, label: &str, source_name: &str) -> Result<Vec<u8>, Error> {
    let blocks = pem::parse_many(text).map_err(|e| Error::BadCertificate {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    blocks
        .into_iter()
        .find(|b| b.tag() == label)
        .map(|b| b.into_contents())
        .ok_or_else(|| Error::BadCertificate {
            source_name: source_name.to_string(),
            message: format!("no {label} block"),
        })
}

/// The DER SubjectPublicKeyInfo of a PEM certificate.
pub(crate) fn cert_spki(text: &str, source_name: &str) -> Result<Vec<u8>, Error> {
    let der = pem_der(text, "CERTIFICATE", source_name)?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| Error::BadCertificate {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    Ok(cert.tbs_certificate.subject_pki.raw.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Ca>();
    }
}
