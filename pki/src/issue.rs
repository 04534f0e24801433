//! Issuing: a self-signed CA, a leaf under a profile, or a signature over an existing CSR.

use crate::config::Mapped;
use crate::{Ca, CsrRequest, Error, PrivateKey, Profile};
use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, IsCa, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use std::net::IpAddr;
use std::time::{Duration, SystemTime};
use time::OffsetDateTime;

/// How far `not_before` lies before `now`, as cfssl backdates: tolerates clock skew between
/// the machine that issues and the machines that check.
pub const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// What `cfssl gencert` prints: the certificate, its key and the request, in PEM.
///
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#1 for RSA, SEC1 for EC).
    pub key_pem: String,
    /// The certificate signing request.
    pub csr_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret elided]")
            .field("csr_pem", &self.csr_pem)
            .finish()
    }
}

impl Issued {
    /// cfssl's JSON shape, `{"cert","csr","key"}`, which `cfssljson -bare NAME` reads.
    pub fn to_cfssl_json(&self) -> String {
        serde_json::json!({
            "cert": self.cert_pem,
            "csr": self.csr_pem,
            "key": self.key_pem,
        })
        .to_string()
    }
}

/// The random source for serials: the system's, through ring.
pub fn new_rng() -> SystemRandom {
    SystemRandom::new()
}

/// 20 random bytes, positive, as cfssl's serials.
fn serial(rng: &dyn SecureRandom) -> Result<SerialNumber, Error> {
    let mut bytes = [0u8; 20];
    rng.fill(&mut bytes).map_err(|_| Error::Random {
        what: "a serial number".into(),
    })?;
    bytes[0] &= 0x7f;
    if bytes[0] == 0 {
        bytes[0] = 1;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// Splits `hosts` into SANs as cfssl does: IP addresses, e-mail addresses, URIs, DNS names.
pub(crate) fn sans(hosts: &[String], source_name: &str) -> Result<Vec<SanType>, Error> {
    hosts
        .iter()
        .map(|h| {
            let bad = || Error::BadHost {
                source_name: source_name.to_string(),
                host: h.clone(),
            };
            let ia5 = |s: &str| Ia5String::try_from(s.to_string()).map_err(|_| bad());
            if let Ok(ip) = h.parse::<IpAddr>() {
                Ok(SanType::IpAddress(ip))
            } else if h.contains("://") {
                Ok(SanType::URI(ia5(h)?))
            } else if h.contains('@') {
                Ok(SanType::Rfc822Name(ia5(h)?))
            } else if is_dns_name(h) {
                Ok(SanType::DnsName(ia5(h)?))
            } else {
                Err(bad())
            }
        })
        .collect()
}

fn is_dns_name(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*'))
        })
}

/// The subject: cfssl's order, C, ST, L, O, OU, then CN.
fn distinguished_name(req: &CsrRequest) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for n in &req.names {
        let fields = [
            (DnType::CountryName, &n.c),
            (DnType::StateOrProvinceName, &n.st),
            (DnType::LocalityName, &n.l),
            (DnType::OrganizationName, &n.o),
            (DnType::OrganizationalUnitName, &n.ou),
        ];
        for (ty, value) in fields {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                dn.push(ty, v);
            }
        }
    }
    if !req.cn.is_empty() {
        dn.push(DnType::CommonName, req.cn.as_str());
    }
    dn
}

/// `not_before` (now backdated, whole seconds) and `not_after` (`expiry` later).
pub(crate) fn validity(
    now: SystemTime,
    expiry: Duration,
) -> Result<(OffsetDateTime, OffsetDateTime), Error> {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        .saturating_sub(BACKDATE.as_secs());
    let start = OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap_or(i64::MAX));
    let span = time::Duration::try_from(expiry).ok();
    match (start, span) {
        (Ok(start), Some(span)) => match start.checked_add(span) {
            Some(end) if end.year() <= 9999 => Ok((start, end)),
            _ => Err(Error::Validity {
                expiry,
                message: "it ends after the year 9999".into(),
            }),
        },
        _ => Err(Error::Validity {
            expiry,
            message: "the clock or the expiry is out of range".into(),
        }),
    }
}

fn apply_profile(params: &mut CertificateParams, profile: &Profile) {
    for usage in &profile.usages {
        match usage.mapped() {
            Mapped::Key(k) => {
                if !params.key_usages.contains(&k) {
                    params.key_usages.push(k);
                }
            }
            Mapped::Ext(e) => params.insert_extended_key_usage(e),
        }
    }
}

fn issue_error(name: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |source| Error::Issue {
        name: name.to_string(),
        source,
    }
}

fn label(req: &CsrRequest, source_name: &str) -> String {
    if req.cn.is_empty() {
        source_name.to_string()
    } else {
        req.cn.clone()
    }
}

/// A CSR for `req` signed by `key`: subject and SANs only, as cfssl writes it.
fn csr_pem(req: &CsrRequest, key: &PrivateKey, source_name: &str) -> Result<String, Error> {
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(req);
    params.subject_alt_names = sans(&req.hosts, source_name)?;
    let name = label(req, source_name);
    params
        .serialize_request(key.pair())
        .and_then(|csr| csr.pem())
        .map_err(issue_error(&name))
}

/// `cfssl gencert -initca`: a new key and a self-signed CA certificate (CA:TRUE, cert sign +
/// CRL sign, subject and authority key ids, lifetime `ca.expiry` or five years).
pub fn init_ca(
    req: &CsrRequest,
    source_name: &str,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<Issued, Error> {
    req.check(source_name)?;
    let key = PrivateKey::generate(req.key_spec(source_name)?)?;
    let name = label(req, source_name);
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(req);
    params.subject_alt_names = sans(&req.hosts, source_name)?;
    (params.not_before, params.not_after) = validity(now, req.ca_expiry(source_name)?)?;
    params.serial_number = Some(serial(rng)?);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = true;
    let cert = params.self_signed(key.pair()).map_err(issue_error(&name))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        csr_pem: csr_pem(req, &key, source_name)?,
        key_pem: key.pem().to_string(),
    })
}

/// `cfssl gencert -ca -ca-key -config -profile`: a new key and a leaf signed by `ca`.
pub fn issue(
    ca: &Ca,
    req: &CsrRequest,
    source_name: &str,
    profile: &Profile,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<Issued, Error> {
    req.check(source_name)?;
    let key = PrivateKey::generate(req.key_spec(source_name)?)?;
    issue_with_key(ca, req, source_name, &key, profile, now, rng)
}

/// Like [`issue`], for a key that already exists (a reissue keeps the key).
pub fn issue_with_key(
    ca: &Ca,
    req: &CsrRequest,
    source_name: &str,
    key: &PrivateKey,
    profile: &Profile,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<Issued, Error> {
    let name = label(req, source_name);
    let mut params = CertificateParams::default();
    params.distinguished_name = distinguished_name(req);
    params.subject_alt_names = sans(&req.hosts, source_name)?;
    leaf_params(&mut params, profile, now, rng)?;
    let cert = params
        .signed_by(key.pair(), ca.issuer())
        .map_err(issue_error(&name))?;
    Ok(Issued {
        cert_pem: cert.pem(),
        csr_pem: csr_pem(req, key, source_name)?,
        key_pem: key.pem().to_string(),
    })
}

fn leaf_params(
    params: &mut CertificateParams,
    profile: &Profile,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<(), Error> {
    (params.not_before, params.not_after) = validity(now, profile.expiry)?;
    params.serial_number = Some(serial(rng)?);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages.clear();
    params.extended_key_usages.clear();
    apply_profile(params, profile);
    params.use_authority_key_identifier_extension = true;
    Ok(())
}

/// `cfssl sign`: signs an existing CSR (its subject and SANs, or `hosts` instead of its SANs)
/// under `profile`. Returns the certificate PEM.
pub fn sign_csr(
    ca: &Ca,
    csr_pem: &str,
    source_name: &str,
    profile: &Profile,
    hosts: Option<&[String]>,
    now: SystemTime,
    rng: &dyn SecureRandom,
) -> Result<String, Error> {
    let mut csr =
        CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| Error::BadCsr {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
    let spec_ok = crate::key::spec_of_spki(&rcgen::PublicKeyData::subject_public_key_info(
        &csr.public_key,
    ))
    .is_some();
    if !spec_ok {
        return Err(Error::BadCsr {
            source_name: source_name.to_string(),
            message: "the key is not RSA 2048/3072/4096 or ECDSA P-256/P-384".into(),
        });
    }
    if let Some(hosts) = hosts {
        csr.params.subject_alt_names = sans(hosts, source_name)?;
    }
    csr.params.is_ca = IsCa::ExplicitNoCa;
    leaf_params(&mut csr.params, profile, now, rng)?;
    let cert = csr
        .signed_by(ca.issuer())
        .map_err(issue_error(source_name))?;
    Ok(cert.pem())
}
