//! Snapshots of every rendered file, and round trips of the formats.

use super::*;
use inventory::example::GUIDES_EXAMPLE;

fn inv(edit: &[(&str, &str)]) -> Inventory {
    let mut text = GUIDES_EXAMPLE.to_string();
    for (from, to) in edit {
        assert!(text.contains(from), "the example has no {from:?}");
        text = text.replace(from, to);
    }
    Inventory::from_yaml(&text, "test")
        .expect("valid inventory")
        .0
}

fn file<'a>(plan: &'a Plan, host: &str, path: &str) -> &'a FileSpec {
    plan.phases[0]
        .hosts
        .iter()
        .find(|h| h.host == host)
        .and_then(|h| {
            h.steps.iter().find_map(|s| match s {
                Step::File(f) if f.path == std::path::Path::new(path) => Some(f),
                _ => None,
            })
        })
        .unwrap_or_else(|| panic!("no {path} for {host}"))
}

fn text(f: &FileSpec) -> &str {
    std::str::from_utf8(&f.content).unwrap()
}

#[test]
fn env_file_per_host() {
    let i = inv(&[]);
    insta::assert_snapshot!(render_env(&i, &i.hosts[1]));
}

#[test]
fn unit_for_containerd_and_docker() {
    insta::assert_snapshot!("unit_containerd", render_unit(&inv(&[])));
    insta::assert_snapshot!(
        "unit_docker",
        render_unit(&inv(&[("runtime: containerd", "runtime: docker")]))
    );
}

#[test]
fn docker_dropin() {
    insta::assert_snapshot!(render_docker_dropin());
}

#[test]
fn cni_conflist_and_its_round_trip() {
    let text = render_conflist();
    insta::assert_snapshot!(text);
    let parsed: ConfList = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed, cni::conflist());
}

#[test]
fn kube_flannel_manifest_and_its_net_conf() {
    let i = inv(&[
        ("mode: etcd", "mode: kube-subnet-mgr"),
        ("version: \"0.10.0\"", "version: \"0.22.0\""),
    ]);
    let conf = NetConf::from_inventory(&i);
    let yaml = render_manifest(&i, &conf, &Images::for_version(i.network.flannel.version));
    insta::assert_snapshot!(yaml);
    let docs: Vec<serde_json::Value> = serde_saphyr::from_str_multiple(&yaml).unwrap();
    assert_eq!(docs.len(), 6);
    let cm = docs.iter().find(|d| d["kind"] == "ConfigMap").unwrap();
    let net = cm["data"]["net-conf.json"].as_str().unwrap();
    assert_eq!(NetConf::parse(net, "net-conf.json").unwrap(), conf);
    let cni = cm["data"]["cni-conf.json"].as_str().unwrap();
    assert_eq!(
        serde_json::from_str::<ConfList>(cni).unwrap(),
        cni::conflist()
    );
    let ds = docs.iter().find(|d| d["kind"] == "DaemonSet").unwrap();
    let args = &ds["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_array()
            .unwrap()
            .iter()
            .any(|a| a == "--kube-subnet-mgr")
    );
}

#[test]
fn etcd_mode_plan_for_containerd() {
    let i = inv(&[]);
    let inputs = NodeInputs {
        certs: Some(ClientTls {
            ca_pem: "CA".into(),
            cert_pem: "CERT".into(),
            key_pem: "PRIVATE KEY".into(),
        }),
        binaries: Some(
            Binaries::new()
                .with("flanneld", vec![1, 2, 3])
                .with("mk-docker-opts.sh", b"#!/bin/sh\n".to_vec()),
        ),
        images: Images::for_version(i.network.flannel.version),
    };
    let plan = plan_node(&i, &inputs).unwrap();
    // Masters and nodes, in inventory order; the plan's JSON never shows the key.
    let json = serde_json::to_string_pretty(&plan).unwrap();
    assert!(!json.contains("PRIVATE"));
    insta::assert_snapshot!(json);
    assert!(
        text(file(&plan, "k8s-node2", "/opt/kubernetes/cfg/flanneld"))
            .contains("--iface=192.168.31.66")
    );
    assert!(file(&plan, "k8s-node1", "/opt/etcd/ssl/client-key.pem").secret);
    file(&plan, "k8s-node1", layout::CNI_CONFLIST);
}

#[test]
fn etcd_mode_plan_for_docker_writes_the_dropin_not_cni() {
    let i = inv(&[("runtime: containerd", "runtime: docker")]);
    let plan = plan_node(&i, &NodeInputs::configs_only(&i)).unwrap();
    let f = file(
        &plan,
        "k8s-master1",
        "/etc/systemd/system/docker.service.d/flannel.conf",
    );
    assert!(text(f).contains("$DOCKER_NETWORK_OPTIONS"));
    let steps = &plan.phases[0].hosts[0].steps;
    assert!(
        !steps
            .iter()
            .any(|s| matches!(s, Step::File(f) if f.path.starts_with("/etc/cni")))
    );
}

#[test]
fn kube_subnet_mgr_plan_is_the_manifest_on_the_first_master() {
    let i = inv(&[("mode: etcd", "mode: kube-subnet-mgr")]);
    let plan = plan_node(&i, &NodeInputs::configs_only(&i)).unwrap();
    assert_eq!(plan.phases[0].hosts.len(), 1);
    file(&plan, "k8s-master1", "/opt/kubernetes/cfg/kube-flannel.yml");
}

#[test]
fn the_cluster_checks_report_every_problem() {
    // The inventory refuses such a pod network itself; a config read from etcd or written
    // by hand goes through the same checks here.
    let i = inv(&[]);
    let conf = NetConf::parse(
        r#"{"Network":"10.0.0.0/8","SubnetLen":9,"SubnetMin":"10.128.0.0","SubnetMax":"10.128.0.0"}"#,
        "test",
    )
    .unwrap();
    match check(&conf, &i) {
        Err(Error::Invalid { problems }) => insta::assert_snapshot!(
            problems
                .iter()
                .map(|p| format!("{p}\n"))
                .collect::<String>()
        ),
        other => panic!("expected problems, got {other:?}"),
    }
    let hosts = NetConf::parse(r#"{"Network":"192.168.0.0/16"}"#, "test").unwrap();
    match check(&hosts, &i) {
        Err(Error::Invalid { problems }) => assert_eq!(problems.len(), 3, "{problems:?}"),
        other => panic!("expected the hosts' addresses to be refused, got {other:?}"),
    }
}

/// flannel's binaries are `plan::Binaries`, the type etcd's use; a set lacking flanneld is
/// refused, naming it (`mk-docker-opts.sh` is optional: only docker needs it).
#[test]
fn missing_flannel_binaries_are_named() {
    let i = inv(&[]);
    let inputs = NodeInputs {
        binaries: Some(Binaries::new().with("etcd", b"ELF etcd".to_vec())),
        ..NodeInputs::configs_only(&i)
    };
    match plan_node(&i, &inputs) {
        Err(Error::MissingBinaries { missing }) => {
            assert_eq!(missing, ["flanneld"])
        }
        other => panic!("expected MissingBinaries, got {other:?}"),
    }
}
