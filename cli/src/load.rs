//! Loading the inventory for a subcommand, printing its warnings.

use anyhow::Result;
use inventory::Inventory;
use std::path::Path;

/// Loads and validates `path`, printing each warning to stderr.
pub fn inventory(path: &Path) -> Result<Inventory> {
    let (inv, warnings) = Inventory::load(path)?;
    for w in warnings {
        eprintln!("kubin: {w}");
    }
    Ok(inv)
}
