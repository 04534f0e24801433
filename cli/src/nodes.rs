//! `kubin nodes`: the container runtime, the pod network, the kubelet and kube-proxy on
//! the nodes, their certificates approved by policy, until every node is Ready.

use crate::args::{self, Changing};
use anyhow::Result;
use deploy::nodes::{self, DeployOptions};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin nodes`.
#[derive(clap::Args)]
#[command(after_help = "\
Examples:
  kubin nodes deploy -f cluster.yaml --dry-run
  kubin nodes deploy -f cluster.yaml --timeout 5m")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Deploy the nodes: containerd, runc, the CNI plugins and the bundle's images, the
    /// daemonless pod network, the kubelet (bootstrap kubeconfig) and kube-proxy, adjusted
    /// to what each host is; a component restarts only when a file it reads changed. Then
    /// approve the kubelets' client and serving CSRs by policy and wait until every node
    /// is Ready.
    Deploy {
        #[command(flatten)]
        base: Changing,
        /// How long to wait for every node's certificates, and then for every node to be
        /// Ready.
        #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = args::duration)]
        timeout: Duration,
    },
}

/// Runs `kubin nodes`.
pub fn run(args: Args) -> Result<ExitCode> {
    match args.command {
        Command::Deploy { base, timeout } => {
            // A bundle that cannot serve the pod network is refused before any host is
            // contacted, the lock included.
            let mut s = args::open(&base.inventory, None, base.output, None)?;
            nodes::check_pod_network_bundle(&s.inventory)?;
            args::changing(&mut s, base.dry_run, "kubin nodes deploy")?;
            let dry_run = base.dry_run;
            let r = nodes::deploy(&mut s, DeployOptions { dry_run, timeout })?;
            base.output.print(&r, || {
                let mut out = crate::pki::render_report(&r.pki);
                if r.token.is_some() {
                    let would = if dry_run { "would change" } else { "change(s)" };
                    out += &format!("node components: {} {would}\n", r.changes);
                }
                for (host, f) in &r.facts {
                    out += &format!(
                        "{host}: container {}, ipvs {}, /var/lib/containerd on {}\n",
                        f.in_container, f.ipvs, f.containerd_fs
                    );
                }
                if !dry_run && r.token.is_some() {
                    out += &format!(
                        "Ready: {} (waited {:.1} s)\n",
                        r.ready.join(", "),
                        r.ready_wait_seconds
                    );
                }
                out
            })?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
