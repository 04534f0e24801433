//! The files host preparation writes or edits, rendered from data (pure).

use inventory::Inventory;
use std::net::IpAddr;

/// The line that opens kubin's block in /etc/hosts.
pub const HOSTS_BEGIN: &str = "# BEGIN kubin managed hosts";
/// The line that closes kubin's block in /etc/hosts.
pub const HOSTS_END: &str = "# END kubin managed hosts";

/// The kernel settings Kubernetes needs: bridged traffic through iptables (v4 and v6, not
/// v6 twice as one guide has it) and forwarding.
pub const SYSCTL_SETTINGS: &[(&str, &str)] = &[
    ("net.bridge.bridge-nf-call-iptables", "1"),
    ("net.bridge.bridge-nf-call-ip6tables", "1"),
    ("net.ipv4.ip_forward", "1"),
];

/// Modules the pod network and the container runtime need.
pub const K8S_MODULES: &[&str] = &["br_netfilter", "overlay"];
/// Modules kube-proxy's ipvs mode needs.
pub const IPVS_MODULES: &[&str] = &["ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack"];

/// The prefix a swap line of /etc/fstab gets when kubin comments it out.
pub const FSTAB_SWAP_PREFIX: &str = "#kubin-swapoff# ";

/// The managed /etc/hosts block: every inventory host, in file order, between markers.
pub fn render_hosts_block(inv: &Inventory) -> String {
    let entries: Vec<(IpAddr, String)> = inv
        .hosts
        .iter()
        .map(|h| (h.address, h.name.clone()))
        .collect();
    render_hosts_entries(&entries)
}

/// The block for explicit entries.
pub fn render_hosts_entries(entries: &[(IpAddr, String)]) -> String {
    let mut s = format!("{HOSTS_BEGIN}\n");
    for (addr, name) in entries {
        s.push_str(&format!("{addr} {name}\n"));
    }
    s.push_str(HOSTS_END);
    s.push('\n');
    s
}

/// The entries of kubin's block in `hosts`, if it has one.
pub fn parse_hosts_block(hosts: &str) -> Option<Vec<(IpAddr, String)>> {
    let mut lines = hosts.lines().skip_while(|l| l.trim() != HOSTS_BEGIN);
    lines.next()?;
    let mut entries = Vec::new();
    for line in lines {
        if line.trim() == HOSTS_END {
            return Some(entries);
        }
        let mut w = line.split_whitespace();
        if let (Some(a), Some(n)) = (w.next(), w.next()) {
            entries.push((a.parse().ok()?, n.to_string()));
        }
    }
    None
}

/// `existing` /etc/hosts with kubin's block replaced by `block` (or appended); every line
/// outside the block is kept as it is.
pub fn merge_hosts(existing: &str, block: &str) -> String {
    let lines: Vec<&str> = existing.lines().collect();
    let begin = lines.iter().position(|l| l.trim() == HOSTS_BEGIN);
    let end = begin.and_then(|b| {
        lines[b..]
            .iter()
            .position(|l| l.trim() == HOSTS_END)
            .map(|e| b + e)
    });
    let mut out = String::new();
    match (begin, end) {
        (Some(b), Some(e)) => {
            for l in &lines[..b] {
                out.push_str(l);
                out.push('\n');
            }
            out.push_str(block);
            for l in &lines[e + 1..] {
                out.push_str(l);
                out.push('\n');
            }
        }
        _ => {
            out.push_str(existing);
            if !existing.is_empty() && !existing.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(block);
        }
    }
    out
}

/// /etc/sysctl.d/k8s.conf.
pub fn render_sysctl() -> String {
    let mut s = String::from(
        "# Written by kubin: Kubernetes needs bridged traffic to pass iptables, and forwarding.\n",
    );
    for (k, v) in SYSCTL_SETTINGS {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

/// A modules-load.d file listing `modules`, with a comment saying why.
pub fn render_modules(why: &str, modules: &[&str]) -> String {
    let mut s = format!("# Written by kubin: {why}\n");
    for m in modules {
        s.push_str(m);
        s.push('\n');
    }
    s
}

/// Whether an fstab line is an active swap entry.
fn is_swap_line(line: &str) -> bool {
    let t = line.trim_start();
    !t.starts_with('#') && t.split_whitespace().nth(2) == Some("swap")
}

/// Whether `fstab` has an active swap entry.
pub fn fstab_has_swap(fstab: &str) -> bool {
    fstab.lines().any(is_swap_line)
}

/// `fstab` with every active swap line commented out (other lines untouched).
pub fn comment_out_swap(fstab: &str) -> String {
    let mut out = String::new();
    for line in fstab.split_inclusive('\n') {
        if is_swap_line(line) {
            out.push_str(FSTAB_SWAP_PREFIX);
        }
        out.push_str(line);
    }
    out
}

/// /etc/selinux/config with `SELINUX=enforcing` turned into `permissive` (disabled stays).
pub fn selinux_permissive(config: &str) -> String {
    let mut out = String::new();
    for line in config.split_inclusive('\n') {
        if line.trim() == "SELINUX=enforcing" {
            out.push_str("SELINUX=permissive");
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}
