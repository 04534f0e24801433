//! The offline bundle kubin deploys: the upstream release tarballs' layout, cached by the
//! versions of its inputs under `/var/cache/kubin/bundle/<key>/`.
//!
//! ```text
//! etcd-v3.4.23-linux-amd64/{etcd,etcdctl}     from Debian's etcd-server / etcd-client
//! kubernetes/server/bin/<six binaries>         built by [`crate::k8s`]
//! SHA256SUMS                                   `sha256sum -c` format, paths relative
//! ```

use crate::error::{Error, Result, io};
use crate::{apt, k8s, lock, paths};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The Debian packages etcd and etcdctl are copied from.
pub const ETCD_PACKAGES: &[&str] = crate::packages::ETCD;
/// The checksum file at the bundle's top.
pub const SUMS: &str = "SHA256SUMS";

/// The upstream version of a Debian version: `3.4.23-4+b4` -> `3.4.23`, `1:2.0-1` -> `2.0`.
pub fn upstream_version(debian: &str) -> &str {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, v)| v);
    no_epoch.rsplit_once('-').map_or(no_epoch, |(v, _)| v)
}

/// The etcd directory as the upstream tarball names it: `etcd-v3.4.23-linux-amd64`.
pub fn etcd_dir_name(etcd_debian_version: &str) -> String {
    format!(
        "etcd-v{}-linux-amd64",
        upstream_version(etcd_debian_version)
    )
}

/// The bundle's cache key: the Debian versions of etcd and of the Kubernetes source.
pub fn key(etcd_debian_version: &str, k8s_source_version: &str) -> String {
    format!("etcd-{etcd_debian_version}_kubernetes-{k8s_source_version}").replace([':', '~'], "_")
}

/// The relative paths of every file of the bundle, in `SHA256SUMS` order.
pub fn files(etcd_debian_version: &str) -> Vec<String> {
    let etcd = etcd_dir_name(etcd_debian_version);
    let mut v = vec![format!("{etcd}/etcd"), format!("{etcd}/etcdctl")];
    v.extend(
        k8s::BINARIES
            .iter()
            .map(|b| format!("kubernetes/server/bin/{b}")),
    );
    v
}

/// Renders `SHA256SUMS` from `(relative path, sha256 hex)` pairs.
pub fn render_sums(sums: &[(String, String)]) -> String {
    sums.iter().map(|(p, h)| format!("{h}  {p}\n")).collect()
}

fn sha256_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(io("cannot open", path))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Makes sure the bundle exists (installing etcd, building Kubernetes if missing) and
/// returns its directory.
pub fn ensure() -> Result<PathBuf> {
    apt::install_packages(ETCD_PACKAGES)?;
    let etcd_version = apt::installed_version("etcd-server").ok_or_else(|| Error::NoPackage {
        what: "package",
        name: "etcd-server".into(),
    })?;
    let k8s_version = k8s::source_version()?;
    let dir = paths::bundle_cache().join(key(&etcd_version, &k8s_version));
    if dir.join(SUMS).exists() {
        return Ok(dir);
    }
    let k8s_bin = k8s::ensure()?;
    let _guard = lock::exclusive(&paths::bundle_cache().join(".lock"))?;
    if dir.join(SUMS).exists() {
        return Ok(dir);
    }
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("cannot remove", &tmp))?;
    }
    let etcd = tmp.join(etcd_dir_name(&etcd_version));
    let kube = tmp.join("kubernetes/server/bin");
    for d in [&etcd, &kube] {
        std::fs::create_dir_all(d).map_err(io("cannot create", d))?;
    }
    for b in ["etcd", "etcdctl"] {
        let from = Path::new("/usr/bin").join(b);
        std::fs::copy(&from, etcd.join(b)).map_err(io("cannot copy", &from))?;
    }
    for b in k8s::BINARIES {
        let from = k8s_bin.join(b);
        std::fs::copy(&from, kube.join(b)).map_err(io("cannot copy", &from))?;
    }
    let mut sums = Vec::new();
    for rel in files(&etcd_version) {
        sums.push((rel.clone(), sha256_file(&tmp.join(&rel))?));
    }
    let sums_path = tmp.join(SUMS);
    std::fs::write(&sums_path, render_sums(&sums)).map_err(io("cannot write", &sums_path))?;
    std::fs::rename(&tmp, &dir).map_err(io("cannot rename into", &dir))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_layout() {
        assert_eq!(upstream_version("3.4.23-4+b4"), "3.4.23");
        assert_eq!(upstream_version("1:2.0-1"), "2.0");
        assert_eq!(upstream_version("1.0"), "1.0");
        assert_eq!(etcd_dir_name("3.4.23-4+b4"), "etcd-v3.4.23-linux-amd64");
        insta::assert_snapshot!(files("3.4.23-4+b4").join("\n"));
        assert_eq!(
            key("3.4.23-4+b4", "1.20.5+really1.20.2-1.1+deb12u1"),
            "etcd-3.4.23-4+b4_kubernetes-1.20.5+really1.20.2-1.1+deb12u1"
        );
    }

    #[test]
    fn sums_are_sha256sum_format() {
        let s = render_sums(&[("a/b".into(), "00".repeat(32))]);
        assert_eq!(s, format!("{}  a/b\n", "00".repeat(32)));
    }
}
