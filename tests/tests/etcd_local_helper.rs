//! The local etcd helper itself: a real three-member TLS cluster that Debian's etcdctl accepts.

use tests::local_etcd::{LocalEtcd, LocalEtcdConfig};

#[test]
fn three_members_serve_tls_and_survive_one_loss() {
    let mut etcd = LocalEtcd::start(LocalEtcdConfig {
        members: 3,
        enable_v2: true,
    });
    let put = etcd.etcdctl_output(&["put", "/kubin/probe", "yes"]);
    assert!(put.status.success(), "{put:?}");
    let list = etcd.etcdctl_output(&["member", "list"]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    etcd.kill(2);
    let endpoints = etcd.endpoints()[..2].to_vec();
    // If the stopped member led, the other two elect a leader first: ask again, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let get = loop {
        let get = etcd
            .etcdctl_at(&endpoints)
            .args(["get", "/kubin/probe", "--print-value-only"])
            .output()
            .unwrap();
        if get.status.success() || std::time::Instant::now() > deadline {
            break get;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    };
    assert_eq!(
        String::from_utf8_lossy(&get.stdout).trim(),
        "yes",
        "{get:?}"
    );
    // The v2 API is served when asked for (flannel before 0.18 reads through it).
    let v2 = std::process::Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(etcd.ca_file())
        .arg("--cert")
        .arg(etcd.client_cert_file())
        .arg("--key")
        .arg(etcd.client_key_file())
        .arg(format!("{}/v2/keys/", etcd.endpoints()[0]))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&v2.stdout).contains("\"action\":\"get\""),
        "{v2:?}"
    );
}
