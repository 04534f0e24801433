//! `kubin pki` against tools no one here wrote: the guides' JSON files through kubin, checked
//! with `openssl verify`, `openssl x509 -text`, `cfssl certinfo`; a cfssl CA signing with kubin
//! and a kubin CA signing cfssl's CSR; `cfssljson -bare` reading kubin's JSON.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use tests::kubin::kubin_bin as kubin;

const CA_CONFIG: &str = include_str!("../../pki/tests/fixtures/ca-config.json");
const CA_CSR: &str = include_str!("../../pki/tests/fixtures/ca-csr.json");
const SERVER_CSR: &str = include_str!("../../pki/tests/fixtures/server-csr.json");

/// Runs `sh -c script` in `dir` with `$KUBIN` set; asserts success and returns stdout.
#[track_caller]
fn sh(dir: &Path, script: &str) -> String {
    let out = sh_output(dir, script);
    assert!(out.status.success(), "`{script}` failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn sh_output(dir: &Path, script: &str) -> Output {
    Command::new("sh")
        .args(["-ec", script])
        .env("KUBIN", kubin())
        .current_dir(dir)
        .output()
        .unwrap()
}

fn guides_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca-config.json"), CA_CONFIG).unwrap();
    std::fs::write(dir.path().join("ca-csr.json"), CA_CSR).unwrap();
    std::fs::write(dir.path().join("server-csr.json"), SERVER_CSR).unwrap();
    dir
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn guides_files_through_kubin_verify_with_openssl_and_cfssl() {
    let dir = guides_dir();
    let d = dir.path();
    sh(d, "$KUBIN pki init-ca ca-csr.json --bare ca");
    // As the guides: JSON on stdout into cfssljson.
    sh(
        d,
        "$KUBIN pki gencert --ca ca.pem --ca-key ca-key.pem --config ca-config.json \
         --profile www server-csr.json | cfssljson -bare server",
    );
    assert_eq!(
        sh(d, "openssl verify -CAfile ca.pem server.pem").trim(),
        "server.pem: OK"
    );
    let text = sh(d, "openssl x509 -in server.pem -text -noout");
    for want in [
        "Issuer: C = CN, ST = Beijing, L = Beijing, CN = etcd CA",
        "Subject: C = CN, ST = BeiJing, L = BeiJing, CN = etcd",
        "IP Address:192.168.31.63, IP Address:192.168.31.65, IP Address:192.168.31.66",
        "Digital Signature, Key Encipherment",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "CA:FALSE",
        "X509v3 Authority Key Identifier",
        "Public-Key: (2048 bit)",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let ca_text = sh(d, "openssl x509 -in ca.pem -text -noout");
    assert!(ca_text.contains("CA:TRUE") && ca_text.contains("Certificate Sign, CRL Sign"));
    // cfssl's key formats, readable by openssl, private to root.
    assert!(
        std::fs::read_to_string(d.join("server-key.pem"))
            .unwrap()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert_eq!(
        sh(d, "openssl rsa -in server-key.pem -check -noout").trim(),
        "RSA key ok"
    );
    for key in ["ca-key.pem", "server-key.pem"] {
        let mode = std::fs::metadata(d.join(key)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    // cfssl certinfo and kubin certinfo agree.
    let theirs = json(&sh(d, "cfssl certinfo -cert server.pem"));
    let ours = json(&sh(d, "$KUBIN pki certinfo --cert server.pem"));
    for field in [
        "subject",
        "issuer",
        "serial_number",
        "sans",
        "not_before",
        "not_after",
        "sigalg",
    ] {
        assert_eq!(theirs[field], ours[field], "{field}");
    }
    assert_eq!(
        theirs["sans"],
        serde_json::json!(["192.168.31.63", "192.168.31.65", "192.168.31.66"])
    );
    // Never overwrite a key or a CA.
    let again = sh_output(d, "$KUBIN pki init-ca ca-csr.json --bare ca");
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("ca-key.pem"),
        "{again:?}"
    );
}

#[test]
fn a_cfssl_ca_signs_with_kubin_and_a_kubin_ca_signs_a_cfssl_csr() {
    let dir = guides_dir();
    let d = dir.path();
    // cfssl's CA (PKCS#1 key), kubin issues under it.
    sh(
        d,
        "cfssl gencert -initca ca-csr.json | cfssljson -bare cfssl-ca",
    );
    sh(
        d,
        "$KUBIN pki gencert --ca cfssl-ca.pem --ca-key cfssl-ca-key.pem --config ca-config.json \
         --profile www server-csr.json --bare from-cfssl-ca",
    );
    assert_eq!(
        sh(d, "openssl verify -CAfile cfssl-ca.pem from-cfssl-ca.pem").trim(),
        "from-cfssl-ca.pem: OK"
    );
    // kubin's CA signs a CSR made by cfssl.
    sh(d, "$KUBIN pki init-ca ca-csr.json --bare kubin-ca");
    sh(
        d,
        "cfssl genkey server-csr.json | cfssljson -bare cfssl-server",
    );
    sh(
        d,
        "$KUBIN pki sign --ca kubin-ca.pem --ca-key kubin-ca-key.pem --config ca-config.json \
         --profile www cfssl-server.csr | cfssljson -bare signed",
    );
    assert_eq!(
        sh(d, "openssl verify -CAfile kubin-ca.pem signed.pem").trim(),
        "signed.pem: OK"
    );
    let info = json(&sh(d, "cfssl certinfo -cert signed.pem"));
    assert_eq!(info["subject"]["common_name"], "etcd");
    assert_eq!(info["sans"].as_array().unwrap().len(), 3);
    // And cfssl itself signs with kubin's CA files.
    sh(
        d,
        "cfssl gencert -ca kubin-ca.pem -ca-key kubin-ca-key.pem -config ca-config.json \
         -profile www server-csr.json | cfssljson -bare cfssl-under-kubin",
    );
    assert_eq!(
        sh(
            d,
            "openssl verify -CAfile kubin-ca.pem cfssl-under-kubin.pem"
        )
        .trim(),
        "cfssl-under-kubin.pem: OK"
    );
}

#[test]
fn ecdsa_keys_are_sec1_and_cfssl_reads_them() {
    let dir = guides_dir();
    let d = dir.path();
    std::fs::write(
        d.join("ec-ca-csr.json"),
        r#"{"CN":"ec CA","key":{"algo":"ecdsa","size":256}}"#,
    )
    .unwrap();
    std::fs::write(
        d.join("ec-csr.json"),
        r#"{"CN":"ec","hosts":["127.0.0.1","localhost"],"key":{"algo":"ecdsa","size":384}}"#,
    )
    .unwrap();
    sh(d, "$KUBIN pki init-ca ec-ca-csr.json --bare ec-ca");
    sh(
        d,
        "$KUBIN pki gencert --ca ec-ca.pem --ca-key ec-ca-key.pem ec-csr.json --bare ec",
    );
    assert!(
        std::fs::read_to_string(d.join("ec-key.pem"))
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    assert!(sh(d, "openssl ec -in ec-key.pem -check -noout 2>&1").contains("valid"));
    assert!(sh(d, "openssl ec -in ec-key.pem -text -noout 2>&1").contains("secp384r1"));
    assert_eq!(
        sh(d, "openssl verify -CAfile ec-ca.pem ec.pem").trim(),
        "ec.pem: OK"
    );
    // Go's parser needs the curve named in the SEC1 key: cfssl signs with kubin's EC CA key.
    sh(
        d,
        "cfssl gencert -ca ec-ca.pem -ca-key ec-ca-key.pem -config ca-config.json -profile www \
         server-csr.json | cfssljson -bare by-cfssl",
    );
    assert_eq!(
        sh(d, "openssl verify -CAfile ec-ca.pem by-cfssl.pem").trim(),
        "by-cfssl.pem: OK"
    );
}

#[test]
fn bad_inputs_fail_naming_the_file_and_field() {
    let dir = guides_dir();
    let d = dir.path();
    std::fs::write(
        d.join("weak.json"),
        r#"{"CN":"x","key":{"algo":"rsa","size":1024}}"#,
    )
    .unwrap();
    let out = sh_output(d, "$KUBIN pki init-ca weak.json");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("weak.json") && err.contains("key.size 1024"),
        "{err}"
    );
    sh(d, "$KUBIN pki init-ca ca-csr.json --bare ca");
    sh(d, "$KUBIN pki init-ca ca-csr.json --bare other");
    let out = sh_output(
        d,
        "$KUBIN pki gencert --ca ca.pem --ca-key other-key.pem server-csr.json",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("does not match"),
        "{err}"
    );
    assert!(!err.contains("PRIVATE KEY"), "{err}");
}

#[test]
fn check_expiration_exit_status_and_cluster_set() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The settings come from the inventory alone: members, SANs and the `pki:` section.
    std::fs::write(
        d.join("cluster.yaml"),
        "kubernetes: { version: \"1.20.2\", service_cidr: 10.0.0.0/24, load_balancer: 192.168.31.100 }
network: { pod_cidr: 172.17.0.0/16 }
pki_dir: pki
pki: { key: ecdsa-256 }
hosts:
  - { name: etcd-1, address: 192.168.31.63, roles: [master, etcd] }
  - { name: etcd-2, address: 192.168.31.65, roles: [node, etcd] }
  - { name: etcd-3, address: 192.168.31.66, roles: [node, etcd] }
",
    )
    .unwrap();
    let listing = sh(d, "$KUBIN pki cluster -f cluster.yaml");
    assert_eq!(listing.matches("issued").count(), 16, "{listing}");
    // Every leaf verifies against its CA with openssl.
    for leaf in ["etcd/server-etcd-1", "etcd/peer-etcd-3", "etcd/client"] {
        sh(
            d,
            &format!("openssl verify -CAfile pki/etcd/ca.pem pki/{leaf}.pem"),
        );
    }
    for leaf in [
        "apiserver",
        "admin",
        "kube-proxy",
        "kube-controller-manager",
        "kube-scheduler",
        "apiserver-kubelet-client",
    ] {
        sh(
            d,
            &format!("openssl verify -CAfile pki/ca.pem pki/{leaf}.pem"),
        );
    }
    let api = json(&sh(d, "cfssl certinfo -cert pki/apiserver.pem"));
    let sans: Vec<&str> = api["sans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for want in [
        "127.0.0.1",
        "10.0.0.1",
        "192.168.31.63",
        "192.168.31.100",
        "kubernetes.default.svc.cluster.local",
    ] {
        assert!(sans.contains(&want), "{sans:?}");
    }
    let admin = sh(d, "openssl x509 -in pki/admin.pem -noout -subject");
    assert!(admin.contains("O = system:masters"), "{admin}");
    sh(
        d,
        "openssl rsa -in pki/sa.key -check -noout && openssl pkey -pubin -in pki/sa.pub -noout",
    );
    // A second run reuses everything.
    let again = sh(d, "$KUBIN pki cluster -f cluster.yaml");
    assert_eq!(again.matches("reused").count(), 16, "{again}");

    // Ten years left: fine within 30 days, expiring within 4000 days.
    let ok = sh_output(d, "$KUBIN pki check-expiration --within 30d pki");
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    assert!(String::from_utf8_lossy(&ok.stdout).contains("etcd/server-etcd-2.pem"));
    let soon = sh_output(d, "$KUBIN pki check-expiration --within 4000d pki");
    assert_eq!(soon.status.code(), Some(2), "{soon:?}");
}
