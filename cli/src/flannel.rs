//! `kubin flannel`: the pod network config in etcd, in the API the flannel release reads.

use crate::args::{self, InventoryArg, Online, OutputArg};
use anyhow::{Result, bail};
use deploy::flannel::{self as ops, SetOutcome};
use std::process::ExitCode;

/// Arguments of `kubin flannel`.
#[derive(clap::Args)]
#[command(after_help = "\
Flannel before 0.18 reads <prefix>/config through etcd's v2 API only (etcd must run with
--enable-v2); 0.18 and later read the v3 key. kubin picks the API from
network.flannel.version in the inventory.

Examples:
  kubin flannel set -f cluster.yaml              # write the config from the inventory, read it back
  kubin flannel set -f cluster.yaml --replace    # replace a different config (shows the old one)
  kubin flannel get -f cluster.yaml
  kubin flannel subnets -f cluster.yaml          # the nodes' leases under <prefix>/subnets/
  kubin flannel render -f cluster.yaml           # the node side: env file, unit, CNI or docker files")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print the config flannel reads (secrets redacted).
    Get(Online),
    /// Write the inventory's config where flannel reads it, then read it back.
    Set {
        #[command(flatten)]
        base: Online,
        /// Replace a different config that is already there (the old value is printed).
        #[arg(long)]
        replace: bool,
    },
    /// List the subnet leases under <prefix>/subnets/.
    Subnets(Online),
    /// Print the node side flannel needs (the plan's files) without touching any host.
    Render {
        #[command(flatten)]
        inventory: InventoryArg,
        #[command(flatten)]
        output: OutputArg,
    },
}

/// Runs `kubin flannel`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Get(base) => {
            let Some(c) = ops::get(&mut base.session()?)? else {
                bail!(
                    "flannel's key holds no config: write it with `kubin flannel set -f {}`",
                    base.common.inventory.file.display()
                );
            };
            base.output
                .print(&c, || format!("# {}\n{}\n", c.location, c.shown))?;
            if let Some(p) = &c.problem {
                eprintln!("kubin: flannel would refuse this config: {p}");
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Set { base, replace } => {
            let outcome = ops::set(&mut base.session()?, replace)?;
            base.output.print(&outcome, || match &outcome {
                SetOutcome::Created { location, shown } => {
                    format!("# {location}\nwritten and read back:\n{shown}\n")
                }
                SetOutcome::Unchanged { location } => {
                    format!("# {location}\nalready holds this config; nothing written\n")
                }
                SetOutcome::Replaced {
                    location,
                    old_shown,
                    diff,
                } => format!("# {location}\nreplaced; the old value was:\n{old_shown}\n{diff}\n"),
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Subnets(base) => {
            let s = ops::subnets(&mut base.session()?)?;
            base.output.print(&s, || {
                format!(
                    "# {}\n{}",
                    s.location,
                    flannel_net::leases::render_table(&s.leases)
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render { inventory, output } => {
            let session = args::open(&inventory, None, output, None)?;
            let files = ops::render(&session.inventory)?;
            output.print(&files, || {
                files
                    .iter()
                    .map(|f| format!("### {}: {}\n{}\n", f.host, f.path, f.content))
                    .collect()
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
