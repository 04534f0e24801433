//! Kernel limits of the machine that runs the labs. Every lab machine's systemd, containerd
//! and kubelet take inotify instances from one per-user budget of the outer kernel (the
//! machines share its root user): at the default 128, a twelve-machine lab ran out and
//! kubelets died at start ("Failed to start cAdvisor inotify_init: too many open files").
//! `Lab::up` raises the limits, as kind's documentation tells its users to; never lowers
//! them. They last until the outer machine reboots.

use crate::Result;
use crate::error::io;
use std::path::Path;

/// `(entry under /proc/sys, the least value a lab needs)`.
pub const INOTIFY_LIMITS: [(&str, u64); 2] = [
    ("fs/inotify/max_user_instances", 1024),
    ("fs/inotify/max_user_watches", 524_288),
];

/// The value to write, if `current` is below `least`. Pure.
pub fn raise_to(current: u64, least: u64) -> Option<u64> {
    (current < least).then_some(least)
}

/// Raises every limit of [`INOTIFY_LIMITS`] that is below its least value.
pub fn ensure() -> Result<()> {
    for (entry, least) in INOTIFY_LIMITS {
        let path = Path::new("/proc/sys").join(entry);
        let text = std::fs::read_to_string(&path).map_err(io("cannot read", &path))?;
        let current = text.trim().parse().unwrap_or(0);
        if let Some(value) = raise_to(current, least) {
            std::fs::write(&path, value.to_string()).map_err(io("cannot raise", &path))?;
            eprintln!("lab: raised {} from {current} to {value}", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_only_raised() {
        assert_eq!(raise_to(128, 1024), Some(1024));
        assert_eq!(raise_to(1024, 1024), None);
        assert_eq!(raise_to(8192, 1024), None);
    }
}
