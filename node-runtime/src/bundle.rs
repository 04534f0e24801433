//! The runtime's part of the offline bundle, as data: containerd's release binaries, runc,
//! the CNI plugins and image archives. Reading it from disk is the shell's job.

use crate::Error;
use inventory::Version;
use std::collections::BTreeMap;

/// File content; its `Debug` prints the size, never the bytes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Blob(pub plan::Content);

impl std::fmt::Debug for Blob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl From<&[u8]> for Blob {
    fn from(b: &[u8]) -> Self {
        Self(b.into())
    }
}

/// An OCI image archive (`oci-layout`, `index.json` whose manifest carries the
/// `io.containerd.image.name` annotation) as `ctr images import` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageArchive {
    /// The image's name, as the annotation and the pods name it
    /// (e.g. `registry.k8s.io/pause:3.2`).
    pub name: String,
    /// The digest of the image's target (its manifest), as `ctr images ls` prints it:
    /// `sha256:` and 64 hex digits.
    pub digest: String,
    /// The archive's file name under `/opt/kubernetes/images/` (e.g. `pause.tar`).
    pub file: String,
    /// The archive.
    pub archive: Blob,
}

/// The runtime part of the bundle, laid out as upstream ships it: containerd's release
/// tarball (`bin/`), runc's single binary, the CNI plugins tarball, and image archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeBundle {
    /// containerd's release (the config format and features follow it).
    pub containerd_version: Version,
    /// The files of the containerd tarball's `bin/` by name (`containerd`, `ctr`,
    /// `containerd-shim-runc-v2`, ...).
    pub containerd_bin: BTreeMap<String, Blob>,
    /// `runc`.
    pub runc: Blob,
    /// The CNI plugins by name (`bridge`, `host-local`, `loopback`, `portmap`, ...).
    pub cni_plugins: BTreeMap<String, Blob>,
    /// The sandbox ("pause") image; containerd's `sandbox_image` names it.
    pub pause: ImageArchive,
    /// Further images to import (test images, images the cluster's pods use).
    pub images: Vec<ImageArchive>,
}

/// containerd binaries without which the node cannot run pods: the daemon, the runc v2
/// shim it starts for every pod, and `ctr` that imports the images.
pub const REQUIRED_CONTAINERD: [&str; 3] = ["containerd", "containerd-shim-runc-v2", "ctr"];

/// CNI plugins the pod network cannot do without: `bridge` and `host-local` make the
/// pod's interface and address; `loopback` is what containerd's CRI plugin runs for every
/// pod's `lo` (it adds that network itself, so it is in no conflist).
pub const REQUIRED_CNI: [&str; 3] = ["bridge", "host-local", "loopback"];

/// The CNI plugin flannel's mode adds to the conflist: it reads flanneld's
/// `/run/flannel/subnet.env` and delegates to `bridge` and `host-local`. containernetworking's
/// plugins tarball carried it until v1.0; since then it ships on its own (flannel-io's
/// cni-plugin, `flannel-amd64`), to be put beside the others as `flannel`.
pub const FLANNEL_CNI: &str = "flannel";

impl RuntimeBundle {
    /// Every image to import: the pause image first.
    pub fn all_images(&self) -> impl Iterator<Item = &ImageArchive> {
        std::iter::once(&self.pause).chain(&self.images)
    }

    /// Whether the bundle has the CNI plugin `name`.
    pub fn has_cni(&self, name: &str) -> bool {
        self.cni_plugins.contains_key(name)
    }

    /// Checks the bundle, reporting every problem: required binaries present and not
    /// empty, file names that stay in their directory, image names and digests that are
    /// safe to put on a command line, no two images in one file.
    pub fn check(&self) -> Result<(), Error> {
        let mut problems = Vec::new();
        for name in REQUIRED_CONTAINERD {
            if self.containerd_bin.get(name).is_none_or(|b| b.0.is_empty()) {
                problems.push(format!("containerd's bin/{name} is missing or empty"));
            }
        }
        if self.runc.0.is_empty() {
            problems.push("runc is empty".to_string());
        }
        for name in REQUIRED_CNI {
            if self.cni_plugins.get(name).is_none_or(|b| b.0.is_empty()) {
                problems.push(format!("the CNI plugin {name} is missing or empty"));
            }
        }
        for (what, names) in [
            (
                "containerd binary",
                self.containerd_bin.keys().collect::<Vec<_>>(),
            ),
            ("CNI plugin", self.cni_plugins.keys().collect()),
        ] {
            for n in names {
                if !is_file_name(n) {
                    problems.push(format!("{what} {n:?} is not a plain file name"));
                }
            }
        }
        let mut files: BTreeMap<&str, &str> = BTreeMap::new();
        for image in self.all_images() {
            let name = &image.name;
            if name.is_empty() || !name.chars().all(is_reference_char) {
                problems.push(format!(
                    "image name {name:?} is not a reference (letters, digits and ._-/:@ only)"
                ));
            }
            if !is_digest(&image.digest) {
                problems.push(format!(
                    "image {name:?}: digest {:?} is not sha256: and 64 lowercase hex digits",
                    image.digest
                ));
            }
            if !is_file_name(&image.file) {
                problems.push(format!(
                    "image {name:?}: file {:?} is not a plain file name",
                    image.file
                ));
            }
            if image.archive.0.is_empty() {
                problems.push(format!("image {name:?}: the archive is empty"));
            }
            if let Some(other) = files.insert(&image.file, name) {
                problems.push(format!(
                    "images {other:?} and {name:?} both use the file {:?}",
                    image.file
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Bundle { problems })
        }
    }
}

fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "._-/:@".contains(c)
}

fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// A name that stays in its directory and needs no shell quoting.
fn is_file_name(n: &str) -> bool {
    !n.is_empty()
        && n != "."
        && n != ".."
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+".contains(c))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PAUSE_DIGEST: &str =
        "sha256:0b9e7e7f4c5a8f4e3b1d2c6a9e8f7d6c5b4a39281706f5e4d3c2b1a098765432";
    pub(crate) const BUSYBOX_DIGEST: &str =
        "sha256:1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f809";

    /// A bundle as the lab builds it: Debian's containerd 1.6.20, runc, CNI plugins 1.1.1.
    pub(crate) fn lab_bundle() -> RuntimeBundle {
        let blob = |s: &str| Blob(s.into());
        RuntimeBundle {
            containerd_version: Version::new(1, 6, 20),
            containerd_bin: [
                "containerd",
                "containerd-shim",
                "containerd-shim-runc-v1",
                "containerd-shim-runc-v2",
                "containerd-stress",
                "ctr",
            ]
            .iter()
            .map(|n| (n.to_string(), blob(&format!("ELF {n}"))))
            .collect(),
            runc: blob("ELF runc"),
            cni_plugins: ["bridge", "host-local", "loopback", "portmap"]
                .iter()
                .map(|n| (n.to_string(), blob(&format!("ELF {n}"))))
                .collect(),
            pause: ImageArchive {
                name: "registry.k8s.io/pause:3.2".into(),
                digest: PAUSE_DIGEST.into(),
                file: "pause.tar".into(),
                archive: blob("OCI pause"),
            },
            images: vec![ImageArchive {
                name: "docker.io/library/busybox:1.35".into(),
                digest: BUSYBOX_DIGEST.into(),
                file: "busybox.tar".into(),
                archive: blob("OCI busybox"),
            }],
        }
    }

    #[test]
    fn debug_prints_sizes_not_bytes() {
        let text = format!("{:?}", lab_bundle());
        assert!(!text.contains("ELF"), "{text}");
        assert!(!text.contains("OCI"), "{text}");
        assert!(text.contains("<8 bytes>"), "{text}");
    }

    #[test]
    fn the_lab_bundle_passes() {
        lab_bundle().check().unwrap();
    }

    #[test]
    fn every_problem_is_reported() {
        let mut b = lab_bundle();
        b.containerd_bin.remove("ctr");
        b.cni_plugins.remove("loopback");
        b.cni_plugins.insert("../evil".into(), Blob(b"x".into()));
        b.pause.digest = "sha256:short".into();
        b.images[0].name = "busybox; rm -rf /".into();
        b.images[0].file = "pause.tar".into();
        let Err(Error::Bundle { problems }) = b.check() else {
            panic!("a broken bundle passed")
        };
        insta::assert_snapshot!(problems.join("\n"));
    }
}
