//! `kubin etcd member add|remove`: scaling the running cluster one member at a time.

use super::Common;
use super::common;
use anyhow::{Context, Result, bail};
use etcd_cluster::deploy::{member_files, unit_step};
use etcd_cluster::layout::{Layout, UNIT};
use etcd_cluster::{ClusterState, check_add, check_membership, check_remove, online};
use inventory::Inventory;
use plan::{CommandSpec, HostSteps, Phase, Plan, Step, UnitSpec};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

/// Arguments of `kubin etcd member`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Add NAME (an etcd host of the inventory that the running cluster lacks): announce it
    /// as a learner, install and start it with ETCD_INITIAL_CLUSTER_STATE=existing, promote it.
    Add {
        /// The inventory host to add.
        name: String,
        #[command(flatten)]
        common: Common,
        /// Add it as a voting member at once instead of as a learner.
        #[arg(long)]
        no_learner: bool,
        /// How long to wait for the new member to catch up.
        #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = super::parse_duration)]
        wait: Duration,
    },
    /// Remove NAME from the running cluster (refused when the rest would lack a quorum of
    /// healthy members), then stop and disable etcd on it and move its data dir aside.
    Remove {
        /// The member to remove.
        name: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs `kubin etcd member`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Add {
            name,
            common: c,
            no_learner,
            wait,
        } => add(&name, &c, !no_learner, wait),
        Command::Remove { name, common: c } => remove(&name, &c),
    }
}

fn add(name: &str, c: &Common, learner: bool, wait: Duration) -> Result<ExitCode> {
    let inv = common::inventory(c)?;
    let mut rest = inv.clone();
    rest.hosts.retain(|h| h.name != name);
    let mut target = common::target(&rest, c)?;
    let rt = common::runtime()?;
    let live = rt.block_on(online::member_list(&target))?;
    let peer = check_add(&inv, &live, name)?;
    // Everyone but the new member must already be exactly the running cluster.
    check_membership(&rest, &live)?;
    let certs = common::member_certs(&inv)?;
    let own = certs
        .iter()
        .find(|m| m.member == name)
        .with_context(|| format!("no certificates for {name}"))?;
    let binaries = common::binaries(&inv)?;
    let (added, _) = rt.block_on(online::member_add(&target, &peer, learner))?;
    println!(
        "announced {name} ({peer}) as member {}{}",
        added.id,
        if learner { " (learner)" } else { "" }
    );
    let plan = Plan {
        phases: vec![
            Phase {
                name: "etcd: install".into(),
                hosts: vec![HostSteps {
                    host: name.into(),
                    steps: member_files(&inv, own, &binaries, ClusterState::Existing)?,
                }],
            },
            Phase {
                name: "etcd: start".into(),
                hosts: vec![HostSteps {
                    host: name.into(),
                    steps: vec![unit_step(&inv)],
                }],
            },
        ],
    };
    common::apply(&inv, &[name], &plan, false)?;
    if learner {
        let deadline = Instant::now() + wait;
        loop {
            match rt.block_on(online::member_promote(&target, &added.id)) {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("kubin: waiting for {name} to catch up: {e}");
                    std::thread::sleep(Duration::from_secs(2));
                }
                Err(e) => bail!("{name} never caught up within {wait:?}: {e}"),
            }
        }
        println!("promoted {name} to a voting member");
    }
    target.endpoints = inv.etcd_endpoints();
    let health = common::wait_healthy(&rt, &target, wait)?;
    print!("{}", health.render_table());
    Ok(ExitCode::from(health.verdict.exit_code()))
}

fn remove(name: &str, c: &Common) -> Result<ExitCode> {
    let inv = common::inventory(c)?;
    let target = common::target(&inv, c)?;
    let rt = common::runtime()?;
    let live = rt.block_on(online::member_list(&target))?;
    let report = rt.block_on(online::health(&target))?;
    let healthy: Vec<String> = report
        .endpoints
        .iter()
        .filter(|e| e.healthy)
        .filter_map(|e| e.member.clone())
        .collect();
    let member = check_remove(&live, &healthy, name)?;
    let others: Vec<String> = live
        .iter()
        .filter(|m| m.name != name)
        .flat_map(|m| m.client_urls.clone())
        .collect();
    let mut via = target.clone();
    if !others.is_empty() {
        via.endpoints = others;
    }
    rt.block_on(online::member_remove(&via, &member.id))?;
    println!("removed {name} (member {}) from the cluster", member.id);
    if inv.host(name).is_some() {
        let plan = stop_plan(&inv, name);
        if let Err(e) = common::apply(&inv, &[name], &plan, false) {
            eprintln!(
                "kubin: warning: {name} left the cluster, but stopping etcd on it failed: {e:#}"
            );
        }
    }
    println!(
        "now remove the etcd role of {name} from {}",
        c.file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Stops and disables etcd on a removed member and moves its data dir aside, so that a
/// later `member add` starts it fresh.
fn stop_plan(inv: &Inventory, name: &str) -> Plan {
    let l = Layout::new(&inv.paths);
    let data = plan::shell::quote_path(&l.data_dir);
    let stamp = executor::apply::backup_stamp(SystemTime::now());
    let aside = plan::shell::quote(&format!("{}.kubin-removed-{stamp}", l.data_dir.display()));
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
                    &format!("mv {data} {aside}"),
                    Some(&format!("test ! -e {data}")),
                )),
            ],
        }],
    )
}
