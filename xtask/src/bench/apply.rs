//! `cargo xtask bench apply`: the same plan (a directory, 20 files, a systemd unit) applied
//! to 3 and to 12 lab machines by kubin's executor and by `ansible-playbook` (ansible-core
//! from PyPI, in a venv under /var/cache/kubin) running the equivalent playbook; first run
//! and no-change re-run, in one session, with times and ratios.

mod probe;

use super::cpu;
use anyhow::{Context, Result, bail, ensure};
use executor::{ApplyOptions, Output, Transport};
use inventory::Inventory;
use lab::{Lab, LabConfig};
use plan::{DirSpec, FileSpec, HostSteps, Plan, Step, UnitSpec};
use probe::{Counting, StepTimes};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The venv ansible-core is installed into.
const VENV: &str = "/var/cache/kubin/ansible-venv";
/// How many files the plan writes.
const FILES: usize = 20;
/// The issue's targets: first run, re-run, and 12 hosts against 3 (kubin).
const TARGET_FIRST: f64 = 5.0;
const TARGET_RERUN: f64 = 10.0;
const TARGET_SCALE: f64 = 1.5;

/// Arguments of `cargo xtask bench apply`.
#[derive(clap::Args)]
pub struct Args {
    /// Leave the lab running afterwards (`cargo xtask lab down bench-apply` removes it).
    #[arg(long)]
    keep_lab: bool,
}

fn ansible_playbook() -> Result<PathBuf> {
    let bin = Path::new(VENV).join("bin/ansible-playbook");
    if bin.exists() {
        return Ok(bin);
    }
    eprintln!("installing ansible-core into {VENV}");
    let st = Command::new("python3")
        .args(["-m", "venv", VENV])
        .status()?;
    ensure!(st.success(), "python3 -m venv {VENV} failed");
    let st = Command::new(Path::new(VENV).join("bin/pip"))
        .args(["install", "-q", "ansible-core"])
        .status()?;
    ensure!(st.success(), "pip install ansible-core failed");
    Ok(bin)
}

/// Ansible runs Python modules on the targets: put python3 into each lab machine's root
/// (chroot apt-get, through the outer machine's network), the first one downloading.
fn install_python(lab: &Lab) -> Result<()> {
    let roots: Vec<PathBuf> = lab
        .hosts()
        .iter()
        .map(|h| {
            lab.state_dir()
                .join("machines")
                .join(&h.name)
                .join("merged")
        })
        .collect();
    let install = |root: &Path| -> Result<()> {
        if root.join("usr/bin/python3").exists() {
            return Ok(());
        }
        let out = Command::new("chroot")
            .arg(root)
            .args([
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "python3",
            ])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .context("cannot run chroot apt-get")?;
        if !out.status.success() {
            bail!(
                "apt-get install python3 in {} failed: {}",
                root.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    let first = roots.first().context("the lab has no machine")?;
    install(first)?;
    let archives = first.join("var/cache/apt/archives");
    for r in &roots[1..] {
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cp -n {}/*.deb {}/var/cache/apt/archives/ 2>/dev/null; true",
                archives.display(),
                r.display()
            ))
            .status()?;
        ensure!(st.success());
    }
    std::thread::scope(|s| -> Result<()> {
        let handles: Vec<_> = roots[1..]
            .iter()
            .map(|r| s.spawn(move || install(r)))
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("install thread panicked"))??;
        }
        Ok(())
    })
}

fn file_content(i: usize) -> String {
    let mut s = format!("# kubin apply benchmark, file {i}\n");
    for k in 0..30 {
        let _ = writeln!(s, "key{k}=value-{i}-{k}");
    }
    s
}

const UNIT: &str = "[Unit]\nDescription=kubin apply benchmark\n\n[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/bin/true\n\n[Install]\nWantedBy=multi-user.target\n";

fn kubin_plan(hosts: &[String], tag: &str) -> Plan {
    let dir = PathBuf::from(format!("/opt/bench/{tag}"));
    let unit = format!("bench-{tag}.service");
    let mut steps = vec![Step::Directory(DirSpec {
        path: dir.clone(),
        mode: 0o755,
    })];
    for i in 0..FILES {
        steps.push(Step::File(FileSpec::new(
            dir.join(format!("file{i:02}.conf")),
            file_content(i),
            0o644,
        )));
    }
    steps.push(Step::File(FileSpec::new(
        format!("/etc/systemd/system/{unit}"),
        UNIT,
        0o644,
    )));
    steps.push(Step::Unit(UnitSpec::running(
        &unit,
        vec![dir.join("file00.conf")],
    )));
    Plan::single(
        "bench",
        hosts
            .iter()
            .map(|h| HostSteps {
                host: h.clone(),
                steps: steps.clone(),
            })
            .collect(),
    )
}

/// One kubin run: connect to the hosts and apply; returns the time and the change count,
/// and prints how much of the time connecting took, the round trips per host, the time
/// per step kind, and the CPU time the machines and kubin used.
fn kubin_run(lab: &Lab, inv: &Inventory, hosts: &[String], tag: &str) -> Result<(Duration, usize)> {
    let plan = kubin_plan(hosts, tag);
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let cpu_before = cpu::lab_machines_secs(lab);
    let own_before = cpu::process_secs();
    let calls = Arc::new(AtomicUsize::new(0));
    let times = StepTimes::default();
    let start = Instant::now();
    let (transports, failed) = executor::connect_all(inv, &names);
    ensure!(failed.is_empty(), "kubin could not connect: {failed:?}");
    let connected = start.elapsed();
    let mut transports: executor::Transports = transports
        .into_iter()
        .map(|(name, t)| {
            let counted: Box<dyn Transport> = Box::new(Counting {
                inner: t,
                calls: calls.clone(),
            });
            (name, counted)
        })
        .collect();
    let opts = ApplyOptions {
        dry_run: false,
        parallel: 16,
        output: Output::Quiet,
    };
    let report = executor::apply_with(&plan, &mut transports, &opts, &times);
    let took = start.elapsed();
    drop(transports);
    let own = cpu::process_secs() - own_before;
    let cpu_after = cpu::lab_machines_secs(lab);
    let used: f64 = hosts
        .iter()
        .filter_map(|h| Some(cpu_after.get(h)? - cpu_before.get(h)?))
        .sum();
    eprintln!(
        "kubin {tag} on {} hosts: {:.2} s ({:.2} s connecting, {:.2} s applying); {:.1} round trips per host; per host mean/max: {}; CPU: machines {used:.2} s ({:.3} s per host), kubin {own:.2} s",
        hosts.len(),
        took.as_secs_f64(),
        connected.as_secs_f64(),
        (took - connected).as_secs_f64(),
        calls.load(Ordering::Relaxed) as f64 / hosts.len() as f64,
        times.summary(hosts.len()),
        used / hosts.len() as f64,
    );
    ensure!(
        report.is_success(),
        "kubin apply failed:\n{}",
        report.render_text()
    );
    Ok((took, report.total_changes()))
}

fn playbook(tag: &str) -> String {
    let unit = format!("bench-{tag}.service");
    let unit_body = UNIT.replace('\n', "\\n");
    format!(
        r##"- hosts: bench
  gather_facts: false
  tasks:
    - name: directory
      ansible.builtin.file: {{ path: /opt/bench/{tag}, state: directory, mode: "0755" }}
    - name: files
      ansible.builtin.copy:
        dest: "/opt/bench/{tag}/file{{{{ '%02d' % item }}}}.conf"
        mode: "0644"
        content: "# kubin apply benchmark, file {{{{ item }}}}\n{{% for k in range(30) %}}key{{{{ k }}}}=value-{{{{ item }}}}-{{{{ k }}}}\n{{% endfor %}}"
      loop: "{{{{ range({FILES}) | list }}}}"
      notify: restart
    - name: unit file
      ansible.builtin.copy: {{ dest: /etc/systemd/system/{unit}, mode: "0644", content: "{unit_body}" }}
      register: unit_file
    - name: unit
      ansible.builtin.systemd: {{ name: {unit}, enabled: true, state: started, daemon_reload: "{{{{ unit_file.changed }}}}" }}
  handlers:
    - name: restart
      ansible.builtin.systemd: {{ name: {unit}, state: restarted }}
"##
    )
}

/// One ansible run; returns the time and the number of changed tasks (from the recap).
fn ansible_run(bin: &Path, lab: &Lab, hosts: &[String], tag: &str) -> Result<(Duration, usize)> {
    let dir = tempfile::tempdir()?;
    let mut ini = String::from("[bench]\n");
    for h in hosts {
        let lh = lab.host(h)?;
        let _ = writeln!(ini, "{h} ansible_host={}", lh.address);
    }
    let _ = write!(
        ini,
        "[bench:vars]\nansible_user=root\nansible_ssh_private_key_file={}\nansible_ssh_common_args='-o UserKnownHostsFile={} -o StrictHostKeyChecking=yes'\nansible_python_interpreter=/usr/bin/python3\n",
        lab.key_path().display(),
        lab.known_hosts_path().display()
    );
    std::fs::write(dir.path().join("hosts.ini"), ini)?;
    std::fs::write(dir.path().join("site.yml"), playbook(tag))?;
    std::fs::write(
        dir.path().join("ansible.cfg"),
        "[defaults]\nforks = 16\nhost_key_checking = True\nretry_files_enabled = False\n[ssh_connection]\npipelining = True\n",
    )?;
    let start = Instant::now();
    let out = Command::new(bin)
        .args(["-i", "hosts.ini", "site.yml"])
        .current_dir(dir.path())
        .env("ANSIBLE_CONFIG", dir.path().join("ansible.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", dir.path().join("tmp"))
        .output()
        .context("cannot run ansible-playbook")?;
    let took = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure!(
        out.status.success(),
        "ansible-playbook failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let changed: usize = stdout
        .lines()
        .filter_map(|l| l.split("changed=").nth(1))
        .filter_map(|r| r.split_whitespace().next()?.parse::<usize>().ok())
        .sum();
    Ok((took, changed))
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    let ansible = ansible_playbook()?;
    let lab = Lab::up(&LabConfig {
        name: "bench-apply".into(),
        hosts: 12,
    })?;
    install_python(&lab)?;
    let (inv, _) = Inventory::load(lab.inventory_path())?;
    let mut rows: Vec<(usize, [Duration; 4])> = Vec::new();
    let mut report = String::new();
    for n in [3usize, 12] {
        let hosts: Vec<String> = lab.hosts().iter().take(n).map(|h| h.name.clone()).collect();
        let (k1, kc1) = kubin_run(&lab, &inv, &hosts, &format!("kubin-{n}"))?;
        let (k2, kc2) = kubin_run(&lab, &inv, &hosts, &format!("kubin-{n}"))?;
        ensure!(kc2 == 0, "kubin's re-run changed {kc2} things");
        let (a1, ac1) = ansible_run(&ansible, &lab, &hosts, &format!("ansible-{n}"))?;
        let (a2, ac2) = ansible_run(&ansible, &lab, &hosts, &format!("ansible-{n}"))?;
        ensure!(ac2 == 0, "ansible's re-run changed {ac2} tasks");
        let _ = writeln!(
            report,
            "{n:>2} hosts  first run: kubin {:>6.2} s ({kc1} changes)  ansible {:>6.2} s ({ac1} changed)  ratio {:>5.1}x\n          re-run:    kubin {:>6.2} s (0 changes)   ansible {:>6.2} s (0 changed)   ratio {:>5.1}x",
            k1.as_secs_f64(),
            a1.as_secs_f64(),
            a1.as_secs_f64() / k1.as_secs_f64(),
            k2.as_secs_f64(),
            a2.as_secs_f64(),
            a2.as_secs_f64() / k2.as_secs_f64(),
        );
        rows.push((n, [k1, k2, a1, a2]));
    }
    println!("apply: a directory, {FILES} files and a systemd unit per host\n{report}");
    let scale_first = rows[1].1[0].as_secs_f64() / rows[0].1[0].as_secs_f64();
    let scale_rerun = rows[1].1[1].as_secs_f64() / rows[0].1[1].as_secs_f64();
    println!(
        "kubin 12 hosts vs 3: first run {scale_first:.2}x, re-run {scale_rerun:.2}x (target at most {TARGET_SCALE}x)"
    );
    let mut missed = Vec::new();
    for (n, [k1, k2, a1, a2]) in &rows {
        let (f, r) = (
            a1.as_secs_f64() / k1.as_secs_f64(),
            a2.as_secs_f64() / k2.as_secs_f64(),
        );
        if f < TARGET_FIRST {
            missed.push(format!("{n} hosts first run {f:.1}x < {TARGET_FIRST}x"));
        }
        if r < TARGET_RERUN {
            missed.push(format!("{n} hosts re-run {r:.1}x < {TARGET_RERUN}x"));
        }
    }
    if scale_first > TARGET_SCALE {
        missed.push(format!(
            "12 vs 3 hosts first run {scale_first:.2}x > {TARGET_SCALE}x"
        ));
    }
    if missed.is_empty() {
        println!("all targets met");
    } else {
        println!("targets missed: {}", missed.join("; "));
    }
    if args.keep_lab {
        lab.keep();
    } else {
        lab.down()?;
    }
    Ok(())
}
