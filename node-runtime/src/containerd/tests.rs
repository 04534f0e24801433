//! containerd's config for every combination of facts, its round trip, the unit, and the
//! version rules.

use super::*;

fn facts(fs: &str, can_lower: bool) -> RuntimeFacts {
    RuntimeFacts {
        containerd_fs: fs.into(),
        can_lower_oom_score: can_lower,
        ..RuntimeFacts::default()
    }
}

const PAUSE: &str = "registry.k8s.io/pause:3.2";

#[test]
fn config_for_every_facts_combination() {
    for (name, fs, can_lower) in [
        ("overlay_root_no_cap_sys_resource", "overlayfs", false),
        ("overlay_root_with_cap_sys_resource", "overlay", true),
        ("ext4_no_cap_sys_resource", "ext2/ext3", false),
        ("ext4_with_cap_sys_resource", "ext2/ext3", true),
    ] {
        let (config, adjustments) = containerd_config(&facts(fs, can_lower), PAUSE);
        let text = render_config("k8s-node1", &config, &adjustments).unwrap();
        insta::assert_snapshot!(format!("config_{name}"), text);
        // Render-then-parse gives the same config back.
        assert_eq!(parse_config(&text).unwrap(), config, "{name}");
        let on_overlay = fs.starts_with("overlay");
        assert_eq!(
            config.plugins.cri.containerd.snapshotter,
            if on_overlay { "native" } else { "overlayfs" }
        );
        assert_eq!(config.plugins.cri.restrict_oom_score_adj, !can_lower);
        assert_eq!(
            adjustments
                .iter()
                .filter(|a| a.target == Target::Containerd)
                .count(),
            usize::from(on_overlay) + usize::from(!can_lower)
        );
        // The kubelet must always match SystemdCgroup.
        assert!(
            adjustments
                .iter()
                .any(|a| a.target == Target::Kubelet(KubeletSetting::CgroupDriverSystemd))
        );
    }
}

#[test]
fn the_keys_containerd_reads_are_where_it_reads_them() {
    let (config, adjustments) = containerd_config(&facts("overlayfs", false), PAUSE);
    let text = render_config("h", &config, &adjustments).unwrap();
    // Read back untyped, with containerd's own key paths.
    let v: toml::Value = toml::from_str(&text).unwrap();
    let cri = &v["plugins"]["io.containerd.grpc.v1.cri"];
    assert_eq!(v["version"].as_integer(), Some(2));
    assert_eq!(cri["sandbox_image"].as_str(), Some(PAUSE));
    assert_eq!(cri["restrict_oom_score_adj"].as_bool(), Some(true));
    assert_eq!(cri["containerd"]["snapshotter"].as_str(), Some("native"));
    let runc = &cri["containerd"]["runtimes"]["runc"];
    assert_eq!(runc["runtime_type"].as_str(), Some("io.containerd.runc.v2"));
    assert_eq!(runc["options"]["SystemdCgroup"].as_bool(), Some(true));
    assert_eq!(
        runc["options"]["BinaryName"].as_str(),
        Some("/usr/local/sbin/runc")
    );
    assert_eq!(cri["cni"]["bin_dir"].as_str(), Some("/opt/cni/bin"));
    assert_eq!(cri["cni"]["conf_dir"].as_str(), Some("/etc/cni/net.d"));
}

#[test]
fn upstream_unit() {
    let unit = render_unit();
    for line in [
        "Delegate=yes",
        "KillMode=process",
        "LimitNOFILE=infinity",
        "Type=notify",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line}");
    }
    insta::assert_snapshot!(unit);
}

#[track_caller]
fn versions(containerd: (u32, u32, u32), kubelet: (u32, u32, u32)) -> Result<Vec<String>, String> {
    let c = Version::new(containerd.0, containerd.1, containerd.2);
    let k = Version::new(kubelet.0, kubelet.1, kubelet.2);
    version_adjustments(c, k)
        .map(|a| a.iter().map(|a| a.to_string()).collect())
        .map_err(|e| e.to_string())
}

#[test]
fn kubelet_1_29_with_containerd_1_6_keeps_the_sandbox_image() {
    assert_eq!(versions((1, 6, 20), (1, 20, 2)), Ok(vec![]));
    assert_eq!(versions((1, 6, 20), (1, 28, 9)), Ok(vec![]));
    assert_eq!(
        versions((1, 6, 20), (1, 29, 0)),
        Ok(vec!["kubelet: imageGCHighThresholdPercent: 100 (containerd 1.6.20 cannot pin the sandbox image, and kubelet 1.29.0 would collect it; offline it is never pulled back)".to_string()])
    );
    // containerd 1.7 pins the sandbox image itself.
    assert_eq!(versions((1, 7, 0), (1, 30, 0)), Ok(vec![]));
    let (_, adjustments) = containerd_config(&facts("xfs", true), PAUSE);
    let gc = version_adjustments(Version::new(1, 6, 20), Version::new(1, 29, 0)).unwrap();
    assert_eq!(
        crate::adjust::kubelet_settings(&[adjustments, gc].concat()),
        [
            KubeletSetting::CgroupDriverSystemd,
            KubeletSetting::ImageGcHighThresholdPercent(100)
        ]
    );
}

#[test]
fn unusable_containerd_releases_are_refused() {
    assert_eq!(
        versions((2, 0, 0), (1, 30, 0)),
        Err("containerd 2.0.0 cannot be used with kubelet 1.30.0: kubin writes containerd 1.x's config (version 2); containerd 2 reads version 3".to_string())
    );
    assert!(versions((1, 5, 18), (1, 26, 0)).is_err());
    assert!(versions((1, 5, 18), (1, 25, 0)).is_ok());
}
