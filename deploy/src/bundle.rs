//! The offline bundle on the control machine: which `etcd-v*` directory, and its binaries.

use crate::Error;
use inventory::Inventory;
use plan::Binaries;
use std::path::PathBuf;

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
        .map(|name| {
            let path = dir.join(name);
            std::fs::read(&path)
                .map(|bytes| (*name, bytes))
                .map_err(|source| Error::Read { path, source })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
