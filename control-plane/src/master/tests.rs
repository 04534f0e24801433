//! Snapshots of the masters' files for 1.20 and 1.37, and checks across every release.

use super::*;
use crate::args::parse_env;
use crate::testing::{SNAPSHOT_VERSIONS, guides_at, subnet_mgr_at};

#[test]
fn snapshots_of_every_master_file() {
    for v in SNAPSHOT_VERSIONS {
        let inv = guides_at(v);
        let env = |c, flags: Vec<String>| render_component_env(c, &flags);
        insta::assert_snapshot!(
            format!("{v}_kube-apiserver.conf"),
            env(
                Component::Apiserver,
                apiserver_flags(&inv, "k8s-master1").unwrap()
            )
        );
        insta::assert_snapshot!(
            format!("{v}_kube-controller-manager.conf"),
            env(
                Component::ControllerManager,
                controller_manager_flags(&inv).unwrap()
            )
        );
        insta::assert_snapshot!(
            format!("{v}_kube-scheduler.conf"),
            env(Component::Scheduler, scheduler_flags(&inv).unwrap())
        );
        insta::assert_snapshot!(
            format!("{v}_kube-scheduler-config.yaml"),
            render_scheduler_config(&inv).unwrap()
        );
        for c in [
            Component::Apiserver,
            Component::ControllerManager,
            Component::Scheduler,
        ] {
            insta::assert_snapshot!(
                format!("{v}_{}.service", c.binary()),
                render_component_unit(&inv, c)
            );
        }
    }
}

#[test]
fn the_units_are_the_same_for_every_release() {
    let old = guides_at("1.20.2");
    let new = guides_at("1.37.0");
    for c in Component::ALL {
        assert_eq!(
            render_component_unit(&old, c),
            render_component_unit(&new, c)
        );
    }
}

#[test]
fn apiserver_binds_and_advertises_the_masters_address_on_the_secure_port_only() {
    let inv = guides_at("1.20.2");
    let flags = apiserver_flags(&inv, "k8s-master1").unwrap();
    assert!(flags.contains(&"--bind-address=192.168.31.63".to_string()));
    assert!(flags.contains(&"--advertise-address=192.168.31.63".to_string()));
    assert!(flags.contains(&"--secure-port=6443".to_string()));
    assert!(flags.contains(&"--authorization-mode=Node,RBAC".to_string()));
    assert!(
        flags
            .iter()
            .any(|f| f.starts_with("--enable-admission-plugins=") && f.contains("NodeRestriction"))
    );
    assert!(flags.contains(
        &"--etcd-servers=https://192.168.31.63:2379,https://192.168.31.65:2379,https://192.168.31.66:2379"
            .to_string()
    ));
    for insecure in [
        "--insecure-port",
        "--insecure-bind-address",
        "--port",
        "--address",
    ] {
        assert!(
            !flags.iter().any(|f| crate::args::flag_name(f) == insecure),
            "{insecure}"
        );
    }
}

#[test]
fn a_host_without_the_master_role_is_refused_by_name() {
    let inv = guides_at("1.20.2");
    match apiserver_flags(&inv, "k8s-node1") {
        Err(Error::NotAMaster { name, masters }) => {
            assert_eq!(name, "k8s-node1");
            assert_eq!(masters, "k8s-master1");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn node_cidrs_are_allocated_only_for_flannel_subnet_manager() {
    let etcd_mode = controller_manager_flags(&guides_at("1.20.2")).unwrap();
    assert!(
        !etcd_mode
            .iter()
            .any(|f| f.starts_with("--allocate-node-cidrs"))
    );
    assert!(!etcd_mode.iter().any(|f| f.starts_with("--cluster-cidr")));
    let mut inv = subnet_mgr_at("1.20.2");
    let flags = controller_manager_flags(&inv).unwrap();
    assert!(flags.contains(&"--allocate-node-cidrs=true".to_string()));
    assert!(flags.contains(&"--cluster-cidr=172.17.0.0/16".to_string()));
    assert!(flags.contains(&"--node-cidr-mask-size=24".to_string()));
    inv.network.flannel.subnet_len = Some(26);
    let flags = controller_manager_flags(&inv).unwrap();
    assert!(flags.contains(&"--node-cidr-mask-size=26".to_string()));
}

#[test]
fn scheduler_config_follows_the_served_api_version() {
    for (v, api, loopback) in [
        ("1.20.2", "v1beta1", true),
        ("1.21.0", "v1beta1", true),
        ("1.22.0", "v1beta2", true),
        ("1.23.0", "v1beta3", false),
        ("1.24.0", "v1beta3", false),
        ("1.25.0", "v1", false),
        ("1.37.0", "v1", false),
    ] {
        let c = scheduler_config(&guides_at(v)).unwrap();
        assert_eq!(
            c.api_version,
            format!("kubescheduler.config.k8s.io/{api}"),
            "{v}"
        );
        assert_eq!(c.healthz_bind_address.is_some(), loopback, "{v}");
        assert!(c.leader_election.leader_elect);
        let text = render_scheduler_config(&guides_at(v)).unwrap();
        let back: KubeSchedulerConfiguration = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(back, c, "{v}");
    }
}

#[test]
fn env_files_parse_back_to_the_flags() {
    let inv = subnet_mgr_at("1.20.2");
    let flags = controller_manager_flags(&inv).unwrap();
    let env = render_component_env(Component::ControllerManager, &flags);
    assert!(env.starts_with("KUBE_CONTROLLER_MANAGER_OPTS=\""));
    assert_eq!(parse_env(&env), flags);
}
