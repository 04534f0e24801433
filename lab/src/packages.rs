//! Every Debian package the outer machine needs to build kubin, check it and run the lab:
//! one list, in named groups.
//!
//! Each group names what needs it. The lab's cache builders ensure their own group (the lab
//! is a library others use), and `cargo xtask` ensures [`all`] before it builds anything, so
//! a fresh Debian 12 with only the Rust toolchain never fails halfway through a build for a
//! missing tool. [`XTASK_PREREQUISITES`] is the exception: what `cargo xtask` itself needs
//! to compile, before it can install anything (the README's one prerequisite line).

/// What compiling `cargo xtask` itself needs beyond the Rust toolchain: a C compiler (the
/// linker and the bundled C of aws-lc-sys, libssh2-sys and libz-sys) and OpenSSL's headers
/// found through pkg-config (openssl-sys, under ssh2). Installed by hand, once, before the
/// first `cargo xtask`: `apt-get install -y gcc pkg-config libssl-dev`.
pub const XTASK_PREREQUISITES: &[&str] = &["gcc", "pkg-config", "libssl-dev"];

/// Building the workspace: etcd-client's build script runs `protoc`, whose protos import
/// `google/protobuf/*.proto` (libprotobuf-dev); ssh2's OpenSSL; cmake for aws-lc-sys
/// where its cc build does not apply.
pub const BUILD: &[&str] = &[
    "protobuf-compiler",
    "libprotobuf-dev",
    "libssl-dev",
    "pkg-config",
    "cmake",
    "gcc",
];

/// Tools no one here wrote, to check what kubin makes (tests and `cargo xtask bench`):
/// `openssl verify`, cfssl, a real sshd on 127.0.0.1 (hostprep's SSH tests), curl, and
/// python3's venv for the ansible of `bench apply`.
pub const CHECKS: &[&str] = &[
    "openssl",
    "golang-cfssl",
    "curl",
    "openssh-server",
    "python3-venv",
];

/// Running a lab on the outer machine: nspawn, ip, ssh, kill.
pub const LAB_RUNTIME: &[&str] = &["systemd-container", "iproute2", "openssh-client", "procps"];

/// Building the lab machines' base root.
pub const ROOTFS: &[&str] = &["debootstrap"];

/// Building Kubernetes from Debian's source package.
pub const K8S_BUILD: &[&str] = &["golang-go", "rsync", "dpkg-dev", "make", "gcc"];

/// The packages the bundle copies etcd and etcdctl from (also the loopback etcd of tests).
pub const ETCD: &[&str] = &["etcd-server", "etcd-client"];

/// What compiling the bundle's pause image needs on the outer machine (a static libc, strip).
pub const PAUSE_BUILD: &[&str] = &["gcc", "libc6-dev", "binutils"];

/// The node runtime the bundle carries (containerd, runc, the CNI plugins, and a static
/// busybox for the test image). The bundle downloads and unpacks these with `apt-get
/// download`; they are never installed on the outer machine, so they are not in [`GROUPS`].
pub const NODE_RUNTIME: &[&str] = &[
    "containerd",
    "runc",
    "containernetworking-plugins",
    "busybox-static",
];

/// Every group, by name (the order [`all`] follows).
pub const GROUPS: &[(&str, &[&str])] = &[
    ("build", BUILD),
    ("checks", CHECKS),
    ("lab runtime", LAB_RUNTIME),
    ("rootfs", ROOTFS),
    ("kubernetes build", K8S_BUILD),
    ("etcd", ETCD),
    ("pause image build", PAUSE_BUILD),
];

/// The one list: every package of every group, each once, in group order.
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (_, group) in GROUPS {
        for p in *group {
            if !out.contains(p) {
                out.push(p);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn the_list_holds_what_broke_a_fresh_machine() {
        let all = all();
        // `cargo run -p cli` on a fresh machine failed in etcd-client's build without these.
        for p in ["protobuf-compiler", "libprotobuf-dev"] {
            assert!(all.contains(&p), "{p} missing from the one list");
        }
        // What xtask needs to compile is also ensured (a re-run on a machine where it was
        // installed by hand keeps it).
        for p in XTASK_PREREQUISITES {
            assert!(all.contains(p), "{p} missing from the one list");
        }
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len(), "all() repeats a package");
    }

    /// Every name is a real package of this machine's Debian (a typo would make every
    /// `cargo xtask` fail at its first step).
    #[test]
    fn every_package_exists_in_debian() {
        let lists_empty = std::fs::read_dir("/var/lib/apt/lists")
            .map(|d| {
                !d.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(true);
        if lists_empty {
            let st = Command::new("apt-get")
                .args(["update", "-q"])
                .status()
                .expect("cannot start apt-get update");
            assert!(st.success(), "apt-get update failed: {st}");
        }
        let missing: Vec<&str> = all()
            .into_iter()
            .filter(|p| {
                let out = Command::new("apt-cache")
                    .args(["show", "--no-all-versions", p])
                    .output()
                    .expect("cannot start apt-cache");
                !out.status.success() || out.stdout.is_empty()
            })
            .collect();
        assert!(
            missing.is_empty(),
            "not in Debian's index: {}",
            missing.join(" ")
        );
    }
}
