//! Private keys: generating the kinds cfssl offers and writing/reading them in cfssl's formats.

use crate::Error;
use crate::der::{Traditional, pkcs8_to_traditional};
use rcgen::{
    KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, PublicKeyData,
    RsaKeySize,
};
use std::fmt;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// A key algorithm and size cfssl offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// RSA, 2048 bits (the guides' choice).
    Rsa2048,
    /// RSA, 3072 bits.
    Rsa3072,
    /// RSA, 4096 bits.
    Rsa4096,
    /// ECDSA on P-256 (cfssl's default).
    EcdsaP256,
    /// ECDSA on P-384.
    EcdsaP384,
}

impl KeySpec {
    /// Every spec.
    pub const ALL: [KeySpec; 5] = [
        KeySpec::Rsa2048,
        KeySpec::Rsa3072,
        KeySpec::Rsa4096,
        KeySpec::EcdsaP256,
        KeySpec::EcdsaP384,
    ];

    /// Reads cfssl's `key {algo, size}`; refuses what cfssl refuses (RSA below 2048, DSA, ...).
    pub fn from_cfssl(algo: &str, size: u32, source_name: &str) -> Result<KeySpec, Error> {
        let bad_size = || Error::UnsupportedKeySize {
            source_name: source_name.to_string(),
            algo: algo.to_string(),
            size,
        };
        match algo {
            "rsa" => match size {
                2048 => Ok(KeySpec::Rsa2048),
                3072 => Ok(KeySpec::Rsa3072),
                4096 => Ok(KeySpec::Rsa4096),
                _ => Err(bad_size()),
            },
            "ecdsa" => match size {
                256 => Ok(KeySpec::EcdsaP256),
                384 => Ok(KeySpec::EcdsaP384),
                _ => Err(bad_size()),
            },
            _ => Err(Error::UnsupportedAlgo {
                source_name: source_name.to_string(),
                algo: algo.to_string(),
            }),
        }
    }

    /// cfssl's `algo` name.
    pub fn algo(self) -> &'static str {
        match self {
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => "rsa",
            KeySpec::EcdsaP256 | KeySpec::EcdsaP384 => "ecdsa",
        }
    }

    /// cfssl's `size`, in bits.
    pub fn size(self) -> u32 {
        match self {
            KeySpec::Rsa2048 => 2048,
            KeySpec::Rsa3072 => 3072,
            KeySpec::Rsa4096 => 4096,
            KeySpec::EcdsaP256 => 256,
            KeySpec::EcdsaP384 => 384,
        }
    }
}

impl fmt::Display for KeySpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.algo(), self.size())
    }
}

/// A private key with its PEM in cfssl's format (PKCS#1 for RSA, SEC1 for EC).
///
/// `Debug` never shows the key.
pub struct PrivateKey {
    pair: KeyPair,
    pem: String,
    spec: KeySpec,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("spec", &self.spec)
            .field("pem", &"[secret elided]")
            .finish()
    }
}

impl PrivateKey {
    /// Generates a new key (randomness from the system, inside aws-lc-rs).
    pub fn generate(spec: KeySpec) -> Result<PrivateKey, Error> {
        let random = || Error::Random {
            what: format!("a {spec} key"),
        };
        let pair = match spec {
            KeySpec::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeySpec::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
            KeySpec::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
            KeySpec::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeySpec::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        }
        .map_err(|_| random())?;
        let pem = match pkcs8_to_traditional(pair.serialized_der()).ok_or_else(random)? {
            Traditional::Rsa(der) => encode_pem("RSA PRIVATE KEY", der),
            Traditional::Ec(der) => encode_pem("EC PRIVATE KEY", der),
        };
        Ok(PrivateKey { pair, pem, spec })
    }

    /// Reads a PEM key: cfssl's PKCS#1 / SEC1, or PKCS#8. The PEM is kept as given.
    pub fn from_pem(pem_text: &str, source_name: &str) -> Result<PrivateKey, Error> {
        let bad = || Error::BadKey {
            source_name: source_name.to_string(),
        };
        let pair = KeyPair::from_pem(pem_text).map_err(|_| bad())?;
        let spec = spec_of_spki(&pair.subject_public_key_info()).ok_or_else(bad)?;
        Ok(PrivateKey {
            pair,
            pem: pem_text.to_string(),
            spec,
        })
    }

    /// The key's PEM, in cfssl's format for generated keys.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The algorithm and size.
    pub fn spec(&self) -> KeySpec {
        self.spec
    }

    /// The public half as a `PUBLIC KEY` PEM (what kube-apiserver's
    /// `--service-account-key-file` reads).
    pub fn public_key_pem(&self) -> String {
        self.pair.public_key_pem()
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    pub(crate) fn pair(&self) -> &KeyPair {
        &self.pair
    }

    pub(crate) fn into_pair(self) -> KeyPair {
        self.pair
    }
}

/// The spec of a public key (from a certificate or a key), if it is one kubin handles.
pub(crate) fn spec_of_spki(spki_der: &[u8]) -> Option<KeySpec> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der).ok()?;
    spec_of(&spki)
}

/// The spec of a parsed public key.
pub(crate) fn spec_of(spki: &SubjectPublicKeyInfo<'_>) -> Option<KeySpec> {
    match spki.parsed().ok()? {
        ParsedKey::RSA(rsa) => match rsa.key_size() {
            2048 => Some(KeySpec::Rsa2048),
            3072 => Some(KeySpec::Rsa3072),
            4096 => Some(KeySpec::Rsa4096),
            _ => None,
        },
        ParsedKey::EC(point) => match point.key_size() {
            256 => Some(KeySpec::EcdsaP256),
            384 => Some(KeySpec::EcdsaP384),
            _ => None,
        },
        _ => None,
    }
}

/// PEM-encodes DER under a label, with LF line endings as cfssl writes.
pub(crate) fn encode_pem(label: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(label, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_in_cfssl_formats_and_read_back() {
        for spec in [KeySpec::Rsa2048, KeySpec::EcdsaP256, KeySpec::EcdsaP384] {
            let key = PrivateKey::generate(spec).unwrap();
            let label = if spec.algo() == "rsa" {
                "RSA PRIVATE KEY"
            } else {
                "EC PRIVATE KEY"
            };
            assert!(
                key.pem().starts_with(&format!("-----BEGIN {label}-----\n")),
                "{spec}"
            );
            let back = PrivateKey::from_pem(key.pem(), "k.pem").unwrap();
            assert_eq!(back.spec(), spec);
            assert_eq!(back.spki_der(), key.spki_der());
        }
    }

    #[test]
    fn refuses_cfssl_refusals() {
        assert!(matches!(
            KeySpec::from_cfssl("rsa", 1024, "a.json"),
            Err(Error::UnsupportedKeySize { size: 1024, .. })
        ));
        assert!(matches!(
            KeySpec::from_cfssl("ecdsa", 521, "a.json"),
            Err(Error::UnsupportedKeySize { .. })
        ));
        assert!(matches!(
            KeySpec::from_cfssl("ed25519", 256, "a.json"),
            Err(Error::UnsupportedAlgo { .. })
        ));
        assert!(matches!(
            PrivateKey::from_pem("not a key", "k.pem"),
            Err(Error::BadKey { ref source_name }) if source_name == "k.pem"
        ));
    }
}
