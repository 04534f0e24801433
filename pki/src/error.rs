//! The one error type of the `pki` crate: every variant names the file, field or value at fault.

use std::path::PathBuf;

/// Everything that can go wrong while reading requests, issuing, loading or storing certificates.
///
/// Variants carry the source name (a file path or a label such as `etcd/ca.pem`) and the
/// offending value, never key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON input (CSR request or signing config) is not valid JSON of the expected shape.
    #[error("{source_name}: invalid JSON: {message}")]
    Json {
        /// The file or label the JSON came from.
        source_name: String,
        /// serde_json's description, with line and column.
        message: String,
    },
    /// The `key.algo` field names an algorithm cfssl does not offer.
    #[error("{source_name}: key.algo {algo:?} is not supported (use \"rsa\" or \"ecdsa\")")]
    UnsupportedAlgo {
        /// The file or label of the request.
        source_name: String,
        /// The algorithm as written.
        algo: String,
    },
    /// The `key.size` field is not a size cfssl accepts for the algorithm.
    #[error(
        "{source_name}: key.size {size} is not supported for {algo} (rsa: 2048, 3072, 4096; ecdsa: 256, 384)"
    )]
    UnsupportedKeySize {
        /// The file or label of the request.
        source_name: String,
        /// The algorithm the size was given for.
        algo: String,
        /// The size as written.
        size: u32,
    },
    /// A duration field (`expiry`) is not a duration such as `87600h`.
    #[error("{source_name}: {field} {value:?} is not a duration such as \"87600h\"")]
    BadDuration {
        /// The file or label holding the field.
        source_name: String,
        /// The field's path, e.g. `signing.profiles.www.expiry`.
        field: String,
        /// The value as written.
        value: String,
    },
    /// A usage name in a signing profile is not one cfssl knows.
    #[error("{source_name}: {field} names unknown usage {usage:?}")]
    UnknownUsage {
        /// The file or label of the signing config.
        source_name: String,
        /// The field's path, e.g. `signing.profiles.www.usages`.
        field: String,
        /// The usage as written.
        usage: String,
    },
    /// A request has several problems; each is listed.
    #[error("{source_name}: {}", problems.join("; "))]
    Invalid {
        /// The file or label of the request.
        source_name: String,
        /// Every problem found, each naming its field.
        problems: Vec<String>,
    },
    /// The requested signing profile does not exist in the config.
    #[error("{source_name}: no signing profile named {profile:?}")]
    UnknownProfile {
        /// The file or label of the signing config.
        source_name: String,
        /// The profile asked for.
        profile: String,
    },
    /// A `hosts` entry is neither an IP address nor a valid DNS name or e-mail address.
    #[error("{source_name}: hosts entry {host:?} is not an IP address, DNS name or e-mail")]
    BadHost {
        /// The file or label of the request.
        source_name: String,
        /// The entry as written.
        host: String,
    },
    /// A request has neither a CN nor any hosts.
    #[error("{source_name}: the request has neither a CN nor hosts")]
    EmptyRequest {
        /// The file or label of the request.
        source_name: String,
    },
    /// A PEM input does not hold the expected certificate.
    #[error("{source_name}: not a PEM certificate: {message}")]
    BadCertificate {
        /// The file or label the certificate came from.
        source_name: String,
        /// What the parser said.
        message: String,
    },
    /// A PEM input does not hold a private key kubin can use (PKCS#1, SEC1 or PKCS#8).
    #[error("{source_name}: not a usable private key (RSA or ECDSA P-256/P-384 in PEM)")]
    BadKey {
        /// The file or label the key came from.
        source_name: String,
    },
    /// A PEM input does not hold a valid certificate signing request.
    #[error("{source_name}: not a valid PEM certificate request: {message}")]
    BadCsr {
        /// The file or label the CSR came from.
        source_name: String,
        /// What the parser said.
        message: String,
    },
    /// The CA key is not the private half of the CA certificate's public key.
    #[error("CA key {key_name} does not match CA certificate {cert_name}")]
    CaKeyMismatch {
        /// The CA certificate's file or label.
        cert_name: String,
        /// The CA key's file or label.
        key_name: String,
    },
    /// The certificate given as CA is not a CA (no basic constraints CA:TRUE).
    #[error("{cert_name} is not a CA certificate (basic constraints CA:TRUE missing)")]
    NotACa {
        /// The certificate's file or label.
        cert_name: String,
    },
    /// Building or signing a certificate failed inside rcgen.
    #[error("cannot issue {name}")]
    Issue {
        /// The certificate being issued (its CN or file name).
        name: String,
        /// rcgen's error.
        #[source]
        source: rcgen::Error,
    },
    /// The validity period cannot be represented (before 1970 or after the year 9999).
    #[error("cannot issue a certificate valid for {expiry:?}: {message}")]
    Validity {
        /// The expiry asked for.
        expiry: std::time::Duration,
        /// What is out of range.
        message: String,
    },
    /// Generating a key or a serial failed (the system's random source).
    #[error("cannot generate {what}: the system random source failed")]
    Random {
        /// What was being generated.
        what: String,
    },
    /// The cluster set request is not usable (duplicate member names, no members, ...).
    #[error("cluster set request: {problems:?}")]
    BadClusterRequest {
        /// Every problem found, not just the first.
        problems: Vec<String>,
    },
    /// Only one of a CA's two files exists: kubin will not replace a CA implicitly.
    #[error(
        "{present} exists but {missing} does not: refusing to replace a CA implicitly; restore or remove both"
    )]
    HalfCa {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// A leaf's certificate and key files are out of step (one without the other, or a key
    /// that does not match): kubin never overwrites a key, so it stops.
    #[error("{path}: {message}; kubin never overwrites a key, move it away to reissue")]
    KeyConflict {
        /// The key or certificate file at fault.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading, writing or renaming a file failed.
    #[error("{path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    /// The chain as the CLI prints it (`{:#}`): each `source()` level joined by ": ".
    fn chain(e: super::Error) -> String {
        format!("{:#}", anyhow::Error::new(e))
    }

    #[test]
    fn the_cause_is_printed_once() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("ca.pem");
        let e = crate::store::read(&missing).unwrap_err();
        let cause = std::error::Error::source(&e)
            .expect("the io error")
            .to_string();
        let printed = chain(e);
        assert_eq!(printed.matches(&cause).count(), 1, "{printed}");
        assert!(
            printed.starts_with(&missing.display().to_string()),
            "{printed}"
        );
    }

    #[test]
    fn rcgen_errors_stay_typed() {
        let e = super::Error::Issue {
            name: "etcd".into(),
            source: rcgen::Error::CouldNotParseCertificate,
        };
        let cause = std::error::Error::source(&e)
            .expect("rcgen's error")
            .to_string();
        let printed = chain(e);
        assert_eq!(printed, format!("cannot issue etcd: {cause}"));
    }
}
