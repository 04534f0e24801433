//! Preflight: pure decisions over gathered facts, reporting every problem of every host at
//! once before anything changes.

pub mod bundle;

use crate::facts::HostFacts;
use inventory::{Inventory, Role};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

pub use bundle::{
    BundleFacts, NeededFile, PodNetworkFiles, check_bundle, check_pod_network, inspect_bundle,
    inspect_bundle_with, inspect_pod_network,
};

/// The guides' minimum CPU count.
pub const MIN_CPUS: u32 = 2;
/// The guides' minimum memory, 2 GiB; MemTotal of such a machine is a little lower (the
/// kernel keeps some), so 90 % of it passes.
pub const MIN_MEM_BYTES: u64 = 2 * 1024 * 1024 * 1024 * 9 / 10;
/// Free space on / below which preflight fails.
pub const MIN_DISK_BYTES: u64 = 2 * 1024 * 1024 * 1024;
/// Free space on / below which preflight warns.
pub const WARN_DISK_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Clock skew against the control machine above which preflight warns, in seconds.
pub const MAX_SKEW_SECS: f64 = 0.5;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; the deploy can go on.
    Warning,
    /// The deploy would fail or the cluster would misbehave.
    Error,
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The host (inventory name), or `bundle` / `cluster` for checks not about one host.
    pub host: String,
    /// How bad.
    pub severity: Severity,
    /// The check's name (`cpus`, `memory`, `swap`, `port`, `unique`, `clock`, `disk`, ...).
    pub check: String,
    /// What is wrong, naming the value.
    pub message: String,
}

fn finding(host: &str, severity: Severity, check: &str, message: String) -> Finding {
    Finding {
        host: host.to_string(),
        severity,
        check: check.to_string(),
        message,
    }
}

/// The ports a host's roles need free, with who needs them.
pub fn required_ports(roles: &[Role]) -> Vec<(u16, &'static str)> {
    let mut ports = Vec::new();
    if roles.contains(&Role::Etcd) {
        ports.push((2379, "etcd client"));
        ports.push((2380, "etcd peer"));
    }
    if roles.contains(&Role::Master) {
        ports.push((6443, "kube-apiserver"));
        ports.push((10257, "kube-controller-manager"));
        ports.push((10259, "kube-scheduler"));
    }
    if roles.contains(&Role::Node) || roles.contains(&Role::Master) {
        ports.push((10250, "kubelet"));
    }
    ports
}

/// Every problem with the hosts: per host resources, swap, ports, clock, disk and services,
/// and across hosts unique host names, machine-ids and MACs. `unreachable` hosts (with why)
/// are errors; hosts with neither facts nor a reason are reported as unchecked.
pub fn check_hosts(
    inv: &Inventory,
    facts: &HashMap<String, HostFacts>,
    unreachable: &BTreeMap<String, String>,
) -> Vec<Finding> {
    use Severity::*;
    let mut out = Vec::new();
    for h in &inv.hosts {
        let name = h.name.as_str();
        let Some(f) = facts.get(name) else {
            let why = unreachable
                .get(name)
                .cloned()
                .unwrap_or_else(|| "no facts gathered".into());
            out.push(finding(name, Error, "reach", why));
            continue;
        };
        if f.cpus < MIN_CPUS {
            out.push(finding(
                name,
                Error,
                "cpus",
                format!("{} CPU(s); at least {MIN_CPUS} needed", f.cpus),
            ));
        }
        if f.mem_bytes < MIN_MEM_BYTES {
            out.push(finding(
                name,
                Error,
                "memory",
                format!(
                    "{} MiB of memory; at least 2 GiB needed",
                    f.mem_bytes / (1024 * 1024)
                ),
            ));
        }
        if !f.swaps.is_empty() {
            match &f.container {
                Some(c) => out.push(finding(
                    name,
                    Warning,
                    "swap",
                    format!("swap is on ({}), but it is the outer machine's ({c} container)", f.swaps.join(", ")),
                )),
                None => out.push(finding(
                    name,
                    Error,
                    "swap",
                    format!("swap is on ({}); the kubelet refuses to run with swap (`kubin prepare` turns it off)", f.swaps.join(", ")),
                )),
            }
        }
        let roles: Vec<Role> = h.roles.iter().copied().collect();
        for (port, who) in required_ports(&roles) {
            if f.listening.contains(&port) {
                out.push(finding(
                    name,
                    Error,
                    "port",
                    format!("port {port} ({who}) is already in use"),
                ));
            }
        }
        if f.clock_skew.abs() > MAX_SKEW_SECS {
            out.push(finding(
                name,
                Warning,
                "clock",
                format!("clock is {:+.3} s off the control machine's (more than {MAX_SKEW_SECS} s; TLS and etcd leases suffer)", f.clock_skew),
            ));
        }
        match f.disk_free.iter().find(|(m, _)| m == "/") {
            Some((_, free)) if *free < MIN_DISK_BYTES => out.push(finding(
                name,
                Error,
                "disk",
                format!(
                    "{} MiB free on /; at least 2 GiB needed",
                    free / (1024 * 1024)
                ),
            )),
            Some((_, free)) if *free < WARN_DISK_BYTES => out.push(finding(
                name,
                Warning,
                "disk",
                format!(
                    "{} MiB free on /; 10 GiB or more recommended",
                    free / (1024 * 1024)
                ),
            )),
            Some(_) => {}
            None => out.push(finding(
                name,
                Warning,
                "disk",
                "free space on / unknown".into(),
            )),
        }
        if !f.is_debian_family() && !f.is_rhel_family() {
            out.push(finding(
                name,
                Warning,
                "os",
                format!(
                    "{:?} is neither of the Debian nor of the RHEL family; untested",
                    f.os_id
                ),
            ));
        }
        if f.container.is_none() && f.chrony_unit.is_none() && !f.timesyncd {
            out.push(finding(
                name,
                Warning,
                "time sync",
                "neither chrony nor systemd-timesyncd is installed".into(),
            ));
        }
        if roles.contains(&Role::Master) || roles.contains(&Role::Node) {
            let missing: Vec<&str> = ["iptables", "iptables-restore"]
                .into_iter()
                .filter(|t| !f.tools.iter().any(|have| have == t))
                .collect();
            if !missing.is_empty() {
                out.push(finding(
                    name,
                    Error,
                    "iptables",
                    format!(
                        "no {} on the PATH: kube-proxy's iptables mode, the kubelet and the pod network's masquerading need them (install the distribution's iptables package; kubin installs no OS packages)",
                        missing.join(" or ")
                    ),
                ));
            }
        }
        if roles.contains(&Role::Node) && !f.tools.iter().any(|t| t == "conntrack") {
            out.push(finding(
                name,
                Warning,
                "conntrack",
                "no conntrack on the PATH: kube-proxy cannot clear stale UDP flows when a service's endpoints change (install the distribution's conntrack package)".into(),
            ));
        }
        if f.machine_id.is_empty() || f.machine_id == "uninitialized" {
            out.push(finding(
                name,
                Error,
                "unique",
                "/etc/machine-id is empty".into(),
            ));
        }
    }
    out.extend(check_unique(inv, facts));
    out
}

fn check_unique(inv: &Inventory, facts: &HashMap<String, HostFacts>) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut by_hostname: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_machine_id: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut by_mac: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for h in &inv.hosts {
        let Some(f) = facts.get(&h.name) else {
            continue;
        };
        if !f.hostname.is_empty() {
            by_hostname.entry(&f.hostname).or_default().push(&h.name);
        }
        if !f.machine_id.is_empty() {
            by_machine_id
                .entry(&f.machine_id)
                .or_default()
                .push(&h.name);
        }
        for (_, mac) in &f.macs {
            if mac != "00:00:00:00:00:00" && !mac.is_empty() {
                by_mac.entry(mac).or_default().push(&h.name);
            }
        }
    }
    let mut dup =
        |map: BTreeMap<&str, Vec<&str>>, check: &str, what: &str, sev: Severity, hint: &str| {
            for (value, hosts) in map {
                let mut hosts = hosts;
                hosts.dedup();
                if hosts.len() > 1 {
                    for h in &hosts {
                        out.push(finding(
                            h,
                            sev,
                            check,
                            format!("{what} {value:?} is shared by {}{hint}", hosts.join(", ")),
                        ));
                    }
                }
            }
        };
    dup(
        by_hostname,
        "unique",
        "host name",
        Severity::Warning,
        " (`kubin prepare` sets each from the inventory)",
    );
    dup(
        by_machine_id,
        "unique",
        "machine-id",
        Severity::Error,
        " (cloned machines: regenerate /etc/machine-id)",
    );
    dup(by_mac, "unique", "MAC address", Severity::Error, "");
    out
}

/// Whether any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// Findings grouped per host, errors first, as text.
pub fn render_findings(findings: &[Finding]) -> String {
    let mut by_host: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in findings {
        by_host.entry(&f.host).or_default().push(f);
    }
    let mut s = String::new();
    for (host, mut list) in by_host {
        list.sort_by_key(|f| std::cmp::Reverse(f.severity));
        s.push_str(&format!("{host}:\n"));
        for f in list {
            let sev = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            s.push_str(&format!("  {sev}: {}: {}\n", f.check, f.message));
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    s.push_str(&format!("{errors} error(s), {warnings} warning(s)\n"));
    s
}

#[cfg(test)]
mod tests;
