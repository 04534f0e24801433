//! The plans' shape, secrets kept out, restarts tied to files, refusals; and properties
//! over every release and generated facts.

use super::*;
use crate::args::{flag_name, parse_env};
use crate::config::{KubeProxyConfiguration, KubeSchedulerConfiguration, KubeletConfiguration};
use crate::testing::{guides_at, guides_with, subnet_mgr_at};
use crate::versions::{FLAGS, Release};
use inventory::Version;
use proptest::prelude::*;

fn material() -> ControlPlaneMaterial {
    ControlPlaneMaterial {
        certs: MasterCerts {
            ca_pem: "CA".into(),
            ca_key_pem: "CAKEY-SECRET".into(),
            apiserver_cert_pem: "APISERVER".into(),
            apiserver_key_pem: "APISERVERKEY-SECRET".into(),
            kubelet_client_cert_pem: "KUBELETCLIENT".into(),
            kubelet_client_key_pem: "KUBELETCLIENTKEY-SECRET".into(),
            sa_key_pem: "SAKEY-SECRET".into(),
            sa_pub_pem: "SAPUB".into(),
            etcd_ca_pem: "ETCDCA".into(),
            etcd_client_cert_pem: "ETCDCLIENT".into(),
            etcd_client_key_pem: "ETCDCLIENTKEY-SECRET".into(),
        },
        token_csv: "TOKEN-SECRET,kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n".into(),
        controller_manager_kubeconfig: "KCM-KUBECONFIG-SECRET".into(),
        scheduler_kubeconfig: "SCHED-KUBECONFIG-SECRET".into(),
        binaries: MasterBinaries {
            kube_apiserver: b"ELF apiserver".into(),
            kube_controller_manager: b"ELF kcm".into(),
            kube_scheduler: b"ELF scheduler".into(),
        },
    }
}

fn node_material() -> NodeMaterial {
    NodeMaterial {
        ca_pem: "CA".into(),
        bootstrap_kubeconfig: "BOOTSTRAP-TOKEN-SECRET".into(),
        proxy_kubeconfig: "PROXY-KUBECONFIG-SECRET".into(),
        binaries: NodeBinaries {
            kubelet: b"ELF kubelet".into(),
            kube_proxy: b"ELF kube-proxy".into(),
        },
    }
}

fn lab_facts(inv: &Inventory) -> BTreeMap<String, NodeFacts> {
    inv.nodes()
        .iter()
        .map(|h| {
            (
                h.name.clone(),
                NodeFacts {
                    ipvs: false,
                    in_container: true,
                    ..NodeFacts::NONE
                },
            )
        })
        .collect()
}

fn files(plan: &Plan) -> Vec<&FileSpec> {
    plan.phases
        .iter()
        .flat_map(|p| &p.hosts)
        .flat_map(|h| &h.steps)
        .filter_map(|s| match s {
            Step::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[test]
fn control_plane_plan_for_the_guides() {
    let inv = guides_at("1.20.2");
    let plan = plan_control_plane(&inv, &material()).unwrap();
    let json = serde_json::to_string_pretty(&plan).unwrap();
    assert!(!json.contains("SECRET"), "{json}");
    insta::assert_snapshot!("plan_control_plane_1.20.2", json);
    assert_eq!(plan.phases.len(), 2);
    let hosts: Vec<&str> = plan.phases[1]
        .hosts
        .iter()
        .map(|h| h.host.as_str())
        .collect();
    assert_eq!(hosts, ["k8s-master1"]);
}

#[test]
fn node_plan_for_the_lab_prints_its_adjustments() {
    let inv = guides_at("1.20.2");
    let plan = plan_node_components(&inv, &lab_facts(&inv), &node_material()).unwrap();
    let json = serde_json::to_string_pretty(&plan).unwrap();
    assert!(!json.contains("SECRET"), "{json}");
    insta::assert_snapshot!("plan_node_components_1.20.2_lab", json);
    let hosts: Vec<&str> = plan.phases[0]
        .hosts
        .iter()
        .map(|h| h.host.as_str())
        .collect();
    assert_eq!(hosts, ["k8s-node1", "k8s-node2"]);
    let notes: Vec<&str> = plan.phases[0].hosts[0]
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::NotApplicable { what, .. } => Some(what.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        node_adjustments(&inv, "k8s-node1", &lab_facts(&inv)["k8s-node1"])
            .unwrap()
            .iter()
            .map(|a| a.what.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!(notes.len(), 3);
}

#[test]
fn keys_tokens_and_kubeconfigs_are_secret_and_0600() {
    let inv = guides_at("1.20.2");
    let cp = plan_control_plane(&inv, &material()).unwrap();
    let nodes = plan_node_components(&inv, &lab_facts(&inv), &node_material()).unwrap();
    for f in files(&cp).into_iter().chain(files(&nodes)) {
        let carries_secret = String::from_utf8_lossy(&f.content).contains("SECRET");
        assert_eq!(f.secret, carries_secret, "{}", f.path.display());
        if carries_secret {
            assert_eq!(f.mode, 0o600, "{}", f.path.display());
        }
    }
}

#[test]
fn every_unit_restarts_only_on_files_its_plan_writes() {
    let inv = guides_at("1.20.2");
    for plan in [
        plan_control_plane(&inv, &material()).unwrap(),
        plan_node_components(&inv, &lab_facts(&inv), &node_material()).unwrap(),
    ] {
        let written: Vec<&PathBuf> = files(&plan).iter().map(|f| &f.path).collect();
        for h in &plan.phases[1].hosts {
            for s in &h.steps {
                let Step::Unit(u) = s else { panic!("{s:?}") };
                assert!(u.enabled && u.running == Some(true) && !u.no_block);
                for f in &u.restart_on {
                    assert!(
                        written.contains(&f),
                        "{} restarts on unwritten {}",
                        u.name,
                        f.display()
                    );
                }
            }
        }
    }
    // The scheduler does not restart for the apiserver's certificate, nor the reverse.
    let sched = restart_on(&inv, Component::Scheduler);
    assert!(!sched.iter().any(|p| p.ends_with("apiserver.pem")));
    let api = restart_on(&inv, Component::Apiserver);
    assert!(
        !api.iter()
            .any(|p| p.ends_with("kube-scheduler-config.yaml"))
    );
}

#[test]
fn missing_facts_are_refused_by_host() {
    let inv = guides_at("1.20.2");
    let mut facts = lab_facts(&inv);
    facts.remove("k8s-node2");
    match plan_node_components(&inv, &facts, &node_material()) {
        Err(Error::MissingFacts { host }) => assert_eq!(host, "k8s-node2"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn releases_outside_the_table_are_refused_with_the_range() {
    for (v, shown) in [
        (Version::new(1, 19, 16), "1.19.16"),
        (Version::new(1, 38, 0), "1.38.0"),
    ] {
        let inv = guides_with(v);
        for err in [
            plan_control_plane(&inv, &material()).unwrap_err(),
            plan_node_components(&inv, &lab_facts(&inv), &node_material()).unwrap_err(),
        ] {
            assert!(matches!(err, Error::UnsupportedVersion { version, .. } if version == v));
            assert_eq!(
                err.to_string(),
                format!(
                    "Kubernetes {shown} is not supported: kubin renders 1.20.0 through 1.37.x \
                     (the flag-by-version table covers no other release)"
                )
            );
        }
    }
}

#[test]
fn the_inventory_accepts_exactly_the_tables_range() {
    let accepts = |v: &str| {
        let text = inventory::example::GUIDES_EXAMPLE
            .replace("version: \"1.20.2\"", &format!("version: \"{v}\""));
        inventory::Inventory::from_yaml(&text, "x").is_ok()
    };
    for v in ["1.20.0", "1.37.0", "1.37.99"] {
        assert!(accepts(v), "{v}");
    }
    for v in ["1.19.16", "1.38.0"] {
        assert!(!accepts(v), "{v}");
    }
}

#[test]
fn debug_output_hides_keys() {
    let m = material();
    let text = format!("{m:?} {:?} {:?}", m.certs, node_material());
    assert!(!text.contains("SECRET"), "{text}");
    assert!(text.contains("<13 bytes>"), "{text}");
}

/// Every flag of every env file a plan writes, with its component.
fn rendered_flags(plan: &Plan) -> Vec<(Component, String)> {
    let mut out = Vec::new();
    for f in files(plan) {
        for c in Component::ALL {
            if f.path.file_name().and_then(|n| n.to_str()) == Some(&format!("{}.conf", c.binary()))
            {
                let text = String::from_utf8(f.content.to_vec()).unwrap();
                out.extend(parse_env(&text).into_iter().map(|fl| (c, fl)));
            }
        }
    }
    out
}

/// Asserts that no rendered flag is one the table says `release` refuses, reading the
/// env files the plans write (not the renderer's own check).
#[track_caller]
fn assert_no_refused_flag(release: Release, plans: &[Plan]) {
    let flags: Vec<(Component, String)> = plans.iter().flat_map(rendered_flags).collect();
    // Every component's env file is there.
    for c in Component::ALL {
        assert!(
            flags.iter().any(|(fc, _)| *fc == c),
            "{release}: no {c} flags"
        );
    }
    for (c, f) in &flags {
        let name = flag_name(f);
        for rule in FLAGS {
            let covers = match rule.applies {
                crate::versions::Applies::Only(only) => only == *c,
                crate::versions::Applies::Every => true,
            };
            if covers && rule.flag == name {
                assert!(
                    rule.accepted_in(release.minor()),
                    "{release}: {c} got {f}, refused ({})",
                    rule.checked
                );
            }
        }
    }
}

#[test]
fn no_release_from_1_20_to_1_37_gets_a_flag_it_refuses() {
    for r in Release::all() {
        for inv in [guides_with(r.version()), {
            let mut i = subnet_mgr_at("1.20.2");
            i.kubernetes.version = r.version();
            i
        }] {
            let cp = plan_control_plane(&inv, &material()).unwrap();
            let nodes = plan_node_components(&inv, &lab_facts(&inv), &node_material()).unwrap();
            assert_no_refused_flag(r, &[cp, nodes]);
        }
    }
}

fn config_of<'a>(plan: &'a Plan, file: &str) -> &'a str {
    let f = files(plan)
        .into_iter()
        .find(|f| f.path.file_name().and_then(|n| n.to_str()) == Some(file))
        .unwrap();
    std::str::from_utf8(&f.content).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any covered release (any patch), runtime, pod network mode and host facts: every
    /// flag is one the release accepts, and every config file parses back to what was
    /// meant (render-then-parse round trip).
    #[test]
    fn any_release_and_facts_render_accepted_flags_and_parseable_configs(
        minor in 20u32..=37,
        patch in 0u32..20,
        docker in any::<bool>(),
        subnet_mgr in any::<bool>(),
        ipvs in any::<bool>(),
        in_container in any::<bool>(),
    ) {
        let mut inv = if subnet_mgr { subnet_mgr_at("1.20.2") } else { guides_at("1.20.2") };
        inv.kubernetes.version = Version::new(1, minor, patch);
        let r = Release::new(inv.kubernetes.version).unwrap();
        if docker {
            inv.network.runtime = inventory::Runtime::Docker;
        }
        let facts: BTreeMap<String, NodeFacts> = inv
            .nodes()
            .iter()
            .map(|h| (h.name.clone(), NodeFacts {
                    ipvs,
                    in_container,
                    ..NodeFacts::NONE
                }))
            .collect();
        let cp = plan_control_plane(&inv, &material()).unwrap();
        let nodes = match plan_node_components(&inv, &facts, &node_material()) {
            Err(Error::DockerGone { .. }) => {
                prop_assert!(docker && minor >= 24);
                return Ok(());
            }
            other => other.unwrap(),
        };
        assert_no_refused_flag(r, &[cp.clone(), nodes.clone()]);

        let sched: KubeSchedulerConfiguration =
            serde_saphyr::from_str(config_of(&cp, "kube-scheduler-config.yaml")).unwrap();
        prop_assert_eq!(sched.api_version, r.scheduler_api().api_version());
        let kubelet: KubeletConfiguration =
            serde_saphyr::from_str(config_of(&nodes, "kubelet-config.yaml")).unwrap();
        prop_assert_eq!(kubelet.fail_swap_on, !in_container);
        prop_assert_eq!(
            kubelet.container_runtime_endpoint.is_some(),
            !docker && minor >= 27
        );
        let proxy: KubeProxyConfiguration =
            serde_saphyr::from_str(config_of(&nodes, "kube-proxy-config.yaml")).unwrap();
        prop_assert_eq!(proxy.mode == "ipvs", ipvs && minor < 35);
        prop_assert_eq!(proxy.conntrack.is_some(), in_container);
        prop_assert_eq!(proxy.cluster_cidr, inv.network.pod_cidr.to_string());
    }
}
