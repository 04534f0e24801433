//! Host preparation as a pure plan: SELinux, firewalld, swap, hostname, /etc/hosts,
//! sysctl, kernel modules and time sync, decided from the inventory and each host's facts.
//!
//! Inside a container (systemd-nspawn) swap, module loading, applying sysctl settings and
//! clock sync belong to the outer machine: those steps are [`Step::NotApplicable`] with the
//! reason. The config files are still written.

pub mod render;

use crate::facts::HostFacts;
use inventory::{Host, Inventory};
use plan::{CommandSpec, FileSpec, HostSteps, Plan, Step, UnitSpec};
use render::*;
use std::collections::HashMap;

/// The phase name of host preparation.
pub const PHASE: &str = "prepare hosts";

/// The host-preparation plan for every inventory host that has facts (hosts without facts
/// could not be reached and are left out).
pub fn plan_hostprep(inv: &Inventory, facts: &HashMap<String, HostFacts>) -> Plan {
    let block = render_hosts_block(inv);
    let hosts = inv
        .hosts
        .iter()
        .filter_map(|h| {
            facts.get(&h.name).map(|f| HostSteps {
                host: h.name.clone(),
                steps: host_steps(h, f, &block),
            })
        })
        .collect();
    Plan::single(PHASE, hosts)
}

fn na(what: &str, container: &str, whose: &str) -> Step {
    Step::NotApplicable {
        what: what.into(),
        why: format!("inside a {container} container {whose} belongs to the outer machine"),
    }
}

fn host_steps(h: &Host, f: &HostFacts, hosts_block: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let container = f.container.as_deref();

    // SELinux: permissive now and at boot (RHEL family, where SELinux exists).
    if f.is_rhel_family()
        && let Some(cfg) = &f.selinux_config
    {
        steps.push(Step::Command(CommandSpec::new(
            "selinux: permissive now",
            "setenforce 0",
            Some("[ \"$(getenforce 2>/dev/null)\" != Enforcing ]"),
        )));
        steps.push(Step::File(
            FileSpec::new("/etc/selinux/config", selinux_permissive(cfg), 0o644).backed_up(),
        ));
    }

    // firewalld stopped and disabled where installed.
    if f.firewalld {
        steps.push(Step::Unit(UnitSpec {
            name: "firewalld.service".into(),
            enabled: false,
            running: Some(false),
            restart_on: Vec::new(),
            no_block: false,
        }));
    }

    // Swap off now, and for good in /etc/fstab.
    match container {
        Some(c) => steps.push(na("swap off (swapoff -a)", c, "swap")),
        None => steps.push(Step::Command(CommandSpec::new(
            "swap off now",
            "swapoff -a",
            Some("[ \"$(tail -n +2 /proc/swaps | wc -l)\" -eq 0 ]"),
        ))),
    }
    if let Some(fstab) = &f.fstab
        && fstab_has_swap(fstab)
    {
        steps.push(Step::File(
            FileSpec::new("/etc/fstab", comment_out_swap(fstab), 0o644).backed_up(),
        ));
    }

    // The host name from the inventory.
    steps.push(Step::File(FileSpec::new(
        "/etc/hostname",
        format!("{}\n", h.name),
        0o644,
    )));
    let name = &h.name;
    steps.push(Step::Command(CommandSpec::new(
        &format!("hostname: set to {name}"),
        &format!("hostnamectl set-hostname {name} 2>/dev/null || hostname {name}"),
        Some(&format!("[ \"$(hostname)\" = {name} ]")),
    )));

    // /etc/hosts: only kubin's block changes.
    let hosts = merge_hosts(f.etc_hosts.as_deref().unwrap_or(""), hosts_block);
    steps.push(Step::File(
        FileSpec::new("/etc/hosts", hosts, 0o644).backed_up(),
    ));

    // Kernel modules: persisted always, loaded where the kernel is ours.
    steps.push(Step::File(FileSpec::new(
        "/etc/modules-load.d/k8s.conf",
        render_modules(
            "bridged pod traffic and the container runtime's overlay file system",
            K8S_MODULES,
        ),
        0o644,
    )));
    steps.push(Step::File(FileSpec::new(
        "/etc/modules-load.d/ipvs.conf",
        render_modules("kube-proxy's ipvs mode", IPVS_MODULES),
        0o644,
    )));
    let all: Vec<&str> = K8S_MODULES.iter().chain(IPVS_MODULES).copied().collect();
    match container {
        Some(c) => steps.push(na(
            &format!("load kernel modules ({})", all.join(", ")),
            c,
            "the kernel",
        )),
        None => steps.push(Step::Command(CommandSpec::new(
            "load kernel modules",
            &format!("modprobe -a {}", all.join(" ")),
            Some(&format!(
                "for m in {}; do [ -d /sys/module/$m ] || grep -q \"/$m.ko\" /lib/modules/$(uname -r)/modules.builtin 2>/dev/null || exit 1; done",
                all.join(" ")
            )),
        ))),
    }

    // sysctl: the file always, applied where /proc/sys is ours.
    steps.push(Step::File(FileSpec::new(
        "/etc/sysctl.d/k8s.conf",
        render_sysctl(),
        0o644,
    )));
    match container {
        Some(c) => steps.push(na("apply sysctl settings now", c, "/proc/sys")),
        None => {
            let check: Vec<String> = SYSCTL_SETTINGS
                .iter()
                .map(|(k, v)| format!("[ \"$(sysctl -n {k} 2>/dev/null)\" = {v} ]"))
                .collect();
            steps.push(Step::Command(CommandSpec::new(
                "apply sysctl settings now",
                "sysctl -p /etc/sysctl.d/k8s.conf",
                Some(&check.join(" && ")),
            )));
        }
    }

    // Time sync.
    match (container, &f.chrony_unit, f.timesyncd) {
        (Some(c), _, _) => steps.push(na("time sync", c, "the clock")),
        (None, Some(unit), _) => steps.push(Step::Unit(UnitSpec::running(unit, Vec::new()))),
        (None, None, true) => steps.push(Step::Unit(UnitSpec::running(
            "systemd-timesyncd.service",
            Vec::new(),
        ))),
        (None, None, false) => steps.push(Step::Command(CommandSpec::new(
            "time sync: neither chrony nor systemd-timesyncd is installed",
            "echo 'neither chrony nor systemd-timesyncd is installed: install chrony' >&2; exit 1",
            None,
        ))),
    }
    steps
}

#[cfg(test)]
mod tests;
