//! `cargo xtask bench etcd`: `kubin etcd health` against Debian's `etcdctl endpoint health`
//! on the same three TLS members (a real etcd cluster on loopback addresses with etcd's
//! own ports), in one run, figures side by side.
//!
//! Each tool runs as the operator runs it: one process per check, all three members.
//! etcdctl runs twice: with the three endpoints listed, and with `--cluster` (it first
//! asks for the member list, then checks every member).

use ::tests::local_etcd::{ETCDCTL, LocalEtcd, LocalEtcdConfig};
use anyhow::{Context, Result, bail};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Arguments of `cargo xtask bench etcd`.
#[derive(clap::Args)]
pub struct Args {
    /// Checks per tool.
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Measure the dev build instead of the release build kubin ships as.
    #[arg(long)]
    dev_profile: bool,
}

struct Figures {
    name: String,
    times: Vec<Duration>,
}

impl Figures {
    fn sorted(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .times
            .iter()
            .map(|d| d.as_secs_f64() * 1000.0)
            .collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v
    }
    fn median(&self) -> f64 {
        let v = self.sorted();
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
    fn mean(&self) -> f64 {
        let v = self.sorted();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    }
    fn min(&self) -> f64 {
        self.sorted().first().copied().unwrap_or(0.0)
    }
    fn max(&self) -> f64 {
        self.sorted().last().copied().unwrap_or(0.0)
    }
}

fn time(name: &str, runs: usize, mut cmd: impl FnMut() -> Command) -> Result<Figures> {
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs + 1 {
        let start = Instant::now();
        let out = cmd()
            .output()
            .with_context(|| format!("cannot run {name}"))?;
        let took = start.elapsed();
        if !out.status.success() {
            bail!(
                "{name} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // The first run warms the page cache; it is not counted.
        if i > 0 {
            times.push(took);
        }
    }
    Ok(Figures {
        name: name.into(),
        times,
    })
}

fn etcdctl(etcd: &LocalEtcd, endpoints: &str) -> Command {
    let mut c = Command::new(ETCDCTL);
    c.env("ETCDCTL_API", "3")
        .arg(format!("--cacert={}", etcd.ca_file().display()))
        .arg(format!("--cert={}", etcd.client_cert_file().display()))
        .arg(format!("--key={}", etcd.client_key_file().display()))
        .arg(format!("--endpoints={endpoints}"));
    c
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    eprintln!("building kubin ...");
    let kubin = super::kubin_path(args.dev_profile)?;
    let addrs = [1, 2, 3].map(|i| Ipv4Addr::new(127, 0, 11, i));
    eprintln!("starting three TLS etcd members on 127.0.11.1-3 ...");
    let etcd = LocalEtcd::start_on(
        LocalEtcdConfig {
            members: 3,
            enable_v2: false,
        },
        &addrs,
    );
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let inv = etcd.write_inventory(dir.path());
    let all = etcd.endpoints_csv();
    let first = etcd.endpoints()[0].clone();
    let kubin_fig = time("kubin etcd health", args.runs, || {
        let mut c = Command::new(&kubin);
        c.args(["etcd", "health", "-f"]).arg(&inv);
        c
    })?;
    let ctl = time("etcdctl endpoint health (3 endpoints)", args.runs, || {
        let mut c = etcdctl(&etcd, &all);
        c.args(["endpoint", "health"]);
        c
    })?;
    let ctl_cluster = time("etcdctl endpoint health --cluster", args.runs, || {
        let mut c = etcdctl(&etcd, &first);
        c.args(["endpoint", "health", "--cluster"]);
        c
    })?;
    print_table(&kubin, &inv, args.runs, &[kubin_fig, ctl, ctl_cluster]);
    Ok(())
}

fn print_table(kubin: &Path, inv: &Path, runs: usize, figures: &[Figures]) {
    println!(
        "\nbench etcd: {runs} checks each of 3 TLS members (etcd 3.4.23 on loopback), one process per check\n\
         kubin: {}  inventory: {}\n",
        kubin.display(),
        inv.display()
    );
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10}",
        "tool", "median ms", "mean ms", "min ms", "max ms"
    );
    for f in figures {
        println!(
            "{:<40} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            f.name,
            f.median(),
            f.mean(),
            f.min(),
            f.max()
        );
    }
    if let [k, rest @ ..] = figures {
        for r in rest {
            println!("{}", ratio_line(k, r));
        }
    }
}

/// The other tool's median time over kubin's, labelled in that order: above 1, kubin is
/// faster.
fn ratio_line(kubin: &Figures, other: &Figures) -> String {
    format!(
        "{} / {} (median ms): {:.2}x",
        other.name,
        kubin.name,
        other.median() / kubin.median().max(f64::EPSILON)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(name: &str, ms: u64) -> Figures {
        Figures {
            name: name.into(),
            times: vec![Duration::from_millis(ms); 3],
        }
    }

    #[test]
    fn ratio_is_labelled_in_the_order_it_divides() {
        // kubin takes 10 ms, etcdctl 20 ms: etcdctl / kubin = 2.
        let line = ratio_line(&figures("kubin etcd health", 10), &figures("etcdctl", 20));
        assert_eq!(line, "etcdctl / kubin etcd health (median ms): 2.00x");
    }
}
