//! node-bootstrap against a real kube-apiserver and kube-controller-manager v1.20.2 on
//! loopback: the token file and kubeconfigs are accepted by the apiserver, curl and
//! kubectl; the RBAC lets the bootstrap user create CSRs and nothing more; the watch
//! approves exactly the CSRs the policy allows, the controller-manager signs them, and
//! forged ones stay unapproved with a reason naming the wrong field. One apiserver serves
//! every case, to stay fast.

use node_bootstrap::kubeconfig;
use node_bootstrap::online::{self, Action, WatchConfig, WatchEnd};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::local_apiserver::{LocalApiserver, kubectl};

const NODE: &str = "k8s-node1";
const NODE_IP: &str = "127.0.0.11";

fn inventory_yaml() -> String {
    format!(
        "cluster_name: kubernetes\nkubernetes:\n  version: \"1.20.2\"\nnetwork:\n  pod_cidr: 172.17.0.0/16\n  flannel:\n    version: \"0.22.0\"\npki_dir: pki\nhosts:\n  - name: k8s-master1\n    address: 127.0.0.1\n    roles: [master, etcd]\n  - name: {NODE}\n    address: {NODE_IP}\n    roles: [node]\n"
    )
}

fn inventory() -> inventory::Inventory {
    inventory::Inventory::from_yaml(&inventory_yaml(), "cluster.yaml")
        .unwrap()
        .0
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `curl` to `path` with a bearer token (if any) read from a 0600 file, never on the
/// command line; returns the HTTP status.
fn curl_status(api: &LocalApiserver, token: Option<&str>, path: &str) -> String {
    let header = api.path("auth-header");
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(api.path("ca.pem"));
    if let Some(token) = token {
        std::fs::write(&header, format!("Authorization: Bearer {token}\n")).unwrap();
        cmd.arg("-H").arg(format!("@{}", header.display()));
    }
    let out = cmd
        .arg(format!("{}{path}", api.url()))
        .output()
        .expect("cannot run curl (is it installed?)");
    let _ = std::fs::remove_file(&header);
    ok(&out)
}

/// A PKCS#10 request made by openssl (P-256 key), its key written to `DIR/NAME-key.pem`.
fn openssl_csr(dir: &Path, name: &str, subject: &str, sans: Option<&str>) -> String {
    let key = dir.join(format!("{name}-key.pem"));
    let mut cmd = Command::new("openssl");
    cmd.args([
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
    ])
    .arg(&key)
    .args(["-subj", subject]);
    if let Some(s) = sans {
        cmd.args(["-addext", &format!("subjectAltName={s}")]);
    }
    ok(&cmd.output().expect("cannot run openssl"))
}

/// `kubectl create -f` of a CertificateSigningRequest, as `kubeconfig`'s user.
fn create_csr(
    api: &LocalApiserver,
    kubeconfig: &str,
    name: &str,
    signer: &str,
    usages: &[&str],
    pem: &str,
) {
    let request = base64(pem.as_bytes());
    let usages: String = usages.iter().map(|u| format!("\n  - {u}")).collect();
    let yaml = format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata:\n  name: {name}\nspec:\n  signerName: {signer}\n  request: {request}\n  usages:{usages}\n"
    );
    let file = api.path(&format!("{name}.yaml"));
    std::fs::write(&file, yaml).unwrap();
    ok(&api
        .kubectl(kubeconfig)
        .arg("create")
        .arg("-f")
        .arg(&file)
        .output()
        .unwrap());
}

fn base64(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("base64")
        .arg("-w0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

fn jsonpath(api: &LocalApiserver, csr: &str, path: &str) -> String {
    ok(&api
        .kubectl(kubeconfig::ADMIN)
        .args(["get", "csr", csr, "-o", &format!("jsonpath={path}")])
        .output()
        .unwrap())
}

fn wait_issued(api: &LocalApiserver, csr: &str, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let cert = jsonpath(api, csr, "{.status.certificate}");
        if !cert.is_empty() {
            return cert;
        }
        assert!(
            Instant::now() < deadline,
            "CSR {csr} not issued after {timeout:?}: {}\n--- controller-manager ---\n{}",
            jsonpath(api, csr, "{.status}"),
            api.log_tail("kube-controller-manager.log", 30)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn decode_b64(text: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("base64")
        .arg("-d")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn bootstrap_rbac_and_csr_policy_against_a_real_apiserver() {
    let api = LocalApiserver::start();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let inv = inventory();

    // The token file's token is accepted; a wrong one is not.
    assert_eq!(
        curl_status(&api, Some(api.token.expose()), "/healthz"),
        "200"
    );
    let wrong = "0123456789abcdef0123456789abcdef";
    assert_eq!(curl_status(&api, Some(wrong), "/healthz"), "401");
    // The admin kubeconfig works with kubectl.
    let healthz = ok(&api
        .kubectl(kubeconfig::ADMIN)
        .args(["get", "--raw", "/healthz"])
        .output()
        .unwrap());
    assert_eq!(healthz.trim(), "ok");

    // Every kubeconfig loads in kubectl (this release's and the system's, if any) and kube-rs.
    let mut kubectls = vec![kubectl()];
    if Path::new("/usr/bin/kubectl").is_file() && kubectls[0] != Path::new("/usr/bin/kubectl") {
        kubectls.push("/usr/bin/kubectl".into());
    }
    for file in [
        kubeconfig::BOOTSTRAP,
        kubeconfig::KUBE_PROXY,
        kubeconfig::ADMIN,
        kubeconfig::CONTROLLER_MANAGER,
        kubeconfig::SCHEDULER,
    ] {
        let text = std::fs::read_to_string(api.path(file)).unwrap();
        let loaded = node_bootstrap::kubeconfig::from_yaml(file, &text).unwrap();
        assert_eq!(loaded.current_context.as_deref(), Some("default"));
        for k in &kubectls {
            let view = ok(&Command::new(k)
                .arg("--kubeconfig")
                .arg(api.path(file))
                .args(["config", "view", "--raw", "-o", "json"])
                .output()
                .unwrap());
            let view: serde_json::Value = serde_json::from_str(&view).unwrap();
            assert_eq!(
                view["current-context"],
                "default",
                "{file} with {}",
                k.display()
            );
            assert_eq!(view["clusters"][0]["cluster"]["server"], api.url().as_str());
            let contexts = ok(&Command::new(k)
                .arg("--kubeconfig")
                .arg(api.path(file))
                .args(["config", "get-contexts", "--no-headers"])
                .output()
                .unwrap());
            assert!(
                contexts.contains("default") && contexts.contains("kubernetes"),
                "{contexts}"
            );
        }
        // And the apiserver accepts each identity.
        let who = api
            .kubectl(file)
            .args(["get", "--raw", "/healthz"])
            .output()
            .unwrap();
        assert_eq!(ok(&who).trim(), "ok", "{file}");
    }

    // RBAC, applied twice: the second run changes nothing.
    let client = rt
        .block_on(online::connect(&api.path(kubeconfig::ADMIN)))
        .unwrap();
    let rbac = node_bootstrap::rbac::bootstrap_rbac();
    let first = rt.block_on(online::apply_rbac(&client, &rbac)).unwrap();
    assert!(
        first.iter().all(|a| a.outcome == online::Outcome::Created),
        "{first:?}"
    );
    let second = rt.block_on(online::apply_rbac(&client, &rbac)).unwrap();
    assert!(
        second
            .iter()
            .all(|a| a.outcome == online::Outcome::Unchanged),
        "{second:?}"
    );
    let can_i = |args: &[&str]| {
        let out = api
            .kubectl(kubeconfig::ADMIN)
            .arg("auth")
            .arg("can-i")
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let bootstrap = ["--as=kubelet-bootstrap", "--as-group=system:bootstrappers"];
    assert_eq!(
        can_i(&[&["create", "certificatesigningrequests"][..], &bootstrap].concat()),
        "yes"
    );
    assert_eq!(can_i(&[&["get", "secrets"][..], &bootstrap].concat()), "no");
    assert_eq!(can_i(&[&["create", "pods"][..], &bootstrap].concat()), "no");
    assert_eq!(
        can_i(&[
            "create",
            "certificatesigningrequests",
            "--as=system:bootstrap:abcdef",
            "--as-group=system:bootstrappers"
        ]),
        "yes"
    );
    // `can-i VERB nodes/x` would read x as a node's name: subresources take --subresource.
    for sub in ["proxy", "log", "stats", "metrics", "spec"] {
        for verb in ["get", "create"] {
            let flag = format!("--subresource={sub}");
            let args = [verb, "nodes", &flag, "--as=kube-apiserver-kubelet-client"];
            assert_eq!(can_i(&args), "yes", "{verb} nodes/{sub}");
        }
    }
    assert_eq!(
        can_i(&["get", "secrets", "--as=kube-apiserver-kubelet-client"]),
        "no"
    );
    // No cluster-admin for anonymous: an unauthenticated request is refused.
    let anonymous = curl_status(&api, None, "/api/v1/namespaces/kube-system/secrets");
    assert_eq!(anonymous, "403");
    // The token user itself, through its own kubeconfig.
    let own = api
        .kubectl(kubeconfig::BOOTSTRAP)
        .args(["auth", "can-i", "create", "certificatesigningrequests"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&own.stdout).trim(), "yes");

    // The watch: until the node has its client and serving certificates approved.
    let actions: Arc<Mutex<Vec<Action>>> = Arc::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let watch = {
        let client = client.clone();
        let inv = inv.clone();
        let actions = actions.clone();
        rt.spawn(async move {
            let cfg = WatchConfig {
                deny: false,
                until_complete: true,
                serving: true,
                since: None,
            };
            let mut report = move |a: &Action| actions.lock().unwrap().push(a.clone());
            online::watch(
                &client,
                &inv,
                &cfg,
                async {
                    let _ = stopped.await;
                },
                &mut report,
            )
            .await
        })
    };

    let d = api.dir();
    let client_usages = ["digital signature", "key encipherment", "client auth"];
    let good = openssl_csr(
        d,
        "good",
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        None,
    );
    let created = Instant::now();
    create_csr(
        &api,
        kubeconfig::BOOTSTRAP,
        "node-client-good",
        node_bootstrap::policy::CLIENT_SIGNER,
        &client_usages,
        &good,
    );
    // Forged, with the bootstrap token.
    let wrong_cn = openssl_csr(d, "wrong-cn", "/O=system:nodes/CN=admin", None);
    create_csr(
        &api,
        kubeconfig::BOOTSTRAP,
        "forged-wrong-cn",
        node_bootstrap::policy::CLIENT_SIGNER,
        &client_usages,
        &wrong_cn,
    );
    let extra = openssl_csr(
        d,
        "extra",
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        None,
    );
    create_csr(
        &api,
        kubeconfig::BOOTSTRAP,
        "forged-extra-usage",
        node_bootstrap::policy::CLIENT_SIGNER,
        &[
            "digital signature",
            "key encipherment",
            "client auth",
            "server auth",
        ],
        &extra,
    );
    let stranger = openssl_csr(
        d,
        "stranger",
        "/O=system:nodes/CN=system:node:k8s-node9",
        None,
    );
    create_csr(
        &api,
        kubeconfig::BOOTSTRAP,
        "forged-not-in-inventory",
        node_bootstrap::policy::CLIENT_SIGNER,
        &client_usages,
        &stranger,
    );
    let serving_bootstrap = openssl_csr(
        d,
        "serving-bootstrap",
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        Some(&format!("DNS:{NODE},IP:{NODE_IP}")),
    );
    create_csr(
        &api,
        kubeconfig::BOOTSTRAP,
        "forged-serving-by-bootstrap",
        node_bootstrap::policy::SERVING_SIGNER,
        &["digital signature", "key encipherment", "server auth"],
        &serving_bootstrap,
    );

    // The good one is approved by the watch and signed by the controller-manager.
    let cert_b64 = wait_issued(&api, "node-client-good", Duration::from_secs(60));
    eprintln!(
        "node-client-good: created to issued in {:?}",
        created.elapsed()
    );
    assert_eq!(
        jsonpath(&api, "node-client-good", "{.status.conditions[0].type}"),
        "Approved"
    );
    assert_eq!(
        jsonpath(&api, "node-client-good", "{.status.conditions[0].reason}"),
        "KubinPolicy"
    );
    assert!(
        jsonpath(&api, "node-client-good", "{.status.conditions[0].message}")
            .contains("kubin node-bootstrap policy")
    );
    let cert_pem = decode_b64(&cert_b64);
    std::fs::write(d.join("node-client.pem"), &cert_pem).unwrap();
    let text = ok(&Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-issuer", "-in"])
        .arg(d.join("node-client.pem"))
        .output()
        .unwrap());
    assert!(
        text.contains(&format!("CN = system:node:{NODE}")) && text.contains("O = system:nodes"),
        "{text}"
    );
    assert!(
        text.contains("issuer=") && text.contains("CN = kubernetes"),
        "{text}"
    );
    let verify = ok(&Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(api.path("ca.pem"))
        .arg(d.join("node-client.pem"))
        .output()
        .unwrap());
    assert!(verify.contains(": OK"), "{verify}");

    // With its new client certificate the node asks for a serving certificate, as a kubelet
    // with serverTLSBootstrap does: its own names are approved, a foreign IP is not.
    let node_kc = kubeconfig::render(
        &kubeconfig::ClusterRef {
            name: "kubernetes".into(),
            server: api.url(),
            ca_pem: api.set.ca_pem().into(),
        },
        &format!("system:node:{NODE}"),
        &kubeconfig::Credentials::ClientCert {
            cert_pem: String::from_utf8(cert_pem).unwrap(),
            key_pem: std::fs::read_to_string(d.join("good-key.pem")).unwrap(),
        },
    );
    std::fs::write(
        d.join("node.kubeconfig"),
        kubeconfig::to_yaml("node.kubeconfig", &node_kc).unwrap(),
    )
    .unwrap();
    let serving_usages = ["digital signature", "key encipherment", "server auth"];
    let foreign = openssl_csr(
        d,
        "foreign",
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        Some(&format!("DNS:{NODE},IP:{NODE_IP},IP:10.9.9.9")),
    );
    create_csr(
        &api,
        "node.kubeconfig",
        "forged-serving-foreign-ip",
        node_bootstrap::policy::SERVING_SIGNER,
        &serving_usages,
        &foreign,
    );
    let serving = openssl_csr(
        d,
        "serving",
        &format!("/O=system:nodes/CN=system:node:{NODE}"),
        Some(&format!("DNS:{NODE},IP:{NODE_IP}")),
    );
    create_csr(
        &api,
        "node.kubeconfig",
        "node-serving-good",
        node_bootstrap::policy::SERVING_SIGNER,
        &serving_usages,
        &serving,
    );
    wait_issued(&api, "node-serving-good", Duration::from_secs(60));

    // The node has both certificates: the watch ends by itself.
    let end = rt.block_on(async { tokio::time::timeout(Duration::from_secs(30), watch).await });
    let end = end
        .expect("the watch did not end when the node had its certificates")
        .unwrap()
        .unwrap();
    assert_eq!(end, WatchEnd::Complete);
    drop(stop);

    // Forged ones are not approved, and the reasons name what is wrong.
    let expect = [
        ("forged-wrong-cn", "subject CN \"admin\""),
        ("forged-extra-usage", "usage \"server auth\" is not allowed"),
        (
            "forged-not-in-inventory",
            "system:node:k8s-node9\" names no node",
        ),
        (
            "forged-serving-by-bootstrap",
            "requester \"kubelet-bootstrap\"",
        ),
        ("forged-serving-foreign-ip", "IP SAN 10.9.9.9"),
    ];
    let seen = actions.lock().unwrap().clone();
    eprintln!(
        "{}",
        seen.iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (name, why) in expect {
        assert_eq!(
            jsonpath(&api, name, "{.status.conditions}"),
            "",
            "{name} was decided"
        );
        let left = seen.iter().find_map(|a| match a {
            Action::Left { name: n, reason } if n == name => Some(reason.clone()),
            _ => None,
        });
        let left = left.unwrap_or_else(|| panic!("{name} not reported: {seen:?}"));
        assert!(left.contains(why), "{name}: {left}");
    }
    assert!(
        seen.iter()
            .any(|a| matches!(a, Action::Approved { name, .. } if name == "node-client-good"))
    );
    assert!(
        seen.iter()
            .any(|a| matches!(a, Action::Approved { name, .. } if name == "node-serving-good"))
    );

    // list: every CSR with its state and verdict.
    let listed = rt.block_on(online::list_csrs(&client, &inv)).unwrap();
    assert_eq!(listed.len(), 7, "{listed:?}");
    // The CLI prints the same verdicts.
    let inv_file = api.path("cluster.yaml");
    std::fs::write(&inv_file, inventory_yaml()).unwrap();
    let cli = Command::new(tests::kubin::kubin_bin())
        .args(["csr", "list", "-f"])
        .arg(&inv_file)
        .arg("--kubeconfig")
        .arg(api.path(kubeconfig::ADMIN))
        .output()
        .unwrap();
    let printed = ok(&cli);
    assert!(printed.contains("Approved,Issued"), "{printed}");
    for (name, why) in expect {
        let line = printed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_default();
        assert!(
            line.contains("Pending") && line.contains(why),
            "{name}: {printed}"
        );
    }
    // approve --deny: the forged ones are denied with the reason in the condition.
    let done = rt.block_on(online::approve(&client, &inv, true)).unwrap();
    assert_eq!(
        done.iter()
            .filter(|a| matches!(a, Action::Denied { .. }))
            .count(),
        5,
        "{done:?}"
    );
    for (name, why) in expect {
        assert_eq!(
            jsonpath(&api, name, "{.status.conditions[0].type}"),
            "Denied",
            "{name}"
        );
        assert_eq!(
            jsonpath(&api, name, "{.status.conditions[0].reason}"),
            "KubinPolicy"
        );
        assert!(
            jsonpath(&api, name, "{.status.conditions[0].message}").contains(why),
            "{name}"
        );
    }
    // Once decided, nothing is left to do.
    assert!(
        rt.block_on(online::approve(&client, &inv, true))
            .unwrap()
            .is_empty()
    );
}
