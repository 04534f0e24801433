//! Warns when aws-lc-sys is built with CPU-jitter seeding, which costs every process that
//! uses pki ~35 ms before its first key (see `src/seeding.rs`).

fn main() {
    const NAME: &str = "AWS_LC_SYS_NO_JITTER_ENTROPY";
    // aws-lc-sys also reads the variable with the target appended (`_x86_64_unknown_linux_gnu`).
    let target = std::env::var("TARGET")
        .unwrap_or_default()
        .replace('-', "_");
    let names = [NAME.to_string(), format!("{NAME}_{target}")];
    for name in &names {
        println!("cargo::rerun-if-env-changed={name}");
    }
    let set = names
        .iter()
        .filter_map(|n| std::env::var(n).ok())
        .any(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes"));
    if !set {
        println!(
            "cargo::warning=aws-lc-sys is built with CPU-jitter seeding: every process that \
             makes a key pays ~35 ms first; set {NAME}=1 in .cargo/config.toml [env]"
        );
    }
}
