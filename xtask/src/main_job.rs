//! The README's first command, `cargo xtask lab`: the local lab up, then kubin onto it.
//!
//! It runs the real `kubin` binary against the lab's inventory, step by step, as an
//! operator would; it grows as `kubin deploy` does.

use crate::sh::{self, cargo};
use anyhow::Result;
use std::path::Path;

/// The steps, as `kubin` argument lists (the inventory is appended as `-f FILE`).
const STEPS: &[&[&str]] = &[
    &["preflight"],
    &["prepare"],
    &["etcd", "deploy"],
    &["flannel", "set"],
    &["control-plane", "deploy"],
    &["nodes", "deploy"],
    &["etcd", "health"],
    &["flannel", "get"],
];

/// Runs every step against `inventory`, stopping at the first failure.
pub fn deploy(inventory: &Path) -> Result<()> {
    let file = inventory.display().to_string();
    for step in STEPS {
        let mut args = vec!["run", "-q", "-p", "cli", "--"];
        args.extend_from_slice(step);
        args.extend_from_slice(&["-f", &file]);
        sh::run(&cargo(), &args)?;
    }
    println!("\nthe lab is deployed; its inventory: {file}");
    println!("next: cargo run -q -p cli -- kubeconfig -f {file} -o admin.kubeconfig");
    println!("      kubectl --kubeconfig admin.kubeconfig get csr");
    println!("stop it with: cargo xtask lab down");
    Ok(())
}
