//! `kubin reset`: undoes a deploy on the hosts. [`plan_reset`] is pure (the inventory's
//! roles and paths to steps): stop and disable kubin's units, end the pods (containers,
//! shims, their systemd units and cgroups), remove what kubin placed and what its kubelet,
//! containerd and CNI plugins left (state, mounts, the pods' bridge), restore the system
//! files hostprep backed up (the oldest `PATH.kubin-backup-<time>` is the file as it was
//! before kubin). etcd's data only when asked, the local PKI only when asked. Every step
//! checks first, so a second reset changes nothing.

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

/// The kubelet's root directory (its `--root-dir` default, which kubin keeps): pod volumes
/// are mounted under it, and it holds the state of the cluster it served
/// (`cpu_manager_state`, `pods/`).
pub const KUBELET_ROOT: &str = "/var/lib/kubelet";
/// The CNI plugins' state (host-local's address leases, under `networks/`).
pub const CNI_STATE: &str = "/var/lib/cni";
/// The pods' network namespaces, each kept alive by a bind mount (with its end of a veth).
const POD_NETNS: &str = "/run/netns/cni-";

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
            stop_steps.extend(
                [
                    stop_pods(),
                    end_shims(),
                    forget_pod_units(),
                    remove_pod_cgroups(),
                ]
                .map(Step::Command),
            );
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
        if h.roles.contains(&Role::Node) {
            use node_runtime::layout as rt;
            steps.extend(
                [
                    unmount_and_remove(Path::new(KUBELET_ROOT)),
                    unmount_and_remove(Path::new(rt::CONTAINERD_STATE)),
                    remove_pod_netns(),
                    remove_path(Path::new(CNI_STATE)),
                    remove_link(rt::BRIDGE),
                ]
                .map(Step::Command),
            );
        }
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

/// Ends containerd's shims: they run in containerd's cgroup, which its stop leaves alone
/// (KillMode=process), and a shim lives on once its container is gone.
fn end_shims() -> CommandSpec {
    let shim = format!(
        "^{}/containerd-shim",
        node_runtime::layout::CONTAINERD_BIN_DIR
    );
    let unit = node_runtime::layout::CONTAINERD_UNIT;
    CommandSpec::new(
        "containerd's shims: end those left running",
        &format!(
            "systemctl kill --kill-who=all --signal=SIGKILL {unit}; \
             for i in 1 2 3 4 5 6 7 8 9 10; do pgrep -f '{shim}' >/dev/null || exit 0; sleep 0.5; done; \
             echo \"shims still running: $(pgrep -f '{shim}' | tr '\\n' ' ')\" >&2; exit 1"
        ),
        Some(&format!("! pgrep -f '{shim}' >/dev/null")),
    )
}

/// Makes systemd forget the pods' units. A container's scope ends `failed` when the slice
/// is stopped, and a failed unit stays loaded, holding its parents (`kubepods.slice`)
/// loaded too: the next kubelet's start of `kubepods.slice` then finds the unit existing
/// and starts nothing, and it exits with "failed to initialize top level QOS containers:
/// root container [kubepods] doesn't exist".
fn forget_pod_units() -> CommandSpec {
    // Not `systemctl show`: it loads any slice it is asked about. systemd keeps a transient
    // unit's file exactly as long as the unit is loaded.
    let gone = "[ ! -e /run/systemd/transient/kubepods.slice ]";
    CommandSpec::new(
        "pods: systemd forgets their units (kubepods.slice)",
        &format!(
            "systemctl reset-failed 'kubepods*' 'cri-containerd-*'; \
             for i in 1 2 3 4 5 6 7 8 9 10; do {gone} && exit 0; sleep 0.5; done; \
             echo \"kubepods.slice still loaded: $(systemctl list-units --all --plain --no-legend 'kubepods*' 'cri-containerd-*' | head -n 5)\" >&2; exit 1"
        ),
        Some(gone),
    )
}

/// Removes the pods' cgroups systemd leaves in the cgroup v1 controllers it does not
/// manage (cpuset, freezer, ...), deepest first.
fn remove_pod_cgroups() -> CommandSpec {
    let dirs = "/sys/fs/cgroup/kubepods.slice /sys/fs/cgroup/*/kubepods.slice";
    // `ls` fails when any one is missing, yet prints those that exist.
    let gone = format!("! ls -d {dirs} 2>/dev/null | grep -q .");
    CommandSpec::new(
        "pods: remove their cgroups left behind",
        &format!(
            "for d in {dirs}; do if [ -d \"$d\" ]; then find \"$d\" -depth -type d -exec rmdir {{}} +; fi; done; {gone}"
        ),
        Some(&gone),
    )
}

/// Unmounts everything under `path` (the pods' volumes, the containers' root file systems),
/// deepest first, then removes it; `--one-file-system` keeps `rm` out of anything that
/// stayed mounted.
fn unmount_and_remove(path: &Path) -> CommandSpec {
    let q = quote_path(path);
    CommandSpec::new(
        &format!("unmount what is under {} and remove it", path.display()),
        &format!(
            "awk -v d={q}/ 'index($2, d) == 1 {{ print $2 }}' /proc/mounts | sort -r | \
             while read -r m; do umount \"$m\" || umount -l \"$m\"; done; \
             rm -rf --one-file-system -- {q}"
        ),
        Some(&format!("[ ! -e {q} ] && [ ! -L {q} ]")),
    )
}

/// Unmounts and removes the pods' network namespaces; their veths go with them.
fn remove_pod_netns() -> CommandSpec {
    CommandSpec::new(
        &format!("remove the pods' network namespaces ({POD_NETNS}*)"),
        &format!(
            "for n in {POD_NETNS}*; do [ -e \"$n\" ] || continue; \
             umount \"$n\" 2>/dev/null || umount -l \"$n\" 2>/dev/null; rm -f -- \"$n\" || exit 1; done"
        ),
        Some(&format!("! ls -d {POD_NETNS}* >/dev/null 2>&1")),
    )
}

/// Deletes the network link `name` (the pods' bridge the CNI plugin made).
fn remove_link(name: &str) -> CommandSpec {
    CommandSpec::new(
        &format!("delete link {name}"),
        &format!("ip link delete {name}"),
        Some(&format!("! ip link show {name} >/dev/null 2>&1")),
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
        let pods = stop
            .iter()
            .position(|c| c == "systemctl stop kubepods.slice")
            .expect("the pods stopped");
        assert!(
            pods > stop.iter().position(|c| c.contains("kubelet")).unwrap(),
            "{stop:?}"
        );
        assert!(
            stop[pods..]
                .iter()
                .any(|c| c.starts_with("systemctl reset-failed 'kubepods*'")),
            "the pods' units forgotten after they stop: {stop:?}"
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
        let removed = commands(&plan, 1, &node).join("\n");
        for state in [
            KUBELET_ROOT,
            "/run/containerd",
            CNI_STATE,
            "/run/netns/cni-",
        ] {
            assert!(removed.contains(state), "{state} not removed: {removed}");
        }
        assert!(removed.contains("ip link delete cni0"), "{removed}");
        let kubelet = commands(&plan, 1, &node)
            .into_iter()
            .find(|c| c.ends_with(&format!("rm -rf --one-file-system -- {KUBELET_ROOT}")))
            .expect("the kubelet's root removed");
        assert!(kubelet.contains("umount"), "unmounted first: {kubelet}");
        assert!(
            !commands(&plan, 1, &master)
                .iter()
                .any(|c| c.contains(KUBELET_ROOT)),
            "the master ran no kubelet"
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
    fn every_command_and_check_is_valid_sh() {
        let plan = plan_reset(&inv(), &ResetOptions::default());
        for phase in &plan.phases {
            for h in &phase.hosts {
                for s in &h.steps {
                    let Step::Command(c) = s else { panic!() };
                    for script in [Some(&c.command), c.unless.as_ref()].into_iter().flatten() {
                        let out = std::process::Command::new("sh")
                            .args(["-n", "-c", script])
                            .output()
                            .unwrap();
                        assert!(
                            out.status.success(),
                            "{}: {script}: {}",
                            c.description,
                            String::from_utf8_lossy(&out.stderr)
                        );
                    }
                }
            }
        }
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
