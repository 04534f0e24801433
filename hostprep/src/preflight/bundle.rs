//! The offline bundle on the control machine: the binaries the deploy copies, checked
//! against the bundle's SHA256SUMS. [`inspect_bundle`] reads and hashes (IO);
//! [`check_bundle`] decides (pure); [`inspect_pod_network`] and [`check_pod_network`] do
//! the same for the files the inventory's pod network needs (flannel's).

use super::{Finding, Severity, finding};
use inventory::{Inventory, PodNetwork, Runtime};
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
    sha256_stream(&mut std::fs::File::open(path).ok()?)
}

/// The hex SHA-256 of everything `r` yields, read a megabyte at a time; `None` when a
/// read fails.
pub fn sha256_stream(r: &mut impl Read) -> Option<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf).ok()?;
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

/// The names of `dir`'s entries (none when it cannot be read: the checks then name what is
/// missing).
fn entry_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The required binaries' relative paths, `etcd-v*` resolved to the directory present.
fn required(dir: &Path) -> Vec<String> {
    // The newest by version (etcd-v3.5.10 over etcd-v3.5.9), as the deploy picks it.
    let names = entry_names(dir);
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

/// The hash of each of `paths` (relative to `dir`), in order, on a few threads: the bundle
/// is hundreds of megabytes, and the files are taken one at a time by whichever thread is
/// free.
fn hash_all(
    dir: &Path,
    paths: &[String],
    sha256_file: &(dyn Fn(&Path) -> Option<String> + Sync),
) -> Vec<Option<String>> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(paths.len().max(1));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; paths.len()]);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(p) = paths.get(i) else { break };
                    let hash = sha256_file(&dir.join(p));
                    out.lock().unwrap_or_else(|e| e.into_inner())[i] = hash;
                }
            });
        }
    });
    out.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Reads the bundle: SHA256SUMS, and the hash of every required or listed file.
pub fn inspect_bundle(dir: &Path) -> BundleFacts {
    inspect_bundle_with(dir, &sha256_file)
}

/// [`inspect_bundle`] with the caller's hashing of a file (hex sha256, `None` when it
/// cannot be read): the deploy hashes once per process what its phases read again.
pub fn inspect_bundle_with(
    dir: &Path,
    sha256_file: &(dyn Fn(&Path) -> Option<String> + Sync),
) -> BundleFacts {
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
    let hashes = hash_all(dir, &paths, sha256_file);
    let files = paths.into_iter().zip(hashes).collect();
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

/// The CNI plugins' directory in the bundle, as containernetworking's tarball is named.
pub const CNI_PLUGINS_PREFIX: &str = "cni-plugins-linux-amd64-v";

/// The bundle files the inventory's pod network needs, and whether each is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodNetworkFiles {
    /// The bundle directory.
    pub dir: PathBuf,
    /// The inventory's `network.pod_network`.
    pub mode: PodNetwork,
    /// Each needed file (relative to `dir`), what it is for, and whether it is there.
    pub files: Vec<NeededFile>,
}

/// One file a pod network needs from the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededFile {
    /// The path relative to the bundle.
    pub path: String,
    /// What it is and how to get it there.
    pub what: String,
    /// Whether it is a non-empty file.
    pub present: bool,
}

/// The files `inv`'s pod network needs from the bundle at `dir` (none for `routes`):
/// flanneld under `flannel-v<version>-linux-amd64/`, the `flannel` CNI plugin beside the
/// others with containerd, `mk-docker-opts.sh` with docker.
pub fn inspect_pod_network(dir: &Path, inv: &Inventory) -> PodNetworkFiles {
    let mut files = Vec::new();
    if inv.network.pod_network == PodNetwork::Flannel {
        let release = inv.flannel_bundle_dir();
        files.push((
            format!("{release}/flanneld"),
            format!(
                "flanneld, from flannel's release tarball {release}.tar.gz unpacked into {release}/"
            ),
        ));
        match inv.network.runtime {
            Runtime::Containerd => {
                let names = entry_names(dir);
                let cni = inventory::version::newest_release(
                    names.iter().map(String::as_str),
                    CNI_PLUGINS_PREFIX,
                )
                .unwrap_or("cni-plugins-linux-amd64-v*")
                .to_string();
                files.push((
                    format!("{cni}/flannel"),
                    "the flannel CNI plugin (flannel's cni-plugin release, flannel-amd64, renamed flannel) beside the other CNI plugins".to_string(),
                ));
            }
            Runtime::Docker => files.push((
                format!("{release}/mk-docker-opts.sh"),
                format!("mk-docker-opts.sh, from the same tarball as flanneld, in {release}/"),
            )),
        }
    }
    PodNetworkFiles {
        dir: dir.to_path_buf(),
        mode: inv.network.pod_network,
        files: files
            .into_iter()
            .map(|(path, what)| NeededFile {
                present: std::fs::metadata(dir.join(&path))
                    .is_ok_and(|m| m.is_file() && m.len() > 0),
                path,
                what,
            })
            .collect(),
    }
}

/// An error for every file the pod network needs that the bundle lacks, naming the file,
/// what it is, and the two ways out: put it there, or choose the daemonless mode.
pub fn check_pod_network(f: &PodNetworkFiles) -> Vec<Finding> {
    f.files
        .iter()
        .filter(|n| !n.present)
        .map(|n| {
            finding(
                "bundle",
                Severity::Error,
                "pod_network",
                format!(
                    "{}/{} is missing: network.pod_network is {} and needs {}; put it there, or set network.pod_network: routes (the daemonless pod network, for hosts on one L2 segment)",
                    f.dir.display(),
                    n.path,
                    f.mode.as_str(),
                    n.what
                ),
            )
        })
        .collect()
}
