//! OCI image archives written from plain data: one uncompressed tar layer, its config (with
//! `diff_ids`), a manifest, and an `index.json` naming the image the way `ctr images import`
//! reads it (the `io.containerd.image.name` annotation).
//!
//! Everything here is pure: the same [`Image`] always gives the same bytes and digests (no
//! time stamps, owners are root, entries in the given order), so a rebuilt bundle holds the
//! same images and a node can skip an import whose digest it already has.

use crate::error::{Error, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The annotation containerd takes an imported image's name from.
pub const NAME_ANNOTATION: &str = "io.containerd.image.name";
/// The OCI annotation holding the tag.
pub const REF_ANNOTATION: &str = "org.opencontainers.image.ref.name";
/// Media type of the manifest.
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the image config.
pub const CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of an uncompressed layer.
pub const LAYER_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// One entry of a layer; paths are relative (`bin/busybox`), owned by root.
#[derive(Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory.
    Dir {
        /// Its path.
        path: String,
        /// Its mode (`0o755`, `0o1777`).
        mode: u32,
    },
    /// A regular file.
    File {
        /// Its path.
        path: String,
        /// Its mode.
        mode: u32,
        /// Its content.
        data: Vec<u8>,
    },
    /// A symbolic link.
    Symlink {
        /// Its path.
        path: String,
        /// What it points at.
        target: String,
    },
}

impl std::fmt::Debug for Entry {
    // File contents are binaries: show their size, not their bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Entry::Dir { path, mode } => write!(f, "Dir({path}, {mode:o})"),
            Entry::File { path, mode, data } => {
                write!(f, "File({path}, {mode:o}, {} bytes)", data.len())
            }
            Entry::Symlink { path, target } => write!(f, "Symlink({path} -> {target})"),
        }
    }
}

/// An image to write: its full reference, its one layer, and how it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The full reference containerd names it by: `registry.k8s.io/pause:3.2`.
    pub name: String,
    /// The layer's entries, in order.
    pub entries: Vec<Entry>,
    /// `Entrypoint` of the config (may be empty).
    pub entrypoint: Vec<String>,
    /// `Cmd` of the config (may be empty).
    pub cmd: Vec<String>,
    /// `Env` of the config (`PATH=/bin`).
    pub env: Vec<String>,
}

/// A written image: the archive and its digests.
#[derive(Clone, PartialEq, Eq)]
pub struct Written {
    /// The archive (`oci-layout`, `index.json`, `blobs/sha256/*`).
    pub archive: Vec<u8>,
    /// `sha256:<hex>` of the manifest: the image's identity.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the config: the image ID `ctr images ls` shows.
    pub config_digest: String,
    /// `sha256:<hex>` of the layer (equal to its diff_id: it is uncompressed).
    pub layer_digest: String,
    /// The layer's size in bytes.
    pub layer_size: usize,
}

impl std::fmt::Debug for Written {
    // The archive is megabytes of binary: show its size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Written")
            .field("archive_bytes", &self.archive.len())
            .field("manifest_digest", &self.manifest_digest)
            .field("config_digest", &self.config_digest)
            .field("layer_digest", &self.layer_digest)
            .field("layer_size", &self.layer_size)
            .finish()
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The tag of a reference: `registry.k8s.io/pause:3.2` -> `3.2`; `latest` when it has none.
pub fn tag(reference: &str) -> &str {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':').map_or("latest", |(_, t)| t)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn tar_error(image: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Image {
        image: image.to_string(),
        reason: e.to_string(),
    }
}

/// The layer: an uncompressed tar of `entries`, deterministic.
pub fn layer(image: &str, entries: &[Entry]) -> Result<Vec<u8>> {
    let err = tar_error(image);
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            Entry::Dir { path, mode } => {
                let mut h = header(tar::EntryType::Directory, *mode, 0);
                b.append_data(&mut h, format!("{}/", path.trim_end_matches('/')), &[][..])
                    .map_err(&err)?;
            }
            Entry::File { path, mode, data } => {
                let mut h = header(tar::EntryType::Regular, *mode, data.len() as u64);
                b.append_data(&mut h, path, data.as_slice()).map_err(&err)?;
            }
            Entry::Symlink { path, target } => {
                let mut h = header(tar::EntryType::Symlink, 0o777, 0);
                b.append_link(&mut h, path, target).map_err(&err)?;
            }
        }
    }
    b.into_inner().map_err(&err)
}

fn to_json(v: &serde_json::Value) -> Vec<u8> {
    // A `Value` always serializes; keys come out sorted, so the bytes are deterministic.
    serde_json::to_vec(v).unwrap_or_default()
}

/// Writes `image` as an OCI image archive that `ctr images import` accepts.
pub fn write(image: &Image) -> Result<Written> {
    let layer = layer(&image.name, &image.entries)?;
    let layer_digest = digest(&layer);
    let mut run = serde_json::Map::new();
    run.insert("Env".into(), json!(image.env));
    if !image.entrypoint.is_empty() {
        run.insert("Entrypoint".into(), json!(image.entrypoint));
    }
    if !image.cmd.is_empty() {
        run.insert("Cmd".into(), json!(image.cmd));
    }
    let config = to_json(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": run,
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created_by": "kubin lab (built offline from Debian packages)" }],
    }));
    let config_digest = digest(&config);
    let manifest = to_json(&json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": { "mediaType": CONFIG_TYPE, "digest": config_digest, "size": config.len() },
        "layers": [{ "mediaType": LAYER_TYPE, "digest": layer_digest, "size": layer.len() }],
    }));
    let manifest_digest = digest(&manifest);
    let index = to_json(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST_TYPE,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": "amd64", "os": "linux" },
            "annotations": {
                NAME_ANNOTATION: image.name,
                REF_ANNOTATION: tag(&image.name),
            },
        }],
    }));
    let err = tar_error(&image.name);
    let mut b = tar::Builder::new(Vec::new());
    let file = |b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]| {
        let mut h = header(tar::EntryType::Regular, 0o644, data.len() as u64);
        b.append_data(&mut h, path, data).map_err(&err)
    };
    file(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    file(&mut b, "index.json", &index)?;
    for blob in [&manifest, &config, &layer] {
        let d = digest(blob);
        let hex = d.trim_start_matches("sha256:");
        file(&mut b, &format!("blobs/sha256/{hex}"), blob)?;
    }
    let archive = b.into_inner().map_err(&err)?;
    Ok(Written {
        archive,
        manifest_digest,
        config_digest,
        layer_size: layer.len(),
        layer_digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::io::Read;

    fn image() -> Image {
        Image {
            name: "kubin.local/busybox:1".into(),
            entries: vec![
                Entry::Dir {
                    path: "bin".into(),
                    mode: 0o755,
                },
                Entry::Dir {
                    path: "tmp".into(),
                    mode: 0o1777,
                },
                Entry::File {
                    path: "bin/busybox".into(),
                    mode: 0o755,
                    data: b"\x7fELF not really".to_vec(),
                },
                Entry::Symlink {
                    path: "bin/sh".into(),
                    target: "busybox".into(),
                },
            ],
            entrypoint: vec![],
            cmd: vec!["sh".into()],
            env: vec!["PATH=/bin".into()],
        }
    }

    /// Every file of a tar, by path.
    fn files(tar: &[u8]) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for e in tar::Archive::new(tar).entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.insert(path, data);
        }
        out
    }

    fn json(bytes: &[u8]) -> serde_json::Value {
        serde_json::from_slice(bytes).unwrap()
    }

    #[test]
    fn tags() {
        assert_eq!(tag("registry.k8s.io/pause:3.2"), "3.2");
        assert_eq!(tag("kubin.local/busybox:1"), "1");
        assert_eq!(tag("localhost:5000/x"), "latest");
        assert_eq!(tag("busybox"), "latest");
    }

    #[test]
    fn digests_are_consistent_and_the_index_names_the_image() {
        let w = write(&image()).unwrap();
        let files = files(&w.archive);
        // Every blob is stored under its own digest.
        for (path, data) in &files {
            if let Some(hex) = path.strip_prefix("blobs/sha256/") {
                assert_eq!(digest(data), format!("sha256:{hex}"), "{path}");
            }
        }
        assert_eq!(json(&files["oci-layout"])["imageLayoutVersion"], "1.0.0");
        let index = json(&files["index.json"]);
        let m = &index["manifests"][0];
        assert_eq!(m["annotations"][NAME_ANNOTATION], "kubin.local/busybox:1");
        assert_eq!(m["annotations"][REF_ANNOTATION], "1");
        assert_eq!(m["digest"], w.manifest_digest);
        let blob = |d: &str| &files[&format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))];
        let manifest_bytes = blob(&w.manifest_digest);
        assert_eq!(m["size"], manifest_bytes.len());
        let manifest = json(manifest_bytes);
        assert_eq!(manifest["mediaType"], MANIFEST_TYPE);
        assert_eq!(manifest["config"]["digest"], w.config_digest);
        assert_eq!(manifest["config"]["size"], blob(&w.config_digest).len());
        assert_eq!(manifest["layers"][0]["digest"], w.layer_digest);
        assert_eq!(manifest["layers"][0]["mediaType"], LAYER_TYPE);
        assert_eq!(manifest["layers"][0]["size"], w.layer_size);
        let config = json(blob(&w.config_digest));
        // Uncompressed: the diff_id is the layer's digest.
        assert_eq!(config["rootfs"]["diff_ids"][0], w.layer_digest);
        assert_eq!(config["config"]["Cmd"][0], "sh");
        assert_eq!(config["os"], "linux");
        assert_eq!(files.len(), 5);
    }

    #[test]
    fn the_layer_holds_the_entries_as_root_with_no_time() {
        let w = write(&image()).unwrap();
        let files = files(&w.archive);
        let layer = &files[&format!(
            "blobs/sha256/{}",
            w.layer_digest.trim_start_matches("sha256:")
        )];
        let mut seen = Vec::new();
        for e in tar::Archive::new(layer.as_slice()).entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(
                (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
                (0, 0, 0)
            );
            let link = e.link_name().unwrap().map(|l| l.display().to_string());
            seen.push((
                e.path().unwrap().display().to_string(),
                h.mode().unwrap(),
                link,
            ));
        }
        assert_eq!(
            seen,
            [
                ("bin/".to_string(), 0o755, None),
                ("tmp/".to_string(), 0o1777, None),
                ("bin/busybox".to_string(), 0o755, None),
                ("bin/sh".to_string(), 0o777, Some("busybox".to_string())),
            ]
        );
    }

    #[test]
    fn writing_is_deterministic() {
        let a = write(&image()).unwrap();
        let b = write(&image()).unwrap();
        assert_eq!(a, b);
        let mut other = image();
        other.name = "kubin.local/busybox:2".into();
        let c = write(&other).unwrap();
        // Same content, other name: the same image, indexed differently.
        assert_eq!(c.manifest_digest, a.manifest_digest);
        assert_ne!(c.archive, a.archive);
    }
}
