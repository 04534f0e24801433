//! `kubin etcd deploy`: pki set, plan, apply over SSH, then wait until healthy. A new
//! cluster starts all at once (a member waits for a quorum of peers); a running one gets its
//! files first, then restarts member by member, each healthy before the next.

use super::Common;
use super::common;
use anyhow::{Result, bail};
use etcd_cluster::online::Target;
use etcd_cluster::{
    Error, Verdict, check_membership, needs_restart, online, plan_deploy, plan_member_start,
};
use inventory::Inventory;
use plan::Plan;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin etcd deploy`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: Common,
    /// Show what would change and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for every member to be healthy after the start (and, on a running
    /// cluster, before and after each member's restart).
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = super::parse_duration)]
    wait: Duration,
}

/// Runs the deploy.
pub fn run(args: Args) -> Result<ExitCode> {
    let inv = common::inventory(&args.common)?;
    let certs = common::member_certs(&inv)?;
    let binaries = common::binaries(&inv)?;
    let target = common::target(&inv, &args.common)?;
    let rt = common::runtime()?;
    // A running cluster with other members is never reshaped by a deploy.
    let running = match rt.block_on(online::member_list(&target)) {
        Ok(live) => {
            check_membership(&inv, &live)?;
            true
        }
        Err(Error::NoEndpoint { .. }) => {
            eprintln!("kubin: no etcd member answers yet: deploying a new cluster");
            false
        }
        Err(e) => return Err(e.into()),
    };
    let plan = plan_deploy(&inv, &certs, &binaries)?;
    let names: Vec<String> = inv.etcd_members().iter().map(|h| h.name.clone()).collect();
    let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
    if args.dry_run || !running {
        let report = common::apply(&inv, &hosts, &plan, args.dry_run)?;
        println!("etcd: {} change(s)", report.total_changes());
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
    } else {
        rolling(&inv, &hosts, plan, &rt, &target, args.wait)?;
    }
    let health = common::wait_healthy(&rt, &target, args.wait)?;
    print!("{}", health.render_table());
    if health.verdict != Verdict::Healthy {
        bail!(
            "etcd is not healthy after {:?}: {} (journalctl -u etcd on the members tells why)",
            args.wait,
            health.verdict
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A running cluster: every member's files (the plan's install phase), then member by
/// member a restart where a file etcd reads changed, or a start where etcd is stopped. A
/// member is restarted only while every member is healthy, and must be healthy again
/// before the next one: the cluster keeps its quorum throughout. A failure stops the roll
/// and names the member; the members after it are left as they were.
fn rolling(
    inv: &Inventory,
    hosts: &[&str],
    mut plan: Plan,
    rt: &tokio::runtime::Runtime,
    target: &Target,
    wait: Duration,
) -> Result<()> {
    plan.phases.truncate(1);
    let install = common::apply(inv, hosts, &plan, false)?;
    let mut changes = install.total_changes();
    let restart = |member: &str| needs_restart(inv, &install.changed_paths(member));
    // Members that only need starting first (a start never costs the quorum, and may
    // restore it), then the restarts.
    let mut order: Vec<(&str, bool)> = hosts.iter().map(|m| (*m, restart(m))).collect();
    order.sort_by_key(|(_, restart)| *restart);
    for (i, (member, restart)) in order.into_iter().enumerate() {
        if restart {
            healthy_or_bail(rt, target, wait, &format!("before restarting {member}"))?;
            println!(
                "etcd: restarting {member} ({} of {}), the others keep the quorum",
                i + 1,
                hosts.len()
            );
        }
        let report = common::apply(inv, &[member], &plan_member_start(member, restart), false)?;
        changes += report.total_changes();
        if restart {
            healthy_or_bail(rt, target, wait, &format!("after restarting {member}"))?;
        }
    }
    println!("etcd: {changes} change(s)");
    Ok(())
}

/// Waits until every member is healthy; fails naming `when` and the health table otherwise.
fn healthy_or_bail(
    rt: &tokio::runtime::Runtime,
    target: &Target,
    wait: Duration,
    when: &str,
) -> Result<()> {
    let health = common::wait_healthy(rt, target, wait)?;
    if health.verdict != Verdict::Healthy {
        bail!(
            "etcd is not healthy {when} (waited {wait:?}): {}; the remaining members were left as they were\n{}",
            health.verdict,
            health.render_table()
        );
    }
    Ok(())
}
