//! The offline bundle on the control machine: the binaries the deploy copies, checked
//! against the bundle's SHA256SUMS. [`inspect_bundle`] reads and hashes (IO);
//! [`check_bundle`] decides (pure).

use super::{Finding, Severity, finding};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The binaries under `kubernetes/server/bin/` the deploy needs.
pub const KUBERNETES_BINARIES: &[&str] = &[
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
];
/// The binaries under `etcd-v*/` the deploy needs.
pub const ETCD_BINARIES: &[&str] = &["etcd", "etcdctl"];

/// What the bundle holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BundleFacts {
    /// The bundle directory.
    pub dir: PathBuf,
    /// Whether the directory exists.
    pub exists: bool,
    /// The entries of SHA256SUMS (`(relative path, expected hex)`), `None` when absent.
    pub sums: Option<Vec<(String, String)>>,
    /// Every required binary and the files SHA256SUMS lists: relative path and the actual
    /// hex SHA-256, `None` when missing.
    pub files: Vec<(String, Option<String>)>,
}

fn sha256_file(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Some(hex::encode(h.finalize()))
}

/// Parses SHA256SUMS (`HEX  PATH` or `HEX *PATH` lines).
pub fn parse_sums(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') {
                return None;
            }
            let (hash, rest) = l.split_once(char::is_whitespace)?;
            let path = rest
                .trim_start()
                .trim_start_matches('*')
                .trim_start_matches("./");
            Some((path.to_string(), hash.to_lowercase()))
        })
        .collect()
}

/// The required binaries' relative paths, `etcd-v*` resolved to the directory present.
fn required(dir: &Path) -> Vec<String> {
    // The newest by version (etcd-v3.5.10 over etcd-v3.5.9), as the deploy picks it.
    let names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let etcd_dir = inventory::version::newest_release(names.iter().map(String::as_str), "etcd-v")
        .unwrap_or("etcd-v*")
        .to_string();
    ETCD_BINARIES
        .iter()
        .map(|b| format!("{etcd_dir}/{b}"))
        .chain(
            KUBERNETES_BINARIES
                .iter()
                .map(|b| format!("kubernetes/server/bin/{b}")),
        )
        .collect()
}

/// Reads the bundle: SHA256SUMS, and the hash of every required or listed file.
pub fn inspect_bundle(dir: &Path) -> BundleFacts {
    let exists = dir.is_dir();
    let sums = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .ok()
        .map(|t| parse_sums(&t));
    let mut paths = required(dir);
    for (p, _) in sums.iter().flatten() {
        if !paths.contains(p) {
            paths.push(p.clone());
        }
    }
    let files = paths
        .into_iter()
        .map(|p| {
            let hash = sha256_file(&dir.join(&p));
            (p, hash)
        })
        .collect();
    BundleFacts {
        dir: dir.to_path_buf(),
        exists,
        sums,
        files,
    }
}

/// Every problem with the bundle: missing directory, SHA256SUMS, binaries, or sums that
/// do not match.
pub fn check_bundle(b: &BundleFacts) -> Vec<Finding> {
    let d = b.dir.display();
    if !b.exists {
        return vec![finding(
            "bundle",
            Severity::Error,
            "bundle",
            format!("{d} does not exist"),
        )];
    }
    let mut out = Vec::new();
    let required = required(&b.dir);
    let Some(sums) = &b.sums else {
        out.push(finding(
            "bundle",
            Severity::Error,
            "bundle",
            format!("{d}/SHA256SUMS is missing"),
        ));
        for (p, h) in &b.files {
            if h.is_none() {
                out.push(finding(
                    "bundle",
                    Severity::Error,
                    "bundle",
                    format!("{d}/{p} is missing"),
                ));
            }
        }
        return out;
    };
    for (p, actual) in &b.files {
        let expected = sums.iter().find(|(sp, _)| sp == p).map(|(_, h)| h);
        match (actual, expected) {
            (None, _) => out.push(finding(
                "bundle",
                Severity::Error,
                "bundle",
                format!("{d}/{p} is missing"),
            )),
            (Some(a), Some(e)) if a != e => out.push(finding(
                "bundle",
                Severity::Error,
                "bundle",
                format!("{d}/{p} does not match SHA256SUMS (expected {e}, found {a})"),
            )),
            (Some(_), None) if required.contains(p) => out.push(finding(
                "bundle",
                Severity::Warning,
                "bundle",
                format!("{d}/{p} is not listed in SHA256SUMS"),
            )),
            _ => {}
        }
    }
    out
}
