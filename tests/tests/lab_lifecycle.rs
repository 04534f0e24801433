//! The lab's life cycle: one live lab per name, recovery after a run that never tore down,
//! and the faults tests inject (cut and restore a link, restart a machine).
//!
//! The two tests run in parallel threads with labs of different names: they also show
//! that labs coexist (own bridge, own /24).

use lab::{Error, Lab, LabConfig};

fn reach(lab: &Lab, from: &str, to: &str) -> bool {
    let addr = lab.host(to).unwrap().address;
    lab.ssh(
        from,
        &format!("timeout 2 bash -c 'echo > /dev/tcp/{addr}/22'"),
    )
    .unwrap()
    .status
    .success()
}

#[test]
fn lab_one_per_name_and_recovery_after_a_crashed_run() {
    let cfg = LabConfig {
        name: "life-crash".into(),
        hosts: 2,
    };
    let lab = Lab::up(&cfg).expect("up");
    // A second lab of the same name, from another thread, is refused while this one lives.
    let busy = std::thread::scope(|s| s.spawn(|| Lab::up(&cfg).err()).join().unwrap());
    assert!(matches!(busy, Some(Error::Busy { .. })), "{busy:?}");
    let old_pids: Vec<u32> = lab
        .hosts()
        .iter()
        .map(|h| pid_of(&h.machine).expect("a running nspawn per machine"))
        .collect();

    // A run that ends without teardown (as a crashed one would) leaves machines behind...
    lab.keep();
    assert!(!lab::leftovers("life-crash").is_empty());
    // ...which the next `up` of that name cleans before booting afresh.
    let lab = Lab::up(&cfg).expect("up after a crashed run");
    for (h, old) in lab.hosts().iter().zip(old_pids) {
        assert!(!alive(old), "the crashed run's nspawn {old} still runs");
        assert_ne!(pid_of(&h.machine), Some(old));
    }
    assert_eq!(
        lab.ssh_ok("k8s-node1", "hostname").unwrap().trim(),
        "k8s-node1"
    );
    lab.down().expect("down");
    assert_eq!(lab::leftovers("life-crash"), Vec::<String>::new());
}

/// The PID of the live `systemd-nspawn` of `machine`, read from /proc.
fn pid_of(machine: &str) -> Option<u32> {
    let want = format!("--machine={machine}");
    std::fs::read_dir("/proc").unwrap().flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        (args[0].ends_with(b"systemd-nspawn") && args.contains(&want.as_bytes()) && alive(pid))
            .then_some(pid)
    })
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

#[test]
fn lab_faults_cut_restore_restart() {
    let lab = Lab::up(&LabConfig {
        name: "life-faults".into(),
        hosts: 2,
    })
    .expect("up");
    assert!(reach(&lab, "k8s-master1", "k8s-node1"));

    lab.cut_link("k8s-node1").unwrap();
    assert!(
        !reach(&lab, "k8s-master1", "k8s-node1"),
        "a cut link still carries traffic"
    );
    assert!(
        lab.is_running("k8s-node1").unwrap(),
        "a cut machine keeps running"
    );
    lab.restore_link("k8s-node1").unwrap();
    assert!(reach(&lab, "k8s-master1", "k8s-node1"));

    // A restart is a new boot of the same disk: a file written before survives, the boot id
    // changes, and the host key is the recorded one (strict checking would refuse otherwise).
    let boot_before = lab
        .ssh_ok(
            "k8s-node1",
            "touch /root/mark; cat /proc/sys/kernel/random/boot_id",
        )
        .unwrap();
    let r = lab.restart("k8s-node1").expect("restart");
    assert!(r.state == "running" || r.state == "degraded", "{r:?}");
    let after = lab
        .ssh_ok(
            "k8s-node1",
            "test -f /root/mark && cat /proc/sys/kernel/random/boot_id",
        )
        .unwrap();
    assert_ne!(boot_before, after);
    assert!(reach(&lab, "k8s-master1", "k8s-node1"));

    lab.stop("k8s-node1").unwrap();
    assert!(!lab.is_running("k8s-node1").unwrap());
    assert_eq!(
        lab.ssh("k8s-node1", "true").unwrap().status.code(),
        Some(255)
    );
    drop(lab);
    // Drop tears down, as a failing test would.
    assert_eq!(lab::leftovers("life-faults"), Vec::<String>::new());
}
