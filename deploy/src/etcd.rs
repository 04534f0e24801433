//! The etcd phases: deploy (a new cluster at once, a running one member by member),
//! health, members, status, member add and remove, snapshot save and restore.

use crate::pki::{PkiReport, member_certs};
use crate::poll::poll_until;
use crate::runner::{self, HealthCheck, RolloutReport, RunOptions};
use crate::{Error, Session, bundle, etcd_access};
use etcd_cluster::online::{
    self, EndpointStatus, SnapshotInfo, Target, is_reconfiguration_refusal,
};
use etcd_cluster::{HealthReport, LiveMember, Verdict, check_add, check_membership, check_remove};
use inventory::Inventory;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// How long a membership change is retried while etcd's strict reconfiguration check
/// refuses it (etcd allows a change once every member has been connected for 5 s).
pub const RECONFIGURATION_WINDOW: Duration = Duration::from_secs(15);

/// etcd's health through its v3 API, probed on the session's runtime.
pub struct EtcdHealth {
    handle: tokio::runtime::Handle,
    target: Mutex<Target>,
    /// Each inventory member's host and client URL, when the target is the inventory's.
    members: Vec<(String, String)>,
}

impl EtcdHealth {
    /// A probe of `target` on the session's runtime.
    pub fn new(session: &mut Session, target: Target) -> Result<Self, Error> {
        let members = if session.settings.etcd.endpoints.is_empty() {
            session
                .inventory
                .etcd_members()
                .iter()
                .map(|h| (h.name.clone(), Inventory::etcd_client_url(h)))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            handle: session.runtime()?.handle().clone(),
            target: Mutex::new(target),
            members,
        })
    }
}

impl HealthCheck for EtcdHealth {
    type Report = HealthReport;

    fn probe(&self) -> Result<HealthReport, Error> {
        let target = self
            .target
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(self.handle.block_on(online::health(&target))?)
    }

    /// The members left out are not waited for. The others' health still proves a
    /// quorum: etcd answers a health check through a read that needs one.
    fn skip(&self, hosts: &BTreeMap<String, String>) {
        if self.members.is_empty() || hosts.is_empty() {
            return;
        }
        let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        target.endpoints = self
            .members
            .iter()
            .filter(|(h, _)| !hosts.contains_key(h))
            .map(|(_, url)| url.clone())
            .collect();
    }

    fn healthy(report: &HealthReport) -> bool {
        report.verdict == Verdict::Healthy
    }

    fn describe(report: &HealthReport) -> (String, String) {
        (report.verdict.to_string(), report.render_table())
    }

    fn hint(&self) -> String {
        "journalctl -u etcd on the members tells why; the members not yet restarted were left as they were".into()
    }
}

/// What `etcd deploy` does.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// Show what would change and change nothing, locally or on a host.
    pub dry_run: bool,
    /// How long each wait until healthy may take.
    pub wait: Duration,
}

/// What `etcd deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The certificate set (in a dry run: what would be issued).
    pub pki: PkiReport,
    /// Whether a running cluster was found (and so restarted member by member).
    pub running: bool,
    /// The rollout, unless a dry run stopped before the hosts (the set was incomplete).
    pub rollout: Option<RolloutReport<HealthReport>>,
}

/// `kubin etcd deploy`: the certificate set from the inventory (issued as `pki cluster`
/// issues it, so nothing fitting is reissued), the bundle's binaries, then the rollout
/// etcd-cluster returns for a new or a running cluster. A dry run writes nothing: it
/// reports what would be issued and compares the plan with the hosts.
pub fn deploy(s: &mut Session, opts: DeployOptions) -> Result<DeployReport, Error> {
    let inv = s.inventory.clone();
    let (set, pki) = if opts.dry_run {
        let pki = crate::pki::check(&inv)?;
        if !pki.complete() {
            s.note(format!(
                "etcd: the certificate set in {} is not complete; a deploy would issue what is missing first, so the hosts were not compared",
                inv.pki_dir.display()
            ));
            return Ok(DeployReport {
                pki,
                running: false,
                rollout: None,
            });
        }
        // Complete, as checked: ensuring it only loads, writing nothing.
        (crate::pki::ensure(&inv)?.0, pki)
    } else {
        crate::pki::ensure(&inv)?
    };
    let certs = member_certs(&inv, &set)?;
    let binaries = bundle::etcd_binaries(&inv)?;
    let target = s.etcd_target()?;
    let running = match s.block_on(online::member_list(&target))? {
        Ok(live) => {
            // A running cluster with other members is never reshaped by a deploy.
            check_membership(&inv, &live)?;
            true
        }
        Err(etcd_cluster::Error::NoEndpoint { .. }) => {
            s.note("etcd: no member answers yet: deploying a new cluster");
            false
        }
        Err(e) => return Err(e.into()),
    };
    let rollout = etcd_cluster::rollout(&inv, &certs, &binaries, running)?;
    let check = EtcdHealth::new(s, target)?;
    let run_opts = RunOptions {
        dry_run: opts.dry_run,
        wait: opts.wait,
    };
    let report = runner::run(s, rollout, run_opts, &check)?;
    Ok(DeployReport {
        pki,
        running,
        rollout: Some(report),
    })
}

/// `kubin etcd health`: every endpoint, like `etcdctl endpoint health`.
pub fn health(s: &mut Session) -> Result<HealthReport, Error> {
    let target = s.etcd_target()?;
    Ok(s.block_on(online::health(&target))??)
}

/// `kubin etcd members`.
pub fn members(s: &mut Session) -> Result<Vec<LiveMember>, Error> {
    let target = s.etcd_target()?;
    Ok(s.block_on(online::member_list(&target))??)
}

/// `kubin etcd status`: each endpoint's status (failures are in the list, not errors).
pub fn status(s: &mut Session) -> Result<Vec<EndpointStatus>, Error> {
    let target = s.etcd_target()?;
    s.block_on(online::status(&target))
}

/// `kubin etcd snapshot save`: streams a snapshot into `path` (mode 0600).
pub fn snapshot_save(s: &mut Session, path: &Path) -> Result<SnapshotInfo, Error> {
    let target = s.etcd_target()?;
    Ok(s.block_on(online::snapshot_save(&target, path))??)
}

/// `kubin etcd snapshot restore`: lays `path` out as every member's data dir (refused
/// where etcd runs; existing data dirs moved aside), starts every member, waits until
/// healthy.
pub fn snapshot_restore(
    s: &mut Session,
    path: &Path,
    wait: Duration,
) -> Result<HealthReport, Error> {
    let inv = s.inventory.clone();
    let target = s.etcd_target()?;
    let snapshot = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let stamp = executor::apply::backup_stamp(SystemTime::now());
    let plan = etcd_cluster::plan_restore(&inv, &snapshot, &stamp)?;
    s.apply(plan, false)?;
    let check = EtcdHealth::new(s, target)?;
    runner::wait_healthy(&check, wait, "after the restore")
}

/// Runs a membership change (member add or remove), retrying it for up to
/// [`RECONFIGURATION_WINDOW`] while etcd refuses it as a reconfiguration of an unhealthy
/// cluster; any other result is returned at once.
pub fn reconfigure<T, F>(
    handle: &tokio::runtime::Handle,
    call: impl Fn() -> F,
) -> Result<T, etcd_cluster::Error>
where
    F: std::future::Future<Output = Result<T, etcd_cluster::Error>>,
{
    poll_until(
        RECONFIGURATION_WINDOW,
        Duration::from_millis(500),
        || handle.block_on(call()),
        |r| !matches!(r, Err(e) if is_reconfiguration_refusal(e)),
    )
}

/// What `etcd member add` did.
#[derive(Debug, Clone, Serialize)]
pub struct MemberAdded {
    /// The member as the cluster announced it.
    pub member: LiveMember,
    /// Whether it was added as a learner and then promoted.
    pub promoted: bool,
    /// The cluster's health afterwards.
    pub health: HealthReport,
}

/// `kubin etcd member add NAME`: NAME (an etcd host of the inventory the running cluster
/// lacks) is announced (as a learner unless `learner` is false), installed and started with
/// `ETCD_INITIAL_CLUSTER_STATE=existing`, promoted once caught up.
pub fn member_add(
    s: &mut Session,
    name: &str,
    learner: bool,
    wait: Duration,
) -> Result<MemberAdded, Error> {
    let inv = s.inventory.clone();
    let mut rest = inv.clone();
    rest.hosts.retain(|h| h.name != name);
    let target = etcd_access::target(&rest, &s.settings.etcd)?;
    let handle = s.runtime()?.handle().clone();
    let live = handle.block_on(online::member_list(&target))?;
    let peer = check_add(&inv, &live, name)?;
    // Everyone but the new member must already be exactly the running cluster.
    check_membership(&rest, &live)?;
    let (set, _) = crate::pki::ensure(&inv)?;
    let certs = member_certs(&inv, &set)?;
    let own = certs
        .iter()
        .find(|m| m.member == name)
        .ok_or_else(|| Error::MissingCert {
            dir: inv.pki_dir.clone(),
            kind: "server",
            member: name.to_string(),
        })?;
    let binaries = bundle::etcd_binaries(&inv)?;
    let (added, _) = reconfigure(&handle, || {
        Box::pin(online::member_add(&target, &peer, learner))
    })?;
    s.note(format!(
        "announced {name} ({peer}) as member {}{}",
        added.id,
        if learner { " (learner)" } else { "" }
    ));
    s.apply(etcd_cluster::plan_member_add(&inv, own, &binaries)?, false)?;
    if learner {
        poll_until(
            wait,
            Duration::from_secs(2),
            || {
                let r = handle.block_on(online::member_promote(&target, &added.id));
                if let Err(e) = &r {
                    s.note(format!(
                        "waiting for {name} to catch up: {}",
                        executor::display_chain(e)
                    ));
                }
                r
            },
            Result::is_ok,
        )
        .map_err(|source| Error::NeverCaughtUp {
            member: name.to_string(),
            waited: wait,
            source,
        })?;
        s.note(format!("promoted {name} to a voting member"));
    }
    let target = s.etcd_target()?;
    let check = EtcdHealth::new(s, target)?;
    let health = runner::poll_healthy(&check, wait)?;
    Ok(MemberAdded {
        member: added,
        promoted: learner,
        health,
    })
}

/// What `etcd member remove` did.
#[derive(Debug, Clone, Serialize)]
pub struct MemberRemoved {
    /// The member that left.
    pub member: LiveMember,
    /// Whether etcd was stopped on it and its data dir moved aside.
    pub stopped: bool,
}

/// `kubin etcd member remove NAME`: refused when the rest would lack a quorum of healthy
/// members; then etcd on NAME is stopped and disabled and its data dir moved aside.
pub fn member_remove(s: &mut Session, name: &str) -> Result<MemberRemoved, Error> {
    let inv = s.inventory.clone();
    let target = s.etcd_target()?;
    let handle = s.runtime()?.handle().clone();
    let live = handle.block_on(online::member_list(&target))?;
    let report = handle.block_on(online::health(&target))?;
    let healthy: Vec<String> = report
        .endpoints
        .iter()
        .filter(|e| e.healthy)
        .filter_map(|e| e.member.clone())
        .collect();
    let member = check_remove(&live, &healthy, name)?.clone();
    let mut via = target.clone();
    let others: Vec<String> = live
        .iter()
        .filter(|m| m.name != name)
        .flat_map(|m| m.client_urls.clone())
        .collect();
    if !others.is_empty() {
        via.endpoints = others;
    }
    reconfigure(&handle, || {
        Box::pin(online::member_remove(&via, &member.id))
    })?;
    s.note(format!(
        "removed {name} (member {}) from the cluster",
        member.id
    ));
    let mut stopped = false;
    if inv.host(name).is_some() {
        let stamp = executor::apply::backup_stamp(SystemTime::now());
        match s.apply(etcd_cluster::plan_member_stop(&inv, name, &stamp), false) {
            Ok(_) => stopped = true,
            Err(e) => s.warn(format!(
                "{name} left the cluster, but stopping etcd on it failed: {}",
                executor::display_chain(&e)
            )),
        }
    }
    s.note(format!(
        "now remove the etcd role of {name} from {}",
        s.inventory_path.display()
    ));
    Ok(MemberRemoved { member, stopped })
}
