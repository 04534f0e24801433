//! How etcd changes reach the hosts, as data the orchestrator runs: a new cluster, a
//! running one (member by member), a member added, a member removed.

use crate::Error;
use crate::deploy::{MemberCerts, member_files, plan_deploy, restart_on, unit_step};
use crate::layout::{Layout, UNIT};
use crate::render::ClusterState;
use inventory::Inventory;
use plan::shell::quote;
use plan::{Binaries, CommandSpec, HostSteps, Phase, Plan, Rollout, Stage, Step, UnitSpec};

/// The deploy rollout. A new cluster (`running` false): every member's files, every unit
/// started at once (a member waits for a quorum of peers), then wait until healthy. A
/// running cluster: every member's files, then member by member a restart where a file
/// etcd reads changed (only while healthy, healthy again before the next), so a changed
/// configuration never costs the quorum.
pub fn rollout(
    inv: &Inventory,
    certs: &[MemberCerts],
    binaries: &Binaries,
    running: bool,
) -> Result<Rollout, Error> {
    let mut plan = plan_deploy(inv, certs, binaries)?;
    if !running {
        return Ok(Rollout {
            stages: vec![Stage::Apply(plan), Stage::WaitHealthy],
        });
    }
    plan.phases.truncate(1);
    Ok(Rollout {
        stages: vec![
            Stage::Apply(plan),
            Stage::RollingRestart {
                hosts: inv.etcd_members().iter().map(|h| h.name.clone()).collect(),
                unit: UNIT.into(),
                restart_if_changed: restart_on(inv),
            },
            Stage::WaitHealthy,
        ],
    })
}

/// The plan that installs and starts `name`, a member just announced to a running cluster
/// (`ETCD_INITIAL_CLUSTER_STATE=existing`).
pub fn plan_member_add(
    inv: &Inventory,
    certs: &MemberCerts,
    binaries: &Binaries,
) -> Result<Plan, Error> {
    let name = certs.member.clone();
    Ok(Plan {
        phases: vec![
            Phase {
                name: "etcd: install".into(),
                hosts: vec![HostSteps {
                    host: name.clone(),
                    steps: member_files(inv, certs, binaries, ClusterState::Existing)?,
                }],
            },
            Phase {
                name: "etcd: start".into(),
                hosts: vec![HostSteps {
                    host: name,
                    steps: vec![unit_step(inv)],
                }],
            },
        ],
    })
}

/// Stops and disables etcd on a removed member and moves its data dir aside to
/// `<data>.kubin-removed-<stamp>`, so that a later `member add` starts it fresh.
pub fn plan_member_stop(inv: &Inventory, name: &str, stamp: &str) -> Plan {
    let l = Layout::new(&inv.paths);
    let data = l.data_dir.display().to_string();
    Plan::single(
        "etcd: stop removed member",
        vec![HostSteps {
            host: name.into(),
            steps: vec![
                Step::Unit(UnitSpec {
                    name: UNIT.into(),
                    enabled: false,
                    running: Some(false),
                    restart_on: Vec::new(),
                    no_block: false,
                }),
                Step::Command(CommandSpec::new(
                    "move the removed member's data dir aside",
                    &format!(
                        "mv {} {}",
                        quote(&data),
                        quote(&format!("{data}.kubin-removed-{stamp}"))
                    ),
                    Some(&format!("test ! -e {}", quote(&data))),
                )),
            ],
        }],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::tests::{bins, certs_for, guides};

    #[test]
    fn a_new_cluster_starts_at_once_then_waits() {
        let inv = guides();
        let r = rollout(&inv, &certs_for(&inv), &bins(), false).unwrap();
        assert_eq!(r.stages.len(), 2);
        let Stage::Apply(plan) = &r.stages[0] else {
            panic!("{:?}", r.stages[0])
        };
        assert_eq!(plan.phases.len(), 2);
        assert_eq!(r.stages[1], Stage::WaitHealthy);
    }

    #[test]
    fn a_running_cluster_gets_files_then_rolls() {
        let inv = guides();
        let r = rollout(&inv, &certs_for(&inv), &bins(), true).unwrap();
        let Stage::Apply(plan) = &r.stages[0] else {
            panic!("{:?}", r.stages[0])
        };
        assert_eq!(plan.phases.len(), 1, "only the install phase");
        assert_eq!(plan.phases[0].name, "etcd: install");
        let Stage::RollingRestart {
            hosts,
            unit,
            restart_if_changed,
        } = &r.stages[1]
        else {
            panic!("{:?}", r.stages[1])
        };
        assert_eq!(hosts, &["k8s-master1", "k8s-node1", "k8s-node2"]);
        assert_eq!(unit, "etcd.service");
        assert!(restart_if_changed.contains(&"/opt/etcd/cfg/etcd".into()));
        assert!(!restart_if_changed.contains(&"/var/lib/etcd/default.etcd".into()));
        assert_eq!(r.stages[2], Stage::WaitHealthy);
    }

    #[test]
    fn a_removed_member_stops_and_keeps_its_data() {
        let inv = guides();
        let plan = plan_member_stop(&inv, "k8s-node2", "20260101T000000Z");
        let Step::Command(c) = &plan.phases[0].hosts[0].steps[1] else {
            panic!("{plan:?}")
        };
        assert_eq!(
            c.command,
            "mv /var/lib/etcd/default.etcd /var/lib/etcd/default.etcd.kubin-removed-20260101T000000Z"
        );
    }
}
