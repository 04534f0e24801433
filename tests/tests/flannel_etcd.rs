//! flannel's config in a real etcd (Debian's `/usr/bin/etcd` on loopback, TLS everywhere),
//! checked with tools no one here wrote: `curl` against the v2 keys API and Debian's
//! `etcdctl` against v3. flannel 0.10 must find the key through v2 and not as a v3 key;
//! flannel 0.22 through v3; a v2 write to an etcd without `--enable-v2` must fail with
//! kubin's explanation; a different config must not be replaced without asking.

use etcd_cluster::online::{ClientTls, Timeouts};
use flannel_net::online::{Access, WriteOutcome};
use flannel_net::{Error, NetConf, leases};
use inventory::Inventory;
use inventory::derived::EtcdApi;
use inventory::example::GUIDES_EXAMPLE;
use std::process::Command;
use std::time::Duration;
use tests::local_etcd::{LocalEtcd, LocalEtcdConfig};

const KEY: &str = "/coreos.com/network/config";

fn inventory(flannel: &str) -> Inventory {
    let text = GUIDES_EXAMPLE.replace("version: \"0.10.0\"", &format!("version: \"{flannel}\""));
    Inventory::from_yaml(&text, "test").unwrap().0
}

fn etcd(enable_v2: bool) -> LocalEtcd {
    LocalEtcd::start(LocalEtcdConfig {
        members: 1,
        enable_v2,
    })
}

fn access(inv: &Inventory, etcd: &LocalEtcd) -> Access {
    let tls = ClientTls {
        ca_pem: etcd.ca_pem(),
        cert_pem: etcd.client_cert_pem(),
        key_pem: etcd.client_key_pem(),
    };
    let timeouts = Timeouts {
        connect: Duration::from_secs(2),
        request: Duration::from_secs(5),
    };
    let mut a = Access::from_inventory(inv, tls, timeouts);
    a.target.endpoints = etcd.endpoints();
    a
}

/// `curl --cacert --cert --key URL`: (HTTP status, body).
fn curl(etcd: &LocalEtcd, method: &str, path: &str, data: Option<&str>) -> (u16, String) {
    let url = format!("{}{path}", etcd.endpoints()[0]);
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-X", method, "-w", "\n%{http_code}"])
        .arg("--cacert")
        .arg(etcd.ca_file())
        .arg("--cert")
        .arg(etcd.client_cert_file())
        .arg("--key")
        .arg(etcd.client_key_file());
    if let Some(d) = data {
        cmd.arg("--data-urlencode").arg(d);
    }
    let out = cmd
        .arg(&url)
        .output()
        .expect("curl runs (Debian package curl)");
    assert!(out.status.success(), "curl {url}: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

fn etcdctl_get(etcd: &LocalEtcd, key: &str) -> String {
    let out = etcd.etcdctl_output(&["get", key, "--print-value-only"]);
    assert!(out.status.success(), "etcdctl get {key}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn flannel_0_10_finds_the_config_through_v2_and_not_as_a_v3_key() {
    let etcd = etcd(true);
    let inv = inventory("0.10.0");
    let a = access(&inv, &etcd);
    assert_eq!(a.api, EtcdApi::V2);
    let conf = NetConf::from_inventory(&inv);
    assert_eq!(a.write(&conf, false).unwrap(), WriteOutcome::Created);

    // Where flannel 0.10 looks: the v2 keys API, exactly as the guides' curl reads it.
    let (status, body) = curl(&etcd, "GET", &format!("/v2/keys{KEY}"), None);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let value = v["node"]["value"].as_str().unwrap();
    assert_eq!(
        value,
        r#"{"Network":"172.17.0.0/16","Backend":{"Type":"vxlan"}}"#
    );
    assert_eq!(NetConf::parse(value, "v2").unwrap(), conf);

    // Not where `ETCDCTL_API=3 etcdctl put` would have written it.
    assert_eq!(etcdctl_get(&etcd, KEY), "");

    // Writing again changes nothing.
    assert_eq!(a.write(&conf, false).unwrap(), WriteOutcome::Unchanged);
}

#[test]
fn flannel_0_22_finds_the_config_as_a_v3_key() {
    let etcd = etcd(false);
    let inv = inventory("0.22.0");
    let a = access(&inv, &etcd);
    assert_eq!(a.api, EtcdApi::V3);
    let conf = NetConf::from_inventory(&inv);
    assert_eq!(a.write(&conf, false).unwrap(), WriteOutcome::Created);

    let value = etcdctl_get(&etcd, KEY);
    let parsed = NetConf::parse(&value, "etcdctl").unwrap();
    assert_eq!(parsed, conf);
    assert_eq!(parsed.to_json(), value, "round trip through kubin's model");
    flannel_net::flannel_rules(&parsed).unwrap();
    assert_eq!(a.read().unwrap().unwrap().value, value);
}

#[test]
fn a_v2_write_to_an_etcd_without_enable_v2_is_explained() {
    let etcd = etcd(false);
    // What etcd itself answers: no v2 handler at all.
    let (status, body) = curl(&etcd, "GET", &format!("/v2/keys{KEY}"), None);
    assert_eq!(status, 404, "{body}");

    let inv = inventory("0.10.0");
    let a = access(&inv, &etcd);
    let err = a.write(&NetConf::from_inventory(&inv), false).unwrap_err();
    assert!(matches!(err, Error::V2NotEnabled { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("--enable-v2") && text.contains("flannel 0.10.0"),
        "{text}"
    );
    assert!(text.contains("3.4"), "names etcd's version: {text}");
    // Nothing was written as a v3 key instead.
    assert_eq!(etcdctl_get(&etcd, KEY), "");
}

#[test]
fn a_different_v3_config_is_not_replaced_without_asking() {
    let etcd = etcd(false);
    let old = r#"{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}"#;
    let out = etcd.etcdctl_output(&["put", KEY, old]);
    assert!(out.status.success(), "{out:?}");

    let inv = inventory("0.22.0");
    let a = access(&inv, &etcd);
    let conf = NetConf::from_inventory(&inv);
    match a.write(&conf, false) {
        Err(Error::Differs {
            old: shown, diff, ..
        }) => {
            assert!(shown.contains("10.244.0.0/16"), "{shown}");
            assert!(diff.contains("-  \"Network\": \"10.244.0.0/16\""), "{diff}");
            assert!(diff.contains("+  \"Network\": \"172.17.0.0/16\""), "{diff}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(etcdctl_get(&etcd, KEY), old, "left as it was");

    match a.write(&conf, true).unwrap() {
        WriteOutcome::Replaced { old_shown, .. } => assert!(old_shown.contains("host-gw")),
        other => panic!("expected a replacement, got {other:?}"),
    }
    assert_eq!(
        NetConf::parse(&etcdctl_get(&etcd, KEY), "v3").unwrap(),
        conf
    );
}

#[test]
fn a_different_v2_config_is_not_replaced_without_asking_and_leases_are_listed() {
    let etcd = etcd(true);
    let old = r#"{"Network":"10.244.0.0/16","Backend":{"Type":"udp"}}"#;
    let (status, body) = curl(
        &etcd,
        "PUT",
        &format!("/v2/keys{KEY}"),
        Some(&format!("value={old}")),
    );
    assert_eq!(status, 201, "{body}");
    let inv = inventory("0.10.0");
    let a = access(&inv, &etcd);
    let conf = NetConf::from_inventory(&inv);
    assert!(matches!(a.write(&conf, false), Err(Error::Differs { .. })));
    let (_, body) = curl(&etcd, "GET", &format!("/v2/keys{KEY}"), None);
    assert!(body.contains("10.244.0.0/16"), "left as it was: {body}");
    assert!(matches!(
        a.write(&conf, true).unwrap(),
        WriteOutcome::Replaced { .. }
    ));

    // A lease as flanneld 0.10 writes it: a v2 key with a TTL.
    let lease = r#"{"PublicIP":"192.168.31.65","BackendType":"vxlan","BackendData":{"VtepMAC":"0a:58:0a:f4:01:00"}}"#;
    let (status, body) = curl(
        &etcd,
        "PUT",
        "/v2/keys/coreos.com/network/subnets/172.17.42.0-24?ttl=600",
        Some(&format!("value={lease}")),
    );
    assert_eq!(status, 201, "{body}");
    let list = leases::leases(&a.subnets().unwrap(), Some(inv.network.pod_cidr));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].subnet.to_string(), "172.17.42.0/24");
    assert!(list[0].in_network);
    assert!(
        list[0].ttl.is_some_and(|t| t > 500 && t <= 600),
        "{:?}",
        list[0].ttl
    );
    assert_eq!(
        list[0].attrs.as_ref().unwrap().public_ip,
        Some("192.168.31.65".parse().unwrap())
    );
}

#[test]
fn v3_leases_are_listed_with_their_ttl() {
    let etcd = etcd(false);
    let out = etcd.etcdctl_output(&["lease", "grant", "600"]);
    assert!(out.status.success(), "{out:?}");
    // "lease 694d7a... granted with TTL(600s)"
    let text = String::from_utf8(out.stdout).unwrap();
    let id = text.split_whitespace().nth(1).unwrap().to_string();
    let lease = r#"{"PublicIP":"192.168.31.66","BackendType":"vxlan"}"#;
    let out = etcd.etcdctl_output(&[
        "put",
        "/coreos.com/network/subnets/172.17.7.0-24",
        lease,
        &format!("--lease={id}"),
    ]);
    assert!(out.status.success(), "{out:?}");
    let inv = inventory("0.22.0");
    let a = access(&inv, &etcd);
    let list = leases::leases(&a.subnets().unwrap(), Some(inv.network.pod_cidr));
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].subnet.to_string(), "172.17.7.0/24");
    assert!(list[0].ttl.is_some_and(|t| t > 500), "{:?}", list[0].ttl);
}
