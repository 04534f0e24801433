//! `control-plane`'s 1.20 rendering against the real 1.20.2 binaries (built from Debian's
//! `kubernetes` source package by the lab's bundle): every flag kubin renders for a
//! component is one that component's `--help` lists, and the scheduler's and kube-proxy's
//! config files load in the real scheduler and kube-proxy (`--write-config-to`, which
//! decodes strictly, defaults and validates the file, then writes it and exits). The
//! kubelet has no such mode; its config is checked in the lab.

use control_plane::master::{apiserver_flags, controller_manager_flags, scheduler_flags};
use control_plane::node::{NodeFacts, kubelet_flags, proxy_flags, render_proxy_config};
use control_plane::versions::Component;
use inventory::example::GUIDES_EXAMPLE;
use inventory::{Inventory, Runtime};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn guides() -> Inventory {
    let inv = Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0;
    assert_eq!(inv.kubernetes.version.to_string(), "1.20.2");
    inv
}

/// The real binaries: the lab's build of the `kubernetes` source package (built here if
/// missing, as `cargo xtask ci` does; never skipped).
fn bin_dir() -> PathBuf {
    lab::k8s::ensure().expect("the Kubernetes 1.20.2 binaries build (lab::k8s::ensure)")
}

/// Every `--flag` name a binary's `--help` lists.
fn help_flags(bin: &Path) -> BTreeSet<String> {
    let out = Command::new(bin).arg("--help").output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let flags: BTreeSet<String> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_string()
        })
        .collect();
    assert!(
        flags.len() > 20,
        "{} --help listed too few flags: {text}",
        bin.display()
    );
    flags
}

fn name(flag: &str) -> &str {
    flag.split_once('=').map_or(flag, |(n, _)| n)
}

#[test]
fn every_flag_rendered_for_1_20_is_in_the_real_binaries_help() {
    let bins = bin_dir();
    let inv = guides();
    let mut subnet_mgr = guides();
    subnet_mgr.network.flannel.mode = inventory::FlannelMode::KubeSubnetMgr;
    let mut docker = guides();
    docker.network.runtime = Runtime::Docker;
    let rendered: Vec<(Component, Vec<String>)> = vec![
        (
            Component::Apiserver,
            apiserver_flags(&inv, "k8s-master1").unwrap(),
        ),
        (
            Component::ControllerManager,
            controller_manager_flags(&inv).unwrap(),
        ),
        (
            Component::ControllerManager,
            controller_manager_flags(&subnet_mgr).unwrap(),
        ),
        (Component::Scheduler, scheduler_flags(&inv).unwrap()),
        (
            Component::Kubelet,
            kubelet_flags(&inv, "k8s-node1").unwrap(),
        ),
        (
            Component::Kubelet,
            kubelet_flags(&docker, "k8s-node1").unwrap(),
        ),
        (Component::Proxy, proxy_flags(&inv).unwrap()),
    ];
    let mut missing = Vec::new();
    let mut checked = 0;
    for (component, flags) in &rendered {
        let help = help_flags(&bins.join(component.binary()));
        for f in flags {
            checked += 1;
            if !help.contains(name(f)) {
                missing.push(format!("{component} {f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "flags the 1.20.2 binaries do not list: {missing:?}"
    );
    eprintln!("{checked} rendered flags found in the 1.20.2 binaries' --help");
}

/// The guides' inventory with its Kubernetes config directory in `dir`, and a kubeconfig
/// (pointing at a loopback port nothing listens on) at every kubeconfig path.
fn inventory_in(dir: &Path) -> Inventory {
    let mut inv = guides();
    inv.paths.kubernetes_cfg = dir.to_path_buf();
    let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: x\n";
    let l = control_plane::Layout::new(&inv.paths);
    for p in [&l.scheduler_kubeconfig, &l.proxy_kubeconfig] {
        std::fs::write(p, kubeconfig).unwrap();
    }
    inv
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    text
}

#[test]
fn the_real_scheduler_loads_the_v1beta1_config() {
    let bins = bin_dir();
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory_in(dir.path());
    let l = control_plane::Layout::new(&inv.paths);
    let text = control_plane::master::render_scheduler_config(&inv).unwrap();
    assert!(text.contains("kubescheduler.config.k8s.io/v1beta1"));
    std::fs::write(&l.scheduler_config, &text).unwrap();
    let out = dir.path().join("written.yaml");
    run_ok(
        Command::new(bins.join("kube-scheduler"))
            .arg(format!("--config={}", l.scheduler_config.display()))
            .arg(format!("--write-config-to={}", out.display()))
            // No serving socket: the check needs none.
            .arg("--secure-port=0"),
    );
    let written = std::fs::read_to_string(&out).unwrap();
    // The scheduler decodes strictly: a field it does not know is refused, so the check
    // above would have caught one.
    std::fs::write(&l.scheduler_config, format!("{text}bogusField: 1\n")).unwrap();
    let refused = Command::new(bins.join("kube-scheduler"))
        .arg(format!("--config={}", l.scheduler_config.display()))
        .arg(format!(
            "--write-config-to={}",
            dir.path().join("x.yaml").display()
        ))
        .arg("--secure-port=0")
        .output()
        .unwrap();
    assert!(!refused.status.success() || !dir.path().join("x.yaml").exists());
    for want in [
        "leaderElect: true",
        &format!("kubeconfig: {}", l.scheduler_kubeconfig.display()),
        "healthzBindAddress: 127.0.0.1:10251",
        "metricsBindAddress: 127.0.0.1:10251",
    ] {
        assert!(written.contains(want), "{want} not in {written}");
    }
}

/// What kube-proxy printed for `--config=FILE --write-config-to=OUT`, once it is known
/// that it decoded the file strictly and validated it.
///
/// This 1.20.2 build (Debian's source, Go 1.19) crashes while *writing* the config: the
/// vendored json-iterator/reflect2 predates Go 1.18's map iterator and faults encoding a
/// map (`reflect.mapiternext` under `writeConfigFile`), with or without `--config`. The
/// write comes after decoding and validation (`failed complete` / `failed validate` are
/// fatal before it; an unknown field warns `strict decoding failed`), so reaching that
/// frame without those messages proves the file loads; the written copy is not readable.
#[track_caller]
fn proxy_loads(bin: &Path, config: &Path, out: &Path) -> String {
    let o = Command::new(bin)
        .arg(format!("--config={}", config.display()))
        .arg(format!("--write-config-to={}", out.display()))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    for refusal in [
        "failed complete",
        "failed validate",
        "strict decod",
        "unknown field",
    ] {
        assert!(
            !text.contains(refusal),
            "kube-proxy refused the config: {text}"
        );
    }
    assert!(
        o.status.success() || text.contains("writeConfigFile"),
        "kube-proxy stopped before writing the config: {text}"
    );
    text
}

#[test]
fn the_real_kube_proxy_loads_its_config_for_the_lab_and_for_ipvs_hosts() {
    let bins = bin_dir();
    let proxy = bins.join("kube-proxy");
    // The check itself: a config kube-proxy refuses is caught.
    let bad = tempfile::tempdir().unwrap();
    let bad_config = bad.path().join("bad.yaml");
    std::fs::write(
        &bad_config,
        "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: bogus\n",
    )
    .unwrap();
    let refused = std::panic::catch_unwind(|| {
        proxy_loads(&proxy, &bad_config, &bad.path().join("out.yaml"));
    });
    assert!(refused.is_err(), "a bogus mode went unnoticed");

    for facts in [
        NodeFacts {
            ipvs: false,
            in_container: true,
            ..NodeFacts::NONE
        },
        NodeFacts {
            ipvs: true,
            in_container: false,
            ..NodeFacts::NONE
        },
    ] {
        let dir = tempfile::tempdir().unwrap();
        let inv = inventory_in(dir.path());
        let l = control_plane::Layout::new(&inv.paths);
        let rendered = render_proxy_config(&inv, "k8s-node1", &facts).unwrap();
        std::fs::write(&l.proxy_config, &rendered.text).unwrap();
        proxy_loads(&proxy, &l.proxy_config, &dir.path().join("written.yaml"));
    }
}

/// The table's claims for 1.20, checked with the binaries: every flag it says 1.20
/// accepts is parsed (deprecated ones are hidden from `--help` but still parsed), so
/// `--flag=0 --help` never answers `unknown flag`.
#[test]
fn every_flag_the_table_says_1_20_accepts_is_parsed_by_the_real_binaries() {
    let bins = bin_dir();
    let r = control_plane::Release::new(guides().kubernetes.version).unwrap();
    let mut checked = 0;
    for c in Component::ALL {
        // The check can fail: a flag no release has is refused by name.
        let out = Command::new(bins.join(c.binary()))
            .args(["--kubin-no-such-flag=0", "--help"])
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("unknown flag: --kubin-no-such-flag"),
            "{c}: {out:?}"
        );
        for rule in control_plane::versions::FLAGS {
            let covers = match rule.applies {
                control_plane::versions::Applies::Only(only) => only == c,
                control_plane::versions::Applies::Every => true,
            };
            if !covers || !rule.accepted_in(r.minor()) {
                continue;
            }
            checked += 1;
            let out = Command::new(bins.join(c.binary()))
                .arg(format!("{}=0", rule.flag))
                .arg("--help")
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(
                !text.contains("unknown flag"),
                "{c} 1.20.2 does not know {} ({}): {}",
                rule.flag,
                rule.checked,
                text.lines().next().unwrap_or("")
            );
        }
    }
    assert!(checked > 20, "{checked}");
    eprintln!("{checked} (component, flag) pairs the table says 1.20 accepts were parsed");
}
