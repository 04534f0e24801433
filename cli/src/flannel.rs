//! `kubin flannel`: the pod network config in etcd, in the API the flannel release reads.

use anyhow::{Context, Result, bail};
use etcd_cluster::online::Timeouts;
use flannel_net::online::{Access, WriteOutcome};
use flannel_net::{Error as FlannelError, NetConf, NodeInputs, check, leases, plan_node};
use inventory::Inventory;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

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

/// Where the cluster is and how to reach its etcd.
#[derive(clap::Args, Clone)]
struct Common {
    /// The inventory.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "cluster.yaml"
    )]
    file: PathBuf,
    /// etcd client URLs instead of the inventory's members (comma-separated).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    endpoints: Vec<String>,
    /// The etcd CA (default: <pki_dir>/etcd/ca.pem).
    #[arg(long, value_name = "FILE")]
    cacert: Option<PathBuf>,
    /// The client certificate (default: <pki_dir>/etcd/client.pem).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// The client key (default: <pki_dir>/etcd/client-key.pem).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// How long connecting to one member may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0)]
    connect_timeout: f64,
    /// How long one request may take, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0)]
    request_timeout: f64,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Print the config flannel reads (secrets redacted).
    Get(JsonArgs),
    /// Write the inventory's config where flannel reads it, then read it back.
    Set(SetArgs),
    /// List the subnet leases under <prefix>/subnets/.
    Subnets(JsonArgs),
    /// Print the node side flannel needs (the plan's files) without touching any host.
    Render(RenderArgs),
}

#[derive(clap::Args)]
struct JsonArgs {
    #[command(flatten)]
    common: Common,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct SetArgs {
    #[command(flatten)]
    common: Common,
    /// Replace a different config that is already there (the old value is printed).
    #[arg(long)]
    replace: bool,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// The inventory.
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        default_value = "cluster.yaml"
    )]
    file: PathBuf,
}

/// Runs `kubin flannel`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Get(a) => get(a),
        Command::Set(a) => set(a),
        Command::Subnets(a) => subnets(a),
        Command::Render(a) => render(a),
    }
}

fn access(c: &Common) -> Result<(Inventory, Access)> {
    let inv = crate::load::inventory(&c.file)?;
    let tls = crate::etcd::common::client_tls_with(
        &inv,
        [c.cacert.as_deref(), c.cert.as_deref(), c.key.as_deref()],
    )?;
    let timeouts = Timeouts {
        connect: Duration::try_from_secs_f64(c.connect_timeout)
            .context("--connect-timeout must be a positive number of seconds")?,
        request: Duration::try_from_secs_f64(c.request_timeout)
            .context("--request-timeout must be a positive number of seconds")?,
    };
    let mut a = Access::from_inventory(&inv, tls, timeouts);
    if !c.endpoints.is_empty() {
        a.target.endpoints = c.endpoints.clone();
    }
    Ok((inv, a))
}

fn where_(a: &Access) -> String {
    format!(
        "{} (etcd {} API, as flannel {} reads it)",
        a.config_key(),
        a.api_name(),
        a.flannel
    )
}

fn get(args: JsonArgs) -> Result<ExitCode> {
    let (_, a) = access(&args.common)?;
    let Some(stored) = a.read()? else {
        bail!(
            "{} holds no config: write it with `kubin flannel set -f {}`",
            where_(&a),
            args.common.file.display()
        );
    };
    let conf = NetConf::parse(&stored.value, &a.config_key());
    match (&conf, args.json) {
        (Ok(c), true) => println!("{}", c.redacted().to_json_pretty()),
        (Ok(c), false) => {
            println!("# {}", where_(&a));
            println!("{}", c.redacted().to_json_pretty());
            if let Err(e) = flannel_net::flannel_rules(c) {
                eprintln!("kubin: flannel would refuse this config: {e}");
                return Ok(ExitCode::FAILURE);
            }
        }
        (Err(e), _) => {
            println!("{}", flannel_net::decide::shown(&stored.value));
            eprintln!("kubin: {e}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set(args: SetArgs) -> Result<ExitCode> {
    let (inv, a) = access(&args.common)?;
    let conf = NetConf::from_inventory(&inv);
    check(&conf, &inv)?;
    println!("# {}", where_(&a));
    match a.write(&conf, args.replace) {
        Ok(WriteOutcome::Created) => println!(
            "written and read back:\n{}",
            conf.redacted().to_json_pretty()
        ),
        Ok(WriteOutcome::Unchanged) => println!("already holds this config; nothing written"),
        Ok(WriteOutcome::Replaced { old_shown, diff }) => {
            println!("replaced; the old value was:\n{old_shown}\n{diff}");
        }
        Err(e @ FlannelError::Differs { .. }) => {
            eprintln!("kubin: {e}");
            eprintln!("kubin: rerun with --replace to write the new config");
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(ExitCode::SUCCESS)
}

fn subnets(args: JsonArgs) -> Result<ExitCode> {
    let (inv, a) = access(&args.common)?;
    let entries = a.subnets()?;
    let list = leases::leases(&entries, Some(inv.network.pod_cidr));
    if args.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        println!("# {} ({} API)", a.subnets_dir(), a.api_name());
        print!("{}", leases::render_table(&list));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(args: RenderArgs) -> Result<ExitCode> {
    let inv = crate::load::inventory(&args.file)?;
    let plan = plan_node(&inv, &NodeInputs::configs_only(&inv))?;
    for phase in &plan.phases {
        for host in &phase.hosts {
            for step in &host.steps {
                if let plan::Step::File(f) = step
                    && !f.secret
                {
                    println!("### {}: {}", host.host, f.path.display());
                    print!("{}", String::from_utf8_lossy(&f.content));
                    println!();
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
