//! Inspecting certificates: cfssl certinfo's view, a byte-free summary for snapshots, and
//! expiry checks over a set of certificates.

use crate::ca::pem_der;
use crate::key::spec_of;
use crate::{Error, Usage};
use serde::Serialize;
use std::time::{Duration, SystemTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// A subject or issuer as cfssl certinfo prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameInfo {
    /// CN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// C.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// O.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// OU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizational_unit: Option<String>,
    /// L.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// ST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<String>,
    /// Every attribute value, in the certificate's order.
    pub names: Vec<String>,
}

/// cfssl certinfo's JSON view of a certificate, plus the usages, CA flag and key kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// The subject.
    pub subject: NameInfo,
    /// The issuer.
    pub issuer: NameInfo,
    /// The serial number, in decimal (as cfssl).
    pub serial_number: String,
    /// SANs: IP addresses, DNS names, e-mail addresses, URIs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sans: Vec<String>,
    /// Start of validity, RFC 3339 UTC.
    pub not_before: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// Signature algorithm in cfssl's spelling (`SHA256WithRSA`, `ECDSAWithSHA256`).
    pub sigalg: String,
    /// Authority key id, colon-separated hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub authority_key_id: String,
    /// Subject key id, colon-separated hex.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject_key_id: String,
    /// Key and extended key usages, in cfssl's names.
    pub usages: Vec<String>,
    /// Whether basic constraints say CA:TRUE.
    pub is_ca: bool,
    /// The key, e.g. `rsa-2048`, `ecdsa-256`.
    pub key: String,
    /// The certificate PEM.
    pub pem: String,
    /// `not_before` as seconds since the Unix epoch.
    #[serde(skip)]
    pub not_before_unix: i64,
    /// `not_after` as seconds since the Unix epoch.
    #[serde(skip)]
    pub not_after_unix: i64,
}

impl CertInfo {
    /// The usages as [`Usage`]s, in a fixed order.
    pub fn usage_set(&self) -> Vec<Usage> {
        self.usages
            .iter()
            .filter_map(|u| Usage::from_name(u))
            .collect()
    }

    /// The validity span.
    pub fn span(&self) -> Duration {
        Duration::from_secs(
            self.not_after_unix
                .saturating_sub(self.not_before_unix)
                .max(0) as u64,
        )
    }
}

fn name_info(name: &X509Name<'_>) -> NameInfo {
    let first = |it: &mut dyn Iterator<Item = &x509_parser::x509::AttributeTypeAndValue<'_>>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
    };
    NameInfo {
        common_name: first(&mut name.iter_common_name()),
        country: first(&mut name.iter_country()),
        organization: first(&mut name.iter_organization()),
        organizational_unit: first(&mut name.iter_organizational_unit()),
        locality: first(&mut name.iter_locality()),
        province: first(&mut name.iter_state_or_province()),
        names: name
            .iter_attributes()
            .filter_map(|a| a.as_str().ok())
            .map(str::to_string)
            .collect(),
    }
}

/// RFC 3339 in UTC, to the second.
pub(crate) fn rfc3339(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => unix.to_string(),
    }
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn sigalg(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.11" => "SHA256WithRSA",
        "1.2.840.113549.1.1.12" => "SHA384WithRSA",
        "1.2.840.113549.1.1.13" => "SHA512WithRSA",
        "1.2.840.10045.4.3.2" => "ECDSAWithSHA256",
        "1.2.840.10045.4.3.3" => "ECDSAWithSHA384",
        "1.2.840.10045.4.3.4" => "ECDSAWithSHA512",
        other => other,
    }
    .to_string()
}

fn general_name(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
            Some(s.to_string())
        }
        GeneralName::IPAddress(b) => match b.len() {
            4 => <[u8; 4]>::try_from(*b)
                .ok()
                .map(|a| std::net::Ipv4Addr::from(a).to_string()),
            16 => <[u8; 16]>::try_from(*b)
                .ok()
                .map(|a| std::net::Ipv6Addr::from(a).to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Parses a PEM certificate into cfssl certinfo's view; `source_name` labels errors.
pub fn cert_info(pem_text: &str, source_name: &str) -> Result<CertInfo, Error> {
    let der = pem_der(pem_text, "CERTIFICATE", source_name)?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| Error::BadCertificate {
        source_name: source_name.to_string(),
        message: e.to_string(),
    })?;
    let mut info = CertInfo {
        subject: name_info(cert.subject()),
        issuer: name_info(cert.issuer()),
        serial_number: cert.tbs_certificate.serial.to_string(),
        sans: Vec::new(),
        not_before: rfc3339(cert.validity().not_before.timestamp()),
        not_after: rfc3339(cert.validity().not_after.timestamp()),
        not_before_unix: cert.validity().not_before.timestamp(),
        not_after_unix: cert.validity().not_after.timestamp(),
        sigalg: sigalg(&cert.signature_algorithm.algorithm.to_id_string()),
        authority_key_id: String::new(),
        subject_key_id: String::new(),
        usages: Vec::new(),
        is_ca: cert.is_ca(),
        key: spec_of(&cert.tbs_certificate.subject_pki)
            .map(|s| s.to_string())
            .unwrap_or_else(|| "unknown".into()),
        pem: crate::key::encode_pem("CERTIFICATE", der.clone()),
    };
    let mut usages = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectAlternativeName(san) => {
                info.sans = san.general_names.iter().filter_map(general_name).collect();
            }
            ParsedExtension::SubjectKeyIdentifier(id) => info.subject_key_id = colon_hex(id.0),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                if let Some(id) = &aki.key_identifier {
                    info.authority_key_id = colon_hex(id.0);
                }
            }
            ParsedExtension::KeyUsage(ku) => {
                let bits = [
                    (ku.digital_signature(), Usage::DigitalSignature),
                    (ku.non_repudiation(), Usage::ContentCommitment),
                    (ku.key_encipherment(), Usage::KeyEncipherment),
                    (ku.data_encipherment(), Usage::DataEncipherment),
                    (ku.key_agreement(), Usage::KeyAgreement),
                    (ku.key_cert_sign(), Usage::CertSign),
                    (ku.crl_sign(), Usage::CrlSign),
                    (ku.encipher_only(), Usage::EncipherOnly),
                    (ku.decipher_only(), Usage::DecipherOnly),
                ];
                usages.extend(bits.iter().filter(|(on, _)| *on).map(|(_, u)| *u));
            }
            ParsedExtension::ExtendedKeyUsage(eku) => {
                let flags = [
                    (eku.any, Usage::Any),
                    (eku.server_auth, Usage::ServerAuth),
                    (eku.client_auth, Usage::ClientAuth),
                    (eku.code_signing, Usage::CodeSigning),
                    (eku.email_protection, Usage::EmailProtection),
                    (eku.time_stamping, Usage::Timestamping),
                    (eku.ocsp_signing, Usage::OcspSigning),
                ];
                usages.extend(flags.iter().filter(|(on, _)| *on).map(|(_, u)| *u));
                for oid in &eku.other {
                    match oid.to_id_string().as_str() {
                        "1.3.6.1.5.5.7.3.5" => usages.push(Usage::IpsecEndSystem),
                        "1.3.6.1.5.5.7.3.6" => usages.push(Usage::IpsecTunnel),
                        "1.3.6.1.5.5.7.3.7" => usages.push(Usage::IpsecUser),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    usages.sort();
    usages.dedup();
    info.usages = usages.iter().map(|u| u.name().to_string()).collect();
    Ok(info)
}

/// A byte-free summary for snapshots and comparisons: subject, issuer, SANs, usages, CA flag,
/// key kind and the validity span (never serials, dates or bytes, which change every run).
pub fn summary(info: &CertInfo) -> String {
    let dn = |n: &NameInfo| {
        let fields = [
            ("C", &n.country),
            ("ST", &n.province),
            ("L", &n.locality),
            ("O", &n.organization),
            ("OU", &n.organizational_unit),
            ("CN", &n.common_name),
        ];
        fields
            .iter()
            .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let span = info.span();
    let span = if span.as_secs().is_multiple_of(3600) {
        format!("{}h", span.as_secs() / 3600)
    } else {
        format!("{}s", span.as_secs())
    };
    format!(
        "subject: {}\nissuer: {}\nsans: [{}]\nusages: [{}]\nca: {}\nkey: {}\nvalidity: {}\n",
        dn(&info.subject),
        dn(&info.issuer),
        info.sans.join(", "),
        info.usages.join(", "),
        info.is_ca,
        info.key,
        span
    )
}

/// One certificate's expiry, as `check-expiration` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// The file or label of the certificate.
    pub name: String,
    /// The subject's CN.
    pub common_name: String,
    /// Whether it is a CA.
    pub is_ca: bool,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// Seconds left (negative: expired).
    pub residual_secs: i64,
    /// Whether it expires within the window (or already has).
    pub expiring: bool,
}

/// Decides, for each `(name, info)`, whether it expires within `window` of `now`. Pure.
pub fn check_expiration(
    certs: &[(String, CertInfo)],
    now: SystemTime,
    window: Duration,
) -> Vec<Expiry> {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
    certs
        .iter()
        .map(|(name, info)| {
            let residual = info.not_after_unix.saturating_sub(now);
            Expiry {
                name: name.clone(),
                common_name: info.subject.common_name.clone().unwrap_or_default(),
                is_ca: info.is_ca,
                not_after: info.not_after.clone(),
                residual_secs: residual,
                expiring: residual <= window,
            }
        })
        .collect()
}
