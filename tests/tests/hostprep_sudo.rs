//! Deploying as a non-root SSH user through `sudo -n`, on two lab machines: a user with a
//! NOPASSWD sudoers entry prepares the hosts (files root-owned with the right modes,
//! checked with plain `ssh` as root; a re-run changes nothing), the transport's puts,
//! reads and stats work under sudo, and a user without sudo rights gets an error naming
//! each host instead of hanging on a password prompt.

use executor::{PutFile, SshTransport, Transport};
use inventory::Inventory;
use lab::{Lab, LabConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tests::kubin::{json_report, kubin_bin as kubin, report_changes, text};

/// Makes `user` on `host`, able to log in with the lab key; with `sudo`, a NOPASSWD entry.
fn add_user(lab: &Lab, host: &str, user: &str, sudo: bool) {
    let mut script = format!(
        "set -e; useradd -m -s /bin/bash {user}; \
         install -d -m 700 -o {user} -g {user} /home/{user}/.ssh; \
         install -m 600 -o {user} -g {user} /root/.ssh/authorized_keys /home/{user}/.ssh/authorized_keys; "
    );
    if sudo {
        script.push_str(&format!(
            "printf '%s\\n' '{user} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{user}; \
             chmod 440 /etc/sudoers.d/{user}; visudo -cf /etc/sudoers.d/{user}"
        ));
    }
    lab.ssh_ok(host, &script).expect("user made");
}

/// The lab's inventory with `ssh.user` set to `user`, written into `dir`.
fn inventory_as(lab: &Lab, user: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(lab.inventory_path()).unwrap();
    assert!(text.contains("\n  user: root\n"), "{text}");
    let text = text.replace("\n  user: root\n", &format!("\n  user: {user}\n"));
    let path = dir.join(format!("cluster-{user}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs kubin with `args` then `-f inventory`, killing it if it has not ended within a
/// generous bound (a password prompt would otherwise hang the test forever).
fn kubin_bounded(inventory: &Path, args: &[&str]) -> Output {
    let child = Command::new(kubin())
        .args(args)
        .arg("-f")
        .arg(inventory)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A watchdog kills kubin after the bound; the pipes are drained meanwhile, so a long
    // output cannot stall it.
    let pid = child.id().to_string();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            while !done.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    let _ = Command::new("kill").args(["-9", &pid]).status();
                    return true;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            false
        })
    };
    let out = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    let killed = watchdog.join().unwrap();
    assert!(
        !killed,
        "kubin {args:?} still running after 300 s:\n{}",
        text(&out)
    );
    eprintln!("kubin {args:?}: {}\n{}", out.status, text(&out));
    out
}

#[test]
fn prepare_as_a_sudo_user_and_refuse_one_without_sudo() {
    let lab = Lab::up(&LabConfig {
        name: "hostprep-sudo".into(),
        hosts: 2,
    })
    .expect("lab up");
    let names: Vec<String> = lab.hosts().iter().map(|h| h.name.clone()).collect();
    for h in &names {
        add_user(&lab, h, "ops", true);
        add_user(&lab, h, "nosudo", false);
    }
    let dir = tempfile::tempdir().unwrap();
    let ops = inventory_as(&lab, "ops", dir.path());
    let nosudo = inventory_as(&lab, "nosudo", dir.path());

    // The transport itself under sudo: a put with an owner, a read of a root-only file,
    // a stat, a missing file.
    let (inv, _) = Inventory::load(&ops).expect("inventory loads");
    let host = inv.host(&names[0]).expect("host in inventory");
    let mut t = SshTransport::connect(host).expect("ops connects and may sudo");
    let out = t.run("id -u").unwrap();
    assert_eq!(out.stdout_text().trim(), "0", "commands run as root");
    lab.ssh_ok(&names[0], "install -d -m 755 /etc/kubin-sudo")
        .unwrap();
    let a = PathBuf::from("/etc/kubin-sudo/a.conf");
    let b = PathBuf::from("/etc/kubin-sudo/b.conf");
    t.put_files(&[
        PutFile {
            path: &a,
            content: b"owned by ops\n",
            mode: 0o640,
            owner: Some("ops:ops"),
            sha256: None,
        },
        PutFile {
            path: &b,
            content: b"owned by root\n",
            mode: 0o600,
            owner: None,
            sha256: None,
        },
    ])
    .expect("puts under sudo");
    assert_eq!(
        lab.ssh_ok(
            &names[0],
            "stat -c '%a %U:%G' /etc/kubin-sudo/a.conf /etc/kubin-sudo/b.conf"
        )
        .unwrap(),
        "640 ops:ops\n600 root:root\n"
    );
    assert_eq!(
        lab.ssh_ok(&names[0], "ls -A /etc/kubin-sudo").unwrap(),
        "a.conf\nb.conf\n",
        "no staging directory left"
    );
    assert_eq!(
        t.read_file(&b).unwrap().as_deref(),
        Some(&b"owned by root\n"[..])
    );
    assert!(t.read_file(Path::new("/etc/shadow")).unwrap().is_some());
    assert_eq!(
        t.read_file(Path::new("/etc/kubin-sudo/none")).unwrap(),
        None
    );
    let stats = t
        .stat_files(&[a.clone(), b.clone(), PathBuf::from("/etc/kubin-sudo/none")])
        .unwrap();
    let st = |i: usize| stats[i].as_ref().map(|s| (s.mode, s.owner.clone()));
    assert_eq!(st(0), Some((0o640, "ops:ops".to_string())));
    assert_eq!(st(1), Some((0o600, "root:root".to_string())));
    assert_eq!(st(2), None);
    drop(t);

    // Preflight and prepare as ops.
    let pf = kubin_bounded(&ops, &["preflight"]);
    assert!(pf.status.success(), "{}", text(&pf));
    let first = kubin_bounded(&ops, &["prepare", "--timeout", "30s", "--output", "json"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(report_changes(&json_report(&first)) > 0);
    for h in &names {
        assert_eq!(
            lab.ssh_ok(h, "cat /etc/hostname").unwrap(),
            format!("{h}\n")
        );
        let hosts = lab.ssh_ok(h, "cat /etc/hosts").unwrap();
        assert!(hosts.contains("# BEGIN kubin managed hosts\n"), "{hosts}");
        for other in lab.hosts() {
            assert!(
                hosts.contains(&format!("{} {}\n", other.address, other.name)),
                "{hosts}"
            );
        }
        let modes = lab
            .ssh_ok(
                h,
                "stat -c '%a %U:%G %n' /etc/hostname /etc/hosts /etc/sysctl.d/k8s.conf \
                 /etc/modules-load.d/k8s.conf /etc/modules-load.d/ipvs.conf",
            )
            .unwrap();
        for line in modes.lines() {
            assert!(line.starts_with("644 root:root /etc/"), "{modes}");
        }
        assert_eq!(modes.lines().count(), 5, "{modes}");
        let backup = lab
            .ssh_ok(h, "stat -c '%a %U:%G' /etc/hosts.kubin-backup-*")
            .unwrap();
        assert_eq!(backup, "644 root:root\n");
        let staging = lab
            .ssh_ok(
                h,
                "find /etc -name '.kubin-*' -o -name '*.kubin-??????' | wc -l",
            )
            .unwrap();
        assert_eq!(staging.trim(), "0", "no staging left on {h}");
    }
    let again = kubin_bounded(&ops, &["prepare", "--timeout", "30s", "--output", "json"]);
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(report_changes(&json_report(&again)), 0, "{}", text(&again));

    // Without sudo rights: a clear error per host, no hang, nothing changed.
    for h in &names {
        lab.ssh_ok(h, "rm /etc/sysctl.d/k8s.conf").unwrap();
    }
    let denied = kubin_bounded(&nosudo, &["prepare", "--timeout", "30s"]);
    assert!(!denied.status.success(), "{}", text(&denied));
    let said = text(&denied);
    for h in &names {
        assert!(
            said.contains(&format!(
                "{h}: nosudo cannot run commands as root through sudo without a password"
            )),
            "{said}"
        );
        let st = lab.ssh(h, "test -e /etc/sysctl.d/k8s.conf").unwrap();
        assert!(!st.status.success(), "{h} was changed without sudo");
    }
    let pf = kubin_bounded(&nosudo, &["preflight"]);
    assert!(!pf.status.success(), "{}", text(&pf));
    assert!(text(&pf).contains("sudo"), "{}", text(&pf));
    lab.down().expect("lab down");
}
