//! The offline bundle on the control machine: which `etcd-v*` directory, its binaries,
//! and the one reader of its files, which hashes each file at most once per process.

use crate::Error;
use inventory::Inventory;
use plan::{Binaries, Content};
use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A file's identity and version: device, inode, size, mtime and ctime (nanoseconds). A
/// file that keeps its stamp keeps its content: any write moves the ctime, which no user
/// can set back (as the hosts' quick check, executor's `manifest`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([i64; 7]);

fn stamp(m: &Metadata) -> Stamp {
    // Device, inode and size fit an i64 on every file system Linux has.
    Stamp([
        m.dev() as i64,
        m.ino() as i64,
        m.size() as i64,
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    ])
}

/// The bundle files this process hashed, with the stamp each had throughout the hash:
/// preflight hashes the whole bundle, and the phases then read the same files.
static HASHED: Mutex<BTreeMap<PathBuf, (Stamp, String)>> = Mutex::new(BTreeMap::new());

fn known(path: &Path, st: &Stamp) -> Option<String> {
    let hashed = HASHED.lock().unwrap_or_else(|e| e.into_inner());
    hashed
        .get(path)
        .filter(|(s, _)| s == st)
        .map(|(_, sha)| sha.clone())
}

/// A bundle file's hex sha256, streamed (`None` when it cannot be read), remembered for
/// this process when the file kept its stamp while it was hashed.
pub fn sha256_file(path: &Path) -> Option<String> {
    let mut f = File::open(path).ok()?;
    let before = stamp(&f.metadata().ok()?);
    if let Some(sha) = known(path, &before) {
        return Some(sha);
    }
    let sha = hostprep::preflight::bundle::sha256_stream(&mut f)?;
    if f.metadata().ok().map(|m| stamp(&m)) == Some(before.clone()) {
        let mut hashed = HASHED.lock().unwrap_or_else(|e| e.into_inner());
        hashed.insert(path.to_path_buf(), (before, sha.clone()));
    }
    Some(sha)
}

/// Reads a bundle file; its sha256 comes with it when this process hashed the file and it
/// kept its stamp since, so the executor does not hash it again.
pub fn read(path: PathBuf) -> Result<Content, Error> {
    let err = |source| Error::Read {
        path: path.clone(),
        source,
    };
    let mut f = File::open(&path).map_err(err)?;
    let before = stamp(&f.metadata().map_err(err)?);
    let mut bytes = Vec::with_capacity(usize::try_from(before.0[2]).unwrap_or(0));
    f.read_to_end(&mut bytes).map_err(err)?;
    let after = f.metadata().map_err(err)?;
    Ok(match known(&path, &before) {
        Some(sha) if stamp(&after) == before => Content::with_sha256(bytes, sha),
        _ => Content::from(bytes),
    })
}

/// The bundle's newest `etcd-v*/` directory, compared by version
/// ([`inventory::version::newest_release`]), not by name.
pub fn etcd_dir(inv: &Inventory) -> Result<PathBuf, Error> {
    let bundle = inv.bundle.as_ref().ok_or(Error::NoBundle)?;
    let entries = std::fs::read_dir(bundle).map_err(|source| Error::Read {
        path: bundle.clone(),
        source,
    })?;
    let dirs: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    inventory::version::newest_release(dirs.iter().map(String::as_str), "etcd-v")
        .map(|name| bundle.join(name))
        .ok_or_else(|| Error::NoEtcdInBundle {
            bundle: bundle.clone(),
        })
}

/// etcd's binaries ([`etcd_cluster::deploy::BINARIES`]) from the bundle.
pub fn etcd_binaries(inv: &Inventory) -> Result<Binaries, Error> {
    read_binaries(&etcd_dir(inv)?, &etcd_cluster::BINARIES)
}

/// The files `names` of `dir`, as one [`Binaries`].
pub fn read_binaries(dir: &std::path::Path, names: &[&str]) -> Result<Binaries, Error> {
    names
        .iter()
        .map(|name| read(dir.join(name)).map(|bytes| (*name, bytes)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    /// A file hashed once is not hashed again while it keeps its stamp; an edit that keeps
    /// its size and puts its mtime back moves the ctime, and the file is hashed anew.
    #[test]
    fn a_bundle_file_is_hashed_once_while_it_keeps_its_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubelet");
        std::fs::write(&path, b"ELF one").unwrap();
        let real = hex::encode(Sha256::digest(b"ELF one"));
        assert_eq!(sha256_file(&path).as_deref(), Some(real.as_str()));
        assert_eq!(read(path.clone()).unwrap().sha256_hex(), real);
        // What the phases take is what was remembered (shown with a planted digest).
        let planted = "0".repeat(64);
        let st = stamp(&std::fs::metadata(&path).unwrap());
        HASHED
            .lock()
            .unwrap()
            .insert(path.clone(), (st, planted.clone()));
        assert_eq!(sha256_file(&path).as_deref(), Some(planted.as_str()));
        assert_eq!(read(path.clone()).unwrap().sha256_hex(), planted);
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, b"ELF two").unwrap();
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let edited = read(path.clone()).unwrap();
        assert_eq!(&*edited, b"ELF two");
        assert_eq!(edited.sha256_hex(), hex::encode(Sha256::digest(b"ELF two")));
        assert_eq!(
            sha256_file(&path),
            Some(hex::encode(Sha256::digest(b"ELF two")))
        );
    }

    #[test]
    fn the_newest_etcd_is_chosen_by_version() {
        let dir = tempfile::tempdir().unwrap();
        for d in [
            "etcd-v3.5.9-linux-amd64",
            "etcd-v3.5.10-linux-amd64",
            "kubernetes",
        ] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let (mut inv, _) =
            Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example").unwrap();
        inv.bundle = Some(dir.path().to_path_buf());
        assert_eq!(
            etcd_dir(&inv).unwrap(),
            dir.path().join("etcd-v3.5.10-linux-amd64")
        );
    }
}
