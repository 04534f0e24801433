//! One lab machine on the outer machine: its overlay, the files it gets before boot, its
//! `systemd-nspawn` process, and stopping it.

use crate::cmd::{cmd, output, run};
use crate::error::{Error, Result, io};
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a machine gets to shut down cleanly after SIGTERM before SIGKILL.
pub(crate) const STOP_BOUND: Duration = Duration::from_secs(15);

/// What a machine is, for writing its files and booting it.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// Host name.
    pub host: String,
    /// nspawn machine name.
    pub machine: String,
    /// Address on the bridge.
    pub address: Ipv4Addr,
    /// The machine's directory (`upper`, `work`, `merged`).
    pub dir: PathBuf,
}

impl Spec {
    /// The root the machine boots from (the overlay's mount point).
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }

    /// The files bind-mounted over /proc/sys entries (outside the machine's root, so it
    /// cannot change them).
    pub fn sysctl_dir(&self) -> PathBuf {
        self.dir.join("sysctl")
    }
}

/// `10-lab.network`: the static address on `host0`, no gateway (so no default route), no
/// DHCP or link-local; a link route for the service range `service_cidr`, so a node reaches
/// ClusterIPs (kube-proxy rewrites them before the packet leaves). It sorts before the
/// image's `80-container-host0.network`.
pub fn render_network(address: Ipv4Addr, service_cidr: &str) -> String {
    format!(
        "# Written by the kubin lab: static address, no default route.\n[Match]\nName=host0\n\n[Network]\nAddress={address}/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\nDHCP=no\n\n# The service range, on the link: ClusterIPs, never anything beyond the lab.\n[Route]\nDestination={service_cidr}\nScope=link\n"
    )
}

/// `system.conf` drop-in: units get a few seconds to stop, so a machine running pods halts
/// within seconds of SIGTERM rather than after systemd's 90 s default per unit.
pub const STOP_TIMEOUT_CONF: &str =
    "# Written by the kubin lab: halt within seconds.\n[Manager]\nDefaultTimeoutStopSec=3s\n";

/// Kernel settings the kubelet insists on, as `(path under /proc/sys, value)`. /proc/sys is
/// read-only inside nspawn, and making it writable would change the outer machine: each
/// machine gets files holding these values bind-mounted (read-only) over the entries, by
/// [`after_boot`].
pub const SYSCTLS: &[(&str, &str)] = &[
    ("vm/overcommit_memory", "1"),
    ("kernel/panic", "10"),
    ("kernel/panic_on_oops", "1"),
];

/// Where a machine sees the files of [`SYSCTLS`] (bound read-only from [`Spec::sysctl_dir`]).
pub const SYSCTL_DIR_INSIDE: &str = "/run/kubin-lab/sysctl";

/// The script run inside a machine once it booted:
/// - each file of [`SYSCTL_DIR_INSIDE`] is bound read-only over its /proc/sys entry, in the
///   machine's own mount namespace (nspawn mounts /proc after its custom binds, so this
///   cannot be done from outside before boot);
/// - nspawn mounts the v1 controller hierarchies read-only: they are remounted writable
///   and systemd re-executed, so the machine's systemd (and so containerd and the kubelet)
///   manages cgroups in every controller below the machine's own cgroup. Without the
///   re-exec systemd keeps ignoring the controllers.
pub fn after_boot() -> String {
    format!(
        r#"set -e
for f in {SYSCTL_DIR_INSIDE}/*; do
  e=/proc/sys/$(basename "$f" | tr . /)
  mount --bind "$f" "$e"
  mount -o remount,bind,ro "$e"
done
for d in $(awk '/ - cgroup / && $5 ~ "^/sys/fs/cgroup/" {{print $5}}' /proc/self/mountinfo); do
  mount -o remount,bind,rw "$d"
done
systemctl daemon-reexec"#
    )
}

/// `/etc/hosts` naming every machine of the lab.
pub fn render_hosts(hosts: &[(String, Ipv4Addr)]) -> String {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (name, addr) in hosts {
        s.push_str(&format!("{addr}\t{name}\n"));
    }
    s
}

/// Whether `path` is a mount point (per `/proc/self/mountinfo`).
pub(crate) fn is_mounted(path: &Path) -> bool {
    mounts_under(path).iter().any(|m| m == path)
}

/// Mount points at or under `prefix`, deepest first.
pub(crate) fn mounts_under(prefix: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|m| m.starts_with(prefix))
        .collect();
    v.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    v.dedup();
    v
}

/// Mounts the overlay (if not yet) and writes the machine's own files into it; returns its
/// SSH host public key (`ssh-ed25519 AAAA...`).
pub(crate) fn prepare(spec: &Spec, base: &Path, all: &[(String, Ipv4Addr)]) -> Result<String> {
    let (upper, work, merged) = (spec.dir.join("upper"), spec.dir.join("work"), spec.merged());
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).map_err(io("cannot create", d))?;
    }
    if !is_mounted(&merged) {
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            base.display(),
            upper.display(),
            work.display()
        );
        run(cmd("mount", ["-t", "overlay", "overlay", "-o", &opts]).arg(&merged))?;
    }
    let put = |rel: &str, text: &str| -> Result<()> {
        let p = merged.join(rel);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(io("cannot create", d))?;
        }
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, text).map_err(io("cannot write", &p))
    };
    put("etc/hostname", &format!("{}\n", spec.host))?;
    put("etc/hosts", &render_hosts(all))?;
    put(
        "etc/systemd/network/10-lab.network",
        &render_network(spec.address, crate::inventory_file::SERVICE_CIDR),
    )?;
    put(
        "etc/systemd/system.conf.d/10-kubin-lab.conf",
        STOP_TIMEOUT_CONF,
    )?;
    let sysctl = spec.sysctl_dir();
    std::fs::create_dir_all(&sysctl).map_err(io("cannot create", &sysctl))?;
    for (entry, value) in SYSCTLS {
        let p = sysctl.join(entry.replace('/', "."));
        std::fs::write(&p, format!("{value}\n")).map_err(io("cannot write", &p))?;
    }
    let id = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(io("cannot read", "/proc/sys/kernel/random/uuid"))?;
    put(
        "etc/machine-id",
        &format!("{}\n", id.trim().replace('-', "")),
    )?;
    let key = merged.join("etc/ssh/ssh_host_ed25519_key");
    let public = merged.join("etc/ssh/ssh_host_ed25519_key.pub");
    if !public.exists() {
        let _ = std::fs::remove_file(&key);
        run(cmd("ssh-keygen", ["-q", "-t", "ed25519", "-N", ""])
            .arg("-C")
            .arg(format!("root@{}", spec.host))
            .arg("-f")
            .arg(&key))?;
    }
    let text = std::fs::read_to_string(&public).map_err(io("cannot read", &public))?;
    let mut words = text.split_whitespace();
    match (words.next(), words.next()) {
        (Some(kind), Some(b64)) => Ok(format!("{kind} {b64}")),
        _ => Err(Error::BrokenCache {
            path: public,
            reason: "not an OpenSSH public key".into(),
        }),
    }
}

/// The cgroup hierarchies mounted under `/sys/fs/cgroup`, as `mountinfo` lists them: on a
/// hybrid (v1) host every controller's hierarchy, `name=systemd` and `unified`; on a pure
/// cgroup2 host `/sys/fs/cgroup` itself.
pub(crate) fn parse_cgroup_mounts(mountinfo: &str) -> Vec<PathBuf> {
    let fs = Path::new("/sys/fs/cgroup");
    let mut v: Vec<PathBuf> = mountinfo
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let point = PathBuf::from(left.split(' ').nth(4)?);
            ((fstype == "cgroup" || fstype == "cgroup2") && point.starts_with(fs)).then_some(point)
        })
        .collect();
    v.dedup();
    v
}

/// The cgroup hierarchies of this machine (see [`parse_cgroup_mounts`]).
pub(crate) fn cgroup_roots() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_cgroup_mounts(&text)
        .into_iter()
        .filter(|p| p.join("cgroup.procs").exists())
        .collect()
}

/// The cgroup directories of lab `lab` (one per hierarchy).
pub(crate) fn lab_cgroups(lab: &str) -> Vec<PathBuf> {
    cgroup_roots()
        .into_iter()
        .map(|r| r.join("kubin-lab").join(lab))
        .collect()
}

/// Creates `kubin-lab/<lab>/<machine>` in every hierarchy, level by level, and returns the
/// machine's directories. A new cpuset cgroup starts with no CPUs and no memory nodes (and
/// refuses processes): each level copies `cpuset.cpus` and `cpuset.mems` from its parent.
pub(crate) fn prepare_cgroups(lab: &str, machine: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for root in cgroup_roots() {
        // Another lab's teardown may remove the shared `kubin-lab` between two of our
        // steps (it removes it once empty): start the chain again then.
        let mut tries = 0;
        let dir = loop {
            match cgroup_chain(&root, &["kubin-lab", lab, machine]) {
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && tries < 5 =>
                {
                    tries += 1;
                }
                other => break other?,
            }
        };
        out.push(dir);
    }
    Ok(out)
}

/// Creates `root/parts[0]/parts[1]/...` one level at a time (see [`prepare_cgroups`]).
fn cgroup_chain(root: &Path, parts: &[&str]) -> Result<PathBuf> {
    let mut dir = root.to_path_buf();
    for part in parts {
        let parent = dir.clone();
        dir = dir.join(part);
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(io("cannot create cgroup", &dir)(e));
            }
            _ => {}
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let (mine, theirs) = (dir.join(file), parent.join(file));
            if !mine.exists() {
                continue;
            }
            let have = std::fs::read_to_string(&mine).map_err(io("cannot read", &mine))?;
            if have.trim().is_empty() {
                let want = std::fs::read_to_string(&theirs).map_err(io("cannot read", &theirs))?;
                std::fs::write(&mine, want.trim()).map_err(io("cannot write", &mine))?;
            }
        }
    }
    Ok(dir)
}

/// Removes lab `lab`'s cgroups, deepest first (they are empty once its machines stopped).
pub(crate) fn remove_cgroups(lab: &str) -> Result<()> {
    fn rm(dir: &Path) -> Result<()> {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    rm(&e.path())?;
                }
            }
        }
        // A machine's last processes may still be exiting when its nspawn is gone; the
        // kernel answers EBUSY until they are reaped, so retry for a bounded while.
        let mut tries = 0;
        loop {
            match std::fs::remove_dir(dir) {
                Err(e) if e.raw_os_error() == Some(16) && tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other.map_err(io("cannot remove cgroup", dir)),
            }
        }
    }
    for dir in lab_cgroups(lab) {
        if dir.exists() {
            rm(&dir)?;
        }
        // The shared parent goes too once no lab uses it; another lab holding it (or just
        // creating its own cgroup there) keeps it, so a failure here is no error.
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
    Ok(())
}

/// Starts the machine: `systemd-nspawn --boot` on the bridge, in its own process group so
/// a Ctrl-C of the caller does not reach it; output goes to `<dir>/nspawn.log`.
///
/// Each machine gets its own cgroup (`kubin-lab/<lab>/<machine>` in every hierarchy, each
/// v1 controller included): the outer machine runs no systemd to give nspawn a scope;
/// machines sharing one cgroup would create and remove each other's units' cgroups (units
/// failing with 219/CGROUP), and kubelets on different machines would share one
/// `kubepods.slice`. A shell moves itself there, then execs nspawn (so the PID is nspawn's).
pub(crate) fn boot(lab: &str, spec: &Spec, bridge: &str) -> Result<Child> {
    let log = spec.dir.join("nspawn.log");
    let out = std::fs::File::create(&log).map_err(io("cannot create", &log))?;
    let err = out.try_clone().map_err(io("cannot open", &log))?;
    let cgroups: Vec<String> = prepare_cgroups(lab, &spec.machine)?
        .iter()
        .map(|c| c.display().to_string())
        .collect();
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(ENTER_CGROUPS_AND_EXEC)
        .arg("sh")
        .arg("systemd-nspawn")
        .arg("--quiet")
        .arg(format!("--directory={}", spec.merged().display()))
        .arg(format!("--machine={}", spec.machine))
        .arg(format!("--hostname={}", spec.host))
        .arg("--boot")
        .arg(format!("--network-bridge={bridge}"))
        .args([
            "--register=no",
            // Without a registration, nspawn would ask the (absent) system bus for a scope.
            "--keep-unit",
            // The machine's console goes to nspawn.log. With `passive`, nothing reads it:
            // at shutdown it fills and PID 1 blocks, so machines running pods never halt.
            "--console=read-only",
            // runc joins a session keyring; the kubelet reads /dev/kmsg.
            "--system-call-filter=@keyring",
            "--capability=CAP_SYSLOG",
            "--bind-ro=/dev/kmsg",
            "--resolv-conf=off",
            "--timezone=off",
            "--link-journal=no",
        ])
        .arg(format!(
            "--bind-ro={}:{SYSCTL_DIR_INSIDE}",
            spec.sysctl_dir().display()
        ))
        .env("KUBIN_CGROUPS", cgroups.join(" "))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    c.spawn().map_err(|source| Error::Spawn {
        program: "systemd-nspawn".into(),
        source,
    })
}

/// The shell that enters the machine's cgroups, then becomes `systemd-nspawn`.
const ENTER_CGROUPS_AND_EXEC: &str = r#"set -e
for cg in $KUBIN_CGROUPS; do echo $$ > "$cg/cgroup.procs"; done
unset KUBIN_CGROUPS
exec "$@""#;

/// Whether `pid` is a live (not zombie) `systemd-nspawn` of machine `machine`.
pub(crate) fn is_nspawn_of(pid: u32, machine: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = format!("--machine={machine}");
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let is = args.first().is_some_and(|a| a.ends_with(b"systemd-nspawn"))
        && args.contains(&want.as_bytes());
    is && is_alive(pid)
}

/// Whether `pid` exists and is not a zombie.
pub(crate) fn is_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|s| s != "Z" && s != "X"),
        Err(_) => false,
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = output(&mut cmd("kill", [format!("-{sig}"), pid.to_string()]));
}

/// Asks every `(pid, child)` to shut down (SIGTERM: nspawn halts the machine cleanly),
/// waits up to `bound`, then SIGKILLs what remains. Children we spawned are reaped.
pub(crate) fn stop_all(procs: &mut [(u32, Option<Child>)], bound: Duration) {
    for (pid, _) in procs.iter() {
        signal(*pid, "TERM");
    }
    let deadline = Instant::now() + bound;
    let mut killed = false;
    loop {
        let mut alive = false;
        for (pid, child) in procs.iter_mut() {
            if let Some(c) = child
                && let Ok(Some(_)) = c.try_wait()
            {
                *child = None;
            }
            if is_alive(*pid) {
                alive = true;
            }
        }
        if !alive {
            break;
        }
        if Instant::now() >= deadline {
            if killed {
                break;
            }
            for (pid, _) in procs.iter() {
                if is_alive(*pid) {
                    signal(*pid, "KILL");
                }
            }
            killed = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (_, child) in procs.iter_mut() {
        if let Some(c) = child {
            let _ = c.wait();
        }
    }
}

/// Unmounts `path` (lazily if it is busy).
pub(crate) fn unmount(path: &Path) -> Result<()> {
    if output(cmd("umount", Vec::<&str>::new()).arg(path))
        .map(|o| o.status.success())
        .unwrap_or(false)
    {
        return Ok(());
    }
    run(cmd("umount", ["-l"]).arg(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_file() {
        insta::assert_snapshot!(render_network(
            Ipv4Addr::new(10, 213, 7, 11),
            crate::inventory_file::SERVICE_CIDR
        ));
    }

    #[test]
    fn hosts_file() {
        insta::assert_snapshot!(render_hosts(&[
            ("k8s-master1".into(), Ipv4Addr::new(10, 213, 7, 11)),
            ("k8s-node1".into(), Ipv4Addr::new(10, 213, 7, 12)),
        ]));
    }

    #[test]
    fn every_cgroup_hierarchy_is_found() {
        let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:9 - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 22 0:40 / /mnt/other rw,relatime - cgroup cgroup rw,pids
";
        let names: Vec<String> = parse_cgroup_mounts(hybrid)
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/cpuset",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd",
                "/sys/fs/cgroup/unified"
            ]
        );
        let v2 = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(parse_cgroup_mounts(v2), [PathBuf::from("/sys/fs/cgroup")]);
    }

    #[test]
    fn our_own_process_is_alive_and_no_nspawn() {
        let me = std::process::id();
        assert!(is_alive(me));
        assert!(!is_nspawn_of(me, "l1m1"));
    }
}
