//! A real etcd (Debian's etcd-server) cluster of three members on 127.0.0.1, with kubin-issued
//! server and peer certificates and client-certificate auth on both sides, and etcdctl with a
//! kubin client certificate.

use pki::{ClusterSetRequest, KeySpec, Member, store};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The etcd processes; killed and reaped when the test ends, pass or fail.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etcdctl(endpoints: &str, pki: &Path, client: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new("etcdctl");
    cmd.env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={endpoints}"))
        .arg(format!("--cacert={}", pki.join("etcd/ca.pem").display()))
        .arg("--dial-timeout=3s")
        .arg("--command-timeout=5s");
    if let Some(base) = client {
        cmd.arg(format!(
            "--cert={}",
            pki.join(format!("{base}.pem")).display()
        ))
        .arg(format!(
            "--key={}",
            pki.join(format!("{base}-key.pem")).display()
        ));
    }
    cmd.args(args).output().unwrap()
}

#[test]
fn etcd_serves_with_kubin_certs_and_accepts_the_kubin_client_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let pki_dir = tmp.path().join("pki");
    let names = ["m1", "m2", "m3"];
    let mut req = ClusterSetRequest::new(
        names
            .iter()
            .map(|n| Member {
                name: n.to_string(),
                address: "127.0.0.1".parse().unwrap(),
            })
            .collect(),
        vec!["127.0.0.1".into(), "kubernetes".into()],
    );
    req.key = KeySpec::EcdsaP256;
    store::ensure_cluster_set(&pki_dir, &req).unwrap();

    let ports: Vec<(u16, u16)> = names.iter().map(|_| (free_port(), free_port())).collect();
    let initial: Vec<String> = names
        .iter()
        .zip(&ports)
        .map(|(n, (_, peer))| format!("{n}=https://127.0.0.1:{peer}"))
        .collect();
    let file = |name: String| -> PathBuf { pki_dir.join(name) };
    let mut cluster = Cluster(Vec::new());
    for (name, (client, peer)) in names.iter().zip(&ports) {
        let log = std::fs::File::create(tmp.path().join(format!("{name}.log"))).unwrap();
        let child = Command::new("etcd")
            .arg(format!("--name={name}"))
            .arg(format!(
                "--data-dir={}",
                tmp.path().join(format!("{name}.etcd")).display()
            ))
            .arg(format!("--listen-client-urls=https://127.0.0.1:{client}"))
            .arg(format!(
                "--advertise-client-urls=https://127.0.0.1:{client}"
            ))
            .arg(format!("--listen-peer-urls=https://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=https://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster={}", initial.join(",")))
            .arg("--initial-cluster-token=kubin-pki-test")
            .arg("--initial-cluster-state=new")
            .arg(format!(
                "--cert-file={}",
                file(format!("etcd/server-{name}.pem")).display()
            ))
            .arg(format!(
                "--key-file={}",
                file(format!("etcd/server-{name}-key.pem")).display()
            ))
            .arg("--client-cert-auth")
            .arg(format!(
                "--trusted-ca-file={}",
                file("etcd/ca.pem".into()).display()
            ))
            .arg(format!(
                "--peer-cert-file={}",
                file(format!("etcd/peer-{name}.pem")).display()
            ))
            .arg(format!(
                "--peer-key-file={}",
                file(format!("etcd/peer-{name}-key.pem")).display()
            ))
            .arg("--peer-client-cert-auth")
            .arg(format!(
                "--peer-trusted-ca-file={}",
                file("etcd/ca.pem".into()).display()
            ))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        cluster.0.push(child);
    }
    let endpoints: Vec<String> = ports
        .iter()
        .map(|(c, _)| format!("https://127.0.0.1:{c}"))
        .collect();
    let endpoints = endpoints.join(",");

    let deadline = Instant::now() + Duration::from_secs(60);
    let healthy = loop {
        let out = etcdctl(
            &endpoints,
            &pki_dir,
            Some("etcd/client"),
            &["endpoint", "health"],
        );
        if out.status.success() {
            break out;
        }
        if Instant::now() > deadline {
            let logs: String = names
                .iter()
                .map(|n| {
                    std::fs::read_to_string(tmp.path().join(format!("{n}.log"))).unwrap_or_default()
                })
                .collect();
            panic!("etcd never became healthy: {out:?}\n{logs}");
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    let text = String::from_utf8_lossy(&healthy.stdout).to_string()
        + &String::from_utf8_lossy(&healthy.stderr);
    assert_eq!(text.matches("is healthy").count(), 3, "{text}");

    // The members talk over TLS peer links: the member list has all three, and a write is read.
    let list = etcdctl(
        &endpoints,
        &pki_dir,
        Some("etcd/client"),
        &["member", "list"],
    );
    assert_eq!(
        String::from_utf8_lossy(&list.stdout).lines().count(),
        3,
        "{list:?}"
    );
    let put = etcdctl(
        &endpoints,
        &pki_dir,
        Some("etcd/client"),
        &["put", "/kubin/pki", "ok"],
    );
    assert!(put.status.success(), "{put:?}");

    // Client-cert auth is really on: without a cert, or with a cert of another CA, it fails.
    let anonymous = etcdctl(&endpoints, &pki_dir, None, &["endpoint", "health"]);
    assert!(!anonymous.status.success(), "{anonymous:?}");
    let foreign = etcdctl(&endpoints, &pki_dir, Some("admin"), &["endpoint", "health"]);
    assert!(!foreign.status.success(), "{foreign:?}");
}
