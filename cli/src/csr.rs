//! `kubin csr`: kubelet certificate signing requests, listed with the policy's verdict and
//! approved (or denied) by policy, once or as they arrive.

use crate::args::{self, InventoryArg, OutputArg};
use anyhow::Result;
use node_bootstrap::Decision;
use node_bootstrap::online::{self, WatchConfig, WatchEnd};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kubin csr`.
#[derive(clap::Args)]
#[command(after_help = "\
kubin approves a kubelet's client CSR only for a node of the inventory, from the bootstrap
identity, with subject CN=system:node:<name>, O=system:nodes, client usages and an accepted
key; a serving CSR only from the node itself with exactly its inventory address and name.

Examples:
  kubin csr list -f cluster.yaml --kubeconfig admin.kubeconfig
  kubin csr approve -f cluster.yaml                  # decide every pending CSR once
  kubin csr approve -f cluster.yaml --deny           # and deny those that fail the policy
  kubin csr approve -f cluster.yaml --watch --serving  # until every node has both certificates")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    #[command(flatten)]
    inventory: InventoryArg,
    /// The admin kubeconfig.
    #[arg(
        long,
        value_name = "FILE",
        env = "KUBECONFIG",
        default_value = "admin.kubeconfig"
    )]
    kubeconfig: PathBuf,
}

#[derive(clap::Subcommand)]
enum Command {
    /// List every CSR with its state and the policy's verdict and reason.
    List(Common),
    /// Approve the pending CSRs the policy allows.
    Approve(ApproveArgs),
}

#[derive(clap::Args)]
struct ApproveArgs {
    #[command(flatten)]
    common: Common,
    /// Deny the kubelet CSRs that fail the policy (otherwise they stay pending).
    #[arg(long)]
    deny: bool,
    /// Watch the API and decide CSRs as they arrive, until every inventory node has an
    /// approved client CSR (or Ctrl-C).
    #[arg(long)]
    watch: bool,
    /// With --watch: wait for every node's serving CSR too.
    #[arg(long, requires = "watch")]
    serving: bool,
}

/// Runs `kubin csr`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::List(c) => {
            let mut s = args::open(&c.inventory, None, OutputArg::default(), None)?;
            let inv = s.inventory.clone();
            let listed = s.block_on(async {
                let client = online::connect(&c.kubeconfig).await?;
                online::list_csrs(&client, &inv).await
            })??;
            println!(
                "{:<24} {:<16} {:<44} {:<28} VERDICT",
                "NAME", "STATE", "SIGNER", "REQUESTER"
            );
            for l in listed {
                let f = &l.facts;
                let verdict = match &l.decision {
                    Decision::Approve(g) => format!("approve: node {} ({:?})", g.node, g.kind),
                    Decision::Deny(r) => format!("deny: {r}"),
                    Decision::Ignore(r) => format!("ignore: {r}"),
                };
                println!(
                    "{:<24} {:<16} {:<44} {:<28} {verdict}",
                    f.name,
                    f.state.to_string(),
                    f.signer,
                    f.username
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Approve(a) => {
            let mut s = args::open(&a.common.inventory, None, OutputArg::default(), None)?;
            let inv = s.inventory.clone();
            let client = s.block_on(online::connect(&a.common.kubeconfig))??;
            if a.watch {
                let cfg = WatchConfig {
                    deny: a.deny,
                    until_complete: true,
                    serving: a.serving,
                    since: None,
                };
                let mut print = |act: &online::Action| println!("{act}");
                let end = s.block_on(online::watch(
                    &client,
                    &inv,
                    &cfg,
                    std::future::pending(),
                    &mut print,
                ))??;
                if end == WatchEnd::Complete {
                    println!("every inventory node has its certificates");
                }
            } else {
                for act in s.block_on(online::approve(&client, &inv, a.deny))?? {
                    println!("{act}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
