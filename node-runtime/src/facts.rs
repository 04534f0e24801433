//! What the runtime plan needs to know about a host: plain data the caller fills.
//!
//! `hostprep`'s fact gathering is the natural source; until it gathers these, each field's
//! documentation names the shell command that reads it.

/// One host's facts for the container runtime and the pod network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeFacts {
    /// The file system type under `/var/lib/containerd` (or its nearest existing parent),
    /// as `stat -f -c %T` prints it (`overlayfs`, `ext2/ext3`, `xfs`, `btrfs`, `tmpfs`) or
    /// as `findmnt -n -o FSTYPE -T` prints it (`overlay`, `ext4`).
    pub containerd_fs: String,
    /// Whether processes on the host may lower their `oom_score_adj` (they hold
    /// `CAP_SYS_RESOURCE`): bit 24 of `CapEff` in `/proc/self/status`.
    pub can_lower_oom_score: bool,
    /// The container technology the host runs in (`systemd-detect-virt -c`), `None` on a
    /// VM or bare metal.
    pub container: Option<String>,
    /// Whether the kernel has IPVS (`/proc/net/ip_vs` exists, or `modinfo ip_vs` finds the
    /// module and the host may load modules).
    pub ipvs: bool,
    /// The interface holding the host's inventory address (`ip -o -4 addr show to ADDR/32`).
    pub interface: Option<String>,
    /// Whether the host has an IPv4 default route (`ip -4 route show default`).
    pub default_route: bool,
}

impl RuntimeFacts {
    /// Whether `/var/lib/containerd` sits on overlayfs, where containerd's `overlayfs`
    /// snapshotter cannot work (overlayfs is not supported as an upperdir).
    pub fn containerd_on_overlay(&self) -> bool {
        matches!(self.containerd_fs.trim(), "overlay" | "overlayfs")
    }
}

/// The read-only script that gathers [`RuntimeFacts`] for a host whose inventory address
/// is `address`, one `key=value` line per fact; for `hostprep` to adopt.
pub fn gather_script(address: &str) -> String {
    format!(
        r#"d=/var/lib/containerd; while [ ! -e "$d" ]; do d="${{d%/*}}"; [ -n "$d" ] || d=/; done
echo "containerd_fs=$(stat -f -c %T "$d")"
cap=$(awk '/^CapEff:/{{print $2}}' /proc/self/status)
echo "can_lower_oom_score=$(( (0x$cap >> 24) & 1 ))"
echo "container=$(systemd-detect-virt -c 2>/dev/null || :)"
if [ -e /proc/net/ip_vs ] || modinfo ip_vs >/dev/null 2>&1; then echo ipvs=1; else echo ipvs=0; fi
echo "interface=$(ip -o -4 addr show to {address}/32 | awk '{{print $2; exit}}')"
if ip -4 route show default | grep -q .; then echo default_route=1; else echo default_route=0; fi
"#
    )
}

/// Reads the output of [`gather_script`]. Unknown lines are ignored; `container=none`
/// (what `systemd-detect-virt` prints outside containers) and empty values mean absent.
pub fn parse_gathered(text: &str) -> RuntimeFacts {
    let mut f = RuntimeFacts::default();
    for line in text.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let some = |v: &str| (!v.is_empty() && v != "none").then(|| v.to_string());
        match k.trim() {
            "containerd_fs" => f.containerd_fs = v.to_string(),
            "can_lower_oom_score" => f.can_lower_oom_score = v == "1",
            "container" => f.container = some(v),
            "ipvs" => f.ipvs = v == "1",
            "interface" => f.interface = some(v),
            "default_route" => f.default_route = v == "1",
            _ => {}
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathered_output_parses() {
        let f = parse_gathered(
            "containerd_fs=overlayfs\ncan_lower_oom_score=0\ncontainer=systemd-nspawn\nipvs=0\ninterface=host0\ndefault_route=0\n",
        );
        assert!(f.containerd_on_overlay());
        assert!(!f.can_lower_oom_score);
        assert_eq!(f.container.as_deref(), Some("systemd-nspawn"));
        assert_eq!(f.interface.as_deref(), Some("host0"));
        assert!(!f.ipvs && !f.default_route);
        let bare = parse_gathered(
            "containerd_fs=ext2/ext3\ncan_lower_oom_score=1\ncontainer=none\nipvs=1\ninterface=\ndefault_route=1\n",
        );
        assert!(!bare.containerd_on_overlay());
        assert_eq!(bare.container, None);
        assert_eq!(bare.interface, None);
        assert!(bare.can_lower_oom_score && bare.ipvs && bare.default_route);
    }
}
