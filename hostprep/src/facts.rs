//! What a host is: distribution, container, swap, services, identity, resources, clock.
//!
//! [`gather_facts`] runs one read-only script over the transport (plus exact reads of the
//! few files host preparation rewrites); [`parse_facts`] turns the script's output into
//! [`HostFacts`] and is pure, so it is tested on captured output.

use crate::Error;
use executor::Transport;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The facts host preparation and preflight decide on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFacts {
    /// `ID` of /etc/os-release, e.g. `debian`, `centos`.
    pub os_id: String,
    /// `ID_LIKE` of /etc/os-release, split.
    pub os_like: Vec<String>,
    /// `PRETTY_NAME`.
    pub os_pretty: String,
    /// The container technology (`systemd-detect-virt -c`), `None` on a VM or bare metal.
    pub container: Option<String>,
    /// Active swap devices (from /proc/swaps).
    pub swaps: Vec<String>,
    /// `getenforce`'s answer where SELinux tools exist.
    pub selinux_mode: Option<String>,
    /// /etc/selinux/config, if present.
    pub selinux_config: Option<String>,
    /// /etc/fstab, if present.
    pub fstab: Option<String>,
    /// /etc/hosts, if present.
    pub etc_hosts: Option<String>,
    /// firewalld is installed.
    pub firewalld: bool,
    /// The chrony unit name (`chrony.service` on Debian, `chronyd.service` on RHEL).
    pub chrony_unit: Option<String>,
    /// systemd-timesyncd is installed.
    pub timesyncd: bool,
    /// The current host name.
    pub hostname: String,
    /// /etc/machine-id.
    pub machine_id: String,
    /// MAC addresses of the non-loopback interfaces, `(interface, mac)`.
    pub macs: Vec<(String, String)>,
    /// Online CPUs.
    pub cpus: u32,
    /// Total memory in bytes.
    pub mem_bytes: u64,
    /// Free bytes per mount point checked (`/`, `/var`).
    pub disk_free: Vec<(String, u64)>,
    /// TCP ports something listens on.
    pub listening: Vec<u16>,
    /// The host clock minus the control machine's, in seconds (midpoint of the call).
    pub clock_skew: f64,
    /// Which of [`NODE_TOOLS`] the host has on its `PATH`.
    pub tools: Vec<String>,
}

/// Commands the operating system of a Kubernetes host provides and kubin never installs:
/// kube-proxy's iptables mode, the kubelet's chains and the pod network's masquerading
/// run `iptables` and `iptables-restore`; kube-proxy clears stale UDP flows with
/// `conntrack`.
pub const NODE_TOOLS: [&str; 3] = ["iptables", "iptables-restore", "conntrack"];

impl HostFacts {
    /// Whether the distribution is of the RHEL family (RHEL, CentOS, Rocky, Alma, Fedora).
    pub fn is_rhel_family(&self) -> bool {
        let ids = ["rhel", "centos", "fedora", "rocky", "almalinux"];
        ids.contains(&self.os_id.as_str()) || self.os_like.iter().any(|l| ids.contains(&l.as_str()))
    }

    /// Whether the distribution is of the Debian family (Debian, Ubuntu).
    pub fn is_debian_family(&self) -> bool {
        self.os_id == "debian"
            || self.os_id == "ubuntu"
            || self.os_like.iter().any(|l| l == "debian")
    }
}

/// The read-only script whose output [`parse_facts`] reads.
pub const FACTS_SCRIPT: &str = r#"echo '@@os'; cat /etc/os-release 2>/dev/null
echo; echo '@@virt'; systemd-detect-virt -c 2>/dev/null
echo; echo '@@swaps'; tail -n +2 /proc/swaps 2>/dev/null
echo; echo '@@selinux'; getenforce 2>/dev/null
echo; echo '@@units'; for u in firewalld.service chrony.service chronyd.service systemd-timesyncd.service; do systemctl cat "$u" >/dev/null 2>&1 && echo "$u"; done
echo; echo '@@hostname'; hostname 2>/dev/null || cat /proc/sys/kernel/hostname
echo; echo '@@machine_id'; cat /etc/machine-id 2>/dev/null
echo; echo '@@macs'; for i in /sys/class/net/*; do [ "${i##*/}" = lo ] || echo "${i##*/} $(cat "$i/address" 2>/dev/null)"; done
echo; echo '@@cpus'; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN
echo; echo '@@mem'; grep '^MemTotal:' /proc/meminfo
echo; echo '@@disk'; df -Pk / /var 2>/dev/null | tail -n +2
echo; echo '@@ports'; ss -Hltn 2>/dev/null
echo; echo '@@tools'; for c in iptables iptables-restore conntrack; do command -v "$c" >/dev/null 2>&1 && echo "$c"; done
echo; echo '@@clock'; date +%s.%N
"#;

/// Gathers a host's facts: one script, then exact reads of /etc/fstab, /etc/hosts and
/// /etc/selinux/config.
pub fn gather_facts(t: &mut dyn Transport) -> Result<HostFacts, Error> {
    let before = unix_now();
    let out = t.run(FACTS_SCRIPT)?;
    let after = unix_now();
    let mut facts = parse_facts(t.host(), &out.stdout_text(), (before + after) / 2.0)?;
    let mut read = |p: &str| -> Result<Option<String>, Error> {
        Ok(t.read_file(Path::new(p))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    facts.fstab = read("/etc/fstab")?;
    facts.etc_hosts = read("/etc/hosts")?;
    facts.selinux_config = read("/etc/selinux/config")?;
    Ok(facts)
}

/// Gathers the facts of every connected host in parallel (at most
/// [`executor::HOSTS_AT_ONCE`] at once); hosts whose gathering failed come back with the
/// error.
pub fn gather_all(
    transports: &mut executor::Transports,
) -> (HashMap<String, HostFacts>, BTreeMap<String, Error>) {
    let results = executor::parallel_map(
        transports.iter_mut().collect(),
        executor::HOSTS_AT_ONCE,
        |(name, t)| (name.clone(), gather_facts(t.as_mut())),
    );
    let mut ok = HashMap::new();
    let mut failed = BTreeMap::new();
    for (name, r) in results {
        match r {
            Ok(f) => {
                ok.insert(name, f);
            }
            Err(e) => {
                failed.insert(name, e);
            }
        }
    }
    (ok, failed)
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn section<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    let marker = format!("@@{name}");
    let mut lines = text.lines().skip_while(|l| l.trim() != marker);
    lines.next();
    lines
        .take_while(|l| !l.starts_with("@@"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn os_value(lines: &[&str], key: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(|v| v.trim_matches('"').trim_matches('\'').to_string())
        .unwrap_or_default()
}

/// Parses the output of [`FACTS_SCRIPT`]; `control_clock` is the control machine's Unix
/// time at the moment the host read its clock.
pub fn parse_facts(host: &str, text: &str, control_clock: f64) -> Result<HostFacts, Error> {
    let err = |message: String| Error::Facts {
        host: host.to_string(),
        message,
    };
    let os = section(text, "os");
    let units = section(text, "units");
    let first = |name: &str| section(text, name).first().map(|s| s.to_string());
    let cpus = first("cpus")
        .and_then(|s| s.parse::<u32>().ok())
        .ok_or_else(|| err("no CPU count (nproc)".into()))?;
    let mem_kib = first("mem")
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
        })
        .ok_or_else(|| err("no MemTotal in /proc/meminfo".into()))?;
    let clock = first("clock")
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| err("no clock (date +%s.%N)".into()))?;
    let virt = first("virt").filter(|v| v != "none");
    let disk_free = section(text, "disk")
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let avail = f.get(3)?.parse::<u64>().ok()?;
            Some((f.get(5)?.to_string(), avail * 1024))
        })
        .collect();
    let mut listening: Vec<u16> = section(text, "ports")
        .iter()
        .filter_map(|l| {
            let local = l.split_whitespace().nth(3)?;
            local.rsplit(':').next()?.parse::<u16>().ok()
        })
        .collect();
    listening.sort_unstable();
    listening.dedup();
    Ok(HostFacts {
        os_id: os_value(&os, "ID"),
        os_like: os_value(&os, "ID_LIKE")
            .split_whitespace()
            .map(String::from)
            .collect(),
        os_pretty: os_value(&os, "PRETTY_NAME"),
        container: virt,
        swaps: section(text, "swaps")
            .iter()
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect(),
        selinux_mode: first("selinux"),
        selinux_config: None,
        fstab: None,
        etc_hosts: None,
        firewalld: units.contains(&"firewalld.service"),
        chrony_unit: ["chrony.service", "chronyd.service"]
            .iter()
            .find(|u| units.contains(u))
            .map(|u| u.to_string()),
        timesyncd: units.contains(&"systemd-timesyncd.service"),
        hostname: first("hostname").unwrap_or_default(),
        machine_id: first("machine_id").unwrap_or_default(),
        macs: section(text, "macs")
            .iter()
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect(),
        cpus,
        mem_bytes: mem_kib * 1024,
        disk_free,
        listening,
        clock_skew: clock - control_clock,
        tools: section(text, "tools")
            .iter()
            .filter(|t| NODE_TOOLS.contains(t))
            .map(|t| t.to_string())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "@@os
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
ID=debian

@@virt
systemd-nspawn

@@swaps

@@selinux

@@units
systemd-timesyncd.service

@@hostname
lab-1

@@machine_id
0123456789abcdef0123456789abcdef

@@macs
host0 0a:1b:2c:3d:4e:5f

@@cpus
2

@@mem
MemTotal:       24000000 kB

@@disk
/dev/sda1 100 50 2048 3% /

@@ports
LISTEN 0 128 0.0.0.0:22 0.0.0.0:*
LISTEN 0 128 [::]:22 [::]:*
LISTEN 0 4096 127.0.0.1:2379 0.0.0.0:*

@@tools
iptables
iptables-restore

@@clock
1000.25
";

    #[test]
    fn captured_output_parses() {
        let f = parse_facts("lab-1", CAPTURED, 1000.0).unwrap();
        assert_eq!(f.os_id, "debian");
        assert!(f.is_debian_family() && !f.is_rhel_family());
        assert_eq!(f.container.as_deref(), Some("systemd-nspawn"));
        assert!(f.swaps.is_empty());
        assert!(f.timesyncd && !f.firewalld && f.chrony_unit.is_none());
        assert_eq!(f.hostname, "lab-1");
        assert_eq!(f.macs, vec![("host0".into(), "0a:1b:2c:3d:4e:5f".into())]);
        assert_eq!(f.cpus, 2);
        assert_eq!(f.mem_bytes, 24_000_000 * 1024);
        assert_eq!(f.disk_free, vec![("/".into(), 2048 * 1024)]);
        assert_eq!(f.listening, vec![22, 2379]);
        assert_eq!(f.tools, ["iptables", "iptables-restore"]);
        assert!((f.clock_skew - 0.25).abs() < 1e-9);
    }

    #[test]
    fn virt_none_means_no_container() {
        let text = CAPTURED.replace("systemd-nspawn", "none");
        assert_eq!(parse_facts("h", &text, 0.0).unwrap().container, None);
    }

    #[test]
    fn missing_cpu_count_is_an_error() {
        let text = CAPTURED.replace("@@cpus\n2", "@@cpus\n");
        assert!(matches!(
            parse_facts("h", &text, 0.0),
            Err(Error::Facts { .. })
        ));
    }
}
