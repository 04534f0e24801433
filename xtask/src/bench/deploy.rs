//! `cargo xtask bench deploy`: `kubin deploy` on bare lab machines until every node is
//! Ready, then the no-change re-run, for 3 machines (the guides' topology) and for 12 (one
//! master, eleven nodes, etcd on three), with kubin's own CPU time and each machine's, so
//! the scaling can be judged on a machine whose cores all lab machines share.

use super::cpu;
use anyhow::{Context, Result, bail, ensure};
use lab::{Lab, LabConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The targets for 3 machines: bare to Ready, and the re-run.
const TARGET_FIRST: Duration = Duration::from_secs(90);
const TARGET_RERUN: Duration = Duration::from_secs(5);
/// How long the nodes may take to report Ready once `kubin deploy` returned.
const READY_WAIT: Duration = Duration::from_secs(300);
/// Where each run's output is kept (the lab's state goes when it does).
const LOGS: &str = "/var/cache/kubin/logs";

/// Arguments of `cargo xtask bench deploy`.
#[derive(clap::Args)]
pub struct Args {
    /// Lab sizes to measure, in order.
    #[arg(long, value_delimiter = ',', default_value = "3,12")]
    hosts: Vec<usize>,
    /// Measure the dev build instead of the release build kubin ships as.
    #[arg(long)]
    dev_profile: bool,
    /// Leave the last lab running afterwards, even when its deploy fails (`cargo xtask lab
    /// down --name bench-deployN`).
    #[arg(long)]
    keep_lab: bool,
    /// How many no-change re-runs to time after the first deploy (each one printed).
    #[arg(long, default_value_t = 1)]
    reruns: usize,
    /// Time only the re-runs, on the lab `bench-deployN` an earlier `--keep-lab` left up
    /// (which stays up); no bring-up, no first deploy.
    #[arg(long)]
    attach: bool,
    /// After the re-runs, check the hosts' quick check on a real machine: edit a bundle
    /// binary on the first node by hand (same size, mtime put back), then a deploy must
    /// rewrite it and the next change nothing.
    #[arg(long)]
    hand_edit: bool,
    /// Record each re-run's kubin with `perf record -g` into DIR/kubin-rerunN-K.data (the
    /// figures then include perf's overhead).
    #[arg(long, value_name = "DIR")]
    perf: Option<PathBuf>,
}

/// One timed `kubin deploy`.
struct Run {
    wall: Duration,
    kubin_cpu: f64,
    hosts_cpu: BTreeMap<String, f64>,
    /// kubin's summary lines: each phase's time and changes.
    phases: Vec<String>,
}

/// Runs `kubin deploy -f INVENTORY`, measuring its wall time, its own CPU time and each
/// lab machine's; under `perf record` into `perf` when given.
fn deploy(kubin: &Path, lab: &Lab, log: &Path, perf: Option<&Path>) -> Result<Run> {
    let before = cpu::lab_machines_secs(lab);
    let cpu0 = cpu::children_secs();
    let start = Instant::now();
    let mut cmd = match perf {
        Some(data) => {
            let mut c = Command::new("perf");
            c.args(["record", "-q", "-g", "-F", "997", "-o"])
                .arg(data)
                .arg("--")
                .arg(kubin);
            c
        }
        None => Command::new(kubin),
    };
    let out = cmd
        .args(["deploy", "-f"])
        .arg(lab.inventory_path())
        // Twelve machines' kubelets share two cores: give their certificates and Ready
        // time, the figure being the wall time, not a verdict.
        .args(["--nodes-timeout", "10m"])
        .output()
        .context("cannot run kubin deploy")?;
    let wall = start.elapsed();
    let kubin_cpu = cpu::children_secs() - cpu0;
    let after = cpu::lab_machines_secs(lab);
    std::fs::write(log, [out.stdout.as_slice(), out.stderr.as_slice()].concat())?;
    if !out.status.success() {
        bail!(
            "kubin deploy on lab {} failed ({}), its output is in {}:\n{}",
            lab.name(),
            out.status,
            log.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let hosts_cpu = after
        .iter()
        .map(|(h, s)| (h.clone(), s - before.get(h).copied().unwrap_or(0.0)))
        .collect();
    Ok(Run {
        wall,
        kubin_cpu,
        hosts_cpu,
        phases: summary_lines(&String::from_utf8_lossy(&out.stdout)),
    })
}

/// The phase lines of kubin's `summary:` (`  etcd  done in 0.7s, 0 change(s)`).
fn summary_lines(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| l.trim() != "summary:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// Each lab machine's CPU time over `span` while no kubin runs: what the cluster itself
/// (etcd, the apiserver, kubelets, containerd) costs, to set beside a re-run's figures.
fn idle_cpu(lab: &Lab, span: Duration) -> BTreeMap<String, f64> {
    let before = cpu::lab_machines_secs(lab);
    std::thread::sleep(span);
    cpu::lab_machines_secs(lab)
        .iter()
        .map(|(h, s)| (h.clone(), s - before.get(h).copied().unwrap_or(0.0)))
        .collect()
}

/// `kubectl get nodes` through the admin kubeconfig kubin writes: (Ready, listed).
fn ready_nodes(kubin: &Path, lab: &Lab) -> Result<(usize, usize, String)> {
    let kubeconfig = lab.state_dir().join("admin.kubeconfig");
    let st = Command::new(kubin)
        .args(["kubeconfig", "-f"])
        .arg(lab.inventory_path())
        .arg("-o")
        .arg(&kubeconfig)
        .output()?;
    ensure!(st.status.success(), "kubin kubeconfig failed");
    let kubectl = lab.bundle_path().join("kubernetes/server/bin/kubectl");
    let out = Command::new(&kubectl)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "nodes", "-o", "wide", "--no-headers"])
        .output()
        .with_context(|| format!("cannot run {}", kubectl.display()))?;
    ensure!(
        out.status.success(),
        "kubectl get nodes failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let listed = text.lines().count();
    let ready = text
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("Ready"))
        .count();
    Ok((ready, listed, text))
}

fn hosts_line(hosts: &BTreeMap<String, f64>) -> String {
    let total: f64 = hosts.values().sum();
    let per: Vec<String> = hosts.iter().map(|(h, s)| format!("{h} {s:.2}")).collect();
    format!("{total:.2} s ({})", per.join(", "))
}

fn cpu_line(run: &Run) -> String {
    format!(
        "kubin CPU {:.2} s; machines' CPU {}",
        run.kubin_cpu,
        hosts_line(&run.hosts_cpu)
    )
}

/// Times `count` no-change re-runs, each followed by the machines' idle CPU over as long,
/// printing each as it ends.
fn reruns(kubin: &Path, lab: &Lab, count: usize, perf: Option<&Path>) -> Result<Vec<Run>> {
    let logs = Path::new(LOGS);
    std::fs::create_dir_all(logs)?;
    let name = lab.name();
    let mut runs = Vec::new();
    for k in 1..=count {
        let log = if k == 1 {
            logs.join(format!("{name}-rerun.log"))
        } else {
            logs.join(format!("{name}-rerun{k}.log"))
        };
        let data = perf.map(|d| d.join(format!("kubin-{name}-rerun-{k}.data")));
        let run = deploy(kubin, lab, &log, data.as_deref())?;
        let idle = idle_cpu(lab, run.wall);
        println!(
            "{name} re-run {k}: {:.2} s; {}\n  machines idle over as long: {}\n  phases: {}",
            run.wall.as_secs_f64(),
            cpu_line(&run),
            hosts_line(&idle),
            run.phases.join("; ")
        );
        runs.push(run);
    }
    Ok(runs)
}

/// One lab size: bring it up bare, deploy, check Ready, re-run.
fn measure(kubin: &Path, hosts: usize, keep: bool, args: &Args) -> Result<(Run, Run)> {
    let name = format!("bench-deploy{hosts}");
    eprintln!("bench deploy: bringing lab {name} up with {hosts} bare machines ...");
    let config = LabConfig {
        name: name.clone(),
        hosts,
    };
    // A kept lab stays up whatever happens, a failed deploy included, for a look inside.
    let lab = if keep {
        Lab::up(&config)?.keep();
        Lab::attach(&name)?
    } else {
        Lab::up(&config)?
    };
    let logs = Path::new(LOGS);
    std::fs::create_dir_all(logs)?;
    let mut first = deploy(kubin, &lab, &logs.join(format!("{name}-first.log")), None)?;
    // Bare to Ready: if the deploy returns before the kubelets report Ready, the wait
    // counts too.
    let nodes = hosts - 1;
    let waited = Instant::now();
    let table = loop {
        let (ready, listed, table) = ready_nodes(kubin, &lab)?;
        if ready == nodes && listed == nodes {
            break table;
        }
        ensure!(
            waited.elapsed() < READY_WAIT,
            "{ready} of {listed} listed nodes Ready {} s after kubin deploy returned, {nodes} expected:\n{table}",
            READY_WAIT.as_secs()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    first.wall += waited.elapsed();
    println!("{hosts} machines, after the first deploy:\n{table}");
    let mut runs = reruns(kubin, &lab, args.reruns.max(1), args.perf.as_deref())?;
    if args.hand_edit {
        hand_edit(kubin, &lab)?;
    }
    if !keep {
        lab.down()?;
    }
    Ok((first, runs.remove(0)))
}

/// A CNI plugin: a bundle binary no running process holds open (a running one's file
/// cannot be written: ETXTBSY), in the runtime's plan on every node.
const EDITED: &str = "/opt/cni/bin/portmap";
/// The same file in the bundle.
const EDITED_IN_BUNDLE: &str = "cni-plugins-linux-amd64-v1.1.1/portmap";

/// `--hand-edit`: eight bytes of [`EDITED`] on the first node overwritten in place, its
/// mtime put back (size, inode and mtime as kubin recorded them: only the ctime tells);
/// then a deploy must report the file rewritten, leave the bundle's bytes there, and the
/// next deploy change nothing. Checks, never a time.
fn hand_edit(kubin: &Path, lab: &Lab) -> Result<()> {
    let node = lab
        .hosts()
        .iter()
        .find(|h| h.name.contains("node"))
        .context("the lab has no node")?
        .name
        .clone();
    let records = lab.ssh_ok(
        &node,
        &format!(
            "stat -c %a /var/lib/kubin/manifest && grep -c '\t{EDITED}$' /var/lib/kubin/manifest"
        ),
    )?;
    ensure!(
        records.split_whitespace().collect::<Vec<_>>() == ["600", "1"],
        "{node}: /var/lib/kubin/manifest should be 0600 and record {EDITED} once: {records:?}"
    );
    let before = lab.ssh_ok(&node, &format!("stat -c '%s %i %Y' {EDITED}"))?;
    lab.ssh_ok(
        &node,
        &format!(
            "touch -r {EDITED} /run/kubin-bench-ref && printf KUBINXED | dd of={EDITED} bs=1 seek=4096 conv=notrunc status=none && touch -m -r /run/kubin-bench-ref {EDITED} && rm -f /run/kubin-bench-ref"
        ),
    )?;
    let after = lab.ssh_ok(&node, &format!("stat -c '%s %i %Y' {EDITED}"))?;
    ensure!(
        before == after,
        "{node}: the edit should keep size, inode and mtime: {before:?} then {after:?}"
    );
    let name = lab.name();
    let logs = Path::new(LOGS);
    let fixed = deploy(
        kubin,
        lab,
        &logs.join(format!("{name}-hand-edit.log")),
        None,
    )?;
    let text = std::fs::read_to_string(logs.join(format!("{name}-hand-edit.log")))?;
    let rewritten = text
        .lines()
        .any(|l| l.contains(&format!("{EDITED}: content updated")));
    let changed: Vec<&String> = fixed
        .phases
        .iter()
        .filter(|p| !p.ends_with(" 0 change(s)"))
        .collect();
    ensure!(
        rewritten
            && changed.len() == 1
            && changed[0].starts_with("nodes ")
            && changed[0].ends_with(" 1 change(s)"),
        "the deploy after the hand edit should rewrite {EDITED} and change nothing else ({changed:?}), see {}",
        logs.join(format!("{name}-hand-edit.log")).display()
    );
    let want = std::fs::read_to_string(lab.bundle_path().join("SHA256SUMS"))?
        .lines()
        .find(|l| l.ends_with(EDITED_IN_BUNDLE))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .context("the bundle's SHA256SUMS lists no portmap")?;
    let have = lab.ssh_ok(&node, &format!("sha256sum {EDITED}"))?;
    ensure!(
        have.starts_with(&want),
        "{node}: {EDITED} should hold the bundle's bytes again: {have:?}, want {want}"
    );
    let again = deploy(
        kubin,
        lab,
        &logs.join(format!("{name}-after-edit.log")),
        None,
    )?;
    let text = std::fs::read_to_string(logs.join(format!("{name}-after-edit.log")))?;
    ensure!(
        text.contains("no changes"),
        "the deploy after the repair should change nothing, see {}",
        logs.join(format!("{name}-after-edit.log")).display()
    );
    println!(
        "{name} hand edit of {EDITED} on {node} (size, inode, mtime kept): seen and rewritten in {:.2} s; the next deploy changed nothing in {:.2} s",
        fixed.wall.as_secs_f64(),
        again.wall.as_secs_f64()
    );
    Ok(())
}

/// `--attach`: the re-runs only, on a lab an earlier `--keep-lab` left up.
fn measure_attached(kubin: &Path, hosts: usize, args: &Args) -> Result<()> {
    let name = format!("bench-deploy{hosts}");
    let lab = Lab::attach(&name)
        .with_context(|| format!("lab {name} is not up: run with --keep-lab first"))?;
    let runs = reruns(kubin, &lab, args.reruns.max(1), args.perf.as_deref())?;
    if args.hand_edit {
        hand_edit(kubin, &lab)?;
    }
    let walls: Vec<String> = runs
        .iter()
        .map(|r| format!("{:.2}", r.wall.as_secs_f64()))
        .collect();
    println!(
        "bench deploy: {hosts} machines, no-change re-runs (s): {}",
        walls.join(", ")
    );
    Ok(())
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    ensure!(
        args.hosts.iter().all(|&n| n >= 2),
        "--hosts: every lab needs a master and at least one node"
    );
    let kubin: PathBuf = super::kubin_path(args.dev_profile)?;
    if let Some(dir) = &args.perf {
        std::fs::create_dir_all(dir)?;
    }
    if args.attach {
        for &n in &args.hosts {
            measure_attached(&kubin, n, &args)?;
        }
        return Ok(());
    }
    let mut rows = Vec::new();
    for (i, &n) in args.hosts.iter().enumerate() {
        let keep = args.keep_lab && i + 1 == args.hosts.len();
        rows.push((n, measure(&kubin, n, keep, &args)?));
    }
    println!(
        "\nbench deploy: `kubin deploy` from bare lab machines to every node Ready, then the re-run"
    );
    println!(
        "{:>8} {:>14} {:>10} {:>10}",
        "machines", "bare→Ready s", "re-run s", "target"
    );
    let mut missed = Vec::new();
    for (n, (first, rerun)) in &rows {
        let target = if *n == 3 {
            format!("{}/{} s", TARGET_FIRST.as_secs(), TARGET_RERUN.as_secs())
        } else {
            "-".into()
        };
        println!(
            "{n:>8} {:>14.1} {:>10.2} {target:>10}",
            first.wall.as_secs_f64(),
            rerun.wall.as_secs_f64()
        );
        println!("         first:  {}", cpu_line(first));
        println!("         re-run: {}", cpu_line(rerun));
        if *n == 3 && first.wall > TARGET_FIRST {
            missed.push(format!(
                "3 machines bare→Ready {:.1} s",
                first.wall.as_secs_f64()
            ));
        }
        if *n == 3 && rerun.wall > TARGET_RERUN {
            missed.push(format!(
                "3 machines re-run {:.2} s",
                rerun.wall.as_secs_f64()
            ));
        }
    }
    if !missed.is_empty() {
        println!("above target: {}", missed.join("; "));
    }
    Ok(())
}
