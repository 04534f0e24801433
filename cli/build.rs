//! Link flags of the `kubin` binary that make every process start faster.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        // DT_RELR (binutils 2.38+, glibc 2.36+; Debian 12 has 2.40 and 2.36): the ~41,000
        // relative relocations of this position-independent binary packed into a few KB
        // instead of a 1 MB table the loader reads at every start. Only the binary's own
        // link, so no dependency is rebuilt for it.
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
