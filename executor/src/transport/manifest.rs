//! The quick check of files kubin placed, as rsync's and git's index do it: per file, the
//! sha256 kubin knows it holds and the stamp it had then (size, inode, device, mtime and
//! ctime, as `stat` prints them). A file whose stamp is unchanged is not hashed again.
//!
//! The host keeps the records in one root-only file ([`MANIFEST`], 0600, written
//! atomically); this module is the pure part: parse, look up, record, render.
//!
//! Why a matching stamp proves the content: any write to a file changes its mtime and
//! ctime, and while a user can set the mtime back (`touch -d`), nobody can set the ctime:
//! the kernel sets it to the current time on every change of content or metadata,
//! `utimensat` included. A record is only ever a fact observed together ("this stamp, this
//! content"), so a stale or foreign record is harmless: its stamp no longer matches. The
//! one gap is the clock's granularity: a second writer changing a file, keeping its size,
//! within the same clock tick as kubin's `stat` of it; kubin holds the hosts' lock for the
//! whole run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where the SSH transport keeps the records on a host.
pub const MANIFEST: &str = "/var/lib/kubin/manifest";

/// The first line of the file: names it and its format.
const HEADER: &str =
    "# kubin: files placed by kubin (sha256, stamp, path); a cache, safe to delete";

/// The `stat -c` format of a stamp: size, inode, device, then mtime and ctime with
/// nanoseconds (`%y`/`%z` exist in every GNU stat; each is three words).
pub const STAMP_FORMAT: &str = "%s %i %d %y %z";

/// One file's record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    sha256: String,
    stamp: String,
}

/// The records of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    records: BTreeMap<PathBuf, Record>,
}

/// Whether `s` can sit in a tab-separated line.
fn plain(s: &str) -> bool {
    !s.is_empty() && !s.contains(['\t', '\n', '\r'])
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Manifest {
    /// Reads the file's text; lines that do not parse are ignored (they only cost a hash).
    pub fn parse(text: &str) -> Self {
        let records = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let (sha256, stamp, path) = (parts.next()?, parts.next()?, parts.next()?);
                (is_sha256(sha256) && plain(stamp) && path.starts_with('/')).then(|| {
                    (
                        PathBuf::from(path),
                        Record {
                            sha256: sha256.to_ascii_lowercase(),
                            stamp: stamp.to_string(),
                        },
                    )
                })
            })
            .collect();
        Self { records }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut s = format!("{HEADER}\n");
        for (path, r) in &self.records {
            s.push_str(&format!(
                "{}\t{}\t{}\n",
                r.sha256,
                r.stamp,
                path.to_string_lossy()
            ));
        }
        s
    }

    /// The sha256 recorded for `path` if the file still has the stamp it had then.
    pub fn lookup(&self, path: &Path, stamp: &str) -> Option<&str> {
        self.records
            .get(path)
            .filter(|r| r.stamp == stamp)
            .map(|r| r.sha256.as_str())
    }

    /// Records that `path`, with `stamp`, holds content of `sha256`; returns whether the
    /// records changed. Paths and stamps a line cannot hold are not recorded.
    pub fn record(&mut self, path: &Path, stamp: &str, sha256: &str) -> bool {
        let Some(p) = path.to_str() else {
            return false;
        };
        if !plain(p) || !p.starts_with('/') || !plain(stamp) || !is_sha256(sha256) {
            return false;
        }
        let new = Record {
            sha256: sha256.to_ascii_lowercase(),
            stamp: stamp.to_string(),
        };
        self.records.insert(path.to_path_buf(), new.clone()) != Some(new)
    }

    /// Drops the record of a file that is gone; returns whether there was one.
    pub fn forget(&mut self, path: &Path) -> bool {
        self.records.remove(path).is_some()
    }

    /// How many files are recorded.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no file is recorded.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// The script that writes `manifest`'s text, fed on stdin, atomically: a private temp file
/// in the same directory (made 0700 if missing), renamed over it.
pub fn write_script(manifest: &Path) -> String {
    let dir = manifest.parent().unwrap_or(Path::new("/"));
    let d = plan::shell::quote_path(dir);
    let m = plan::shell::quote_path(manifest);
    let tmp = plan::shell::quote_path(&dir.join(".manifest.XXXXXX"));
    format!(
        "set -e; umask 077; mkdir -p -- {d}; t=$(mktemp {tmp}); trap 'rm -f -- \"$t\"' EXIT; \
         cat > \"$t\"; mv -f -- \"$t\" {m}; trap - EXIT"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const OTHER: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
    const STAMP: &str =
        "4 1311 65024 2026-11-28 13:33:15.464556176 +0000 2026-11-28 13:33:15.464556176 +0000";

    #[test]
    fn a_file_with_its_recorded_stamp_needs_no_hash() {
        let mut m = Manifest::default();
        assert!(m.record(Path::new("/usr/local/bin/kubelet"), STAMP, SHA));
        assert!(!m.record(Path::new("/usr/local/bin/kubelet"), STAMP, SHA));
        let back = Manifest::parse(&m.render());
        assert_eq!(back, m);
        assert_eq!(
            back.lookup(Path::new("/usr/local/bin/kubelet"), STAMP),
            Some(SHA)
        );
        assert_eq!(
            back.lookup(Path::new("/usr/local/bin/kube-proxy"), STAMP),
            None
        );
    }

    /// A hand edit changes the ctime even when the size and mtime are put back (`touch -d`),
    /// and any change of size, inode or mtime alone is enough too.
    #[test]
    fn any_change_of_the_stamp_means_hashing_again() {
        let mut m = Manifest::default();
        let p = Path::new("/etc/kubernetes/kubelet.conf");
        m.record(p, STAMP, SHA);
        for changed in [
            "4 1311 65024 2026-11-28 13:33:15.464556176 +0000 2026-11-28 13:40:02.000000001 +0000",
            "5 1311 65024 2026-11-28 13:33:15.464556176 +0000 2026-11-28 13:33:15.464556176 +0000",
            "4 1312 65024 2026-11-28 13:33:15.464556176 +0000 2026-11-28 13:33:15.464556176 +0000",
            "4 1311 65025 2026-11-28 13:33:15.464556176 +0000 2026-11-28 13:33:15.464556176 +0000",
            "4 1311 65024 2026-11-28 13:33:15.464556177 +0000 2026-11-28 13:33:15.464556176 +0000",
        ] {
            assert_eq!(m.lookup(p, changed), None, "{changed}");
        }
        // A newer record replaces the old one.
        assert!(m.record(p, "9 1 1 x", OTHER));
        assert_eq!(m.lookup(p, "9 1 1 x"), Some(OTHER));
        assert_eq!(m.lookup(p, STAMP), None);
        assert!(m.forget(p));
        assert!(m.is_empty());
    }

    #[test]
    fn lines_that_do_not_parse_and_paths_a_line_cannot_hold_are_left_out() {
        let text = format!(
            "{HEADER}\nnot a record\n{SHA}\t{STAMP}\trelative/path\nxyz\t{STAMP}\t/a\n{SHA}\t{STAMP}\t/ok\n"
        );
        let m = Manifest::parse(&text);
        assert_eq!(m.len(), 1);
        assert_eq!(m.lookup(Path::new("/ok"), STAMP), Some(SHA));
        let mut m = Manifest::default();
        assert!(!m.record(Path::new("/new\nline"), STAMP, SHA));
        assert!(!m.record(Path::new("/tab\there"), STAMP, SHA));
        assert!(!m.record(Path::new("/a"), "", SHA));
        assert!(!m.record(Path::new("/a"), STAMP, "short"));
        assert!(m.is_empty());
    }

    #[test]
    fn the_write_script_replaces_the_file_atomically_and_root_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/manifest");
        let mut m = Manifest::default();
        m.record(Path::new("/x"), STAMP, SHA);
        for _ in 0..2 {
            let mut child = std::process::Command::new("sh")
                .arg("-c")
                .arg(write_script(&path))
                .stdin(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(m.render().as_bytes())
                .unwrap();
            assert!(child.wait().unwrap().success());
        }
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(Manifest::parse(&std::fs::read_to_string(&path).unwrap()), m);
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, ["manifest"]);
    }
}
