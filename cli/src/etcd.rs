//! `kubin etcd`: the etcd cluster: deploy, health, members, status, snapshots, member changes.

pub(crate) mod common;
mod deploy;
mod member;
mod online;
mod snapshot;

use anyhow::Result;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin etcd`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin etcd deploy -f cluster.yaml          # certs, binaries, configs, units; then wait healthy
  kubin etcd health -f cluster.yaml          # exit 0 healthy, 2 degraded with quorum, 3 quorum lost
  kubin etcd health -f cluster.yaml --json
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

/// Where the cluster is described and how long calls may take.
#[derive(clap::Args, Clone)]
pub struct Common {
    /// The inventory.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "cluster.yaml"
    )]
    file: PathBuf,
    /// How long connecting to one member may take.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// How long one request to a member may take.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    request_timeout: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration such as 3s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy the cluster: certificates from pki_dir, binaries from the bundle, the env
    /// file and unit on every member, all started at once; then wait until healthy.
    Deploy(deploy::Args),
    /// Check every member like `etcdctl endpoint health`, in parallel.
    Health(online::HealthArgs),
    /// List the members.
    Members(online::JsonArgs),
    /// Each member's version, leader, raft term and index, database size.
    Status(online::JsonArgs),
    /// Save a snapshot, or restore one onto every member.
    Snapshot(snapshot::Args),
    /// Add or remove a member of the running cluster.
    Member(member::Args),
}

/// Runs `kubin etcd`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Deploy(a) => deploy::run(a),
        Command::Health(a) => online::health(a),
        Command::Members(a) => online::members(a),
        Command::Status(a) => online::status(a),
        Command::Snapshot(a) => snapshot::run(a),
        Command::Member(a) => member::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("x").is_err());
    }
}
