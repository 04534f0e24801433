//! Where the lab keeps its caches (kept across labs) and each lab's state (removed by down).

use std::path::PathBuf;

/// The root of every cache: `/var/cache/kubin`, or `$KUBIN_CACHE` when set.
pub fn cache_root() -> PathBuf {
    std::env::var_os("KUBIN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/kubin"))
}

/// The root of every lab's state: `/var/lib/kubin-lab`.
pub fn state_root() -> PathBuf {
    PathBuf::from("/var/lib/kubin-lab")
}

/// The state directory of lab `name`.
pub fn state_dir(name: &str) -> PathBuf {
    state_root().join(name)
}

/// The lock a live `Lab` of this name holds.
pub fn lock_file(name: &str) -> PathBuf {
    state_root().join(format!("{name}.lock"))
}

/// The lock taken while a lab picks its subnet and creates its bridge.
pub fn alloc_lock() -> PathBuf {
    state_root().join(".alloc.lock")
}

/// The lab's SSH key pair (cached: its public half is baked into the base root).
pub fn lab_key() -> PathBuf {
    cache_root().join("lab-key").join("id_ed25519")
}

/// Debootstrapped roots, one directory per key.
pub fn rootfs_cache() -> PathBuf {
    cache_root().join("rootfs")
}

/// Kubernetes source trees and built binaries, one directory per source package version.
pub fn k8s_cache() -> PathBuf {
    cache_root().join("k8s")
}

/// Bundles, one directory per key.
pub fn bundle_cache() -> PathBuf {
    cache_root().join("bundle")
}

/// Logs of cache builds (debootstrap, the Kubernetes build).
pub fn log_dir() -> PathBuf {
    cache_root().join("logs")
}
