//! A real Debian `/usr/bin/etcd` cluster on 127.0.0.1 with TLS everywhere, for tests.
//!
//! [`LocalEtcd::start`] makes a CA, one server/peer certificate per member (IP SAN
//! 127.0.0.1) and a client certificate with the `openssl` CLI, picks free ports, starts
//! N members with client and peer certificate authentication, and waits until Debian's
//! `etcdctl endpoint health` says every member is healthy. Dropping it kills every member
//! and removes the temporary directory.
//!
//! The helper panics with a message naming what failed: it is test code, and a missing
//! `etcd`, `etcdctl` or `openssl` must fail the test (CI installs `etcd-server`,
//! `etcd-client` and `openssl`), never skip it.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The etcd server binary (Debian `etcd-server`).
pub const ETCD: &str = "/usr/bin/etcd";
/// The etcd client binary (Debian `etcd-client`).
pub const ETCDCTL: &str = "/usr/bin/etcdctl";

/// What cluster to start.
#[derive(Debug, Clone)]
pub struct LocalEtcdConfig {
    /// How many members (1 or more).
    pub members: usize,
    /// Serve the v2 API too (`--enable-v2`), as flannel before 0.18 needs.
    pub enable_v2: bool,
}

impl Default for LocalEtcdConfig {
    fn default() -> Self {
        Self {
            members: 3,
            enable_v2: false,
        }
    }
}

/// A certificate and its key, as files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The PEM certificate.
    pub cert: PathBuf,
    /// The PEM private key (PKCS#8).
    pub key: PathBuf,
}

impl CertFiles {
    /// The certificate's PEM text.
    pub fn cert_pem(&self) -> String {
        read(&self.cert)
    }

    /// The key's PEM text.
    pub fn key_pem(&self) -> String {
        read(&self.key)
    }
}

/// One member of the local cluster.
#[derive(Debug)]
pub struct LocalMember {
    /// Its name (`m0`, `m1`, ...).
    pub name: String,
    /// Its client port on 127.0.0.1.
    pub client_port: u16,
    /// Its peer port on 127.0.0.1.
    pub peer_port: u16,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// The loopback address it listens on.
    pub address: IpAddr,
    child: Option<Child>,
}

impl LocalMember {
    /// `https://127.0.0.1:<client port>`.
    pub fn client_url(&self) -> String {
        format!("https://{}:{}", self.address, self.client_port)
    }

    /// `https://127.0.0.1:<peer port>`.
    pub fn peer_url(&self) -> String {
        format!("https://{}:{}", self.address, self.peer_port)
    }

    /// Whether the member's process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A running local etcd cluster; every member is killed when it is dropped.
#[derive(Debug)]
pub struct LocalEtcd {
    dir: tempfile::TempDir,
    config: LocalEtcdConfig,
    ca: CertFiles,
    server: CertFiles,
    client: CertFiles,
    members: Vec<LocalMember>,
}

impl LocalEtcd {
    /// Starts the cluster on 127.0.0.1 (free ports) and waits (up to 30 s) until every
    /// member is healthy.
    pub fn start(config: LocalEtcdConfig) -> Self {
        Self::launch(config, None)
    }

    /// Starts one member per loopback address in `addresses` on etcd's own ports (2379
    /// for clients, 2380 for peers), as an inventory describes a cluster; the server
    /// certificate names every address. Tests using this must each pick addresses of
    /// their own (e.g. 127.0.10.1-3).
    pub fn start_on(config: LocalEtcdConfig, addresses: &[Ipv4Addr]) -> Self {
        assert_eq!(config.members, addresses.len(), "one address per member");
        assert!(
            addresses.iter().all(|a| a.is_loopback()),
            "loopback addresses only"
        );
        Self::launch(config, Some(addresses))
    }

    fn launch(config: LocalEtcdConfig, addresses: Option<&[Ipv4Addr]>) -> Self {
        assert!(config.members >= 1, "a cluster needs at least one member");
        let dir = tempfile::Builder::new()
            .prefix("kubin-local-etcd-")
            .tempdir()
            .expect("cannot create a temporary directory for etcd");
        let ca = make_ca(dir.path(), "ca", "kubin-local-etcd-ca");
        let mut sans = String::from("IP:127.0.0.1,DNS:localhost");
        for a in addresses.unwrap_or(&[]) {
            sans.push_str(&format!(",IP:{a}"));
        }
        let server = issue(
            dir.path(),
            &ca,
            "server",
            "etcd",
            &format!("subjectAltName={sans}\nextendedKeyUsage=serverAuth,clientAuth\n"),
            365,
        );
        let client = issue(
            dir.path(),
            &ca,
            "client",
            "kubin-test-client",
            "extendedKeyUsage=clientAuth\n",
            365,
        );
        let mut members = Vec::new();
        for i in 0..config.members {
            let data_dir = dir.path().join(format!("m{i}.etcd"));
            let (address, client_port, peer_port) = match addresses {
                Some(a) => (IpAddr::V4(a[i]), 2379, 2380),
                None => (IpAddr::V4(Ipv4Addr::LOCALHOST), free_port(), free_port()),
            };
            members.push(LocalMember {
                name: format!("m{i}"),
                client_port,
                peer_port,
                data_dir,
                address,
                child: None,
            });
        }
        let mut etcd = Self {
            dir,
            config,
            ca,
            server,
            client,
            members,
        };
        for i in 0..etcd.members.len() {
            etcd.spawn(i, "new");
        }
        etcd.wait_healthy(Duration::from_secs(30));
        etcd
    }

    fn initial_cluster(&self) -> String {
        self.members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url()))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn spawn(&mut self, i: usize, state: &str) {
        let initial_cluster = self.initial_cluster();
        let log = self.dir.path().join(format!("m{i}.log"));
        let m = &self.members[i];
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("cannot open the member's log file");
        let mut cmd = Command::new(ETCD);
        cmd.arg(format!("--name={}", m.name))
            .arg(format!("--data-dir={}", m.data_dir.display()))
            .arg(format!("--listen-client-urls={}", m.client_url()))
            .arg(format!("--advertise-client-urls={}", m.client_url()))
            .arg(format!("--listen-peer-urls={}", m.peer_url()))
            .arg(format!("--initial-advertise-peer-urls={}", m.peer_url()))
            .arg(format!("--initial-cluster={initial_cluster}"))
            .arg("--initial-cluster-token=kubin-local-etcd")
            .arg(format!("--initial-cluster-state={state}"))
            .arg(format!("--cert-file={}", self.server.cert.display()))
            .arg(format!("--key-file={}", self.server.key.display()))
            .arg(format!("--peer-cert-file={}", self.server.cert.display()))
            .arg(format!("--peer-key-file={}", self.server.key.display()))
            .arg(format!("--trusted-ca-file={}", self.ca.cert.display()))
            .arg(format!("--peer-trusted-ca-file={}", self.ca.cert.display()))
            .arg("--client-cert-auth")
            .arg("--peer-client-cert-auth")
            // Small timings keep elections quick on a loaded 2-core machine.
            .arg("--heartbeat-interval=100")
            .arg("--election-timeout=1000")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("cannot clone the log handle"))
            .stderr(log_file);
        if self.config.enable_v2 {
            cmd.arg("--enable-v2");
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {ETCD} (is etcd-server installed?): {e}"));
        self.members[i].child = Some(child);
    }

    /// Waits until `etcdctl endpoint health` succeeds for every running member.
    pub fn wait_healthy(&self, timeout: Duration) {
        let endpoints: Vec<String> = self
            .members
            .iter()
            .filter(|m| m.is_running())
            .map(LocalMember::client_url)
            .collect();
        let deadline = Instant::now() + timeout;
        loop {
            let out = self
                .etcdctl_at(&endpoints)
                .args(["endpoint", "health"])
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {ETCDCTL} (is etcd-client installed?): {e}")
                });
            if out.status.success() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "local etcd not healthy after {timeout:?}: {}{}\nlogs:\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    self.logs()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Every member's log, for failure messages.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for (i, m) in self.members.iter().enumerate() {
            let text = std::fs::read_to_string(self.dir.path().join(format!("m{i}.log")))
                .unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(15).collect();
            all.push_str(&format!("--- {} ---\n", m.name));
            for line in tail.into_iter().rev() {
                all.push_str(line);
                all.push('\n');
            }
        }
        all
    }

    /// The members.
    pub fn members(&self) -> &[LocalMember] {
        &self.members
    }

    /// Every member's client URL, `https://127.0.0.1:PORT`, in member order.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(LocalMember::client_url).collect()
    }

    /// The endpoints joined with commas, as `etcdctl --endpoints` and flannel take them.
    pub fn endpoints_csv(&self) -> String {
        self.endpoints().join(",")
    }

    /// The temporary directory holding certificates, data dirs and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CA certificate file.
    pub fn ca_file(&self) -> &Path {
        &self.ca.cert
    }

    /// The client certificate file (signed by the cluster's CA, `clientAuth`).
    pub fn client_cert_file(&self) -> &Path {
        &self.client.cert
    }

    /// The client key file.
    pub fn client_key_file(&self) -> &Path {
        &self.client.key
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.cert_pem()
    }

    /// The client certificate, PEM.
    pub fn client_cert_pem(&self) -> String {
        self.client.cert_pem()
    }

    /// The client key, PEM.
    pub fn client_key_pem(&self) -> String {
        self.client.key_pem()
    }

    /// The CA as files (its key lets a test issue more certificates with [`issue`]).
    pub fn ca(&self) -> &CertFiles {
        &self.ca
    }

    /// Debian's etcdctl with the v3 API, the cluster's CA and the client certificate, and
    /// every member as an endpoint.
    pub fn etcdctl(&self) -> Command {
        self.etcdctl_at(&self.endpoints())
    }

    /// Debian's etcdctl against the given endpoints.
    pub fn etcdctl_at(&self, endpoints: &[String]) -> Command {
        let mut cmd = Command::new(ETCDCTL);
        cmd.env("ETCDCTL_API", "3")
            .arg(format!("--cacert={}", self.ca.cert.display()))
            .arg(format!("--cert={}", self.client.cert.display()))
            .arg(format!("--key={}", self.client.key.display()))
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg("--dial-timeout=2s")
            .arg("--command-timeout=5s");
        cmd
    }

    /// Runs `etcdctl ARGS` against the cluster and returns its output (failure is not a
    /// panic: the caller checks the status).
    pub fn etcdctl_output(&self, args: &[&str]) -> Output {
        self.etcdctl()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {ETCDCTL}: {e}"))
    }

    /// Reserves ports and a data dir for one more member (not started, not yet known to the
    /// cluster): add it through the API first, then [`LocalEtcd::start_joining`] it.
    pub fn reserve_member(&mut self) -> usize {
        let i = self.members.len();
        self.members.push(LocalMember {
            name: format!("m{i}"),
            client_port: free_port(),
            peer_port: free_port(),
            data_dir: self.dir.path().join(format!("m{i}.etcd")),
            address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            child: None,
        });
        i
    }

    /// Starts reserved member `i` with `--initial-cluster-state=existing`.
    pub fn start_joining(&mut self, i: usize) {
        self.spawn(i, "existing");
    }

    /// Writes `DIR/cluster.yaml` naming every member (as `m0`, `m1`, ...; `m0` is also the
    /// master) at its address, and `DIR/pki/etcd/{ca,client,client-key}.pem`, so that
    /// `kubin etcd ... -f DIR/cluster.yaml` talks to this cluster. Only meaningful for a
    /// cluster from [`LocalEtcd::start_on`] (etcd's own ports).
    pub fn write_inventory(&self, dir: &Path) -> PathBuf {
        let pki = dir.join("pki").join("etcd");
        std::fs::create_dir_all(&pki).expect("cannot create the pki dir");
        let copy = |from: &Path, to: &str| {
            std::fs::copy(from, pki.join(to)).expect("cannot copy a certificate");
        };
        copy(&self.ca.cert, "ca.pem");
        copy(&self.client.cert, "client.pem");
        copy(&self.client.key, "client-key.pem");
        let mut yaml = String::from(
            "cluster_name: local\nkubernetes:\n  version: \"1.20.2\"\nnetwork:\n  pod_cidr: 172.17.0.0/16\n  flannel:\n    version: \"0.22.0\"\npki_dir: pki\nhosts:\n",
        );
        for (i, m) in self.members.iter().enumerate() {
            let roles = if i == 0 { "[master, etcd]" } else { "[etcd]" };
            yaml.push_str(&format!(
                "  - name: {}\n    address: {}\n    roles: {roles}\n",
                m.name, m.address
            ));
        }
        let path = dir.join("cluster.yaml");
        std::fs::write(&path, yaml).expect("cannot write cluster.yaml");
        path
    }

    /// Kills member `i` (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.members[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts member `i` again with its existing data dir.
    pub fn restart(&mut self, i: usize) {
        if self.members[i].child.is_none() {
            self.spawn(i, "existing");
        }
    }
}

impl Drop for LocalEtcd {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

/// A free TCP port on 127.0.0.1 (the listener is closed again before it is used).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a free port on 127.0.0.1")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (is it installed?): {e}"));
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new self-signed CA (P-256) as `DIR/NAME.pem` and `DIR/NAME-key.pem`.
pub fn make_ca(dir: &Path, name: &str, common_name: &str) -> CertFiles {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key.display().to_string(),
            "-out",
            &cert.display().to_string(),
            "-days",
            "365",
            "-subj",
            &format!("/CN={common_name}"),
        ],
    );
    CertFiles { cert, key }
}

/// Issues a certificate from `ca` as `DIR/NAME.pem` and `DIR/NAME-key.pem`, with the
/// given openssl extension lines; a negative `days` makes an already expired certificate.
pub fn issue(
    dir: &Path,
    ca: &CertFiles,
    name: &str,
    common_name: &str,
    extensions: &str,
    days: i32,
) -> CertFiles {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}-key.pem"));
    let csr = dir.join(format!("{name}.csr"));
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(&ext, extensions).expect("cannot write the extension file");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key.display().to_string(),
            "-out",
            &csr.display().to_string(),
            "-subj",
            &format!("/CN={common_name}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr.display().to_string(),
            "-CA",
            &ca.cert.display().to_string(),
            "-CAkey",
            &ca.key.display().to_string(),
            "-CAcreateserial",
            "-out",
            &cert.display().to_string(),
            "-days",
            &days.to_string(),
            "-extfile",
            &ext.display().to_string(),
        ],
    );
    CertFiles { cert, key }
}
