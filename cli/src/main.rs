//! `kubin`: parses the command line and dispatches to one module per subcommand.

mod args;
mod control_plane;
mod csr;
mod deploy;
mod etcd;
mod flannel;
mod init;
mod kubeconfig;
mod nodes;
mod pki;
mod preflight;
mod prepare;
mod reset;
mod status;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The binary install of Kubernetes, in one command.
#[derive(Parser)]
#[command(name = "kubin", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy the whole cluster: every phase in order, converging on re-run.
    Deploy(deploy::Args),
    /// The plan of a deploy (= `deploy --dry-run`): files as diffs and commands per host.
    Plan(deploy::PlanArgs),
    /// The cluster's health: etcd, apiserver, nodes, certificate expiries (exit 0/2/3).
    Status(status::Args),
    /// Undo a deploy on the hosts (asks first unless --yes).
    Reset(reset::Args),
    /// Write a commented example inventory (the guides' topology).
    Init(init::Args),
    /// Check the hosts before anything changes: CPUs, memory, swap, ports, clocks, bundle.
    Preflight(preflight::Args),
    /// Prepare the hosts: SELinux, firewalld, swap, hostname, /etc/hosts, sysctl, modules.
    Prepare(prepare::Args),
    /// Certificates: a cfssl drop-in and the cluster's whole set.
    Pki(pki::Args),
    /// The etcd cluster: deploy, health, members, status, snapshots.
    Etcd(etcd::Args),
    /// The pod network config in etcd, in the API the flannel release reads.
    Flannel(flannel::Args),
    /// The control plane: kube-apiserver, kube-controller-manager, kube-scheduler, RBAC.
    ControlPlane(control_plane::Args),
    /// The node components: kubelet and kube-proxy, client certificates approved by policy.
    Nodes(nodes::Args),
    /// Kubelet certificate signing requests: list, approve by policy, watch.
    Csr(csr::Args),
    /// Write the admin kubeconfig for kubectl.
    Kubeconfig(kubeconfig::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Deploy(args) => deploy::run(args),
        Command::Plan(args) => deploy::plan(args),
        Command::Status(args) => status::run(args),
        Command::Reset(args) => reset::run(args),
        Command::Init(args) => init::run(args),
        Command::Preflight(args) => preflight::run(args),
        Command::Prepare(args) => prepare::run(args),
        Command::Pki(args) => pki::run(args),
        Command::Etcd(args) => etcd::run(args),
        Command::Flannel(args) => flannel::run(args),
        Command::ControlPlane(args) => control_plane::run(args),
        Command::Nodes(args) => nodes::run(args),
        Command::Csr(args) => csr::run(args),
        Command::Kubeconfig(args) => kubeconfig::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kubin: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every subcommand's flags are consistent (clap's own checks, for the whole tree).
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
