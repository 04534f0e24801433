//! The control plane kubin plans, run for real on loopback: the files of
//! `control_plane::plan_control_plane` (env files, certificates from `pki`, token.csv, the
//! scheduler's config) written to a temporary directory, and the real 1.20.2
//! kube-apiserver, kube-controller-manager and kube-scheduler started with the flags of
//! those env files against a real TLS etcd. Checked with curl: the bootstrap token reaches
//! `/healthz`, a wrong one gets 401, and the controller-manager and scheduler serve
//! `/healthz` on their secure ports.
//!
//! Only ports change: the test's etcd, and free loopback ports instead of 6443, 10257 and
//! 10259, so it can run next to anything else on this machine.

use control_plane::args::{flag_name, parse_env};
use control_plane::deploy::{ControlPlaneMaterial, MasterBinaries, MasterCerts};
use control_plane::versions::Component;
use inventory::example::GUIDES_EXAMPLE;
use inventory::{Inventory, Role};
use pki::{ClusterSetRequest, Member, issue_cluster_set, new_rng};
use plan::Step;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use tests::local_etcd::{LocalEtcd, LocalEtcdConfig, free_port};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A started component, killed (it is this test's own child) when dropped.
struct Running(Child, String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bins() -> std::path::PathBuf {
    lab::k8s::ensure().expect("the Kubernetes 1.20.2 binaries build (lab::k8s::ensure)")
}

/// A kubeconfig naming the client cert and key files (as `kubectl config
/// set-credentials --client-certificate=...` without `--embed-certs` writes it).
fn kubeconfig(server: &str, ca: &Path, cert: &Path, key: &Path) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: kubernetes\n  cluster:\n    certificate-authority: {}\n    server: {server}\ncontexts:\n- name: default\n  context:\n    cluster: kubernetes\n    user: me\ncurrent-context: default\nusers:\n- name: me\n  user:\n    client-certificate: {}\n    client-key: {}\n",
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// Replaces the value of `--name` in `flags`.
fn set_flag(flags: &mut [String], name: &str, value: &str) {
    let f = flags
        .iter_mut()
        .find(|f| flag_name(f) == name)
        .unwrap_or_else(|| panic!("{name} is not rendered"));
    *f = format!("{name}={value}");
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn wait_for(what: &str, running: &mut Running, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        if let Ok(Some(status)) = running.0.try_wait() {
            let log = std::fs::read_to_string(&running.1).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!("{what}: exited with {status}: {}", tail.join("\n"));
        }
        if start.elapsed() > Duration::from_secs(90) {
            let log = std::fs::read_to_string(&running.1).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            panic!("{what}: not up after 90 s: {}", tail.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn start(bin: &Path, flags: &[String], log: &Path) -> Running {
    let file = std::fs::File::create(log).unwrap();
    let child = Command::new(bin)
        .args(flags)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .unwrap();
    Running(child, log.display().to_string())
}

#[test]
fn the_real_control_plane_runs_with_the_planned_files() {
    let bins = bins();
    let etcd = LocalEtcd::start(LocalEtcdConfig {
        members: 1,
        enable_v2: false,
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The guides' inventory with the master on loopback and its paths in `d`.
    let mut inv = Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0;
    inv.hosts.retain(|h| h.has(Role::Master));
    inv.hosts[0].address = IpAddr::V4(Ipv4Addr::LOCALHOST);
    inv.paths.kubernetes_cfg = d.join("cfg");
    inv.paths.kubernetes_ssl = d.join("ssl");
    inv.paths.kubernetes_bin = d.join("bin");
    inv.paths.systemd_units = d.join("units");
    let l = control_plane::Layout::new(&inv.paths);
    // The units' directory is the system's (it exists on every host).
    std::fs::create_dir_all(&l.units_dir).unwrap();

    // Certificates from pki, the etcd client's from the test's etcd.
    let req = ClusterSetRequest::new(
        vec![Member {
            name: "k8s-master1".into(),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }],
        inv.apiserver_sans(),
    );
    let set = issue_cluster_set(&req, SystemTime::now(), &new_rng()).unwrap();
    let material = ControlPlaneMaterial {
        certs: MasterCerts {
            ca_pem: set.ca.cert_pem.clone(),
            ca_key_pem: set.ca.key_pem.clone(),
            apiserver_cert_pem: set.apiserver().cert_pem.clone(),
            apiserver_key_pem: set.apiserver().key_pem.clone(),
            kubelet_client_cert_pem: set.apiserver_kubelet_client().cert_pem.clone(),
            kubelet_client_key_pem: set.apiserver_kubelet_client().key_pem.clone(),
            sa_key_pem: set.service_account.key_pem.clone(),
            sa_pub_pem: set.service_account.public_pem.clone(),
            etcd_ca_pem: etcd.ca_pem(),
            etcd_client_cert_pem: etcd.client_cert_pem(),
            etcd_client_key_pem: etcd.client_key_pem(),
        },
        token_csv: format!("{TOKEN},kubelet-bootstrap,10001,\"system:kubelet-bootstrap\"\n"),
        controller_manager_kubeconfig: String::new(),
        scheduler_kubeconfig: String::new(),
        binaries: MasterBinaries {
            kube_apiserver: Default::default(),
            kube_controller_manager: Default::default(),
            kube_scheduler: Default::default(),
        },
    };
    let plan = control_plane::plan_control_plane(&inv, &material).unwrap();

    // Write every directory and file the plan's install phase holds (the binaries are
    // run from the bundle instead).
    for step in &plan.phases[0].hosts[0].steps {
        match step {
            Step::Directory(dspec) => std::fs::create_dir_all(&dspec.path).unwrap(),
            Step::File(f) if !f.path.starts_with(&l.bin_dir) => {
                std::fs::write(&f.path, &f.content).unwrap()
            }
            _ => {}
        }
    }
    let apiserver_port = free_port();
    let server = format!("https://127.0.0.1:{apiserver_port}");
    let write_kubeconfig = |path: &Path, leaf: &pki::CertKey, name: &str| {
        let cert = l.ssl_dir.join(format!("{name}.pem"));
        let key = l.ssl_dir.join(format!("{name}-key.pem"));
        std::fs::write(&cert, &leaf.cert_pem).unwrap();
        std::fs::write(&key, &leaf.key_pem).unwrap();
        std::fs::write(path, kubeconfig(&server, &l.ca, &cert, &key)).unwrap();
    };
    write_kubeconfig(
        &l.controller_manager_kubeconfig,
        set.kube_controller_manager(),
        "kube-controller-manager",
    );
    write_kubeconfig(
        &l.scheduler_kubeconfig,
        set.kube_scheduler(),
        "kube-scheduler",
    );

    let flags_of =
        |c: Component| parse_env(&std::fs::read_to_string(l.env_file(c.binary())).unwrap());

    let mut api_flags = flags_of(Component::Apiserver);
    set_flag(&mut api_flags, "--etcd-servers", &etcd.endpoints_csv());
    set_flag(&mut api_flags, "--secure-port", &apiserver_port.to_string());
    let mut api = start(
        &bins.join("kube-apiserver"),
        &api_flags,
        &d.join("kube-apiserver.log"),
    );
    let ca = l.ca.display().to_string();
    let healthz = format!("{server}/healthz");
    let bearer = format!("Authorization: Bearer {TOKEN}");
    wait_for(
        "kube-apiserver /healthz with the bootstrap token",
        &mut api,
        || curl(&["--cacert", &ca, "-H", &bearer, &healthz]) == "ok",
    );
    let wrong = curl(&[
        "--cacert",
        &ca,
        "-H",
        "Authorization: Bearer ffffffffffffffffffffffffffffffff",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &healthz,
    ]);
    assert_eq!(wrong, "401");

    let mut running = Vec::new();
    for (c, what) in [
        (Component::ControllerManager, "kube-controller-manager"),
        (Component::Scheduler, "kube-scheduler"),
    ] {
        let port = free_port();
        let mut flags = flags_of(c);
        // Not rendered (the default port is the one kubin uses); added for this test only.
        flags.push(format!("--secure-port={port}"));
        let mut r = start(
            &bins.join(c.binary()),
            &flags,
            &d.join(format!("{what}.log")),
        );
        let url = format!("https://127.0.0.1:{port}/healthz");
        wait_for(&format!("{what} /healthz"), &mut r, || {
            curl(&["-k", &url]) == "ok"
        });
        running.push(r);
    }
    // The controller-manager took its leader lease through the apiserver with its
    // kubeconfig: its log says so.
    let mut cm = running.remove(0);
    wait_for("kube-controller-manager leader election", &mut cm, || {
        std::fs::read_to_string(d.join("kube-controller-manager.log"))
            .unwrap_or_default()
            .contains("successfully acquired lease")
    });
    drop(cm);
    drop(running);
    drop(api);
}
