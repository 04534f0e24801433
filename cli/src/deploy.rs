//! `kubin deploy` and `kubin plan`: the whole cluster from the inventory, or its plan.

use crate::args::{self, Changing, InventoryArg, OutputArg};
use anyhow::Result;
use deploy::cluster::{self, DeployOptions, DeployReport, Outcome};
use deploy::{Phase, verify};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `kubin deploy`.
#[derive(clap::Args)]
#[command(after_help = "\
Phases, in order: preflight, prepare, pki, etcd, flannel, control-plane, nodes, verify.
A failed phase stops the phases that depend on it; a host that cannot be reached or
fails is left out and the others go on. A re-run resumes and converges.

Examples:
  kubin deploy -f cluster.yaml
  kubin deploy -f cluster.yaml --dry-run           # per host: files as diffs, commands
  kubin deploy -f cluster.yaml --only etcd --only flannel
  kubin deploy -f cluster.yaml --output json")]
pub struct Args {
    #[command(flatten)]
    base: Changing,
    /// Run only these phases (repeat the flag or separate with commas), in their fixed
    /// order.
    #[arg(long, value_name = "PHASE", value_delimiter = ',')]
    only: Vec<Phase>,
    /// How long each wait until etcd is healthy may take.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
    etcd_wait: Duration,
    /// How long the wait until the apiserver answers /healthz may take.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
    apiserver_wait: Duration,
    /// How long each of the nodes phase's waits may take (every node's client and serving
    /// certificates, then every node Ready), as `kubin nodes deploy --timeout`.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = args::duration)]
    nodes_timeout: Duration,
    /// How long any single SSH operation may block before its host counts as failed (a
    /// cut link fails the phase naming the host after this).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = args::duration)]
    ssh_timeout: Duration,
}

/// Arguments of `kubin plan`.
#[derive(clap::Args)]
#[command(after_help = "\
Example:
  kubin plan -f cluster.yaml     # = kubin deploy --dry-run: nothing changes, locally or on a host")]
pub struct PlanArgs {
    #[command(flatten)]
    inventory: InventoryArg,
    #[command(flatten)]
    output: OutputArg,
}

/// Runs `kubin deploy`: exit 0 when every phase ran, 1 otherwise.
pub fn run(a: Args) -> Result<ExitCode> {
    let mut s = args::open(&a.base.inventory, None, a.base.output, Some(a.ssh_timeout))?;
    let opts = DeployOptions {
        dry_run: a.base.dry_run,
        only: (!a.only.is_empty()).then_some(a.only),
        etcd_wait: a.etcd_wait,
        apiserver_wait: a.apiserver_wait,
        nodes_timeout: a.nodes_timeout,
    };
    let r = cluster::deploy(&mut s, &opts)?;
    finish(&r, a.base.output)
}

/// Runs `kubin plan`.
pub fn plan(a: PlanArgs) -> Result<ExitCode> {
    let mut s = args::open(&a.inventory, None, a.output, None)?;
    let r = cluster::plan(&mut s)?;
    finish(&r, a.output)
}

fn finish(r: &DeployReport, output: OutputArg) -> Result<ExitCode> {
    output.print(r, || render(r))?;
    Ok(if r.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The summary: each phase, the verification, the changes line.
fn render(r: &DeployReport) -> String {
    let mut out = String::from("\nsummary:\n");
    for p in &r.phases {
        let secs = Duration::from_millis(p.took_ms).as_secs_f64();
        match &p.outcome {
            Outcome::Done { changes, summary } => {
                out += &format!(
                    "  {:<14} done in {secs:.1}s, {changes} change(s)\n",
                    p.phase.name()
                );
                for line in summary {
                    out += &format!("      {line}\n");
                }
                for (host, why) in &p.left_out {
                    out += &format!("      left out {host}: {why}\n");
                }
            }
            Outcome::Failed { error } => {
                out += &format!(
                    "  {:<14} FAILED after {secs:.1}s: {error}\n",
                    p.phase.name()
                );
            }
            Outcome::Stopped { by } => {
                out += &format!(
                    "  {:<14} not run: it depends on {by}, which failed\n",
                    p.phase.name()
                );
            }
        }
    }
    if let Some(v) = &r.verification {
        out += &verify::render_text(v);
    }
    if !r.left_out.is_empty() {
        out += "left out of this run (the rest completed; re-run once they are back):\n";
        for (host, why) in &r.left_out {
            out += &format!("  {host}: {why}\n");
        }
    }
    out += &r.changes_line();
    out.push('\n');
    out
}
