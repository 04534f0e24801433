//! `kubin etcd`: the etcd cluster: deploy, health, members, status, snapshots, member changes.

use crate::args::{self, Online};
use anyhow::Result;
use deploy::etcd::{self as ops, DeployOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin etcd`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin etcd deploy -f cluster.yaml          # certs, binaries, configs, units; then wait healthy
  kubin etcd deploy -f cluster.yaml --dry-run
  kubin etcd health -f cluster.yaml          # exit 0 healthy, 2 degraded with quorum, 3 quorum lost
  kubin etcd health -f cluster.yaml --output json
  kubin etcd members -f cluster.yaml
  kubin etcd status -f cluster.yaml
  kubin etcd snapshot save backup.db -f cluster.yaml
  kubin etcd snapshot restore backup.db -f cluster.yaml   # every member stopped first
  kubin etcd member add k8s-node3 -f cluster.yaml         # the host is in cluster.yaml already
  kubin etcd member remove k8s-node3 -f cluster.yaml")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy the cluster: certificates from pki_dir (issued from the inventory when
    /// missing), binaries from the bundle, the env file and unit on every member; a new
    /// cluster starts at once, a running one restarts member by member; then wait healthy.
    Deploy {
        #[command(flatten)]
        base: Online,
        /// Show what would change (certificates, files, commands) and change nothing,
        /// locally or on a host.
        #[arg(long)]
        dry_run: bool,
        /// How long each wait until every member is healthy may take.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
        wait: Duration,
    },
    /// Check every member like `etcdctl endpoint health`, in parallel.
    Health(Online),
    /// List the members.
    Members(Online),
    /// Each member's version, leader, raft term and index, database size.
    Status(Online),
    /// Save a snapshot, or restore one onto every member.
    #[command(subcommand)]
    Snapshot(Snapshot),
    /// Add or remove a member of the running cluster.
    #[command(subcommand)]
    Member(Member),
}

#[derive(clap::Subcommand)]
enum Snapshot {
    /// Stream a snapshot from the first member that answers into FILE (mode 0600); prints
    /// its sha256 and revision.
    Save {
        /// The snapshot file to write.
        #[arg(value_name = "FILE")]
        snapshot: PathBuf,
        #[command(flatten)]
        base: Online,
    },
    /// Lay FILE out as every member's data dir (disaster recovery) and start every member.
    ///
    /// Refused on any member whose etcd is running; an existing data dir is moved aside
    /// to <data>.kubin-before-restore-<time>, never deleted. Stop etcd on every member first.
    Restore {
        /// The snapshot file (from `kubin etcd snapshot save` or `etcdctl snapshot save`).
        #[arg(value_name = "FILE")]
        snapshot: PathBuf,
        #[command(flatten)]
        base: Online,
        /// How long to wait for every member to be healthy after the start.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
        wait: Duration,
    },
}

#[derive(clap::Subcommand)]
enum Member {
    /// Add NAME (an etcd host of the inventory that the running cluster lacks): announce it
    /// as a learner, install and start it with ETCD_INITIAL_CLUSTER_STATE=existing, promote it.
    Add {
        /// The inventory host to add.
        name: String,
        #[command(flatten)]
        base: Online,
        /// Add it as a voting member at once instead of as a learner.
        #[arg(long)]
        no_learner: bool,
        /// How long to wait for the new member to catch up.
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
        wait: Duration,
    },
    /// Remove NAME from the running cluster (refused when the rest would lack a quorum of
    /// healthy members), then stop and disable etcd on it and move its data dir aside.
    Remove {
        /// The member to remove.
        name: String,
        #[command(flatten)]
        base: Online,
    },
}

/// Runs `kubin etcd`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Deploy {
            base,
            dry_run,
            wait,
        } => {
            let mut s = base.session()?;
            args::changing(&mut s, dry_run, "kubin etcd deploy")?;
            let r = ops::deploy(&mut s, DeployOptions { dry_run, wait })?;
            base.output.print(&r, || {
                let mut out = crate::pki::render_report(&r.pki);
                if let Some(rollout) = &r.rollout {
                    let would = if dry_run { "would change" } else { "change(s)" };
                    out += &format!("etcd: {} {would}\n", rollout.changes);
                    if let Some(h) = &rollout.health {
                        out += &h.render_table();
                    }
                }
                out
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Health(base) => {
            let r = ops::health(&mut base.session()?)?;
            base.output.print(&r, || r.render_table())?;
            Ok(ExitCode::from(r.verdict.exit_code()))
        }
        Command::Members(base) => {
            let r = ops::members(&mut base.session()?)?;
            base.output.print(&r, || members_table(&r))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status(base) => {
            let r = ops::status(&mut base.session()?)?;
            base.output.print(&r, || status_table(&r))?;
            let failed = r.iter().any(|s| s.error.is_some());
            Ok(ExitCode::from(if failed { 2 } else { 0 }))
        }
        Command::Snapshot(Snapshot::Save { snapshot, base }) => {
            let i = ops::snapshot_save(&mut base.session()?, &snapshot)?;
            base.output.print(&i, || {
                format!(
                    "saved {} ({} bytes) from {}\nsha256 {}\nrevision {}\n",
                    i.path, i.bytes, i.endpoint, i.sha256, i.revision
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Snapshot(Snapshot::Restore {
            snapshot,
            base,
            wait,
        }) => {
            let mut s = base.session()?;
            args::changing(&mut s, false, "kubin etcd snapshot restore")?;
            let r = ops::snapshot_restore(&mut s, &snapshot, wait)?;
            base.output.print(&r, || r.render_table())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Member(Member::Add {
            name,
            base,
            no_learner,
            wait,
        }) => {
            let mut s = base.session()?;
            args::changing(&mut s, false, "kubin etcd member add")?;
            let r = ops::member_add(&mut s, &name, !no_learner, wait)?;
            base.output.print(&r, || r.health.render_table())?;
            Ok(ExitCode::from(r.health.verdict.exit_code()))
        }
        Command::Member(Member::Remove { name, base }) => {
            let mut s = base.session()?;
            args::changing(&mut s, false, "kubin etcd member remove")?;
            let r = ops::member_remove(&mut s, &name)?;
            base.output.print(&r, String::new)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn members_table(members: &[etcd_cluster::LiveMember]) -> String {
    let mut out = format!(
        "{:<17}  {:<16}  {:<8}  {:<28}  CLIENT URLS\n",
        "ID", "NAME", "LEARNER", "PEER URLS"
    );
    for m in members {
        let name = if m.name.is_empty() {
            "(unstarted)"
        } else {
            &m.name
        };
        out += &format!(
            "{:<17}  {:<16}  {:<8}  {:<28}  {}\n",
            m.id,
            name,
            m.is_learner,
            m.peer_urls.join(","),
            m.client_urls.join(",")
        );
    }
    out
}

fn status_table(all: &[etcd_cluster::online::EndpointStatus]) -> String {
    let mut out = format!(
        "{:<28}  {:<17}  {:<8}  {:>10}  {:<6}  {:>6}  {:>10}  ERROR\n",
        "ENDPOINT", "ID", "VERSION", "DB SIZE", "LEADER", "TERM", "INDEX"
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    for s in all {
        out += &format!(
            "{:<28}  {:<17}  {:<8}  {:>10}  {:<6}  {:>6}  {:>10}  {}\n",
            s.endpoint,
            opt(s.id.clone()),
            opt(s.version.clone()),
            opt(s.db_size.map(|b| format!("{:.1} kB", b as f64 / 1000.0))),
            if s.is_leader { "yes" } else { "no" },
            opt(s.raft_term.map(|t| t.to_string())),
            opt(s.raft_index.map(|t| t.to_string())),
            s.error.as_deref().unwrap_or("")
        );
    }
    out
}
