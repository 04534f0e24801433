//! `kubin etcd snapshot save|restore`.

use super::Common;
use super::common;
use anyhow::{Context, Result, bail};
use etcd_cluster::{Verdict, online, plan_restore};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

/// Arguments of `kubin etcd snapshot`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Stream a snapshot from the first member that answers into FILE; prints its sha256
    /// and revision.
    Save {
        /// The snapshot file to write.
        #[arg(value_name = "FILE")]
        snapshot: PathBuf,
        #[command(flatten)]
        common: Common,
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
        common: Common,
        /// How long to wait for every member to be healthy after the start.
        #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = super::parse_duration)]
        wait: Duration,
    },
}

/// Runs `kubin etcd snapshot`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Save {
            snapshot: file,
            common: c,
        } => {
            let inv = common::inventory(&c)?;
            let target = common::target(&inv, &c)?;
            let rt = common::runtime()?;
            let info = rt.block_on(online::snapshot_save(&target, &file))?;
            println!(
                "saved {} ({} bytes) from {}\nsha256 {}\nrevision {}",
                info.path, info.bytes, info.endpoint, info.sha256, info.revision
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore {
            snapshot: file,
            common: c,
            wait,
        } => {
            let inv = common::inventory(&c)?;
            let target = common::target(&inv, &c)?;
            let snapshot =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let stamp = executor::apply::backup_stamp(SystemTime::now());
            let plan = plan_restore(&inv, &snapshot, &stamp)?;
            let names: Vec<String> = inv.etcd_members().iter().map(|h| h.name.clone()).collect();
            let hosts: Vec<&str> = names.iter().map(String::as_str).collect();
            common::apply(&inv, &hosts, &plan, false)?;
            let rt = common::runtime()?;
            let health = common::wait_healthy(&rt, &target, wait)?;
            print!("{}", health.render_table());
            if health.verdict != Verdict::Healthy {
                bail!("etcd is not healthy after the restore: {}", health.verdict);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
