//! The README's first command, `cargo xtask lab`: the local lab up, then `kubin deploy`
//! onto it, then the nodes as kubectl (from the bundle, with the admin kubeconfig) sees
//! them, and the guides' last step: a Deployment with a pod running on each node.

use crate::sh::{self, cargo};
use anyhow::{Context, Result};
use std::path::Path;

/// `kubin deploy -f INVENTORY`, `kubin kubeconfig` next to the inventory, then with the
/// bundle's kubectl: `get nodes -o wide`, the `echo` Deployment (one busybox replica per
/// node, `lab::workload`) applied and rolled out, and `get pods -o wide`.
pub fn deploy(inventory: &Path) -> Result<()> {
    let file = inventory.display().to_string();
    let kubin = |args: &[&str]| {
        let mut all = vec!["run", "-q", "-p", "cli", "--"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-f", &file]);
        sh::run(&cargo(), &all)
    };
    kubin(&["deploy"])?;
    let admin = inventory.with_file_name("admin.kubeconfig");
    let admin_s = admin.display().to_string();
    kubin(&["kubeconfig", "-o", &admin_s])?;
    let (inv, _) =
        inventory::Inventory::load(inventory).with_context(|| format!("cannot read {file}"))?;
    let bundle = inv
        .bundle
        .as_ref()
        .context("the lab's inventory names no bundle")?;
    let kubectl = bundle.join("kubernetes/server/bin/kubectl");
    let kubectl_s = kubectl.display().to_string();
    let kubectl = |args: &[&str]| {
        let mut all = vec!["--kubeconfig", &admin_s];
        all.extend_from_slice(args);
        sh::run(&kubectl_s, &all)
    };
    kubectl(&["get", "nodes", "-o", "wide"])?;
    let manifest = inventory.with_file_name("echo.yaml");
    std::fs::write(&manifest, lab::workload::echo_deployment(inv.nodes().len()))
        .with_context(|| format!("cannot write {}", manifest.display()))?;
    let manifest_s = manifest.display().to_string();
    kubectl(&["apply", "-f", &manifest_s])?;
    kubectl(&["rollout", "status", "deployment/echo", "--timeout=3m"])?;
    kubectl(&["get", "pods", "-o", "wide"])?;
    println!("\nthe lab is deployed; its inventory: {file}");
    println!("kubectl: {kubectl_s} --kubeconfig {admin_s} get nodes");
    println!("logs:    {kubectl_s} --kubeconfig {admin_s} logs deployment/echo");
    println!("again (no changes): cargo run -q -p cli -- deploy -f {file}");
    println!("health: cargo run -q -p cli -- status -f {file}");
    println!("stop it with: cargo xtask lab down");
    Ok(())
}
