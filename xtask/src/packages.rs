//! The first step of every xtask command that builds or runs kubin: the host's Debian
//! packages, the one list of `lab::packages`, installed when missing.

use anyhow::{Result, bail};

/// The packages of `wanted` that are not installed (`dpkg-query`, no network).
pub fn missing(wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .filter(|p| lab::apt::installed_version(p).is_none())
        .map(|p| p.to_string())
        .collect()
}

/// Makes sure every package of `lab::packages::all()` is installed: nothing happens when
/// all are (no `apt-get update`); otherwise one `apt-get update` and one `apt-get install`
/// of the missing ones, or, with `install` false, an error naming them.
pub fn ensure(install: bool) -> Result<()> {
    let wanted = lab::packages::all();
    let missing = missing(&wanted);
    if missing.is_empty() {
        return Ok(());
    }
    let line = format!(
        "apt-get install -y --no-install-recommends {}",
        missing.join(" ")
    );
    if !install {
        bail!(
            "missing Debian packages: {}; install them as root: {line}",
            missing.join(" ")
        );
    }
    let names: Vec<&str> = missing.iter().map(String::as_str).collect();
    lab::apt::install_packages(&names).map_err(|e| {
        anyhow::Error::new(e).context(format!(
            "cannot install the missing Debian packages; as root: apt-get update && {line}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// `-sys` crates xtask's own build may have, and why each builds with only
    /// `lab::packages::XTASK_PREREQUISITES`: aws-lc-sys (its bundled C through cc on Linux
    /// x86_64 and aarch64, no cmake), libssh2-sys and libz-sys (bundled C through cc when
    /// the system has no library), openssl-sys (libssl-dev's static archives, named in
    /// `.cargo/config.toml`), linux-raw-sys (plain Rust).
    const ALLOWED_SYS: &[&str] = &[
        "aws-lc-sys",
        "libssh2-sys",
        "libz-sys",
        "openssl-sys",
        "linux-raw-sys",
    ];
    /// Crates whose build needs a tool a fresh machine lacks: protoc (etcd-client's and
    /// any tonic/prost code generation) or libclang (bindgen).
    const FORBIDDEN: &[&str] = &[
        "etcd-client",
        "prost-build",
        "tonic-build",
        "tonic-prost-build",
        "protobuf-src",
        "bindgen",
    ];

    /// `cargo xtask` is compiled before it can install anything: its own dependency tree
    /// must build on a fresh machine with the Rust toolchain and the README's one
    /// prerequisite line.
    #[test]
    fn xtask_builds_with_only_its_prerequisites() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "tree",
                "--offline",
                "-p",
                "xtask",
                "-e",
                "normal,build",
                "--prefix",
                "none",
            ])
            .current_dir(crate::sh::root())
            .output()
            .expect("cannot start cargo tree");
        assert!(
            out.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let mut crates: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        crates.sort_unstable();
        crates.dedup();
        assert!(crates.contains(&"xtask") && crates.len() > 10, "{text}");
        let bad: Vec<&str> = crates
            .iter()
            .copied()
            .filter(|c| FORBIDDEN.contains(c) || (c.ends_with("-sys") && !ALLOWED_SYS.contains(c)))
            .collect();
        assert!(
            bad.is_empty(),
            "xtask's own build now needs more than `lab::packages::XTASK_PREREQUISITES`: {}",
            bad.join(" ")
        );
    }

    /// The README states the one prerequisite, exactly as the list says it.
    #[test]
    fn readme_states_the_prerequisite_line() {
        let line = format!(
            "apt-get install -y {}",
            lab::packages::XTASK_PREREQUISITES.join(" ")
        );
        let readme = std::fs::read_to_string(crate::sh::root().join("README.md"))
            .expect("cannot read README.md");
        assert!(readme.contains(&line), "README.md lacks `{line}`");
    }

    /// A name dpkg does not know is reported missing, as given.
    #[test]
    fn missing_names_what_is_not_installed() {
        assert_eq!(
            super::missing(&["kubin-no-such-package"]),
            ["kubin-no-such-package"]
        );
    }
}
