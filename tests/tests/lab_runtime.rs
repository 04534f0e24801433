//! Lab machines run containers: containerd, runc and the CNI plugins from the bundle, copied
//! in by hand (kubin's own install of the runtime is another concern's), the bundle's two
//! images imported with `ctr`, a busybox container run. Each machine has its own cgroup in
//! every hierarchy, the kubelet's kernel settings, a route for the service range, and
//! machines running containers halt within seconds.
//!
//! Checked with tools no one here wrote: containerd and ctr, runc, systemd, sha256sum.

use lab::bundle::{self, images};
use lab::{Lab, LabConfig, LabHost};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// containerd's configuration as the lab's facts need it: the `native` snapshotter (the
/// machine's root is an overlay), no lowering of OOM scores (the outer machine lacks
/// CAP_SYS_RESOURCE), systemd cgroups, and the bundle's pause image as the sandbox.
fn containerd_config() -> String {
    format!(
        r#"version = 2
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
"#,
        pause = images::PAUSE_IMAGE
    )
}

const UNIT: &str = "[Unit]
Description=containerd (kubin lab runtime test)
After=network.target

[Service]
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always

[Install]
WantedBy=multi-user.target
";

/// A bridge network from the bundle's CNI plugins (`bridge`, `host-local`, `loopback`).
const CNI_CONFLIST: &str = r#"{"cniVersion":"1.0.0","name":"lab","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"172.17.9.0/24"}]]}},{"type":"loopback"}]}
"#;

/// `ctr` in the namespace the kubelet uses, with the snapshotter the config names.
const CTR: &str = "ctr -n k8s.io";

/// Writes `text` to `path` on `host` (through ssh's stdin-free heredoc; no secrets here).
fn put(lab: &Lab, host: &str, path: &str, text: &str) {
    lab.ssh_ok(
        host,
        &format!("mkdir -p \"$(dirname {path})\" && cat > {path} <<'KUBIN_EOF'\n{text}KUBIN_EOF"),
    )
    .unwrap_or_else(|e| panic!("write {path} on {host}: {e}"));
}

/// Copies the runtime and the images from the bundle onto `h`, starts containerd under
/// systemd and imports both images; returns how long it took.
fn install(lab: &Lab, bundle: &Path, h: &LabHost) -> Duration {
    let t = Instant::now();
    let host = h.name.as_str();
    lab.ssh_ok(
        host,
        "mkdir -p /usr/local/bin /usr/local/sbin /opt/cni/bin /etc/cni/net.d /root/images",
    )
    .unwrap();
    for b in bundle::CONTAINERD_BINARIES {
        let to = format!("/usr/local/bin/{b}");
        lab.copy_to(host, &bundle.join("bin").join(b), Path::new(&to))
            .unwrap();
    }
    lab.copy_to(
        host,
        &bundle.join(bundle::RUNC),
        Path::new("/usr/local/sbin/runc"),
    )
    .unwrap();
    let cni = std::fs::read_dir(bundle)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("cni-plugins-linux-amd64-v"))
        })
        .expect("the bundle has the CNI plugins");
    for p in ["loopback", "bridge", "host-local"] {
        lab.copy_to(host, &cni.join(p), &Path::new("/opt/cni/bin").join(p))
            .unwrap();
    }
    for a in [images::PAUSE_ARCHIVE, images::BUSYBOX_ARCHIVE] {
        let name = Path::new(a).file_name().unwrap();
        lab.copy_to(host, &bundle.join(a), &Path::new("/root/images").join(name))
            .unwrap();
    }
    put(
        lab,
        host,
        "/etc/containerd/config.toml",
        &containerd_config(),
    );
    put(lab, host, "/etc/cni/net.d/10-lab.conflist", CNI_CONFLIST);
    put(lab, host, "/etc/systemd/system/containerd.service", UNIT);
    lab.ssh_ok(
        host,
        "chmod 0755 /usr/local/bin/* /usr/local/sbin/runc /opt/cni/bin/* && systemctl daemon-reload && systemctl enable --now containerd",
    )
    .unwrap();
    lab.ssh_ok(
        host,
        &format!("for i in $(seq 50); do {CTR} version >/dev/null 2>&1 && break; sleep 0.2; done; {CTR} version"),
    )
    .unwrap_or_else(|e| panic!("containerd on {host} does not answer: {e}"));
    for a in ["pause.tar", "busybox.tar"] {
        lab.ssh_ok(
            host,
            &format!("{CTR} images import --snapshotter native /root/images/{a}"),
        )
        .unwrap_or_else(|e| panic!("ctr import {a} on {host}: {e}"));
    }
    t.elapsed()
}

/// The `/proc/PID/cgroup` lines, read on the outer machine, of a process in systemd unit
/// `unit` of the machine whose cgroups are below `prefix` (empty if there is none).
fn outer_cgroups_of(prefix: &str, unit: &str) -> Vec<String> {
    let tail = format!("/{unit}");
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if text
            .lines()
            .any(|l| l.contains(prefix) && l.ends_with(&tail))
        {
            return text.lines().map(String::from).collect();
        }
    }
    Vec::new()
}

/// How many cgroup hierarchies the outer machine has (lines of its own /proc/self/cgroup).
fn hierarchies() -> usize {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap()
        .lines()
        .count()
}

#[test]
fn lab_runtime_containerd_runs_the_bundles_images() {
    let t = Instant::now();
    let lab = Lab::up(&LabConfig {
        name: "runtime".into(),
        hosts: 2,
    })
    .expect("lab up");
    let boot = t.elapsed();
    let bundle = lab.bundle_path().to_path_buf();

    // The bundle's checksums hold for every file, images and runtime included.
    let sums = Command::new("sha256sum")
        .args(["-c", "--quiet", bundle::SUMS])
        .current_dir(&bundle)
        .output()
        .unwrap();
    assert!(sums.status.success(), "{sums:?}");
    for rel in [
        "bin/containerd",
        "bin/containerd-shim-runc-v2",
        "bin/ctr",
        bundle::RUNC,
        images::PAUSE_ARCHIVE,
        images::BUSYBOX_ARCHIVE,
    ] {
        let listed = std::fs::read_to_string(bundle.join(bundle::SUMS)).unwrap();
        assert!(listed.contains(&format!("  {rel}\n")), "{rel} not in sums");
    }

    let hosts = lab.hosts().to_vec();
    let took: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .map(|h| s.spawn(|| install(&lab, &bundle, h)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    for h in &hosts {
        let host = h.name.as_str();
        let listed = lab.ssh_ok(host, &format!("{CTR} images ls -q")).unwrap();
        assert!(listed.contains(images::PAUSE_IMAGE), "{host}: {listed}");
        assert!(listed.contains(images::BUSYBOX_IMAGE), "{host}: {listed}");

        // A container from the bundle's busybox image prints, through runc and systemd.
        let out = lab
            .ssh_ok(
                host,
                &format!(
                    "{CTR} run --rm --snapshotter native --runc-systemd-cgroup --cgroup system.slice:kubin:t1 {} t1 echo hello",
                    images::BUSYBOX_IMAGE
                ),
            )
            .unwrap();
        assert_eq!(out.trim(), "hello", "{host}");

        // The CNI plugins give a container its own address on the machine's bridge.
        let addr = lab
            .ssh_ok(
                host,
                &format!(
                    "{CTR} run --rm --cni --snapshotter native {} t2 ip -4 -o addr show eth0",
                    images::BUSYBOX_IMAGE
                ),
            )
            .unwrap();
        assert!(addr.contains("inet 172.17.9."), "{host}: {addr}");

        // Inside, systemd manages every controller: a unit it starts has its own cgroup in
        // the memory, pids and devices hierarchies (paths relative to the machine's root).
        let cgroups = lab
            .ssh_ok(
                host,
                "systemd-run --quiet --wait --pipe cat /proc/self/cgroup",
            )
            .unwrap();
        for controller in ["memory", "pids", "devices", "name=systemd"] {
            assert!(
                cgroups
                    .lines()
                    .any(|l| l.split(':').nth(1) == Some(controller)
                        && l.contains("/system.slice/run-")),
                "{host}: the unit has no {controller} cgroup of its own: {cgroups}"
            );
        }

        // The kubelet's kernel settings, without touching the outer machine's.
        let sysctls = lab
            .ssh_ok(
                host,
                "cat /proc/sys/vm/overcommit_memory /proc/sys/kernel/panic /proc/sys/kernel/panic_on_oops",
            )
            .unwrap();
        assert_eq!(
            sysctls.split_whitespace().collect::<Vec<_>>(),
            ["1", "10", "1"]
        );
        // /dev/kmsg is there for the kubelet; a route for the service range, no default.
        let routes = lab
            .ssh_ok(
                host,
                "test -c /dev/kmsg && ip route show 10.0.0.0/24; ip route show default | wc -l",
            )
            .unwrap();
        let lines: Vec<&str> = routes.lines().collect();
        assert!(lines[0].contains("dev host0"), "{host}: {routes}");
        assert_eq!(lines[1], "0", "{host} has a default route");

        // A container left running for the halt below.
        lab.ssh_ok(
            host,
            &format!(
                "{CTR} run -d --snapshotter native --runc-systemd-cgroup --cgroup system.slice:kubin:sleeper {} sleeper sleep 3600",
                images::BUSYBOX_IMAGE
            ),
        )
        .unwrap();
        let tasks = lab.ssh_ok(host, &format!("{CTR} tasks ls")).unwrap();
        assert!(tasks.contains("RUNNING"), "{host}: {tasks}");

        // Seen from the outer machine, that container sits below the machine's own cgroup
        // in every hierarchy: each machine has its own cgroup in each, v1 controllers and
        // name=systemd included, and its systemd places containers there.
        let prefix = format!("/kubin-lab/{}/{}/", lab.name(), h.machine);
        let lines = outer_cgroups_of(&prefix, "kubin-sleeper.scope");
        assert_eq!(lines.len(), hierarchies(), "{host}: {lines:?}");
        for line in &lines {
            let path = line.splitn(3, ':').nth(2).unwrap_or_default();
            assert!(
                path.starts_with(&prefix) && path.ends_with("/system.slice/kubin-sleeper.scope"),
                "{host}: {line} is not below {prefix}"
            );
        }
    }

    // Machines running containers halt within seconds, and nothing of them remains,
    // every cgroup included.
    let t = Instant::now();
    lab.down().expect("down");
    let halt = t.elapsed();
    assert_eq!(lab::leftovers("runtime"), Vec::<String>::new());
    eprintln!(
        "lab_runtime: boot {:.1} s, runtime installed in {:?}, down in {:.1} s",
        boot.as_secs_f64(),
        took.iter()
            .map(|d| format!("{:.1} s", d.as_secs_f64()))
            .collect::<Vec<_>>(),
        halt.as_secs_f64()
    );
    assert!(
        halt < Duration::from_secs(12),
        "machines running containers took {halt:?} to halt"
    );
}
