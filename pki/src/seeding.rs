//! Where aws-lc, which generates pki's keys and signs its certificates, seeds its random
//! generator: a build-time choice that costs every process ~35 ms when it is the wrong one.
//!
//! aws-lc-sys seeds from CPU-jitter entropy unless it is built with
//! `AWS_LC_SYS_NO_JITTER_ENTROPY=1` in the environment; the jitter collector's start-up
//! tests take ~35 ms, paid by every process before its first random number (perf shows
//! `jent_*`). With the variable set, aws-lc seeds from the kernel's getrandom, as ring, Go
//! and OpenSSL do. aws-lc-sys offers no cargo feature and no run-time switch for this, so a
//! dependency cannot choose it for its dependents: this workspace sets it in
//! `.cargo/config.toml` (`[env]`), and every other workspace that builds `pki` must set it
//! too (in its own `.cargo/config.toml`, or in the environment of `cargo build`). pki's build
//! script warns when it is missing; [`seeds_from_kernel`] tells a binary or a test which
//! build it got.

/// True when aws-lc was built to seed from the kernel's getrandom (built with
/// `AWS_LC_SYS_NO_JITTER_ENTROPY=1`), false when it seeds from CPU jitter and every process
/// pays ~35 ms before its first key. Cheap: it asks which source is configured without
/// starting it.
pub fn seeds_from_kernel() -> bool {
    aws_lc_rs::try_fips_cpu_jitter_entropy().is_err()
}

#[cfg(test)]
mod tests {
    #[test]
    fn aws_lc_seeds_from_the_kernel() {
        assert!(
            super::seeds_from_kernel(),
            "aws-lc was built with CPU-jitter seeding: build with AWS_LC_SYS_NO_JITTER_ENTROPY=1 \
             (this workspace's .cargo/config.toml sets it; is cargo run from outside it?)"
        );
    }
}
