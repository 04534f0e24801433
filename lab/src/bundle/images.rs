//! The bundle's offline images as data: the pause image (the sandbox every pod starts
//! with) and a busybox test image, each one layer, written by [`crate::oci`].

use crate::oci::{Entry, Image};

/// The pause image's reference: the sandbox image kubelet 1.20 expects by default (its
/// `--pod-infra-container-image` is `k8s.gcr.io/pause:3.2`), under the registry's current name.
pub const PAUSE_IMAGE: &str = "registry.k8s.io/pause:3.2";
/// The test image's reference (a name no registry serves, so nothing is ever pulled).
pub const BUSYBOX_IMAGE: &str = "kubin.local/busybox:1";
/// The pause image's archive in the bundle.
pub const PAUSE_ARCHIVE: &str = "images/pause.tar";
/// The busybox image's archive in the bundle.
pub const BUSYBOX_ARCHIVE: &str = "images/busybox.tar";
/// The `-DVERSION` pause is compiled with (it prints it for `-v`).
pub const PAUSE_VERSION: &str = "v3.2-kubin";

fn dir(path: &str, mode: u32) -> Entry {
    Entry::Dir {
        path: path.into(),
        mode,
    }
}

/// The pause image: `/pause` (static, stripped), run as its entrypoint.
pub fn pause(binary: Vec<u8>) -> Image {
    Image {
        name: PAUSE_IMAGE.into(),
        entries: vec![Entry::File {
            path: "pause".into(),
            mode: 0o755,
            data: binary,
        }],
        entrypoint: vec!["/pause".into()],
        cmd: vec![],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
    }
}

/// The busybox image: `/bin/busybox` (Debian's static build) and a link in `/bin` per
/// applet (`applets` as `busybox --list` prints them), the usual top directories, a root
/// user, and `sh` as its command.
pub fn busybox(binary: Vec<u8>, applets: &[String]) -> Image {
    let mut entries = vec![
        dir("bin", 0o755),
        dir("dev", 0o755),
        dir("etc", 0o755),
        dir("proc", 0o555),
        dir("root", 0o700),
        dir("sys", 0o555),
        dir("tmp", 0o1777),
        dir("var", 0o755),
        Entry::File {
            path: "etc/passwd".into(),
            mode: 0o644,
            data: b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n".to_vec(),
        },
        Entry::File {
            path: "etc/group".into(),
            mode: 0o644,
            data: b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
        },
        Entry::File {
            path: "bin/busybox".into(),
            mode: 0o755,
            data: binary,
        },
    ];
    let mut names: Vec<&str> = applets
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty() && *a != "busybox" && !a.contains('/'))
        .collect();
    names.sort_unstable();
    names.dedup();
    entries.extend(names.into_iter().map(|a| Entry::Symlink {
        path: format!("bin/{a}"),
        target: "busybox".into(),
    }));
    Image {
        name: BUSYBOX_IMAGE.into(),
        entries,
        entrypoint: vec![],
        cmd: vec!["sh".into()],
        env: vec!["PATH=/bin".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busybox_links_every_applet_once_to_the_binary() {
        let applets: Vec<String> = ["sh", "ls", "sh", "", "busybox", "echo", "../x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let img = busybox(b"bb".to_vec(), &applets);
        let links: Vec<String> = img
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Symlink { path, target } => Some(format!("{path} -> {target}")),
                _ => None,
            })
            .collect();
        assert_eq!(
            links,
            [
                "bin/echo -> busybox",
                "bin/ls -> busybox",
                "bin/sh -> busybox"
            ]
        );
        assert_eq!(img.name, BUSYBOX_IMAGE);
        assert_eq!(img.cmd, ["sh"]);
    }

    #[test]
    fn pause_runs_itself() {
        let img = pause(b"p".to_vec());
        assert_eq!(img.entrypoint, ["/pause"]);
        assert_eq!(crate::oci::tag(&img.name), "3.2");
        let w = crate::oci::write(&img).unwrap();
        assert!(w.archive.len() > w.layer_size);
    }
}
