//! `kubin etcd health|members|status`: read-only calls to the running cluster.

use super::Common;
use super::common;
use anyhow::Result;
use etcd_cluster::online;
use std::process::ExitCode;

/// Arguments of `kubin etcd health`.
#[derive(clap::Args)]
pub struct HealthArgs {
    #[command(flatten)]
    common: Common,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Arguments of the read-only listings.
#[derive(clap::Args)]
pub struct JsonArgs {
    #[command(flatten)]
    common: Common,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `kubin etcd health`: exit 0 healthy, 2 degraded with quorum, 3 quorum lost.
pub fn health(args: HealthArgs) -> Result<ExitCode> {
    let inv = common::inventory(&args.common)?;
    let target = common::target(&inv, &args.common)?;
    let rt = common::runtime()?;
    let report = rt.block_on(online::health(&target))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.render_table());
    }
    Ok(ExitCode::from(report.verdict.exit_code()))
}

/// `kubin etcd members`.
pub fn members(args: JsonArgs) -> Result<ExitCode> {
    let inv = common::inventory(&args.common)?;
    let target = common::target(&inv, &args.common)?;
    let rt = common::runtime()?;
    let members = rt.block_on(online::member_list(&target))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&members)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<17}  {:<16}  {:<8}  {:<28}  CLIENT URLS",
        "ID", "NAME", "LEARNER", "PEER URLS"
    );
    for m in members {
        println!(
            "{:<17}  {:<16}  {:<8}  {:<28}  {}",
            m.id,
            if m.name.is_empty() {
                "(unstarted)"
            } else {
                &m.name
            },
            m.is_learner,
            m.peer_urls.join(","),
            m.client_urls.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `kubin etcd status`.
pub fn status(args: JsonArgs) -> Result<ExitCode> {
    let inv = common::inventory(&args.common)?;
    let target = common::target(&inv, &args.common)?;
    let rt = common::runtime()?;
    let all = rt.block_on(online::status(&target));
    let failed = all.iter().filter(|s| s.error.is_some()).count();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        println!(
            "{:<28}  {:<17}  {:<8}  {:>10}  {:<6}  {:>6}  {:>10}  ERROR",
            "ENDPOINT", "ID", "VERSION", "DB SIZE", "LEADER", "TERM", "INDEX"
        );
        for s in &all {
            let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            println!(
                "{:<28}  {:<17}  {:<8}  {:>10}  {:<6}  {:>6}  {:>10}  {}",
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
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
