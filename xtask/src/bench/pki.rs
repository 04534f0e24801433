//! `cargo xtask bench pki`: one CA plus 200 `www`-profile leaves, RSA-2048 and ECDSA P-256,
//! kubin (in process, rayon on every core) side by side with cfssl driven one process per
//! certificate as the guides do (`cfssl gencert ... | cfssljson -bare NAME`), in one run.
//!
//! A second table runs kubin as the guides run cfssl, one `kubin pki gencert | cfssljson`
//! process per certificate, against the same cfssl pipeline: there every process pays its
//! start-up (aws-lc seeding its random generator) before its first key.
//!
//! Besides the rates, it prints CPU milliseconds per certificate (steadier than rates on a
//! shared machine) and what kubin's key generation alone costs, which bounds kubin's rate: an
//! RSA key is almost all of an RSA certificate's cost.

use super::cpu;
use anyhow::{Context, Result, bail, ensure};
use pki::{Ca, CsrRequest, KeySpec, PrivateKey, SigningConfig, store};
use rayon::prelude::*;
use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime};

const CA_CONFIG: &str = include_str!("../../../pki/tests/fixtures/ca-config.json");

/// The rates the issue asks kubin to reach over cfssl's.
const TARGETS: [(&str, f64); 2] = [("rsa", 5.0), ("ecdsa", 20.0)];

/// The rates the issue asks of one kubin process per certificate over cfssl's.
const PROCESS_TARGETS: [(&str, f64); 2] = [("rsa", 1.7), ("ecdsa", 1.5)];

/// Arguments of `cargo xtask bench pki`.
#[derive(clap::Args)]
pub struct Args {
    /// Leaves per algorithm.
    #[arg(long, default_value_t = 200)]
    leaves: usize,
    /// Rounds per tool and algorithm; the best round of each tool counts (the machine is
    /// shared, and a round of kubin's ECDSA takes a tenth of a second).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Leaves per algorithm issued one process per certificate by each tool.
    #[arg(long, default_value_t = 30)]
    processes: usize,
    /// Measure this (unoptimized) build instead of re-running in the release profile, as
    /// kubin ships.
    #[arg(long)]
    dev_profile: bool,
}

fn ca_csr(algo: &str, size: u32) -> String {
    format!(
        r#"{{"CN":"bench CA","key":{{"algo":"{algo}","size":{size}}},"names":[{{"C":"CN","L":"Beijing","ST":"Beijing"}}]}}"#
    )
}

fn leaf_csr(algo: &str, size: u32) -> String {
    format!(
        r#"{{"CN":"etcd","hosts":["192.168.31.63","192.168.31.65","192.168.31.66"],"key":{{"algo":"{algo}","size":{size}}},"names":[{{"C":"CN","L":"BeiJing","ST":"BeiJing"}}]}}"#
    )
}

/// One tool's figures for one algorithm and round.
#[derive(Clone, Copy)]
struct Figures {
    /// Certificates (or keys) per wall-clock second.
    rate: f64,
    /// CPU milliseconds per certificate (or key).
    cpu_ms: f64,
}

impl Figures {
    fn new(count: usize, secs: f64, cpu_secs: f64) -> Figures {
        let n = count as f64;
        Figures {
            rate: n / secs,
            cpu_ms: cpu_secs * 1000.0 / n,
        }
    }

    /// Wall-clock milliseconds per certificate.
    fn wall_ms(self) -> f64 {
        1000.0 / self.rate
    }
}

fn sh(dir: &Path, script: &str) -> Result<()> {
    let out = Command::new("sh")
        .args(["-ec", script])
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run `{script}`"))?;
    if !out.status.success() {
        bail!(
            "`{script}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// kubin: the CA, then every leaf in parallel, each written as cfssljson would.
fn kubin(dir: &Path, algo: &str, size: u32, leaves: usize) -> Result<Figures> {
    let cpu = cpu::live_threads_secs();
    let start = Instant::now();
    let rng = pki::new_rng();
    let ca_req = CsrRequest::from_json(&ca_csr(algo, size), "ca-csr.json")?;
    let issued = pki::init_ca(&ca_req, "ca-csr.json", SystemTime::now(), &rng)?;
    store::write_bare(&dir.join("ca"), &issued)?;
    let ca = Ca::from_pem(&issued.cert_pem, "ca.pem", &issued.key_pem, "ca-key.pem")?;
    let config = SigningConfig::from_json(CA_CONFIG, "ca-config.json")?;
    let profile = config.profile(Some("www"), "ca-config.json")?;
    let req = CsrRequest::from_json(&leaf_csr(algo, size), "csr.json")?;
    (0..leaves)
        .into_par_iter()
        .try_for_each(|i| -> Result<()> {
            let leaf = pki::issue(&ca, &req, "csr.json", profile, SystemTime::now(), &rng)?;
            store::write_bare(&dir.join(format!("leaf-{i}")), &leaf)?;
            Ok(())
        })?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu::live_threads_secs() - cpu;
    sh(dir, "openssl verify -CAfile ca.pem leaf-0.pem >/dev/null")?;
    Ok(Figures::new(leaves + 1, secs, cpu))
}

/// cfssl as the guides drive it: one `cfssl | cfssljson` pipeline per certificate.
fn cfssl(dir: &Path, algo: &str, size: u32, leaves: usize) -> Result<Figures> {
    std::fs::write(dir.join("ca-csr.json"), ca_csr(algo, size))?;
    std::fs::write(dir.join("csr.json"), leaf_csr(algo, size))?;
    std::fs::write(dir.join("ca-config.json"), CA_CONFIG)?;
    let cpu = cpu::children_secs();
    let start = Instant::now();
    sh(
        dir,
        "cfssl gencert -initca ca-csr.json 2>/dev/null | cfssljson -bare ca",
    )?;
    for i in 0..leaves {
        sh(
            dir,
            &format!(
                "cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -config=ca-config.json \
                 -profile=www csr.json 2>/dev/null | cfssljson -bare leaf-{i}"
            ),
        )?;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu::children_secs() - cpu;
    sh(dir, "openssl verify -CAfile ca.pem leaf-0.pem >/dev/null")?;
    Ok(Figures::new(leaves + 1, secs, cpu))
}

/// kubin as the guides drive cfssl: one `kubin pki gencert | cfssljson` pipeline per
/// certificate (the CA by `kubin pki init-ca`).
fn kubin_processes(
    dir: &Path,
    kubin: &Path,
    algo: &str,
    size: u32,
    leaves: usize,
) -> Result<Figures> {
    std::fs::write(dir.join("ca-csr.json"), ca_csr(algo, size))?;
    std::fs::write(dir.join("csr.json"), leaf_csr(algo, size))?;
    std::fs::write(dir.join("ca-config.json"), CA_CONFIG)?;
    let kubin = kubin.display();
    let cpu = cpu::children_secs();
    let start = Instant::now();
    sh(dir, &format!("'{kubin}' pki init-ca ca-csr.json --bare ca"))?;
    for i in 0..leaves {
        sh(
            dir,
            &format!(
                "'{kubin}' pki gencert --ca ca.pem --ca-key ca-key.pem --config ca-config.json \
                 --profile www csr.json | cfssljson -bare leaf-{i}"
            ),
        )?;
    }
    let secs = start.elapsed().as_secs_f64();
    let cpu = cpu::children_secs() - cpu;
    sh(dir, "openssl verify -CAfile ca.pem leaf-0.pem >/dev/null")?;
    Ok(Figures::new(leaves + 1, secs, cpu))
}

/// kubin's key generation alone, `count` keys on the same pool: the floor under kubin's cost
/// per certificate.
fn keygen(algo: &str, size: u32, count: usize) -> Result<Figures> {
    let spec = KeySpec::from_cfssl(algo, size, "bench")?;
    let cpu = cpu::live_threads_secs();
    let start = Instant::now();
    (0..count)
        .into_par_iter()
        .try_for_each(|_| PrivateKey::generate(spec).map(drop))?;
    let secs = start.elapsed().as_secs_f64();
    Ok(Figures::new(count, secs, cpu::live_threads_secs() - cpu))
}

fn rates(rounds: &[Figures]) -> String {
    rounds
        .iter()
        .map(|f| format!("{:.1}", f.rate))
        .collect::<Vec<_>>()
        .join(" ")
}

fn best(rounds: &[Figures]) -> Option<Figures> {
    rounds
        .iter()
        .copied()
        .reduce(|a, b| if b.rate > a.rate { b } else { a })
}

/// Runs the benchmark and prints certs/second for each tool and the ratio.
pub fn run(args: Args) -> Result<()> {
    if cfg!(debug_assertions) && !args.dev_profile {
        let leaves = args.leaves.to_string();
        let rounds = args.rounds.to_string();
        let processes = args.processes.to_string();
        return crate::sh::run(
            &crate::sh::cargo(),
            &[
                "run",
                "--release",
                "--quiet",
                "-p",
                "xtask",
                "--",
                "bench",
                "pki",
                "--leaves",
                &leaves,
                "--rounds",
                &rounds,
                "--processes",
                &processes,
            ],
        );
    }
    for tool in ["cfssl", "cfssljson", "openssl"] {
        ensure!(
            Command::new("sh")
                .args(["-c", &format!("command -v {tool} >/dev/null")])
                .status()?
                .success(),
            "{tool} is missing: apt-get install golang-cfssl openssl"
        );
    }
    // Every round writes into a directory of its own, and all are removed together at the end:
    // on ext4 without a journal (this machine's), allocating an inode first skips, one buffer
    // lookup each, every inode of the group deleted in the last ~30 s, so deleting a round's
    // 1200 files would slow the next rounds' file creation by a good part of a millisecond per
    // certificate (most of a kubin ECDSA certificate's cost), for both tools alike.
    let work = tempfile::Builder::new()
        .prefix("kubin-bench-pki")
        .tempdir()?;
    let threads = rayon::current_num_threads();
    let rounds = args.rounds.max(1);
    println!(
        "one CA + {} www-profile leaves per algorithm, best of {rounds} rounds each; kubin in \
         process on {threads} threads, cfssl one `cfssl gencert | cfssljson -bare` per cert",
        args.leaves,
    );
    println!(
        "{:10} {:>12} {:>12} {:>6} {:>6} {:>12} {:>12} {:>12}",
        "key",
        "kubin cert/s",
        "cfssl cert/s",
        "ratio",
        "target",
        "kubin CPU",
        "cfssl CPU",
        "cfssl wall"
    );
    println!(
        "{:10} {:>12} {:>12} {:>6} {:>6} {:>12} {:>12} {:>12}",
        "", "", "", "", "", "ms/cert", "ms/cert", "ms/cert"
    );
    let mut missed = Vec::new();
    let mut notes = Vec::new();
    for (algo, size, label) in [("rsa", 2048, "rsa-2048"), ("ecdsa", 256, "ecdsa-256")] {
        let mut ks = Vec::new();
        let mut cs = Vec::new();
        for round in 0..rounds {
            let k_dir = work.path().join(format!("kubin-{label}-{round}"));
            let c_dir = work.path().join(format!("cfssl-{label}-{round}"));
            std::fs::create_dir_all(&k_dir)?;
            std::fs::create_dir_all(&c_dir)?;
            ks.push(kubin(&k_dir, algo, size, args.leaves)?);
            cs.push(cfssl(&c_dir, algo, size, args.leaves)?);
        }
        let (Some(k), Some(c)) = (best(&ks), best(&cs)) else {
            bail!("no rounds ran");
        };
        let ratio = k.rate / c.rate;
        let target = TARGETS
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, t)| *t)
            .unwrap_or(1.0);
        println!(
            "{label:10} {:>12.1} {:>12.1} {:>5.1}x {:>5.0}x {:>12.2} {:>12.2} {:>12.1}",
            k.rate,
            c.rate,
            ratio,
            target,
            k.cpu_ms,
            c.cpu_ms,
            c.wall_ms()
        );
        if ratio < target {
            missed.push(format!("{label}: {ratio:.1}x < {target}x"));
        }
        let g = keygen(algo, size, args.leaves)?;
        // If kubin did nothing but generate keys, on every core, all the time.
        let ceiling = threads as f64 * c.wall_ms() / g.cpu_ms;
        notes.push(format!(
            "{label:10} rounds (cert/s): kubin {} | cfssl {}; CPU per cert, cfssl/kubin: \
             {:.1}x\n{:10} kubin key generation alone: {:.3} CPU ms/key ({:.0}% of kubin's CPU \
             per cert); ceiling on {threads} cores: {threads} x {:.1} ms cfssl wall / {:.3} ms = \
             {ceiling:.1}x",
            rates(&ks),
            rates(&cs),
            c.cpu_ms / k.cpu_ms,
            "",
            g.cpu_ms,
            100.0 * g.cpu_ms / k.cpu_ms,
            c.wall_ms(),
            g.cpu_ms,
        ));
    }
    for note in notes {
        println!("{note}");
    }
    per_process(&args, work.path(), &mut missed)
}

/// The second table: one process per certificate, kubin against cfssl.
fn per_process(args: &Args, work: &Path, missed: &mut Vec<String>) -> Result<()> {
    let kubin = super::kubin_path(args.dev_profile)?;
    let rounds = args.rounds.max(1);
    let seeding = if pki::seeds_from_kernel() {
        "aws-lc seeds from the kernel's getrandom"
    } else {
        "aws-lc seeds from CPU jitter (AWS_LC_SYS_NO_JITTER_ENTROPY unset at build time)"
    };
    println!(
        "\none process per certificate: one CA + {} leaves per algorithm, best of {rounds} \
         rounds; `kubin pki gencert | cfssljson -bare` against `cfssl gencert | cfssljson \
         -bare`; {seeding}",
        args.processes
    );
    println!(
        "{:10} {:>12} {:>12} {:>6} {:>6} {:>12} {:>12} {:>12} {:>12}",
        "key",
        "kubin cert/s",
        "cfssl cert/s",
        "ratio",
        "target",
        "kubin wall",
        "cfssl wall",
        "kubin CPU",
        "cfssl CPU"
    );
    println!(
        "{:10} {:>12} {:>12} {:>6} {:>6} {:>12} {:>12} {:>12} {:>12}",
        "", "", "", "", "", "ms/cert", "ms/cert", "ms/cert", "ms/cert"
    );
    for (algo, size, label) in [("rsa", 2048, "rsa-2048"), ("ecdsa", 256, "ecdsa-256")] {
        let mut ks = Vec::new();
        let mut cs = Vec::new();
        for round in 0..rounds {
            let k_dir = work.join(format!("kubin-processes-{label}-{round}"));
            let c_dir = work.join(format!("cfssl-processes-{label}-{round}"));
            std::fs::create_dir_all(&k_dir)?;
            std::fs::create_dir_all(&c_dir)?;
            ks.push(kubin_processes(&k_dir, &kubin, algo, size, args.processes)?);
            cs.push(cfssl(&c_dir, algo, size, args.processes)?);
        }
        let (Some(k), Some(c)) = (best(&ks), best(&cs)) else {
            bail!("no rounds ran");
        };
        let ratio = k.rate / c.rate;
        let target = PROCESS_TARGETS
            .iter()
            .find(|(a, _)| *a == algo)
            .map(|(_, t)| *t)
            .unwrap_or(1.0);
        println!(
            "{label:10} {:>12.1} {:>12.1} {:>5.2}x {:>5.1}x {:>12.1} {:>12.1} {:>12.1} {:>12.1}",
            k.rate,
            c.rate,
            ratio,
            target,
            k.wall_ms(),
            c.wall_ms(),
            k.cpu_ms,
            c.cpu_ms
        );
        println!(
            "{label:10} rounds (cert/s): kubin {} | cfssl {}",
            rates(&ks),
            rates(&cs)
        );
        if ratio < target {
            missed.push(format!(
                "{label}, one process per cert: {ratio:.2}x < {target}x"
            ));
        }
    }
    if !missed.is_empty() {
        println!("below target: {}", missed.join("; "));
    }
    Ok(())
}
