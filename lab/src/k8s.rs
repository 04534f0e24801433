//! The Kubernetes binaries, built from Debian's `kubernetes` source package and cached by
//! its version under `/var/cache/kubin/k8s/<version>/`.
//!
//! A plain `go build` fails on this tree (generated code missing, `-mod=vendor` refusing
//! the go.mod under Go 1.19); the `make WHAT=...` route with a GOPATH layout runs the
//! generators first and works (about 8 minutes on 2 cores for all six binaries).

use crate::apt;
use crate::cmd::{cmd, run};
use crate::error::{Error, Result, io};
use crate::{lock, paths};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The source package.
pub const SOURCE_PACKAGE: &str = "kubernetes";
/// The binaries built, in the order the bundle lists them.
pub const BINARIES: &[&str] = &[
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubelet",
    "kube-proxy",
    "kubectl",
];
/// Debian packages the build needs on the outer machine.
pub const BUILD_PACKAGES: &[&str] = crate::packages::K8S_BUILD;

const COMPLETE: &str = ".complete";

/// The version of the `kubernetes` source package apt offers (adding the harness's deb-src
/// file first if needed); it keys the cache.
pub fn source_version() -> Result<String> {
    if let Ok(v) = apt::source_version(SOURCE_PACKAGE) {
        return Ok(v);
    }
    apt::ensure_deb_src()?;
    apt::source_version(SOURCE_PACKAGE)
}

/// The cache directory of source version `version`.
pub fn cache_dir(version: &str) -> PathBuf {
    paths::k8s_cache().join(version)
}

/// Whether the binaries of `version` are cached.
pub fn is_cached(version: &str) -> bool {
    cache_dir(version).join("bin").join(COMPLETE).exists()
}

/// Makes sure the six binaries of the current source version are built and returns the
/// directory holding them (`<cache>/<version>/bin`).
pub fn ensure() -> Result<PathBuf> {
    let version = source_version()?;
    let dir = cache_dir(&version);
    let bin = dir.join("bin");
    if is_cached(&version) {
        return Ok(bin);
    }
    let _guard = lock::exclusive(&paths::k8s_cache().join(".lock"))?;
    if is_cached(&version) {
        return Ok(bin);
    }
    apt::install_packages(BUILD_PACKAGES)?;
    let src = fetch_source(&version)?;
    let out = src.join("_output/local/bin/linux/amd64");
    if !BINARIES.iter().all(|b| out.join(b).exists()) {
        build(&src, &version)?;
    }
    adopt(&out, &bin)?;
    Ok(bin)
}

/// The unpacked source tree of the current source version (fetched if missing), for what
/// the bundle builds from it besides the binaries (the pause image).
pub fn source() -> Result<PathBuf> {
    let version = source_version()?;
    let dir = cache_dir(&version);
    if dir.exists()
        && let Some(src) = source_tree(&dir)?
    {
        return Ok(src);
    }
    let _guard = lock::exclusive(&paths::k8s_cache().join(".lock"))?;
    fetch_source(&version)
}

/// The unpacked tree of `version` in its cache directory, fetched (`apt-get source`) if
/// missing. The caller holds the cache lock.
fn fetch_source(version: &str) -> Result<PathBuf> {
    let dir = cache_dir(version);
    std::fs::create_dir_all(&dir).map_err(io("cannot create", &dir))?;
    if let Some(src) = source_tree(&dir)? {
        return Ok(src);
    }
    apt::ensure_deb_src()?;
    apt::install_packages(&["dpkg-dev"])?;
    eprintln!("lab: fetching source package {SOURCE_PACKAGE} {version}");
    run(cmd(
        "apt-get",
        ["source", "-q", &format!("{SOURCE_PACKAGE}={version}")],
    )
    .current_dir(&dir))?;
    source_tree(&dir)?.ok_or_else(|| Error::BrokenCache {
        path: dir.clone(),
        reason: "apt-get source left no kubernetes-* directory".into(),
    })
}

/// The unpacked source tree in `dir`, if any.
fn source_tree(dir: &Path) -> Result<Option<PathBuf>> {
    let mut trees: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io("cannot read", dir))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("kubernetes-"))
        })
        .collect();
    trees.sort();
    Ok(trees.pop())
}

/// `make WHAT=...` in a GOPATH layout (`<src>/.go/src/k8s.io/kubernetes` -> `<src>`).
fn build(src: &Path, version: &str) -> Result<()> {
    let gopath = src.join(".go");
    let link_dir = gopath.join("src/k8s.io");
    std::fs::create_dir_all(&link_dir).map_err(io("cannot create", &link_dir))?;
    let link = link_dir.join("kubernetes");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink(src, &link).map_err(io("cannot link", &link))?;
    }
    std::fs::create_dir_all(paths::log_dir()).map_err(io("cannot create", paths::log_dir()))?;
    let log = paths::log_dir().join(format!("k8s-build-{version}.log"));
    let out = std::fs::File::create(&log).map_err(io("cannot create", &log))?;
    let err = out.try_clone().map_err(io("cannot open", &log))?;
    let what: Vec<String> = BINARIES.iter().map(|b| format!("cmd/{b}")).collect();
    eprintln!(
        "lab: building Kubernetes {version} (about 8 minutes on 2 cores; log {})",
        log.display()
    );
    let started = Instant::now();
    let mut c = cmd("make", [format!("WHAT={}", what.join(" "))]);
    c.current_dir(&link)
        .env("GOPATH", &gopath)
        .env("GOCACHE", paths::k8s_cache().join("gocache"))
        .env_remove("GOFLAGS")
        .stdout(out)
        .stderr(err);
    let status = c.status().map_err(|source| Error::Spawn {
        program: "make".into(),
        source,
    })?;
    if !status.success() {
        return Err(Error::Command {
            command: format!("make WHAT=\"{}\"", what.join(" ")),
            status: status.to_string(),
            stderr: format!("see {}", log.display()),
        });
    }
    eprintln!("lab: built Kubernetes in {:.0?}", started.elapsed());
    Ok(())
}

/// Copies the built binaries into the cache's `bin` and marks it complete.
fn adopt(out: &Path, bin: &Path) -> Result<()> {
    std::fs::create_dir_all(bin).map_err(io("cannot create", bin))?;
    for b in BINARIES {
        let from = out.join(b);
        std::fs::copy(&from, bin.join(b)).map_err(io("cannot copy", &from))?;
    }
    let done = bin.join(COMPLETE);
    std::fs::write(&done, "").map_err(io("cannot write", &done))
}
