//! A real kube-apiserver and kube-controller-manager (v1.20.2, from the offline bundle) on
//! 127.0.0.1, with kubin's certificates, token file and kubeconfigs, for tests.
//!
//! [`LocalApiserver::start`] starts a one-member Debian etcd ([`crate::local_etcd`]), issues
//! the cluster's certificate set with `pki`, writes `token.csv` and the kubeconfigs with
//! `node-bootstrap`, starts kube-apiserver on a free port (token file, bootstrap-token
//! auth, `Node,RBAC`, NodeRestriction, the service-account trio, no insecure port) and
//! waits for `/healthz`, then kube-controller-manager with its own kubeconfig, signing with
//! the cluster CA. Dropping it kills both and etcd.
//!
//! The binaries come from the offline bundle that `cargo xtask ci` builds from Debian's
//! `kubernetes` source package: `$KUBIN_K8S_BIN`, or the newest
//! `/var/cache/kubin/bundle/*/kubernetes/server/bin/`. A missing bundle fails the test with
//! a message saying so; it is never skipped.

use crate::local_etcd::{LocalEtcd, LocalEtcdConfig, free_port};
use node_bootstrap::kubeconfig::{self, ClusterRef};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding kube-apiserver, kube-controller-manager and kubectl v1.20.2:
/// `$KUBIN_K8S_BIN`, else the newest `/var/cache/kubin/bundle/*/kubernetes/server/bin/`,
/// else the lab's cached build of Debian's `kubernetes` source package, built now if
/// missing (`lab::k8s::ensure`, about 10 minutes on 2 cores).
pub fn k8s_bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KUBIN_K8S_BIN") {
        return PathBuf::from(dir);
    }
    let root = Path::new("/var/cache/kubin/bundle");
    let mut found: Vec<PathBuf> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("kubernetes/server/bin"))
        .filter(|p| {
            p.join("kube-apiserver").is_file() && p.join("kube-controller-manager").is_file()
        })
        .collect();
    found.sort();
    if let Some(dir) = found.pop() {
        return dir;
    }
    lab::k8s::ensure().unwrap_or_else(|e| {
        panic!(
            "no kube-apiserver under {}/*/kubernetes/server/bin/ and the build failed: {e}",
            root.display()
        )
    })
}

/// A running apiserver with a controller-manager, and the files they use.
pub struct LocalApiserver {
    /// The temporary directory with certificates, kubeconfigs, token file and logs.
    dir: tempfile::TempDir,
    /// The apiserver's port on 127.0.0.1.
    pub port: u16,
    /// The bootstrap token (the `kubelet-bootstrap` line of token.csv).
    pub token: node_bootstrap::Token,
    /// The issued certificate set.
    pub set: pki::ClusterSet,
    apiserver: Option<Child>,
    controller_manager: Option<Child>,
    _etcd: LocalEtcd,
}

impl std::fmt::Debug for LocalApiserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalApiserver")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

impl LocalApiserver {
    /// Starts etcd, the apiserver and the controller-manager, and waits until the apiserver
    /// answers `/healthz` (up to 120 s: the first start on a loaded 2-core machine is slow).
    pub fn start() -> Self {
        let bin = k8s_bin_dir();
        let etcd = LocalEtcd::start(LocalEtcdConfig {
            members: 1,
            enable_v2: false,
        });
        let dir = tempfile::Builder::new()
            .prefix("kubin-local-apiserver-")
            .tempdir()
            .expect("cannot create a temporary directory");
        let d = dir.path();
        let mut req = pki::ClusterSetRequest::new(
            vec![pki::Member {
                name: "etcd-1".into(),
                address: "127.0.0.1".parse().unwrap(),
            }],
            vec![
                "127.0.0.1".into(),
                "10.0.0.1".into(),
                "localhost".into(),
                "kubernetes".into(),
                "kubernetes.default".into(),
            ],
        );
        // ECDSA keys keep issuing fast; the service-account key stays RSA.
        req.key = pki::KeySpec::EcdsaP256;
        let set = pki::issue_cluster_set(&req, std::time::SystemTime::now(), &pki::new_rng())
            .expect("cannot issue the cluster's certificates");
        let put = |base: &str, ck: &pki::CertKey| {
            write(&d.join(format!("{base}.pem")), &ck.cert_pem);
            write(&d.join(format!("{base}-key.pem")), &ck.key_pem);
        };
        put("ca", &set.ca);
        put("apiserver", set.apiserver());
        put("apiserver-kubelet-client", set.apiserver_kubelet_client());
        write(&d.join("sa.key"), &set.service_account.key_pem);
        write(&d.join("sa.pub"), &set.service_account.public_pem);

        let token = node_bootstrap::token::generate(&ring::rand::SystemRandom::new())
            .expect("no random token");
        let tokens = node_bootstrap::TokenFile::new(token.clone());
        write(&d.join("token.csv"), &tokens.render());

        let port = free_port();
        let cluster = ClusterRef {
            name: "kubernetes".into(),
            server: format!("https://127.0.0.1:{port}"),
            ca_pem: set.ca_pem().to_string(),
        };
        for k in kubeconfig::cluster_kubeconfigs(&cluster, &set, &token) {
            let yaml = kubeconfig::to_yaml(&k.file, &k.config).expect("kubeconfig renders");
            write(&d.join(&k.file), &yaml);
        }

        let log = |name: &str| {
            let f = std::fs::File::create(d.join(name)).expect("cannot create a log file");
            (f.try_clone().expect("log handle"), f)
        };
        let (out, err) = log("kube-apiserver.log");
        let p = |name: &str| d.join(name).display().to_string();
        let apiserver = Command::new(bin.join("kube-apiserver"))
            .arg(format!("--etcd-servers={}", etcd.endpoints_csv()))
            .arg(format!("--etcd-cafile={}", etcd.ca_file().display()))
            .arg(format!("--etcd-certfile={}", etcd.client_cert_file().display()))
            .arg(format!("--etcd-keyfile={}", etcd.client_key_file().display()))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            .arg("--insecure-port=0")
            .arg("--allow-privileged=true")
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            .arg("--service-node-port-range=30000-32767")
            .arg("--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota,NodeRestriction")
            .arg("--authorization-mode=Node,RBAC")
            .arg("--enable-bootstrap-token-auth=true")
            .arg(format!("--token-auth-file={}", p("token.csv")))
            .arg(format!("--client-ca-file={}", p("ca.pem")))
            .arg(format!("--tls-cert-file={}", p("apiserver.pem")))
            .arg(format!("--tls-private-key-file={}", p("apiserver-key.pem")))
            .arg(format!("--kubelet-client-certificate={}", p("apiserver-kubelet-client.pem")))
            .arg(format!("--kubelet-client-key={}", p("apiserver-kubelet-client-key.pem")))
            .arg(format!("--service-account-key-file={}", p("sa.pub")))
            .arg(format!("--service-account-signing-key-file={}", p("sa.key")))
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--cert-dir={}", p("cert-dir")))
            .arg("--logtostderr=true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.join("kube-apiserver").display()));
        let mut me = LocalApiserver {
            dir,
            port,
            token,
            set,
            apiserver: Some(apiserver),
            controller_manager: None,
            _etcd: etcd,
        };
        me.wait_healthy(Duration::from_secs(120));

        let d = me.dir.path();
        let p = |name: &str| d.join(name).display().to_string();
        let f = std::fs::File::create(d.join("kube-controller-manager.log")).expect("log");
        let cm = Command::new(bin.join("kube-controller-manager"))
            .arg(format!(
                "--kubeconfig={}",
                p(kubeconfig::CONTROLLER_MANAGER)
            ))
            .arg(format!(
                "--authentication-kubeconfig={}",
                p(kubeconfig::CONTROLLER_MANAGER)
            ))
            .arg(format!(
                "--authorization-kubeconfig={}",
                p(kubeconfig::CONTROLLER_MANAGER)
            ))
            .arg("--bind-address=127.0.0.1")
            .arg("--port=0")
            .arg("--secure-port=0")
            .arg("--leader-elect=false")
            .arg("--controllers=serviceaccount-token,csrsigning,csrapproving,csrcleaner")
            .arg("--use-service-account-credentials=true")
            .arg(format!("--cluster-signing-cert-file={}", p("ca.pem")))
            .arg(format!("--cluster-signing-key-file={}", p("ca-key.pem")))
            .arg("--cluster-signing-duration=87600h")
            .arg(format!("--root-ca-file={}", p("ca.pem")))
            .arg(format!(
                "--service-account-private-key-file={}",
                p("sa.key")
            ))
            .arg("--logtostderr=true")
            .stdin(Stdio::null())
            .stdout(f.try_clone().expect("log handle"))
            .stderr(f)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e}",
                    bin.join("kube-controller-manager").display()
                )
            });
        me.controller_manager = Some(cm);
        me
    }

    /// The directory with `ca.pem`, the kubeconfigs (`admin.kubeconfig`,
    /// `bootstrap.kubeconfig`, ...), `token.csv` and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in [`LocalApiserver::dir`].
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// `kubectl --kubeconfig DIR/<kubeconfig>` (see [`kubectl`]).
    pub fn kubectl(&self, kubeconfig: &str) -> Command {
        let mut cmd = Command::new(kubectl());
        cmd.arg("--kubeconfig").arg(self.path(kubeconfig));
        cmd
    }

    /// Waits until `/healthz` answers `ok` to the admin's certificate.
    pub fn wait_healthy(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self
                .kubectl(kubeconfig::ADMIN)
                .args(["get", "--raw", "/healthz", "--request-timeout=5s"])
                .output()
                .expect("cannot run kubectl");
            if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok" {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "kube-apiserver not healthy after {timeout:?}: {}\n--- log tail ---\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    self.log_tail("kube-apiserver.log", 30)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The last `n` lines of a log in [`LocalApiserver::dir`], for failure messages.
    pub fn log_tail(&self, name: &str, n: usize) -> String {
        let text = std::fs::read_to_string(self.path(name)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// The kubectl of the apiserver's release (the bundle's), else `/usr/bin/kubectl`.
pub fn kubectl() -> PathBuf {
    let bundled = k8s_bin_dir().join("kubectl");
    if bundled.is_file() {
        return bundled;
    }
    PathBuf::from("/usr/bin/kubectl")
}

impl Drop for LocalApiserver {
    fn drop(&mut self) {
        for child in [self.controller_manager.take(), self.apiserver.take()]
            .into_iter()
            .flatten()
        {
            let mut child = child;
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
