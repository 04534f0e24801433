//! The proof on real machines: after `kubin etcd deploy` on the guides' three-machine lab,
//! `kubin flannel set` puts the config where each flannel release looks, checked with
//! `curl` (v2) and Debian's `etcdctl` (v3) against every member; the same v2 write
//! against the members once etcd runs without `--enable-v2` fails with kubin's
//! explanation; and the node side's files land on the hosts over SSH.

use flannel_net::{NetConf, NodeInputs, plan_node};
use inventory::Inventory;
use lab::{Lab, LabConfig};
use std::path::{Path, PathBuf};
use std::process::Command;
use tests::kubin::{run as kubin, run_ok as kubin_ok, text};
use tests::lab_checks::curl_v2;
use tests::local_etcd::ETCDCTL;

const KEY: &str = "/coreos.com/network/config";

fn etcdctl_get(pki: &Path, endpoint: &str) -> String {
    let out = Command::new(ETCDCTL)
        .env("ETCDCTL_API", "3")
        .arg(format!("--cacert={}", pki.join("etcd/ca.pem").display()))
        .arg(format!("--cert={}", pki.join("etcd/client.pem").display()))
        .arg(format!(
            "--key={}",
            pki.join("etcd/client-key.pem").display()
        ))
        .arg(format!("--endpoints={endpoint}"))
        .args([
            "--dial-timeout=2s",
            "--command-timeout=5s",
            "get",
            KEY,
            "--print-value-only",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn flannel_on_the_lab_v2_for_0_10_v3_for_0_22_and_the_node_files() {
    let lab = Lab::up(&LabConfig::guides("flannel")).expect("lab up");
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let base = std::fs::read_to_string(lab.inventory_path()).unwrap();
    let with = |flannel: &str| -> PathBuf {
        let yaml: String = base
            .lines()
            .map(|l| {
                if l.starts_with("pki_dir:") {
                    format!("pki_dir: {:?}", pki.display().to_string())
                } else if l.trim_start().starts_with("version: \"0.10.0\"") {
                    l.replace("0.10.0", flannel)
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n";
        let path = dir.path().join(format!("cluster-{flannel}.yaml"));
        std::fs::write(&path, yaml).unwrap();
        path
    };
    let inv010 = with("0.10.0");
    let inv022 = with("0.22.0");
    let endpoints: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| format!("https://{}:2379", h.address))
        .collect();

    // flannel 0.10: etcd with --enable-v2, the key through v2 on every member, no v3 key.
    eprintln!("{}", kubin_ok(&inv010, &["etcd", "deploy"]));
    let out = kubin_ok(&inv010, &["flannel", "set"]);
    assert!(out.contains("etcd v2 API"), "{out}");
    let inv: Inventory = Inventory::load(&inv010).unwrap().0;
    let expected = NetConf::from_inventory(&inv);
    for e in &endpoints {
        let got = curl_v2(&pki, e, KEY);
        assert!(got.status.success(), "{}", text(&got));
        let v: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
        let value = v["node"]["value"].as_str().expect("a v2 node value");
        assert_eq!(NetConf::parse(value, e).unwrap(), expected);
        assert_eq!(etcdctl_get(&pki, e), "", "no v3 key at {e}");
    }
    let out = kubin_ok(&inv010, &["flannel", "get"]);
    assert!(out.contains("172.17.0.0/16"), "{out}");

    // flannel 0.22: the v3 key, valid JSON that round-trips through the model.
    let out = kubin_ok(&inv022, &["flannel", "set"]);
    assert!(out.contains("etcd v3 API"), "{out}");
    for e in &endpoints {
        let value = etcdctl_get(&pki, e);
        let parsed = NetConf::parse(&value, e).unwrap();
        assert_eq!(parsed.to_json(), value);
        flannel_net::flannel_rules(&parsed).unwrap();
    }

    // etcd redeployed for flannel 0.22 runs without --enable-v2: a v2 write is explained.
    eprintln!("{}", kubin_ok(&inv022, &["etcd", "deploy"]));
    let v2 = curl_v2(&pki, &endpoints[0], KEY);
    assert!(text(&v2).contains("404 page not found"), "{}", text(&v2));
    let out = kubin(&inv010, &["flannel", "set"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("does not serve etcd's v2 API"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("--enable-v2"), "{}", text(&out));

    // The node side: the rendered files land on every host (the units are the deploy's:
    // flanneld is in no registry reachable here, so nothing is started).
    let mut plan = plan_node(&inv, &NodeInputs::configs_only(&inv)).unwrap();
    for phase in &mut plan.phases {
        for host in &mut phase.hosts {
            host.steps.retain(|s| !matches!(s, plan::Step::Unit(_)));
        }
    }
    let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    let (mut transports, failed) = executor::connect_all(&inv, &names);
    assert!(failed.is_empty(), "{failed:?}");
    let report = executor::apply(&plan, &mut transports, &executor::ApplyOptions::default());
    assert!(report.is_success(), "{}", report.render_text());
    let env = lab
        .ssh_ok("k8s-node1", "cat /opt/kubernetes/cfg/flanneld")
        .unwrap();
    assert!(
        env.contains(&format!("--iface={}", lab.hosts()[1].address)),
        "{env}"
    );
    assert!(
        env.contains(&format!("--etcd-endpoints={}", endpoints.join(","))),
        "{env}"
    );
    let conflist = lab
        .ssh_ok("k8s-node2", "cat /etc/cni/net.d/10-flannel.conflist")
        .unwrap();
    let parsed: flannel_net::render::ConfList = serde_json::from_str(&conflist).unwrap();
    assert_eq!(parsed, flannel_net::render::cni::conflist());
    let again = executor::apply(&plan, &mut transports, &executor::ApplyOptions::default());
    assert_eq!(again.total_changes(), 0, "{}", again.render_text());
    // A teardown racing the machines' last processes ("cgroup busy") is retried once by name.
    if let Err(e) = lab.down() {
        eprintln!("lab down: {e}; retrying");
        lab::down("flannel").expect("lab down");
    }
}
