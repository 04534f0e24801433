//! The README's first command, `cargo xtask lab`: the local lab up, then `kubin deploy`
//! onto it, then the nodes as kubectl (from the bundle, with the admin kubeconfig) sees them.

use crate::sh::{self, cargo};
use anyhow::{Context, Result};
use std::path::Path;

/// `kubin deploy -f INVENTORY`, `kubin kubeconfig` next to the inventory, then
/// `kubectl get nodes -o wide` with the bundle's kubectl.
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
    let bundle = inv.bundle.context("the lab's inventory names no bundle")?;
    let kubectl = bundle.join("kubernetes/server/bin/kubectl");
    sh::run(
        &kubectl.display().to_string(),
        &["--kubeconfig", &admin_s, "get", "nodes", "-o", "wide"],
    )?;
    println!("\nthe lab is deployed; its inventory: {file}");
    println!(
        "kubectl: {} --kubeconfig {admin_s} get nodes",
        kubectl.display()
    );
    println!("again (no changes): cargo run -q -p cli -- deploy -f {file}");
    println!("health: cargo run -q -p cli -- status -f {file}");
    println!("stop it with: cargo xtask lab down");
    Ok(())
}
