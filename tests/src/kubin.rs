//! The `kubin` binary under test, built once per test process.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `kubin` binary: `KUBIN_BIN` if set, else built once with `cargo build -p cli`.
pub fn kubin_bin() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("KUBIN_BIN") {
            return PathBuf::from(bin);
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests package lives in the workspace")
            .to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "cli", "--bin", "kubin"])
            .current_dir(&root)
            .status()
            .expect("cannot run cargo");
        assert!(status.success(), "cargo build -p cli failed");
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"))
            .join("debug")
            .join("kubin")
    })
    .clone()
}

/// A finished command's stdout then stderr, as text.
pub fn text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}

/// Runs `kubin ARGS -f INVENTORY`.
pub fn run(inventory: &Path, args: &[&str]) -> std::process::Output {
    Command::new(kubin_bin())
        .args(args)
        .arg("-f")
        .arg(inventory)
        .output()
        .expect("cannot run kubin")
}

/// As [`run`], asserting success; returns the output as text.
#[track_caller]
pub fn run_ok(inventory: &Path, args: &[&str]) -> String {
    let out = run(inventory, args);
    assert!(
        out.status.success(),
        "kubin {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

/// The final JSON report of a `kubin ... --output json` run (its last stdout line).
#[track_caller]
pub fn json_report(out: &std::process::Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().expect("a report line");
    let v: serde_json::Value = serde_json::from_str(last).expect("the report is JSON");
    assert_eq!(v["event"], "report", "{last}");
    v
}

/// How many changes a JSON report lists, over all hosts.
pub fn report_changes(report: &serde_json::Value) -> usize {
    report["hosts"]
        .as_object()
        .expect("hosts in the report")
        .values()
        .map(|h| h["changes"].as_array().map_or(0, Vec::len))
        .sum()
}
