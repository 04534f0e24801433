//! `cargo xtask e2e`: the lab end to end: caches warmed, then every test that boots a lab.

use crate::sh::{self, cargo};
use anyhow::{Context, Result, bail};
use std::time::Instant;

/// Arguments of `cargo xtask e2e`.
#[derive(clap::Args)]
pub struct Args {
    /// Run only the lab test files whose name contains this (e.g. `smoke`).
    #[arg(long)]
    only: Option<String>,
}

/// The test files of package `tests` that bring a lab up (`Lab::up`), by target name.
fn lab_tests(filter: Option<&str>) -> Result<Vec<String>> {
    let dir = sh::root().join("tests/tests");
    let mut names = Vec::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = e?.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_none_or(|x| x != "rs") || filter.is_some_and(|f| !stem.contains(f)) {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if stem.starts_with("lab_") || text.contains("Lab::up") {
            names.push(stem.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Runs `cargo xtask e2e`.
pub fn run(args: Args) -> Result<()> {
    let t = Instant::now();
    eprintln!("e2e: warming the lab caches (base root, Kubernetes build, bundle)");
    crate::lab::prepare()?;
    let tests = lab_tests(args.only.as_deref())?;
    if tests.is_empty() {
        bail!("no lab tests found in tests/tests");
    }
    eprintln!(
        "e2e: running {} lab test file(s): {}",
        tests.len(),
        tests.join(" ")
    );
    let mut cargs: Vec<&str> = vec!["test", "-p", "tests"];
    for name in &tests {
        cargs.push("--test");
        cargs.push(name);
    }
    cargs.push("--no-fail-fast");
    sh::run(&cargo(), &cargs)?;
    eprintln!("e2e: passed in {:.0} s", t.elapsed().as_secs_f64());
    Ok(())
}
