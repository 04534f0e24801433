//! The runtime part of the offline bundle, read into a [`node_runtime::RuntimeBundle`]:
//! containerd's `bin/`, `runc.amd64`, the newest `cni-plugins-linux-amd64-v*/` and the OCI
//! archives under `images/` (`pause.tar` is the sandbox image).

use crate::Error;
use inventory::{Inventory, Version};
use node_runtime::{Blob, ImageArchive, RuntimeBundle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The sandbox image's archive under the bundle's `images/`.
pub const PAUSE_ARCHIVE: &str = "pause.tar";
/// The annotation `ctr images import` takes an image's name from.
pub const NAME_ANNOTATION: &str = "io.containerd.image.name";

fn problem(bundle: &Path, problem: impl Into<String>) -> Error {
    Error::RuntimeBundle {
        bundle: bundle.to_path_buf(),
        problem: problem.into(),
    }
}

fn read(path: PathBuf) -> Result<plan::Content, Error> {
    crate::bundle::read(path)
}

/// The regular files of `dir` by name, read.
fn files_of(dir: &Path) -> Result<BTreeMap<String, Blob>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut out = BTreeMap::new();
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if !path.is_file() {
            continue;
        }
        if let Some(name) = e.file_name().to_str() {
            out.insert(name.to_string(), Blob(read(path)?));
        }
    }
    Ok(out)
}

/// The version `containerd --version` prints (`containerd github.com/containerd/containerd
/// 1.6.20~ds1 <revision>`): the third word, up to the first character that is not part
/// of `1.6.20`.
pub fn parse_containerd_version(output: &str) -> Option<Version> {
    let word = output.split_whitespace().nth(2)?;
    let bare = word.strip_prefix('v').unwrap_or(word);
    let end = bare
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(bare.len());
    bare[..end].trim_end_matches('.').parse().ok()
}

/// containerd's version, from the bundle's binary itself (the release tarball's `bin/`
/// carries no version file): the config format and the kubelet's settings follow it.
fn containerd_version(bundle: &Path, binary: &Path) -> Result<Version, Error> {
    let out = std::process::Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| {
            problem(
                bundle,
                format!(
                    "cannot run {} --version to learn containerd's version ({e}); run kubin on a linux/amd64 machine",
                    binary.display()
                ),
            )
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_containerd_version(&text).ok_or_else(|| {
        problem(
            bundle,
            format!(
                "{} --version printed {:?}, not containerd's version",
                binary.display(),
                text.trim()
            ),
        )
    })
}

/// The name (the `io.containerd.image.name` annotation) and manifest digest of the one
/// image in an OCI archive, from its `index.json`.
pub fn image_of_archive(archive: &[u8]) -> Result<(String, String), String> {
    let mut tar = tar::Archive::new(archive);
    let entries = tar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a tar archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad entry: {e}"))?
            .to_path_buf();
        if path != Path::new("index.json") && path != Path::new("./index.json") {
            continue;
        }
        let index: serde_json::Value = serde_json::from_reader(&mut entry)
            .map_err(|e| format!("index.json is not JSON: {e}"))?;
        let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
        let [m] = manifests.as_slice() else {
            return Err(format!(
                "index.json lists {} manifests, kubin imports archives of one image",
                manifests.len()
            ));
        };
        let name = m["annotations"][NAME_ANNOTATION]
            .as_str()
            .ok_or_else(|| format!("index.json's manifest has no {NAME_ANNOTATION} annotation"))?;
        let digest = m["digest"]
            .as_str()
            .ok_or_else(|| "index.json's manifest has no digest".to_string())?;
        return Ok((name.to_string(), digest.to_string()));
    }
    Err("no index.json (not an OCI image archive)".to_string())
}

fn image(bundle: &Path, file: &str, archive: plan::Content) -> Result<ImageArchive, Error> {
    let (name, digest) =
        image_of_archive(&archive).map_err(|p| problem(bundle, format!("images/{file}: {p}")))?;
    Ok(ImageArchive {
        name,
        digest,
        file: file.to_string(),
        archive: Blob(archive),
    })
}

/// The runtime part of the inventory's bundle, checked by
/// [`RuntimeBundle::check`]: containerd's `bin/`, `runc.amd64`, the newest
/// `cni-plugins-linux-amd64-v*/` (by version), the sandbox image `images/pause.tar` and
/// every other `images/*.tar`.
pub fn runtime_bundle(inv: &Inventory) -> Result<RuntimeBundle, Error> {
    let bundle = inv.bundle.as_ref().ok_or(Error::NoBundle)?;
    let bin = bundle.join("bin");
    let containerd_bin = files_of(&bin)?;
    let containerd_version = containerd_version(bundle, &bin.join("containerd"))?;
    let runc = Blob(read(bundle.join("runc.amd64"))?);
    let dirs: Vec<String> = std::fs::read_dir(bundle)
        .map_err(|source| Error::Read {
            path: bundle.clone(),
            source,
        })?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    let cni = inventory::version::newest_release(
        dirs.iter().map(String::as_str),
        "cni-plugins-linux-amd64-",
    )
    .ok_or_else(|| problem(bundle, "no cni-plugins-linux-amd64-v*/ directory"))?;
    let cni_plugins = files_of(&bundle.join(cni))?;
    let mut archives = files_of(&bundle.join("images"))?;
    archives.retain(|name, _| name.ends_with(".tar"));
    let pause = archives.remove(PAUSE_ARCHIVE).ok_or_else(|| {
        problem(
            bundle,
            format!("no images/{PAUSE_ARCHIVE} (the sandbox image)"),
        )
    })?;
    let pause = image(bundle, PAUSE_ARCHIVE, pause.0)?;
    let images = archives
        .into_iter()
        .map(|(file, blob)| image(bundle, &file, blob.0))
        .collect::<Result<Vec<_>, _>>()?;
    let out = RuntimeBundle {
        containerd_version,
        containerd_bin,
        runc,
        cni_plugins,
        pause,
        images,
    };
    out.check()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containerd_versions_parse() {
        let v = |s| parse_containerd_version(s);
        assert_eq!(
            v("containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+deb12u3\n"),
            Some(Version::new(1, 6, 20))
        );
        assert_eq!(
            v("containerd github.com/containerd/containerd v1.7.13 7c3aca7a"),
            Some(Version::new(1, 7, 13))
        );
        assert_eq!(v("containerd"), None);
        assert_eq!(v("a b c"), None);
    }

    #[test]
    fn an_archive_names_its_image() {
        let index = br#"{"manifests":[{"annotations":{"io.containerd.image.name":"registry.k8s.io/pause:3.2"},"digest":"sha256:90fc1a696a3cd05cc46607fc4081d3dcf6c7a09ac5b4ea5934384bbf4ebd4e8c"}],"schemaVersion":2}"#;
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(index.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "index.json", &index[..]).unwrap();
        let archive = b.into_inner().unwrap();
        assert_eq!(
            image_of_archive(&archive).unwrap(),
            (
                "registry.k8s.io/pause:3.2".to_string(),
                "sha256:90fc1a696a3cd05cc46607fc4081d3dcf6c7a09ac5b4ea5934384bbf4ebd4e8c"
                    .to_string()
            )
        );
        assert!(image_of_archive(b"not a tar").is_err());
    }
}
