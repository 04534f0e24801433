//! One source of truth, and dry runs that change nothing: the real `kubin` binary against an
//! inventory whose hosts are unreachable loopback addresses (no lab needed for the local
//! side). `kubin pki cluster` then `kubin etcd deploy --dry-run` (and a real deploy) must not
//! change one file in pki_dir, and no `--dry-run` may write anything locally.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tests::kubin::{kubin_bin, text};

/// An inventory in `dir`: the guides' three hosts on unreachable loopback addresses (SSH
/// on a closed port, etcd not running), a fake bundle, and `pki` as its `pki:` section.
fn inventory(dir: &Path, pki: &str) -> PathBuf {
    let bundle = dir.join("bundle");
    for v in ["etcd-v3.5.9-linux-amd64", "etcd-v3.5.10-linux-amd64"] {
        std::fs::create_dir_all(bundle.join(v)).unwrap();
        for b in ["etcd", "etcdctl"] {
            std::fs::write(bundle.join(v).join(b), format!("{v} {b}")).unwrap();
        }
    }
    let text = inventory::example::GUIDES_EXAMPLE
        .replace("192.168.31.63", "127.0.33.1")
        .replace("192.168.31.65", "127.0.33.2")
        .replace("192.168.31.66", "127.0.33.3")
        .replace("  port: 22\n", "  port: 1\n")
        .replace(
            "  key: ~/.ssh/id_ed25519\n",
            &format!(
                "  key: {}\n  known_hosts: {}\n",
                dir.join("id_ed25519").display(),
                dir.join("known_hosts").display()
            ),
        );
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, format!("{text}\n{pki}")).unwrap();
    path
}

/// Every file under `dir` with its mode and sha256.
fn hashes(dir: &Path) -> BTreeMap<PathBuf, (u32, String)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                out.insert(p.clone(), (meta.permissions().mode(), "dir".into()));
                stack.push(p);
            } else {
                let sum = hex::encode(Sha256::digest(std::fs::read(&p).unwrap()));
                out.insert(p, (meta.permissions().mode(), sum));
            }
        }
    }
    out
}

fn kubin(inv: &Path, args: &[&str]) -> Output {
    Command::new(kubin_bin())
        .args(args)
        .arg("-f")
        .arg(inv)
        .output()
        .unwrap()
}

/// `etcd` ARGS with short timeouts (nothing answers on these addresses).
fn etcd(inv: &Path, args: &[&str]) -> Output {
    let mut all = vec!["etcd"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--connect-timeout", "300ms", "--request-timeout", "500ms"]);
    kubin(inv, &all)
}

#[test]
fn pki_cluster_then_etcd_deploy_changes_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "pki:\n  key: ecdsa-256\n");
    let out = kubin(&inv, &["pki", "cluster"]);
    assert!(out.status.success(), "{}", text(&out));
    let pki = dir.path().join("pki");
    let before = hashes(&pki);
    assert!(before.len() > 40, "{before:?}");
    let key = std::fs::read_to_string(pki.join("etcd/server-k8s-node1-key.pem")).unwrap();
    assert!(key.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{key}");

    // The dry run gets as far as the hosts (unreachable here) and changes nothing.
    let out = etcd(&inv, &["deploy", "--dry-run"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cannot reach"), "{}", text(&out));
    assert!(!text(&out).contains("reissue"), "{}", text(&out));
    assert_eq!(hashes(&pki), before, "a dry run changed pki_dir");

    // A real deploy from the same inventory reuses every certificate.
    let out = etcd(&inv, &["deploy"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("cannot reach"), "{}", text(&out));
    assert_eq!(hashes(&pki), before, "a deploy reissued certificates");

    // Another key kind in the inventory: the dry run says what it would reissue, and
    // still writes nothing.
    let rsa = inventory(dir.path(), "pki:\n  key: rsa-2048\n");
    let out = etcd(&rsa, &["deploy", "--dry-run", "--output", "json"]);
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    let files = first["pki"]["files"].as_array().expect("the pki report");
    assert!(
        files.iter().any(
            |f| f["status"] == "reissued" && f["reason"].as_str().unwrap().contains("rsa-2048")
        ),
        "{first}"
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(hashes(&pki), before, "a dry run changed pki_dir");
}

#[test]
fn no_dry_run_writes_anything_locally() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    let pristine = hashes(dir.path());
    for args in [
        &["pki", "cluster", "--dry-run"][..],
        &[
            "etcd",
            "deploy",
            "--dry-run",
            "--connect-timeout",
            "300ms",
            "--request-timeout",
            "500ms",
        ],
        &["prepare", "--dry-run", "--timeout", "2s"],
    ] {
        let out = kubin(&inv, args);
        assert_eq!(
            hashes(dir.path()),
            pristine,
            "kubin {args:?} wrote:\n{}",
            text(&out)
        );
        match args[0] {
            "prepare" => assert!(!out.status.success(), "{}", text(&out)),
            _ => {
                assert!(out.status.success(), "kubin {args:?}: {}", text(&out));
                assert!(text(&out).contains("would issue"), "{}", text(&out));
            }
        }
    }
}

#[test]
fn the_certificate_settings_are_not_flags() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    let out = kubin(&inv, &["pki", "cluster", "--key", "ecdsa-256"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("set `pki.key` in"), "{}", text(&out));
    assert!(!dir.path().join("pki").exists());
}

#[test]
fn a_warning_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let inv = inventory(dir.path(), "");
    // Two etcd members: an even count is a warning, not an error.
    let text2 = std::fs::read_to_string(&inv).unwrap().replace(
        "roles: [node, etcd]\n  - name: k8s-node2",
        "roles: [node]\n  - name: k8s-node2",
    );
    std::fs::write(&inv, text2).unwrap();
    let out = kubin(&inv, &["pki", "cluster"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert!(!warnings.is_empty(), "{err}");
    for w in warnings {
        assert_eq!(w.matches("warning").count(), 1, "{w}");
    }
}
