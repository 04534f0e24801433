//! cfssl's CSR request JSON (`CN`, `hosts`, `key`, `names`, `ca`), exactly as the guides write it.

use crate::{Error, KeySpec, parse_duration};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// cfssl's default CA lifetime when the request has no `ca.expiry`: five years.
pub const DEFAULT_CA_EXPIRY: Duration = Duration::from_secs(43800 * 3600);

/// A certificate request as cfssl reads it (`ca-csr.json`, `server-csr.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CsrRequest {
    /// The subject's common name.
    #[serde(rename = "CN", default)]
    pub cn: String,
    /// Subject alternative names: IP addresses, DNS names or e-mail addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// The key to generate; cfssl's default (ECDSA P-256) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyRequest>,
    /// Subject attributes (C, ST, L, O, OU).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<NameRequest>,
    /// CA settings, read by `init-ca` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<CaRequest>,
}

/// The `key` object of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRequest {
    /// `rsa` or `ecdsa`.
    pub algo: String,
    /// Bits: 2048/3072/4096 for RSA, 256/384 for ECDSA.
    pub size: u32,
}

/// One entry of `names`: subject attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NameRequest {
    /// Country.
    #[serde(rename = "C", default, skip_serializing_if = "Option::is_none")]
    pub c: Option<String>,
    /// State or province.
    #[serde(rename = "ST", default, skip_serializing_if = "Option::is_none")]
    pub st: Option<String>,
    /// Locality.
    #[serde(rename = "L", default, skip_serializing_if = "Option::is_none")]
    pub l: Option<String>,
    /// Organization (Kubernetes reads it as the group, e.g. `system:masters`).
    #[serde(rename = "O", default, skip_serializing_if = "Option::is_none")]
    pub o: Option<String>,
    /// Organizational unit.
    #[serde(rename = "OU", default, skip_serializing_if = "Option::is_none")]
    pub ou: Option<String>,
}

/// The `ca` object of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CaRequest {
    /// The CA's lifetime, e.g. `87600h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
}

impl CsrRequest {
    /// Parses and checks a request; `source_name` (the file name) appears in every error.
    pub fn from_json(text: &str, source_name: &str) -> Result<Self, Error> {
        let req: CsrRequest = serde_json::from_str(text).map_err(|e| Error::Json {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })?;
        req.check(source_name)?;
        Ok(req)
    }

    /// Checks the key, the hosts and the CA expiry the way cfssl does. One problem comes back
    /// as its own variant; several as [`Error::Invalid`] listing every one.
    pub fn check(&self, source_name: &str) -> Result<(), Error> {
        let mut problems = Vec::new();
        if let Err(e) = self.key_spec(source_name) {
            problems.push(e);
        }
        if let Err(e) = self.ca_expiry(source_name) {
            problems.push(e);
        }
        if let Err(e) = crate::issue::sans(&self.hosts, source_name) {
            problems.push(e);
        }
        if self.cn.is_empty() && self.hosts.is_empty() {
            problems.push(Error::EmptyRequest {
                source_name: source_name.to_string(),
            });
        }
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(Error::Invalid {
                source_name: source_name.to_string(),
                problems: problems.iter().map(ToString::to_string).collect(),
            }),
        }
    }

    /// The key to generate for this request.
    pub fn key_spec(&self, source_name: &str) -> Result<KeySpec, Error> {
        match &self.key {
            None => Ok(KeySpec::EcdsaP256),
            Some(k) => KeySpec::from_cfssl(&k.algo, k.size, source_name),
        }
    }

    /// The CA lifetime: `ca.expiry`, or cfssl's five years.
    pub fn ca_expiry(&self, source_name: &str) -> Result<Duration, Error> {
        match self.ca.as_ref().and_then(|c| c.expiry.as_deref()) {
            None => Ok(DEFAULT_CA_EXPIRY),
            Some(v) => parse_duration(v, source_name, "ca.expiry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guides_server_csr() {
        let text = include_str!("../tests/fixtures/server-csr.json");
        let req = CsrRequest::from_json(text, "server-csr.json").unwrap();
        assert_eq!(req.cn, "etcd");
        assert_eq!(req.hosts.len(), 3);
        assert_eq!(req.key_spec("x").unwrap(), KeySpec::Rsa2048);
        assert_eq!(req.names[0].st.as_deref(), Some("BeiJing"));
    }

    #[test]
    fn bad_inputs() {
        let e = CsrRequest::from_json("{\"CN\":", "a.json");
        assert!(matches!(e, Err(Error::Json { ref source_name, .. }) if source_name == "a.json"));
        let e = CsrRequest::from_json(r#"{"CN":"x","key":{"algo":"dsa","size":2048}}"#, "b.json");
        assert!(matches!(e, Err(Error::UnsupportedAlgo { ref algo, .. }) if algo == "dsa"));
        let e = CsrRequest::from_json(r#"{"CN":"x","key":{"algo":"rsa","size":1024}}"#, "c.json");
        assert!(matches!(
            e,
            Err(Error::UnsupportedKeySize { size: 1024, .. })
        ));
        let e = CsrRequest::from_json(r#"{"CN":"x","ca":{"expiry":"forever"}}"#, "d.json");
        assert!(matches!(e, Err(Error::BadDuration { ref field, .. }) if field == "ca.expiry"));
        let e = CsrRequest::from_json(r#"{"CN":"x","hosts":["bad host!"]}"#, "e.json");
        assert!(matches!(e, Err(Error::BadHost { .. })));
        let e = CsrRequest::from_json(r#"{"hosts":[]}"#, "f.json");
        assert!(matches!(e, Err(Error::EmptyRequest { .. })));
        let e = CsrRequest::from_json(
            r#"{"CN":"x","hosts":["a b"],"key":{"algo":"rsa","size":512},"ca":{"expiry":"?"}}"#,
            "g.json",
        );
        assert!(matches!(e, Err(Error::Invalid { ref problems, .. }) if problems.len() == 3));
    }
}
