//! The disaster-recovery plan: lay one snapshot out as every member's data dir, then start
//! every member at once. A running member's data dir is never touched.

use crate::Error;
use crate::deploy::unit_step;
use crate::layout::{Layout, UNIT};
use crate::render::member;
use inventory::Inventory;
use plan::shell::{quote, quote_path};
use plan::{CommandSpec, FileSpec, HostSteps, Phase, Plan, Step};

/// Where the snapshot is copied on each member before it is restored.
pub fn snapshot_path(inv: &Inventory) -> std::path::PathBuf {
    let l = Layout::new(&inv.paths);
    let mut p = l.data_dir.into_os_string();
    p.push(".kubin-snapshot.db");
    p.into()
}

/// The restore plan for every inventory member:
///
/// 1. `etcd: restore check`: fails on any member whose etcd unit is active, before any
///    member changes (phases are barriers);
/// 2. `etcd: restore`: copies the snapshot, moves an existing data dir aside to
///    `<data>.kubin-before-restore-<stamp>`, runs the bundle's `etcdctl snapshot restore`
///    with the member's name and the inventory's initial cluster and token;
/// 3. `etcd: start`: every unit started at once.
///
/// `stamp` (e.g. a UTC time) names the moved-aside data dirs, so nothing is deleted.
pub fn plan_restore(inv: &Inventory, snapshot: &[u8], stamp: &str) -> Result<Plan, Error> {
    let l = Layout::new(&inv.paths);
    let snap = snapshot_path(inv);
    let data = l.data_dir.display().to_string();
    let mut check = Vec::new();
    let mut restore = Vec::new();
    let mut start = Vec::new();
    for m in inv.etcd_members() {
        let host = member(inv, &m.name)?;
        let refuse = format!(
            "if systemctl is-active --quiet {UNIT}; then echo {msg} >&2; exit 1; fi",
            msg = quote(&format!(
                "{UNIT} is running on {}: kubin never touches a running member's data dir; \
                 stop etcd on every member first (systemctl stop {UNIT})",
                m.name
            ))
        );
        check.push(HostSteps {
            host: m.name.clone(),
            steps: vec![Step::Command(CommandSpec::new(
                "refuse to restore over a running etcd",
                &refuse,
                None,
            ))],
        });
        let aside = format!("{data}.kubin-before-restore-{stamp}");
        let cmd = format!(
            "set -e; if [ -e {d} ]; then mv {d} {a}; fi; \
             ETCDCTL_API=3 {ctl} snapshot restore {s} --name {n} --initial-cluster {ic} \
             --initial-cluster-token {tok} --initial-advertise-peer-urls {peer} --data-dir {d}; \
             chmod 700 {d}; rm -f {s}",
            d = quote(&data),
            a = quote(&aside),
            ctl = quote_path(&l.etcdctl),
            s = quote_path(&snap),
            n = quote(&m.name),
            ic = quote(&inv.etcd_initial_cluster()),
            tok = quote(&inv.etcd_cluster_token()),
            peer = quote(&Inventory::etcd_peer_url(host)),
        );
        restore.push(HostSteps {
            host: m.name.clone(),
            steps: vec![
                // The snapshot holds every key, secrets included.
                Step::File(FileSpec::new(snap.clone(), snapshot.to_vec(), 0o600).secret()),
                Step::Command(CommandSpec::new(
                    "restore the snapshot into a fresh data dir (the old one moved aside)",
                    &cmd,
                    None,
                )),
            ],
        });
        start.push(HostSteps {
            host: m.name.clone(),
            steps: vec![unit_step(inv)],
        });
    }
    let phase = |name: &str, hosts| Phase {
        name: name.into(),
        hosts,
    };
    Ok(Plan {
        phases: vec![
            phase("etcd: restore check", check),
            phase("etcd: restore", restore),
            phase("etcd: start", start),
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use inventory::example::GUIDES_EXAMPLE;

    #[test]
    fn restore_plan_for_the_guides() {
        let inv = Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0;
        let plan = plan_restore(&inv, b"SNAPSHOT", "20261123T100000Z").unwrap();
        assert_eq!(plan.phases.len(), 3);
        let Step::Command(c) = &plan.phases[1].hosts[1].steps[1] else {
            panic!()
        };
        insta::assert_snapshot!("restore_command_node1", c.command);
        assert!(c.command.contains("--name k8s-node1 "));
        let json = serde_json::to_string(&plan).unwrap();
        assert!(!json.contains("SNAPSHOT"), "{json}");
    }
}
