//! The base root of every lab machine: Debian bookworm by debootstrap, then baked with what
//! every machine needs (the lab key, networkd, sshd settings), cached by its inputs.
//!
//! Two cache stages under `/var/cache/kubin/rootfs/`: `debootstrap-<hash>/root` (keyed by
//! suite, variant and package list; about 3 minutes to build) and `base-<hash>/root` (that
//! plus the bake recipe and the lab's public key; seconds). Each stage is built in a
//! `.tmp` directory and renamed into place, so a present stage is complete. Machines mount
//! `base-*/root` read-only as the lower layer of their overlay: it is never changed.

use crate::apt;
use crate::cmd::{cmd, run};
use crate::error::{Error, Result, io};
use crate::{lock, paths};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The packages debootstrap adds to `minbase`.
pub const INCLUDE: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "iproute2",
    "procps",
    // `sudo`: the lab proves deploys as a non-root SSH user with sudo rights.
    "sudo",
    // What a Kubernetes node's operating system provides and kubin never installs:
    // kube-proxy's iptables mode, the kubelet's chains and the pod network's masquerading
    // need `iptables`; kube-proxy clears stale UDP flows with `conntrack`.
    "iptables",
    "conntrack",
];

/// Bumped whenever [`bake`] changes what it writes, so old bases are not reused.
const BAKE_RECIPE: &str = "bake-v4";

/// Units masked in the base: timers and jobs that only add noise or delay to a lab boot.
const MASKED: &[&str] = &[
    "systemd-networkd-wait-online.service",
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "getty@tty1.service",
    "console-getty.service",
    "systemd-pstore.service",
];

/// sshd settings every machine shares; its only host key is the per-machine ed25519 one.
pub const SSHD_CONFIG: &str = "# Written by the kubin lab.\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nHostKey /etc/ssh/ssh_host_ed25519_key\nUseDNS no\n";

fn short_hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..6])
}

/// The key of the debootstrap stage.
pub fn debootstrap_key() -> String {
    let mut parts = vec![apt::SUITE, "minbase"];
    parts.extend(INCLUDE);
    format!("debootstrap-{}", short_hash(&parts))
}

/// The key of the baked stage, given the lab's public key.
pub fn base_key(public_key: &str) -> String {
    format!(
        "base-{}",
        short_hash(&[&debootstrap_key(), BAKE_RECIPE, public_key.trim()])
    )
}

/// The lab's SSH key pair in the cache, made on first use; returns the public key text.
pub fn ensure_lab_key() -> Result<String> {
    let key = paths::lab_key();
    let _guard = lock::exclusive(&paths::cache_root().join(".lab-key.lock"))?;
    let public = key.with_extension("pub");
    if !key.exists() || !public.exists() {
        let dir = key.parent().unwrap_or(Path::new("/"));
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let _ = std::fs::remove_file(&key);
        let _ = std::fs::remove_file(&public);
        run(cmd(
            "ssh-keygen",
            ["-q", "-t", "ed25519", "-N", "", "-C", "kubin-lab", "-f"],
        )
        .arg(&key))?;
    }
    std::fs::read_to_string(&public).map_err(io("cannot read", &public))
}

/// Makes sure the base root exists and returns it (the `root` directory of its stage).
pub fn ensure() -> Result<PathBuf> {
    let public = ensure_lab_key()?;
    let _guard = lock::exclusive(&paths::rootfs_cache().join(".lock"))?;
    let debootstrapped = ensure_stage(&debootstrap_key(), debootstrap)?;
    let mut built = false;
    let base = ensure_stage(&base_key(&public), |root| {
        built = true;
        copy_tree(&debootstrapped, root)?;
        bake(root, &public)
    })?;
    if built {
        prune_bases(&base)?;
    }
    Ok(base)
}

/// Removes baked stages other than `keep` that no lab's state uses: a new recipe or key
/// made them stale, and a root is 300 MB.
fn prune_bases(keep: &Path) -> Result<()> {
    let in_use: Vec<PathBuf> = crate::lab::list()
        .iter()
        .filter_map(|n| crate::state::State::load(n).ok().flatten())
        .map(|s| s.base)
        .collect();
    let dir = paths::rootfs_cache();
    for e in std::fs::read_dir(&dir)
        .map_err(io("cannot read", &dir))?
        .flatten()
    {
        let root = e.path().join("root");
        let stale = e.file_name().to_string_lossy().starts_with("base-")
            && root != keep
            && !in_use.contains(&root);
        if stale {
            eprintln!("lab: removing stale base {}", e.path().display());
            std::fs::remove_dir_all(e.path()).map_err(io("cannot remove", e.path()))?;
        }
    }
    Ok(())
}

/// `DIR/<key>/root` if complete; otherwise builds it in `DIR/<key>.tmp` and renames.
fn ensure_stage(key: &str, build: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
    let dir = paths::rootfs_cache().join(key);
    let root = dir.join("root");
    if root.join("etc/os-release").exists() {
        return Ok(root);
    }
    let tmp = paths::rootfs_cache().join(format!("{key}.tmp"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io("cannot remove", &tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io("cannot create", &tmp))?;
    let started = Instant::now();
    eprintln!("lab: building {key} (once; cached in {})", dir.display());
    build(&tmp.join("root"))?;
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io("cannot remove", &dir))?;
    }
    std::fs::rename(&tmp, &dir).map_err(io("cannot rename into", &dir))?;
    eprintln!("lab: built {key} in {:.0?}", started.elapsed());
    Ok(root)
}

fn debootstrap(root: &Path) -> Result<()> {
    apt::install_packages(crate::packages::ROOTFS)?;
    let mirror = apt::mirror()?;
    let log = paths::log_dir().join(format!("{}.log", debootstrap_key()));
    std::fs::create_dir_all(paths::log_dir()).map_err(io("cannot create", paths::log_dir()))?;
    let out = std::fs::File::create(&log).map_err(io("cannot create", &log))?;
    let err = out.try_clone().map_err(io("cannot open", &log))?;
    eprintln!(
        "lab: debootstrap {} (about 3 minutes; log {})",
        apt::SUITE,
        log.display()
    );
    let mut c = cmd(
        "debootstrap",
        [
            "--variant=minbase",
            &format!("--include={}", INCLUDE.join(",")),
        ],
    );
    c.arg(apt::SUITE)
        .arg(root)
        .arg(&mirror)
        .stdout(out)
        .stderr(err);
    let status = c.status().map_err(|source| Error::Spawn {
        program: "debootstrap".into(),
        source,
    })?;
    if !status.success() {
        return Err(Error::Command {
            command: format!("debootstrap {} {}", apt::SUITE, root.display()),
            status: status.to_string(),
            stderr: format!("see {}", log.display()),
        });
    }
    Ok(())
}

/// Copies a tree with everything (owners, modes, links, xattrs), reflinking where possible.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    run(cmd("cp", ["-a", "--reflink=auto"]).arg(from).arg(to))?;
    Ok(())
}

fn write(root: &Path, rel: &str, text: &str, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    }
    std::fs::write(&path, text).map_err(io("cannot write", &path))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .map_err(io("cannot chmod", &path))
}

fn symlink(root: &Path, rel: &str, target: &str) -> Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    }
    let _ = std::fs::remove_file(&path);
    std::os::unix::fs::symlink(target, &path).map_err(io("cannot link", &path))
}

/// Writes what every machine shares into a copy of the debootstrapped root.
fn bake(root: &Path, public_key: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Host keys are per machine, written before each boot.
    let ssh = root.join("etc/ssh");
    for e in std::fs::read_dir(&ssh)
        .map_err(io("cannot read", &ssh))?
        .flatten()
    {
        if e.file_name().to_string_lossy().starts_with("ssh_host_") {
            std::fs::remove_file(e.path()).map_err(io("cannot remove", e.path()))?;
        }
    }
    write(
        root,
        "etc/ssh/sshd_config.d/kubin-lab.conf",
        SSHD_CONFIG,
        0o644,
    )?;
    let dot_ssh = root.join("root/.ssh");
    std::fs::create_dir_all(&dot_ssh).map_err(io("cannot create", &dot_ssh))?;
    std::fs::set_permissions(&dot_ssh, std::fs::Permissions::from_mode(0o700))
        .map_err(io("cannot chmod", &dot_ssh))?;
    write(
        root,
        "root/.ssh/authorized_keys",
        &format!("{}\n", public_key.trim()),
        0o600,
    )?;
    // networkd configures host0 from the per-machine 10-lab.network.
    symlink(
        root,
        "etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
        "/lib/systemd/system/systemd-networkd.service",
    )?;
    symlink(
        root,
        "etc/systemd/system/sockets.target.wants/systemd-networkd.socket",
        "/lib/systemd/system/systemd-networkd.socket",
    )?;
    symlink(
        root,
        "etc/systemd/system/dbus-org.freedesktop.network1.service",
        "/lib/systemd/system/systemd-networkd.service",
    )?;
    for unit in MASKED {
        symlink(root, &format!("etc/systemd/system/{unit}"), "/dev/null")?;
    }
    // Every machine gets its own machine-id and hostname before boot.
    write(root, "etc/machine-id", "", 0o444)?;
    write(root, "etc/hostname", "lab\n", 0o644)?;
    Ok(())
}
