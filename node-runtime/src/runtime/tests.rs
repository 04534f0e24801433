//! The runtime plan on a lab machine and on a plain host.

use super::*;
use crate::adjust::{KubeletSetting, kube_proxy_settings, kubelet_settings};
use crate::bundle::tests::lab_bundle;
use crate::network::tests::nspawn;
use crate::tests::inv;

fn files(p: &HostPlan) -> Vec<(String, u32)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::File(f) => Some((f.path.display().to_string(), f.mode)),
            _ => None,
        })
        .collect()
}

fn bare_metal() -> RuntimeFacts {
    RuntimeFacts {
        containerd_fs: "ext2/ext3".into(),
        can_lower_oom_score: true,
        container: None,
        ipvs: true,
        interface: Some("eth0".into()),
        default_route: true,
    }
}

#[test]
fn a_lab_node_as_json_with_its_adjustments() {
    let p = plan_runtime(&inv(&[]), "k8s-node1", &nspawn(), &lab_bundle()).unwrap();
    insta::assert_json_snapshot!("runtime_steps_lab_node", p.steps);
    let adjustments: Vec<String> = p.adjustments.iter().map(|a| a.to_string()).collect();
    insta::assert_snapshot!("runtime_adjustments_lab_node", adjustments.join("\n"));
    assert_eq!(
        kube_proxy_settings(&p.adjustments),
        [
            KubeProxySetting::ConntrackMaxPerCore(0),
            KubeProxySetting::Mode(ProxyMode::Iptables)
        ]
    );
    assert_eq!(
        kubelet_settings(&p.adjustments),
        [KubeletSetting::CgroupDriverSystemd]
    );
}

#[test]
fn files_go_where_upstream_puts_them() {
    let p = plan_runtime(&inv(&[]), "k8s-node1", &bare_metal(), &lab_bundle()).unwrap();
    let f = files(&p);
    for (path, mode) in [
        ("/usr/local/bin/containerd", 0o755),
        ("/usr/local/bin/containerd-shim-runc-v2", 0o755),
        ("/usr/local/bin/ctr", 0o755),
        ("/usr/local/sbin/runc", 0o755),
        ("/opt/cni/bin/bridge", 0o755),
        ("/opt/cni/bin/host-local", 0o755),
        ("/opt/cni/bin/loopback", 0o755),
        ("/opt/cni/bin/portmap", 0o755),
        ("/etc/containerd/config.toml", 0o644),
        ("/usr/lib/systemd/system/containerd.service", 0o644),
        ("/opt/kubernetes/images/pause.tar", 0o644),
        ("/opt/kubernetes/images/busybox.tar", 0o644),
    ] {
        assert!(
            f.contains(&(path.to_string(), mode)),
            "{path} {mode:o} in {f:?}"
        );
    }
    // A plain host needs no containerd adjustment, and kube-proxy keeps its defaults.
    assert!(
        p.adjustments
            .iter()
            .all(|a| matches!(a.target, Target::Kubelet(_)))
    );
}

#[test]
fn containerd_restarts_only_for_its_binary_config_and_unit() {
    let p = plan_runtime(&inv(&[]), "k8s-node1", &nspawn(), &lab_bundle()).unwrap();
    let unit = p
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Unit(u) => Some(u),
            _ => None,
        })
        .unwrap();
    assert_eq!(unit.name, "containerd.service");
    let watched: Vec<String> = unit
        .restart_on
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        watched,
        [
            "/usr/local/bin/containerd",
            "/etc/containerd/config.toml",
            "/usr/lib/systemd/system/containerd.service"
        ]
    );
    // Every file the unit watches is written before the unit step.
    let unit_at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::Unit(_)))
        .unwrap();
    for w in &unit.restart_on {
        let at = p
            .steps
            .iter()
            .position(|s| matches!(s, Step::File(f) if &f.path == w))
            .unwrap();
        assert!(at < unit_at, "{}", w.display());
    }
}

#[test]
fn images_are_imported_once_from_the_plans_files() {
    let p = plan_runtime(&inv(&[]), "k8s-node1", &nspawn(), &lab_bundle()).unwrap();
    let imports: Vec<&plan::CommandSpec> = p
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Command(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(imports.len(), 2);
    insta::assert_snapshot!(
        "import_pause",
        format!(
            "{}\ncommand: {}\nunless: {}",
            imports[0].description,
            imports[0].command,
            imports[0].unless.as_deref().unwrap()
        )
    );
    // The archive is in place before its import, after containerd runs.
    let unit_at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::Unit(_)))
        .unwrap();
    let file_at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::File(f) if f.path == std::path::Path::new("/opt/kubernetes/images/pause.tar")))
        .unwrap();
    let import_at = p
        .steps
        .iter()
        .position(|s| matches!(s, Step::Command(c) if c.command.contains("pause.tar")))
        .unwrap();
    assert!(unit_at < file_at && file_at < import_at);
    // With overlayfs available, images unpack for the overlayfs snapshotter.
    let plain = plan_runtime(&inv(&[]), "k8s-node1", &bare_metal(), &lab_bundle()).unwrap();
    assert!(
        plain.steps.iter().any(
            |s| matches!(s, Step::Command(c) if c.command.contains("--snapshotter=overlayfs"))
        )
    );
}

#[test]
fn only_nodes_with_a_usable_bundle_are_planned() {
    let i = inv(&[]);
    let err = plan_runtime(&i, "k8s-master1", &nspawn(), &lab_bundle()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"k8s-master1\" is not a node in the inventory"
    );
    let mut bundle = lab_bundle();
    bundle.containerd_bin.remove("containerd");
    bundle.runc = Default::default();
    let err = plan_runtime(&i, "k8s-node1", &nspawn(), &bundle).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the runtime bundle is unusable: containerd's bin/containerd is missing or empty; runc is empty"
    );
    let mut bundle = lab_bundle();
    bundle.containerd_version = inventory::Version::new(2, 0, 0);
    assert!(matches!(
        plan_runtime(&i, "k8s-node1", &nspawn(), &bundle),
        Err(Error::Versions { .. })
    ));
}

#[test]
fn kubelet_1_29_gets_the_gc_threshold() {
    let i = inv(&[("version: \"1.20.2\"", "version: \"1.29.3\"")]);
    let p = plan_runtime(&i, "k8s-node1", &bare_metal(), &lab_bundle()).unwrap();
    assert_eq!(
        kubelet_settings(&p.adjustments),
        [
            KubeletSetting::CgroupDriverSystemd,
            KubeletSetting::ImageGcHighThresholdPercent(100)
        ]
    );
}
