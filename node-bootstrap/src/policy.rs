//! CSR approval by policy: the facts of a certificate signing request, and the pure
//! [`decide`] that approves only what a kubelet of an inventory node may ask for.
//!
//! The API calls that approve or deny live in [`crate::online`]; everything here is data
//! in, data out, so the policy is tested with plain asserts and property tests.

use inventory::{Inventory, Role};
use k8s_openapi::api::certificates::v1::CertificateSigningRequest;
use std::collections::BTreeSet;
use std::net::IpAddr;
use x509_parser::prelude::*;

/// The signer of kubelet client certificates (what a bootstrapping kubelet asks for).
pub const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
/// The signer of kubelet serving certificates (`serverTLSBootstrap: true`); the
/// controller-manager signs these but never approves them.
pub const SERVING_SIGNER: &str = "kubernetes.io/kubelet-serving";
/// The group of bootstrap-token users.
pub const BOOTSTRAPPERS: &str = "system:bootstrappers";
/// The prefix of bootstrap-token user names (`system:bootstrap:<token id>`).
pub const BOOTSTRAP_TOKEN_USER_PREFIX: &str = "system:bootstrap:";
/// The prefix of node identities (`system:node:<name>`).
pub const NODE_USER_PREFIX: &str = "system:node:";
/// The group of node identities.
pub const NODES_GROUP: &str = "system:nodes";
/// The usages a kubelet client certificate may have.
pub const CLIENT_USAGES: [&str; 3] = ["digital signature", "key encipherment", "client auth"];
/// The usages a kubelet serving certificate may have.
pub const SERVING_USAGES: [&str; 3] = ["digital signature", "key encipherment", "server auth"];

/// The key in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA, with its modulus size in bits.
    Rsa {
        /// Modulus bits.
        bits: usize,
    },
    /// ECDSA on a named curve (`P-256`, `P-384`, or the curve's OID).
    Ecdsa {
        /// The curve.
        curve: String,
    },
    /// Anything else (Ed25519, DSA, ...), by its algorithm OID or name.
    Other(String),
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA-{bits}"),
            KeyKind::Ecdsa { curve } => write!(f, "ECDSA {curve}"),
            KeyKind::Other(o) => write!(f, "{o}"),
        }
    }
}

/// What a PKCS#10 request asks for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pkcs10 {
    /// The subject's common names (exactly one is expected).
    pub common_names: Vec<String>,
    /// The subject's organizations (Kubernetes groups).
    pub organizations: Vec<String>,
    /// Any other subject attribute, as `OID=value` or its short name (`OU=x`, `C=CN`).
    pub other_attributes: Vec<String>,
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
    /// IP subject alternative names.
    pub ip_addresses: Vec<IpAddr>,
    /// Email subject alternative names.
    pub emails: Vec<String>,
    /// URI subject alternative names (and any other kind of SAN, described).
    pub uris: Vec<String>,
    /// The public key.
    pub key: Option<KeyKind>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsrState {
    /// No decision yet.
    Pending,
    /// Approved, not yet signed.
    Approved,
    /// Approved and signed (`status.certificate` set).
    Issued,
    /// Denied.
    Denied,
    /// The signer failed it.
    Failed,
}

impl std::fmt::Display for CsrState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CsrState::Pending => "Pending",
            CsrState::Approved => "Approved",
            CsrState::Issued => "Approved,Issued",
            CsrState::Denied => "Denied",
            CsrState::Failed => "Failed",
        })
    }
}

/// The facts of one certificate signing request that the policy judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrFacts {
    /// The object's name.
    pub name: String,
    /// `spec.signerName`.
    pub signer: String,
    /// `spec.username`: who created it (set by the apiserver, not the requester).
    pub username: String,
    /// `spec.groups`: the creator's groups.
    pub groups: Vec<String>,
    /// `spec.usages`.
    pub usages: Vec<String>,
    /// The parsed `spec.request`, or why it did not parse.
    pub request: Result<Pkcs10, String>,
    /// Where it stands.
    pub state: CsrState,
}

impl CsrFacts {
    /// The facts of an API object. Pure: parsing the PKCS#10 request is part of it.
    pub fn from_csr(csr: &CertificateSigningRequest) -> CsrFacts {
        let spec = &csr.spec;
        let conditions = csr
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        let has = |t: &str| {
            conditions
                .iter()
                .any(|c| c.type_ == t && c.status != "False")
        };
        let issued = csr
            .status
            .as_ref()
            .and_then(|s| s.certificate.as_ref())
            .is_some_and(|c| !c.0.is_empty());
        let state = if has("Denied") {
            CsrState::Denied
        } else if has("Failed") {
            CsrState::Failed
        } else if issued {
            CsrState::Issued
        } else if has("Approved") {
            CsrState::Approved
        } else {
            CsrState::Pending
        };
        CsrFacts {
            name: csr.metadata.name.clone().unwrap_or_default(),
            signer: spec.signer_name.clone(),
            username: spec.username.clone().unwrap_or_default(),
            groups: spec.groups.clone().unwrap_or_default(),
            usages: spec.usages.clone().unwrap_or_default(),
            request: parse_pkcs10(&spec.request.0),
            state,
        }
    }
}

/// Parses a PKCS#10 request, PEM (`CERTIFICATE REQUEST`) or DER, into what the policy
/// needs; the error says what is wrong with it.
pub fn parse_pkcs10(bytes: &[u8]) -> Result<Pkcs10, String> {
    let der;
    let der_bytes: &[u8] = if bytes.starts_with(b"-----") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(bytes)
            .map_err(|e| format!("request is not PEM: {e}"))?;
        if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
            return Err(format!(
                "request is a PEM {:?}, not a CERTIFICATE REQUEST",
                pem.label
            ));
        }
        der = pem.contents;
        &der
    } else {
        bytes
    };
    let (_, req) = X509CertificationRequest::from_der(der_bytes)
        .map_err(|e| format!("request is not PKCS#10: {e}"))?;
    let info = &req.certification_request_info;
    let mut out = Pkcs10::default();
    for rdn in info.subject.iter_rdn() {
        for attr in rdn.iter() {
            let value = attr
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|_| "<not a string>".to_string());
            let oid = attr.attr_type();
            if *oid == x509_parser::oid_registry::OID_X509_COMMON_NAME {
                out.common_names.push(value);
            } else if *oid == x509_parser::oid_registry::OID_X509_ORGANIZATION_NAME {
                out.organizations.push(value);
            } else {
                let name =
                    x509_parser::objects::oid2abbrev(oid, x509_parser::objects::oid_registry())
                        .map(str::to_string)
                        .unwrap_or_else(|_| oid.to_id_string());
                out.other_attributes.push(format!("{name}={value}"));
            }
        }
    }
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => out.dns_names.push(d.to_string()),
                        GeneralName::RFC822Name(e) => out.emails.push(e.to_string()),
                        GeneralName::URI(u) => out.uris.push(u.to_string()),
                        GeneralName::IPAddress(b) => match ip_from_bytes(b) {
                            Some(ip) => out.ip_addresses.push(ip),
                            None => out.uris.push(format!("IP of {} bytes", b.len())),
                        },
                        other => out.uris.push(format!("{other:?}")),
                    }
                }
            }
        }
    }
    let spki = &info.subject_pki;
    out.key = Some(match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => KeyKind::Rsa {
            bits: rsa.key_size(),
        },
        Ok(x509_parser::public_key::PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| {
                    if oid == x509_parser::oid_registry::OID_EC_P256 {
                        "P-256".to_string()
                    } else if oid == x509_parser::oid_registry::OID_NIST_EC_P384 {
                        "P-384".to_string()
                    } else {
                        oid.to_id_string()
                    }
                })
                .unwrap_or_else(|| "an unnamed curve".to_string());
            KeyKind::Ecdsa { curve }
        }
        _ => KeyKind::Other(
            x509_parser::objects::oid2sn(
                &spki.algorithm.algorithm,
                x509_parser::objects::oid_registry(),
            )
            .map(str::to_string)
            .unwrap_or_else(|_| spki.algorithm.algorithm.to_id_string()),
        ),
    });
    Ok(out)
}

fn ip_from_bytes(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// Which certificate an approved request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CsrKind {
    /// A kubelet client certificate (signer [`CLIENT_SIGNER`]).
    Client,
    /// A kubelet serving certificate (signer [`SERVING_SIGNER`]).
    Serving,
}

/// What an approval grants: one kind of certificate to one inventory node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// The node's name (`system:node:<name>`).
    pub node: String,
    /// Client or serving.
    pub kind: CsrKind,
}

/// The policy's verdict on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Within policy: approve.
    Approve(Grant),
    /// A kubelet request that breaks the policy; the reason names every wrong field and value.
    Deny(String),
    /// Not a request this policy judges (another signer); left alone, even with `--deny`.
    Ignore(String),
}

/// The policy's name, as written into approval conditions.
pub const POLICY: &str =
    "kubin node-bootstrap policy: kubelet certificates for inventory nodes only";

/// Judges one request against the inventory. Pure; does not look at the request's state
/// (the caller acts only on pending ones).
///
/// Approves a kubelet client certificate only when the signer is [`CLIENT_SIGNER`], the
/// requester is the bootstrap identity (`kubelet-bootstrap` in its token file group or
/// `system:bootstrappers`, or `system:bootstrap:<id>` in `system:bootstrappers`) or the node
/// itself renewing, the subject is exactly `CN=system:node:<name>, O=system:nodes` for a
/// [`Role::Node`] host, there are no SANs, the usages are within [`CLIENT_USAGES`] and
/// include client auth, and the key is RSA of 2048 bits or more or ECDSA P-256/P-384.
/// Approves a kubelet serving certificate only when the signer is [`SERVING_SIGNER`], the
/// requester is `system:node:<name>` in `system:nodes` for that same node, the subject is
/// as above, the usages are within [`SERVING_USAGES`] and include server auth, and the SANs
/// are exactly the node's inventory address and host name.
pub fn decide(csr: &CsrFacts, inv: &Inventory) -> Decision {
    let kind = match csr.signer.as_str() {
        CLIENT_SIGNER => CsrKind::Client,
        SERVING_SIGNER => CsrKind::Serving,
        other => {
            return Decision::Ignore(format!(
                "signer {other:?} is not a kubelet signer ({CLIENT_SIGNER}, {SERVING_SIGNER})"
            ));
        }
    };
    let mut problems: Vec<String> = Vec::new();
    let req = match &csr.request {
        Ok(r) => r,
        Err(e) => return Decision::Deny(e.clone()),
    };

    // Subject: exactly one CN naming an inventory node, exactly O=system:nodes, nothing else.
    let node = match req.common_names.as_slice() {
        [cn] => match cn.strip_prefix(NODE_USER_PREFIX) {
            Some(name) => {
                let host = inv
                    .hosts
                    .iter()
                    .find(|h| h.has(Role::Node) && h.name.to_ascii_lowercase() == name);
                if host.is_none() {
                    problems.push(format!(
                        "subject CN {cn:?} names no node of the inventory (nodes: {})",
                        node_names(inv)
                    ));
                }
                host
            }
            None => {
                problems.push(format!(
                    "subject CN {cn:?} is not {NODE_USER_PREFIX}<node name>"
                ));
                None
            }
        },
        cns => {
            problems.push(format!(
                "subject has {} common names {cns:?}, want exactly one",
                cns.len()
            ));
            None
        }
    };
    if req.organizations != [NODES_GROUP] {
        problems.push(format!(
            "subject O {:?} is not exactly [{NODES_GROUP:?}]",
            req.organizations
        ));
    }
    if !req.other_attributes.is_empty() {
        problems.push(format!(
            "subject has attributes beyond CN and O: {}",
            req.other_attributes.join(", ")
        ));
    }
    let subject_node = req
        .common_names
        .first()
        .and_then(|cn| cn.strip_prefix(NODE_USER_PREFIX));

    // Requester.
    let in_group = |g: &str| csr.groups.iter().any(|x| x == g);
    let requester_node = csr.username.strip_prefix(NODE_USER_PREFIX);
    match kind {
        CsrKind::Client => {
            let bootstrap = (csr.username == crate::BOOTSTRAP_USER
                && (in_group(crate::BOOTSTRAP_GROUP) || in_group(BOOTSTRAPPERS)))
                || (csr.username.starts_with(BOOTSTRAP_TOKEN_USER_PREFIX)
                    && in_group(BOOTSTRAPPERS));
            let renewal =
                requester_node.is_some() && requester_node == subject_node && in_group(NODES_GROUP);
            if !bootstrap && !renewal {
                problems.push(format!(
                    "requester {:?} in groups {:?} is not the bootstrap identity ({} in {} or {}, or {}<id> in {}) nor the node itself",
                    csr.username,
                    csr.groups,
                    crate::BOOTSTRAP_USER,
                    crate::BOOTSTRAP_GROUP,
                    BOOTSTRAPPERS,
                    BOOTSTRAP_TOKEN_USER_PREFIX,
                    BOOTSTRAPPERS
                ));
            }
        }
        CsrKind::Serving => {
            if requester_node.is_none() || requester_node != subject_node || !in_group(NODES_GROUP)
            {
                problems.push(format!(
                    "requester {:?} in groups {:?} is not the node itself ({}{} in {})",
                    csr.username,
                    csr.groups,
                    NODE_USER_PREFIX,
                    subject_node.unwrap_or("<name>"),
                    NODES_GROUP
                ));
            }
        }
    }

    // Usages.
    let (allowed, needed) = match kind {
        CsrKind::Client => (&CLIENT_USAGES, "client auth"),
        CsrKind::Serving => (&SERVING_USAGES, "server auth"),
    };
    for u in &csr.usages {
        if !allowed.contains(&u.as_str()) {
            problems.push(format!(
                "usage {u:?} is not allowed (allowed: {})",
                allowed.join(", ")
            ));
        }
    }
    if !csr.usages.iter().any(|u| u == needed) {
        problems.push(format!("usages {:?} lack {needed:?}", csr.usages));
    }

    // Key.
    match &req.key {
        Some(KeyKind::Rsa { bits }) if *bits >= 2048 => {}
        Some(KeyKind::Ecdsa { curve }) if curve == "P-256" || curve == "P-384" => {}
        Some(k) => problems.push(format!(
            "key {k} is not accepted (RSA of 2048 bits or more, ECDSA P-256 or P-384)"
        )),
        None => problems.push("the request has no public key".to_string()),
    }

    // Subject alternative names.
    match kind {
        CsrKind::Client => {
            let sans: Vec<String> = req
                .dns_names
                .iter()
                .map(|d| format!("DNS:{d}"))
                .chain(req.ip_addresses.iter().map(|i| format!("IP:{i}")))
                .chain(req.emails.iter().map(|e| format!("email:{e}")))
                .chain(req.uris.iter().map(|u| format!("URI:{u}")))
                .collect();
            if !sans.is_empty() {
                problems.push(format!(
                    "a client certificate carries no SANs, this one has {}",
                    sans.join(", ")
                ));
            }
        }
        CsrKind::Serving => {
            if let Some(host) = node {
                let want_dns: BTreeSet<String> = [host.name.to_ascii_lowercase()].into();
                let want_ip: BTreeSet<IpAddr> = [host.address].into();
                let dns: BTreeSet<String> = req
                    .dns_names
                    .iter()
                    .map(|d| d.to_ascii_lowercase())
                    .collect();
                let ips: BTreeSet<IpAddr> = req.ip_addresses.iter().copied().collect();
                for d in dns.difference(&want_dns) {
                    problems.push(format!(
                        "DNS SAN {d:?} is not node {}'s host name",
                        host.name
                    ));
                }
                for d in want_dns.difference(&dns) {
                    problems.push(format!("DNS SAN {d:?} (the node's host name) is missing"));
                }
                for i in ips.difference(&want_ip) {
                    problems.push(format!(
                        "IP SAN {i} is not node {}'s inventory address {}",
                        host.name, host.address
                    ));
                }
                for i in want_ip.difference(&ips) {
                    problems.push(format!("IP SAN {i} (the node's address) is missing"));
                }
            }
            for e in &req.emails {
                problems.push(format!("email SAN {e:?} is not allowed"));
            }
            for u in &req.uris {
                problems.push(format!("URI SAN {u:?} is not allowed"));
            }
        }
    }

    match (problems.is_empty(), subject_node) {
        (true, Some(n)) => Decision::Approve(Grant {
            node: n.to_string(),
            kind,
        }),
        _ => Decision::Deny(problems.join("; ")),
    }
}

fn node_names(inv: &Inventory) -> String {
    let names: Vec<&str> = inv.with_role(Role::Node).map(|h| h.name.as_str()).collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
pub(crate) mod tests;
