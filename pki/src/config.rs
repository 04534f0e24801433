//! cfssl's signing config (`ca-config.json`): profiles with usages and expiry.

use crate::{Error, parse_duration};
use rcgen::{ExtendedKeyUsagePurpose, KeyUsagePurpose};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// A usage name as cfssl spells it in a profile's `usages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Usage {
    /// `signing` (digital signature).
    Signing,
    /// `digital signature`.
    DigitalSignature,
    /// `content commitment` (non-repudiation).
    ContentCommitment,
    /// `key encipherment`.
    KeyEncipherment,
    /// `key agreement`.
    KeyAgreement,
    /// `data encipherment`.
    DataEncipherment,
    /// `cert sign`.
    CertSign,
    /// `crl sign`.
    CrlSign,
    /// `encipher only`.
    EncipherOnly,
    /// `decipher only`.
    DecipherOnly,
    /// `any` extended usage.
    Any,
    /// `server auth`.
    ServerAuth,
    /// `client auth`.
    ClientAuth,
    /// `code signing`.
    CodeSigning,
    /// `email protection` (also `s/mime`).
    EmailProtection,
    /// `ipsec end system`.
    IpsecEndSystem,
    /// `ipsec tunnel`.
    IpsecTunnel,
    /// `ipsec user`.
    IpsecUser,
    /// `timestamping`.
    Timestamping,
    /// `ocsp signing`.
    OcspSigning,
}

/// Every usage and its cfssl names (the first is the canonical one).
const NAMES: &[(Usage, &[&str])] = &[
    (Usage::Signing, &["signing"]),
    (Usage::DigitalSignature, &["digital signature"]),
    (Usage::ContentCommitment, &["content commitment"]),
    (Usage::KeyEncipherment, &["key encipherment"]),
    (Usage::KeyAgreement, &["key agreement"]),
    (Usage::DataEncipherment, &["data encipherment"]),
    (Usage::CertSign, &["cert sign"]),
    (Usage::CrlSign, &["crl sign"]),
    (Usage::EncipherOnly, &["encipher only"]),
    (Usage::DecipherOnly, &["decipher only"]),
    (Usage::Any, &["any"]),
    (Usage::ServerAuth, &["server auth"]),
    (Usage::ClientAuth, &["client auth"]),
    (Usage::CodeSigning, &["code signing"]),
    (Usage::EmailProtection, &["email protection", "s/mime"]),
    (Usage::IpsecEndSystem, &["ipsec end system"]),
    (Usage::IpsecTunnel, &["ipsec tunnel"]),
    (Usage::IpsecUser, &["ipsec user"]),
    (Usage::Timestamping, &["timestamping"]),
    (Usage::OcspSigning, &["ocsp signing"]),
];

const OID_IPSEC_END_SYSTEM: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 5];
const OID_IPSEC_TUNNEL: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 6];
const OID_IPSEC_USER: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 7];

/// What a usage becomes in the certificate.
pub(crate) enum Mapped {
    /// A key usage bit.
    Key(KeyUsagePurpose),
    /// An extended key usage.
    Ext(ExtendedKeyUsagePurpose),
}

impl Usage {
    /// Every usage cfssl knows.
    pub const ALL: [Usage; 20] = [
        Usage::Signing,
        Usage::DigitalSignature,
        Usage::ContentCommitment,
        Usage::KeyEncipherment,
        Usage::KeyAgreement,
        Usage::DataEncipherment,
        Usage::CertSign,
        Usage::CrlSign,
        Usage::EncipherOnly,
        Usage::DecipherOnly,
        Usage::Any,
        Usage::ServerAuth,
        Usage::ClientAuth,
        Usage::CodeSigning,
        Usage::EmailProtection,
        Usage::IpsecEndSystem,
        Usage::IpsecTunnel,
        Usage::IpsecUser,
        Usage::Timestamping,
        Usage::OcspSigning,
    ];

    /// Reads a cfssl usage name (case-insensitive, as cfssl).
    pub fn from_name(name: &str) -> Option<Usage> {
        let lower = name.trim().to_ascii_lowercase();
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&lower.as_str()))
            .map(|(u, _)| *u)
    }

    /// The cfssl name.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(u, _)| *u == self)
            .and_then(|(_, names)| names.first())
            .copied()
            .unwrap_or("?")
    }

    /// The usage as it reads back from a certificate: `signing` and `digital signature` are the
    /// same bit, so both read back as `digital signature`.
    pub fn canonical(self) -> Usage {
        match self {
            Usage::Signing => Usage::DigitalSignature,
            u => u,
        }
    }

    pub(crate) fn mapped(self) -> Mapped {
        use ExtendedKeyUsagePurpose as E;
        use KeyUsagePurpose as K;
        match self {
            Usage::Signing | Usage::DigitalSignature => Mapped::Key(K::DigitalSignature),
            Usage::ContentCommitment => Mapped::Key(K::ContentCommitment),
            Usage::KeyEncipherment => Mapped::Key(K::KeyEncipherment),
            Usage::KeyAgreement => Mapped::Key(K::KeyAgreement),
            Usage::DataEncipherment => Mapped::Key(K::DataEncipherment),
            Usage::CertSign => Mapped::Key(K::KeyCertSign),
            Usage::CrlSign => Mapped::Key(K::CrlSign),
            Usage::EncipherOnly => Mapped::Key(K::EncipherOnly),
            Usage::DecipherOnly => Mapped::Key(K::DecipherOnly),
            Usage::Any => Mapped::Ext(E::Any),
            Usage::ServerAuth => Mapped::Ext(E::ServerAuth),
            Usage::ClientAuth => Mapped::Ext(E::ClientAuth),
            Usage::CodeSigning => Mapped::Ext(E::CodeSigning),
            Usage::EmailProtection => Mapped::Ext(E::EmailProtection),
            Usage::IpsecEndSystem => Mapped::Ext(E::Other(OID_IPSEC_END_SYSTEM.to_vec())),
            Usage::IpsecTunnel => Mapped::Ext(E::Other(OID_IPSEC_TUNNEL.to_vec())),
            Usage::IpsecUser => Mapped::Ext(E::Other(OID_IPSEC_USER.to_vec())),
            Usage::Timestamping => Mapped::Ext(E::TimeStamping),
            Usage::OcspSigning => Mapped::Ext(E::OcspSigning),
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A signing profile: what a leaf may be used for and how long it lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The usages, in the profile's order.
    pub usages: Vec<Usage>,
    /// The certificate's lifetime.
    pub expiry: Duration,
}

impl Profile {
    /// The guides' `www` profile: signing, key encipherment, server auth, client auth; 87600h.
    pub fn www() -> Profile {
        Profile {
            usages: vec![
                Usage::Signing,
                Usage::KeyEncipherment,
                Usage::ServerAuth,
                Usage::ClientAuth,
            ],
            expiry: Duration::from_secs(87600 * 3600),
        }
    }

    /// A client-only profile: signing, key encipherment, client auth.
    pub fn client(expiry: Duration) -> Profile {
        Profile {
            usages: vec![Usage::Signing, Usage::KeyEncipherment, Usage::ClientAuth],
            expiry,
        }
    }
}

/// cfssl's default profile: one year, the usages of its built-in default.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(8760 * 3600);

/// A parsed and checked `ca-config.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningConfig {
    /// `signing.default`.
    pub default: Profile,
    /// `signing.profiles`, by name.
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Deserialize)]
struct ConfigJson {
    signing: SigningJson,
}

#[derive(Deserialize)]
struct SigningJson {
    #[serde(default)]
    default: Option<ProfileJson>,
    #[serde(default)]
    profiles: BTreeMap<String, ProfileJson>,
}

#[derive(Deserialize)]
struct ProfileJson {
    #[serde(default)]
    usages: Vec<String>,
    #[serde(default)]
    expiry: Option<String>,
}

impl SigningConfig {
    /// Parses and checks a signing config; `source_name` appears in every error.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, Error> {
        let raw: ConfigJson = serde_json::from_str(text).map_err(|e| Error::Json {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        let default = match raw.signing.default {
            Some(p) => profile(&p, source_name, "signing.default", None)?,
            None => Profile {
                expiry: DEFAULT_EXPIRY,
                ..Profile::www()
            },
        };
        let mut profiles = BTreeMap::new();
        for (name, p) in &raw.signing.profiles {
            let field = format!("signing.profiles.{name}");
            profiles.insert(
                name.clone(),
                profile(p, source_name, &field, Some(default.expiry))?,
            );
        }
        Ok(SigningConfig { default, profiles })
    }

    /// The named profile, or the default profile for `None`.
    pub fn profile(&self, name: Option<&str>, source_name: &str) -> Result<&Profile, Error> {
        match name {
            None => Ok(&self.default),
            Some(n) => self.profiles.get(n).ok_or_else(|| Error::UnknownProfile {
                source_name: source_name.to_string(),
                profile: n.to_string(),
            }),
        }
    }
}

fn profile(
    p: &ProfileJson,
    source_name: &str,
    field: &str,
    fallback_expiry: Option<Duration>,
) -> Result<Profile, Error> {
    let expiry = match (&p.expiry, fallback_expiry) {
        (Some(v), _) => parse_duration(v, source_name, &format!("{field}.expiry"))?,
        (None, Some(d)) => d,
        (None, None) => DEFAULT_EXPIRY,
    };
    let usages = if p.usages.is_empty() {
        Profile::www().usages
    } else {
        p.usages
            .iter()
            .map(|u| {
                Usage::from_name(u).ok_or_else(|| Error::UnknownUsage {
                    source_name: source_name.to_string(),
                    field: format!("{field}.usages"),
                    usage: u.clone(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Profile { usages, expiry })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guides_config() {
        let text = include_str!("../tests/fixtures/ca-config.json");
        let cfg = SigningConfig::from_json(text, "ca-config.json").unwrap();
        assert_eq!(cfg.profile(Some("www"), "x").unwrap(), &Profile::www());
        assert_eq!(cfg.default.expiry, Duration::from_secs(87600 * 3600));
        assert!(matches!(
            cfg.profile(Some("kubernetes"), "ca-config.json"),
            Err(Error::UnknownProfile { .. })
        ));
    }

    #[test]
    fn every_name_reads_back() {
        for u in Usage::ALL {
            assert_eq!(Usage::from_name(u.name()), Some(u));
        }
        assert_eq!(Usage::from_name("S/MIME"), Some(Usage::EmailProtection));
    }

    #[test]
    fn bad_configs() {
        let e = SigningConfig::from_json(
            r#"{"signing":{"profiles":{"www":{"usages":["flying"]}}}}"#,
            "c.json",
        );
        assert!(
            matches!(e, Err(Error::UnknownUsage { ref field, ref usage, .. }) if field == "signing.profiles.www.usages" && usage == "flying")
        );
        let e = SigningConfig::from_json(
            r#"{"signing":{"default":{"expiry":"10 parsecs"}}}"#,
            "c.json",
        );
        assert!(matches!(e, Err(Error::BadDuration { .. })));
        let e = SigningConfig::from_json(r#"{"signing":"#, "c.json");
        assert!(matches!(e, Err(Error::Json { .. })));
    }
}
