//! The offline bundle kubin deploys: the upstream release tarballs' layout, cached by the
//! versions of its inputs under `/var/cache/kubin/bundle/<key>/`.
//!
//! ```text
//! etcd-v3.4.23-linux-amd64/{etcd,etcdctl}     from Debian's etcd-server / etcd-client
//! kubernetes/server/bin/<six binaries>         built by [`crate::k8s`]
//! bin/{containerd,containerd-shim-runc-v2,ctr} containerd's release tarball layout (Debian `containerd`)
//! runc.amd64                                   runc's release asset name (Debian `runc`)
//! cni-plugins-linux-amd64-v1.1.1/<plugins>     the CNI plugins tarball (Debian `containernetworking-plugins`)
//! images/pause.tar                             OCI archive, registry.k8s.io/pause:3.2 (pause.c of the Kubernetes source)
//! images/busybox.tar                           OCI archive, kubin.local/busybox:1 (Debian `busybox-static`)
//! SHA256SUMS                                   `sha256sum -c` format, paths relative
//! ```
//!
//! The runtime packages are downloaded and unpacked (`apt-get download`, `dpkg-deb -x`),
//! never installed on the outer machine: nothing of them runs there.

pub mod images;

use crate::cmd::{cmd, run};
use crate::error::{Error, Result, io};
use crate::{apt, k8s, lock, oci, paths};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The Debian packages etcd and etcdctl are copied from.
pub const ETCD_PACKAGES: &[&str] = crate::packages::ETCD;
/// The checksum file at the bundle's top.
pub const SUMS: &str = "SHA256SUMS";
/// Debian packages the node runtime and the test image come from (unpacked, not installed).
pub const NODE_PACKAGES: &[&str] = crate::packages::NODE_RUNTIME;
/// What compiling the pause image needs on the outer machine (a static libc, strip).
pub const PAUSE_BUILD_PACKAGES: &[&str] = crate::packages::PAUSE_BUILD;
/// The containerd binaries the bundle carries, under `bin/` as containerd's tarball has them.
pub const CONTAINERD_BINARIES: &[&str] = &["containerd", "containerd-shim-runc-v2", "ctr"];
/// runc, named as its release asset.
pub const RUNC: &str = "runc.amd64";
/// Bumped whenever what [`ensure`] writes changes for the same package versions.
const RECIPE: &str = "bundle-v2";

/// The Debian versions of every input of the bundle: they key its cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versions {
    /// `etcd-server` (installed on the outer machine).
    pub etcd: String,
    /// The `kubernetes` source package.
    pub kubernetes: String,
    /// `containerd`.
    pub containerd: String,
    /// `runc`.
    pub runc: String,
    /// `containernetworking-plugins`.
    pub cni: String,
    /// `busybox-static`.
    pub busybox: String,
}

/// The upstream version of a Debian version: `3.4.23-4+b4` -> `3.4.23`, `1:2.0-1` -> `2.0`.
pub fn upstream_version(debian: &str) -> &str {
    let no_epoch = debian.split_once(':').map_or(debian, |(_, v)| v);
    no_epoch.rsplit_once('-').map_or(no_epoch, |(v, _)| v)
}

/// The release a Debian version packages, without repack suffixes: `1.6.20~ds1-1+deb12u3`
/// -> `1.6.20`, `1.1.1+ds1-3+b5` -> `1.1.1`.
pub fn release_version(debian: &str) -> &str {
    let up = upstream_version(debian);
    up.split(['~', '+']).next().unwrap_or(up)
}

/// The etcd directory as the upstream tarball names it: `etcd-v3.4.23-linux-amd64`.
pub fn etcd_dir_name(etcd_debian_version: &str) -> String {
    format!(
        "etcd-v{}-linux-amd64",
        upstream_version(etcd_debian_version)
    )
}

/// The CNI plugins directory, named for the upstream tarball: `cni-plugins-linux-amd64-v1.1.1`.
pub fn cni_dir_name(cni_debian_version: &str) -> String {
    format!(
        "cni-plugins-linux-amd64-v{}",
        release_version(cni_debian_version)
    )
}

/// The bundle's cache key: the etcd and Kubernetes versions, readable, then a hash of every
/// input's version and the recipe, so any new input makes a new bundle.
pub fn key(v: &Versions) -> String {
    let mut h = Sha256::new();
    for part in [
        RECIPE,
        &v.etcd,
        &v.kubernetes,
        &v.containerd,
        &v.runc,
        &v.cni,
        &v.busybox,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let hash = hex::encode(&h.finalize()[..6]);
    format!("etcd-{}_kubernetes-{}_{hash}", v.etcd, v.kubernetes).replace([':', '~'], "_")
}

/// The relative paths of every file of the bundle, in `SHA256SUMS` order, given the CNI
/// plugins the package holds.
pub fn files(v: &Versions, cni_plugins: &[String]) -> Vec<String> {
    let etcd = etcd_dir_name(&v.etcd);
    let mut out = vec![format!("{etcd}/etcd"), format!("{etcd}/etcdctl")];
    out.extend(
        k8s::BINARIES
            .iter()
            .map(|b| format!("kubernetes/server/bin/{b}")),
    );
    out.extend(CONTAINERD_BINARIES.iter().map(|b| format!("bin/{b}")));
    out.push(RUNC.to_string());
    let cni = cni_dir_name(&v.cni);
    out.extend(cni_plugins.iter().map(|p| format!("{cni}/{p}")));
    out.push(images::PAUSE_ARCHIVE.to_string());
    out.push(images::BUSYBOX_ARCHIVE.to_string());
    out
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

/// The versions of every input, installing etcd on the outer machine (the tests use it
/// there too) and reading the other packages' candidates from apt's lists.
pub fn versions() -> Result<Versions> {
    apt::install_packages(ETCD_PACKAGES)?;
    let etcd = apt::installed_version("etcd-server").ok_or_else(|| Error::NoPackage {
        what: "package",
        name: "etcd-server".into(),
    })?;
    Ok(Versions {
        etcd,
        kubernetes: k8s::source_version()?,
        containerd: apt::candidate_version("containerd")?,
        runc: apt::candidate_version("runc")?,
        cni: apt::candidate_version("containernetworking-plugins")?,
        busybox: apt::candidate_version("busybox-static")?,
    })
}

/// Makes sure the bundle exists (installing etcd, building Kubernetes, unpacking the
/// runtime packages and writing the images if missing) and returns its directory.
pub fn ensure() -> Result<PathBuf> {
    let v = versions()?;
    let dir = paths::bundle_cache().join(key(&v));
    if dir.join(SUMS).exists() {
        return Ok(dir);
    }
    let k8s_bin = k8s::ensure()?;
    let _guard = lock::exclusive(&paths::bundle_cache().join(".lock"))?;
    if dir.join(SUMS).exists() {
        return Ok(dir);
    }
    let tmp = dir.with_extension("tmp");
    let work = dir.with_extension("work");
    for d in [&tmp, &work] {
        if d.exists() {
            std::fs::remove_dir_all(d).map_err(io("cannot remove", d))?;
        }
    }
    let etcd = tmp.join(etcd_dir_name(&v.etcd));
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
    let cni_plugins = add_runtime(&tmp, &work, &v)?;
    add_images(&tmp, &work, &v.busybox)?;
    let mut sums = Vec::new();
    for rel in files(&v, &cni_plugins) {
        sums.push((rel.clone(), sha256_file(&tmp.join(&rel))?));
    }
    let sums_path = tmp.join(SUMS);
    std::fs::write(&sums_path, render_sums(&sums)).map_err(io("cannot write", &sums_path))?;
    std::fs::rename(&tmp, &dir).map_err(io("cannot rename into", &dir))?;
    std::fs::remove_dir_all(&work).map_err(io("cannot remove", &work))?;
    Ok(dir)
}

/// Unpacks the runtime packages into `work/<package>/root` and returns that root.
fn unpack(work: &Path, package: &str, version: &str) -> Result<PathBuf> {
    let root = work.join(package).join("root");
    apt::download_and_unpack(package, version, &root)?;
    Ok(root)
}

/// The first of `candidates` (paths relative to `root`) that exists.
fn find(root: &Path, package: &str, candidates: &[&str]) -> Result<PathBuf> {
    candidates
        .iter()
        .map(|c| root.join(c))
        .find(|p| p.is_file())
        .ok_or_else(|| Error::BrokenCache {
            path: root.to_path_buf(),
            reason: format!("package {package} has none of {candidates:?}"),
        })
}

/// containerd, runc and the CNI plugins into the bundle; returns the plugins' names.
fn add_runtime(tmp: &Path, work: &Path, v: &Versions) -> Result<Vec<String>> {
    let containerd = unpack(work, "containerd", &v.containerd)?;
    let bin = tmp.join("bin");
    std::fs::create_dir_all(&bin).map_err(io("cannot create", &bin))?;
    for b in CONTAINERD_BINARIES {
        let from = find(&containerd, "containerd", &[&format!("usr/bin/{b}")])?;
        std::fs::copy(&from, bin.join(b)).map_err(io("cannot copy", &from))?;
    }
    let runc = unpack(work, "runc", &v.runc)?;
    let from = find(&runc, "runc", &["usr/sbin/runc", "usr/bin/runc"])?;
    std::fs::copy(&from, tmp.join(RUNC)).map_err(io("cannot copy", &from))?;
    let cni_root = unpack(work, "containernetworking-plugins", &v.cni)?;
    let plugins_dir = cni_root.join("usr/lib/cni");
    let mut plugins: Vec<String> = std::fs::read_dir(&plugins_dir)
        .map_err(io("cannot read", &plugins_dir))?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().to_str().map(String::from))
        .collect();
    plugins.sort();
    if !plugins.iter().any(|p| p == "bridge") || !plugins.iter().any(|p| p == "host-local") {
        return Err(Error::BrokenCache {
            path: plugins_dir,
            reason: format!("no bridge or host-local plugin among {plugins:?}"),
        });
    }
    let cni = tmp.join(cni_dir_name(&v.cni));
    std::fs::create_dir_all(&cni).map_err(io("cannot create", &cni))?;
    for p in &plugins {
        let from = plugins_dir.join(p);
        std::fs::copy(&from, cni.join(p)).map_err(io("cannot copy", &from))?;
    }
    Ok(plugins)
}

/// The pause image (compiled from the Kubernetes source) and the busybox image.
fn add_images(tmp: &Path, work: &Path, busybox_version: &str) -> Result<()> {
    apt::install_packages(PAUSE_BUILD_PACKAGES)?;
    let source = k8s::source()?.join("build/pause/linux/pause.c");
    let pause = work.join("pause");
    run(cmd(
        "gcc",
        [
            "-Os",
            "-Wall",
            "-Werror",
            "-static",
            &format!("-DVERSION={}", images::PAUSE_VERSION),
            "-o",
        ],
    )
    .arg(&pause)
    .arg(&source))?;
    run(cmd("strip", Vec::<&str>::new()).arg(&pause))?;
    let pause = std::fs::read(&pause).map_err(io("cannot read", &pause))?;
    write_image(tmp, images::PAUSE_ARCHIVE, &images::pause(pause))?;

    let root = unpack(work, "busybox-static", busybox_version)?;
    let busybox = find(&root, "busybox-static", &["bin/busybox", "usr/bin/busybox"])?;
    // The static binary from the package lists its own applets.
    let list = run(std::process::Command::new(&busybox).arg("--list"))?;
    let applets: Vec<String> = list.lines().map(String::from).collect();
    let binary = std::fs::read(&busybox).map_err(io("cannot read", &busybox))?;
    write_image(
        tmp,
        images::BUSYBOX_ARCHIVE,
        &images::busybox(binary, &applets),
    )
}

fn write_image(tmp: &Path, rel: &str, image: &oci::Image) -> Result<()> {
    let w = oci::write(image)?;
    let path = tmp.join(rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(io("cannot create", d))?;
    }
    std::fs::write(&path, &w.archive).map_err(io("cannot write", &path))?;
    eprintln!(
        "lab: image {} ({}): archive {} bytes, layer {} bytes",
        image.name,
        w.manifest_digest,
        w.archive.len(),
        w.layer_size
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions() -> Versions {
        Versions {
            etcd: "3.4.23-4+b4".into(),
            kubernetes: "1.20.5+really1.20.2-1.1+deb12u1".into(),
            containerd: "1.6.20~ds1-1+deb12u3".into(),
            runc: "1.1.5+ds1-1+deb12u1".into(),
            cni: "1.1.1+ds1-3+b5".into(),
            busybox: "1:1.35.0-4+deb12u1+b1".into(),
        }
    }

    #[test]
    fn versions_and_layout() {
        assert_eq!(upstream_version("3.4.23-4+b4"), "3.4.23");
        assert_eq!(upstream_version("1:2.0-1"), "2.0");
        assert_eq!(upstream_version("1.0"), "1.0");
        assert_eq!(release_version("1.6.20~ds1-1+deb12u3"), "1.6.20");
        assert_eq!(release_version("1.1.5+ds1-1+deb12u1"), "1.1.5");
        assert_eq!(release_version("1:1.35.0-4+deb12u1+b1"), "1.35.0");
        assert_eq!(etcd_dir_name("3.4.23-4+b4"), "etcd-v3.4.23-linux-amd64");
        assert_eq!(
            cni_dir_name("1.1.1+ds1-3+b5"),
            "cni-plugins-linux-amd64-v1.1.1"
        );
        let plugins = ["bridge".to_string(), "host-local".into(), "loopback".into()];
        insta::assert_snapshot!(files(&versions(), &plugins).join("\n"));
    }

    #[test]
    fn the_key_changes_with_every_input() {
        let base = versions();
        let k = key(&base);
        assert!(
            k.starts_with("etcd-3.4.23-4+b4_kubernetes-1.20.5+really1.20.2-1.1+deb12u1_"),
            "{k}"
        );
        assert!(!k.contains(['/', ':', '~']), "{k}");
        let changes: [fn(&mut Versions); 6] = [
            |v| v.etcd.push('1'),
            |v| v.kubernetes.push('1'),
            |v| v.containerd.push('1'),
            |v| v.runc.push('1'),
            |v| v.cni.push('1'),
            |v| v.busybox.push('1'),
        ];
        let mut seen = std::collections::BTreeSet::from([k]);
        for change in changes {
            let mut v = base.clone();
            change(&mut v);
            assert!(seen.insert(key(&v)), "{v:?} kept the key");
        }
    }

    #[test]
    fn sums_are_sha256sum_format() {
        let s = render_sums(&[("a/b".into(), "00".repeat(32))]);
        assert_eq!(s, format!("{}  a/b\n", "00".repeat(32)));
    }
}
