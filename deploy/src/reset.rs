//! `kubin reset`: undoes a deploy on the hosts. [`plan_reset`] is pure (the inventory's
//! roles and paths to steps): stop and disable kubin's units, remove what kubin placed,
//! restore the system files hostprep backed up (the oldest `PATH.kubin-backup-<time>` is
//! the file as it was before kubin). etcd's data only when asked, the local PKI only when
//! asked. Every step checks first, so a second reset changes nothing.

use crate::cluster::kubin_units;
use crate::{Error, Session};
use inventory::{Inventory, Role};
use plan::shell::quote_path;
use plan::{CommandSpec, HostSteps, Plan, Step};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The system files host preparation replaces after a backup (`FileSpec::backed_up`).
pub const BACKED_UP: [&str; 3] = ["/etc/hosts", "/etc/fstab", "/etc/selinux/config"];

/// Files host preparation places that are kubin's own.
pub const HOSTPREP_FILES: [&str; 3] = [
    "/etc/modules-load.d/k8s.conf",
    "/etc/modules-load.d/ipvs.conf",
    "/etc/sysctl.d/k8s.conf",
];

/// What `kubin reset` removes beyond the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResetOptions {
    /// Show what would be done and change nothing.
    pub dry_run: bool,
    /// Remove etcd's data directory too (the cluster's whole state).
    pub remove_etcd_data: bool,
    /// Remove the local PKI (`pki_dir`: every certificate, key and token.csv) too.
    pub remove_pki: bool,
}

/// The reset of every host: three phases (stop the units; remove kubin's files; restore
/// the backed-up system files). Pure.
pub fn plan_reset(inv: &Inventory, opts: &ResetOptions) -> Plan {
    let units_dir = &inv.paths.systemd_units;
    let mut stop = Vec::new();
    let mut remove = Vec::new();
    let mut restore = Vec::new();
    for h in &inv.hosts {
        let units = kubin_units(inv, &h.name);
        let mut stop_steps: Vec<Step> = units.iter().map(|u| Step::Command(stop_unit(u))).collect();
        if h.roles.contains(&Role::Node) {
            // containerd stops with KillMode=process: the pods' containers outlive it.
            stop_steps.push(Step::Command(stop_pods()));
        }
        stop.push(HostSteps {
            host: h.name.clone(),
            steps: stop_steps,
        });
        // A removed unit file is forgotten by systemd at once (daemon-reload with it).
        let mut steps: Vec<Step> = units
            .iter()
            .map(|u| Step::Command(remove_unit_file(&units_dir.join(u))))
            .collect();
        steps.extend(
            placed(inv, &h.roles, opts)
                .iter()
                .map(|p| Step::Command(remove_path(p))),
        );
        // The guides' parents (/opt/etcd, /opt/kubernetes) go when nothing else is in them.
        for parent in parents(inv, &h.roles) {
            steps.push(Step::Command(remove_empty_dir(&parent)));
        }
        // The quick-check records of the files kubin placed (see executor's manifest).
        if let Some(records) = Path::new(executor::transport::manifest::MANIFEST).parent() {
            steps.push(Step::Command(remove_path(records)));
        }
        remove.push(HostSteps {
            host: h.name.clone(),
            steps,
        });
        restore.push(HostSteps {
            host: h.name.clone(),
            steps: BACKED_UP
                .iter()
                .map(|f| Step::Command(restore_backup(f)))
                .collect(),
        });
    }
    Plan {
        phases: vec![
            plan::Phase {
                name: "reset: stop units".into(),
                hosts: stop,
            },
            plan::Phase {
                name: "reset: remove files".into(),
                hosts: remove,
            },
            plan::Phase {
                name: "reset: restore system files".into(),
                hosts: restore,
            },
        ],
    }
}

/// What kubin placed on a host of `roles`, beyond its unit files.
fn placed(
    inv: &Inventory,
    roles: &std::collections::BTreeSet<Role>,
    opts: &ResetOptions,
) -> Vec<PathBuf> {
    let p = &inv.paths;
    let mut out = Vec::new();
    if roles.contains(&Role::Etcd) {
        out.extend([p.etcd_cfg.clone(), p.etcd_bin.clone(), p.etcd_ssl.clone()]);
        if opts.remove_etcd_data {
            out.push(p.etcd_data.clone());
        }
    }
    if roles.contains(&Role::Master) || roles.contains(&Role::Node) {
        out.extend([
            p.kubernetes_cfg.clone(),
            p.kubernetes_bin.clone(),
            p.kubernetes_ssl.clone(),
        ]);
    }
    if roles.contains(&Role::Node) {
        use node_runtime::layout as rt;
        let bin = Path::new(rt::CONTAINERD_BIN_DIR);
        out.extend([
            bin.join("containerd"),
            bin.join("containerd-shim-runc-v2"),
            bin.join("ctr"),
            PathBuf::from(rt::RUNC),
            PathBuf::from(rt::CNI_BIN_DIR),
            PathBuf::from(rt::CNI_CONFLIST),
            PathBuf::from(rt::CONTAINERD_CONF_DIR),
            PathBuf::from(rt::IMAGES_DIR),
        ]);
    }
    out.extend(HOSTPREP_FILES.iter().map(PathBuf::from));
    out
}

/// The parents of kubin's directories (`/opt/etcd`, `/opt/kubernetes`), deepest first.
fn parents(inv: &Inventory, roles: &std::collections::BTreeSet<Role>) -> Vec<PathBuf> {
    let p = &inv.paths;
    let mut dirs: Vec<&Path> = Vec::new();
    if roles.contains(&Role::Etcd) {
        dirs.extend([
            p.etcd_cfg.as_path(),
            p.etcd_bin.as_path(),
            p.etcd_ssl.as_path(),
        ]);
    }
    if roles.contains(&Role::Master) || roles.contains(&Role::Node) {
        dirs.extend([
            p.kubernetes_cfg.as_path(),
            p.kubernetes_bin.as_path(),
            p.kubernetes_ssl.as_path(),
        ]);
    }
    let mut out: Vec<PathBuf> = Vec::new();
    for d in dirs {
        if let Some(parent) = d.parent()
            && parent.components().count() > 2
            && !out.iter().any(|o| o == parent)
        {
            out.push(parent.to_path_buf());
        }
    }
    out
}

fn stop_unit(unit: &str) -> CommandSpec {
    CommandSpec::new(
        &format!("{unit}: stop and disable"),
        &format!("systemctl disable --now {unit}"),
        Some(&format!(
            "! systemctl is-active -q {unit} && ! systemctl is-enabled -q {unit} 2>/dev/null"
        )),
    )
}

/// Stops every pod's containers: with the systemd cgroup driver they live in scopes under
/// the kubelet's `kubepods.slice`, which neither the kubelet's nor containerd's stop ends.
fn stop_pods() -> CommandSpec {
    CommandSpec::new(
        "pods: stop their containers (kubepods.slice)",
        "systemctl stop kubepods.slice",
        Some("! systemctl is-active -q kubepods.slice"),
    )
}

fn remove_path(path: &Path) -> CommandSpec {
    let q = quote_path(path);
    CommandSpec::new(
        &format!("remove {}", path.display()),
        &format!("rm -rf -- {q}"),
        Some(&format!("[ ! -e {q} ] && [ ! -L {q} ]")),
    )
}

fn remove_unit_file(path: &Path) -> CommandSpec {
    let q = quote_path(path);
    CommandSpec::new(
        &format!("remove {}", path.display()),
        &format!("rm -f -- {q} && systemctl daemon-reload"),
        Some(&format!("[ ! -e {q} ]")),
    )
}

fn remove_empty_dir(path: &Path) -> CommandSpec {
    let q = quote_path(path);
    CommandSpec::new(
        &format!("remove {} if empty", path.display()),
        &format!("rmdir -- {q}"),
        Some(&format!("[ ! -d {q} ] || [ -n \"$(ls -A {q})\" ]")),
    )
}

/// Puts back the oldest backup of `file` (the file before kubin), then drops the backups.
fn restore_backup(file: &str) -> CommandSpec {
    let q = plan::shell::quote(file);
    let pattern = format!("{q}.kubin-backup-*");
    CommandSpec::new(
        &format!("restore {file} from its first backup"),
        &format!("b=$(ls -1d {pattern} | sort | head -n 1) && cat \"$b\" > {q} && rm -f {pattern}"),
        Some(&format!("! ls -d {pattern} >/dev/null 2>&1")),
    )
}

/// What `kubin reset` did.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Changes over every host (in a dry run: that would be made).
    pub changes: usize,
    /// The hosts that failed or could not be reached, each with its step and cause.
    pub failed: Vec<String>,
    /// The local PKI directory removed (or that would be).
    pub pki_removed: Option<PathBuf>,
}

/// `kubin reset`: takes every host's lock (not in a dry run), applies [`plan_reset`] to
/// every reachable host (unreachable ones are reported, the others reset), then removes
/// the local PKI when asked.
pub fn reset(s: &mut Session, opts: &ResetOptions) -> Result<ResetReport, Error> {
    if opts.dry_run {
        s.settings.ssh.dry_run = true;
    } else {
        s.lock("kubin reset")?;
    }
    let hosts: Vec<String> = s.inventory.hosts.iter().map(|h| h.name.clone()).collect();
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let unreachable = s.connect_some(&refs);
    let plan = plan_reset(&s.inventory, opts);
    let mut report = s.apply_connected(&plan, opts.dry_run);
    for (host, why) in unreachable {
        report.record_unreachable(&host, &why);
    }
    s.show(&report);
    let failed = report
        .failures()
        .iter()
        .map(|f| format!("{} ({}: {}: {})", f.host, f.step, f.target, f.message))
        .collect();
    let mut pki_removed = None;
    if opts.remove_pki {
        let dir = s.inventory.pki_dir.clone();
        if !opts.dry_run && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| Error::Remove {
                path: dir.clone(),
                source,
            })?;
        }
        pki_removed = Some(dir);
    }
    s.unlock();
    Ok(ResetReport {
        dry_run: opts.dry_run,
        changes: report.total_changes(),
        failed,
        pki_removed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Inventory {
        Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "cluster.yaml")
            .unwrap()
            .0
    }

    fn commands(plan: &Plan, phase: usize, host: &str) -> Vec<String> {
        plan.phases[phase]
            .hosts
            .iter()
            .filter(|h| h.host == host)
            .flat_map(|h| &h.steps)
            .map(|s| match s {
                Step::Command(c) => c.command.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn every_host_stops_its_roles_units_removes_its_files_and_restores_backups() {
        let i = inv();
        let plan = plan_reset(&i, &ResetOptions::default());
        assert_eq!(plan.phases.len(), 3);
        let master = i.masters()[0].name.clone();
        let stop = commands(&plan, 0, &master);
        assert!(
            stop.contains(&"systemctl disable --now kube-apiserver.service".to_string()),
            "{stop:?}"
        );
        let node = i
            .nodes()
            .iter()
            .find(|h| !h.roles.contains(&Role::Master))
            .unwrap()
            .name
            .clone();
        let stop = commands(&plan, 0, &node);
        assert!(stop.iter().any(|c| c.ends_with("kubelet.service")));
        assert_eq!(
            stop.last().map(String::as_str),
            Some("systemctl stop kubepods.slice")
        );
        assert!(!stop.iter().any(|c| c.contains("kube-apiserver")));
        assert!(
            !commands(&plan, 0, &master)
                .iter()
                .any(|c| c.contains("kubepods")),
            "the master runs no pods"
        );
        let remove = commands(&plan, 1, &master).join("\n");
        assert!(remove.contains("rm -rf -- /opt/kubernetes/ssl"), "{remove}");
        assert!(remove.contains("rm -rf -- /opt/etcd/ssl"), "{remove}");
        assert!(remove.contains("rmdir -- /opt/etcd"), "{remove}");
        assert!(remove.contains("rm -rf -- /var/lib/kubin"), "{remove}");
        assert!(
            !remove.contains(&i.paths.etcd_data.display().to_string()),
            "data kept by default"
        );
        let restore = commands(&plan, 2, &node).join("\n");
        assert!(
            restore.contains("'/etc/hosts'.kubin-backup-*")
                || restore.contains("/etc/hosts.kubin-backup-*"),
            "{restore}"
        );
    }

    #[test]
    fn etcd_data_only_when_asked() {
        let i = inv();
        let opts = ResetOptions {
            remove_etcd_data: true,
            ..ResetOptions::default()
        };
        let plan = plan_reset(&i, &opts);
        let data = i.paths.etcd_data.display().to_string();
        let member = i.etcd_members()[0].name.clone();
        assert!(
            commands(&plan, 1, &member)
                .iter()
                .any(|c| c.ends_with(&data))
        );
    }

    #[test]
    fn every_step_checks_first_so_a_second_reset_changes_nothing() {
        let plan = plan_reset(&inv(), &ResetOptions::default());
        for phase in &plan.phases {
            for h in &phase.hosts {
                for s in &h.steps {
                    let Step::Command(c) = s else { panic!() };
                    assert!(c.unless.is_some(), "{} has no check", c.description);
                }
            }
        }
    }
}
