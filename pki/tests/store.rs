//! `pki::store` on a temporary directory: the cluster set's layout and subjects, reuse,
//! reissue with backups, never overwriting a key or a CA.

use pki::store::{
    Status, check_cluster_set, ensure_cluster_set, ensure_cluster_set_with_report, read_certs,
};
use pki::{ClusterSetRequest, Error, KeySpec, Member, cert_info, layout, summary};
use std::os::unix::fs::PermissionsExt;

fn request() -> ClusterSetRequest {
    let mut req = ClusterSetRequest::new(
        vec![
            Member {
                name: "etcd-1".into(),
                address: "192.168.31.63".parse().unwrap(),
            },
            Member {
                name: "etcd-2".into(),
                address: "192.168.31.65".parse().unwrap(),
            },
        ],
        vec![
            "127.0.0.1".into(),
            "10.0.0.1".into(),
            "192.168.31.63".into(),
            "kubernetes".into(),
            "kubernetes.default".into(),
            "kubernetes.default.svc".into(),
            "kubernetes.default.svc.cluster".into(),
            "kubernetes.default.svc.cluster.local".into(),
        ],
    );
    req.key = KeySpec::EcdsaP256;
    req
}

#[test]
fn cluster_set_layout_subjects_and_reuse() {
    let dir = tempfile::tempdir().unwrap();
    let (set, report) = ensure_cluster_set_with_report(dir.path(), &request()).unwrap();
    assert!(
        report.iter().all(|(_, s)| *s == Status::Issued),
        "{report:?}"
    );

    let mut all = String::new();
    for (name, info) in read_certs(dir.path()).unwrap() {
        all.push_str(&format!("== {name}\n{}", summary(&info)));
    }
    insta::assert_snapshot!("cluster_set", all);

    for (name, mode) in [
        ("etcd/ca-key.pem", 0o600),
        ("ca-key.pem", 0o600),
        ("etcd/server-etcd-1-key.pem", 0o600),
        ("sa.key", 0o600),
        ("admin.pem", 0o644),
        ("sa.pub", 0o644),
    ] {
        let meta = std::fs::metadata(dir.path().join(name)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{name}");
    }
    assert!(set.etcd_server("etcd-2").is_some());
    assert!(set.etcd_server("etcd-9").is_none());
    assert!(
        set.service_account
            .public_pem
            .starts_with("-----BEGIN PUBLIC KEY-----")
    );
    assert!(
        set.service_account
            .key_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----")
    );
    assert_eq!(
        cert_info(&set.admin().cert_pem, "admin")
            .unwrap()
            .subject
            .organization
            .as_deref(),
        Some("system:masters")
    );

    // Second run: everything reused, byte for byte.
    let (again, report) = ensure_cluster_set_with_report(dir.path(), &request()).unwrap();
    assert!(
        report.iter().all(|(_, s)| *s == Status::Reused),
        "{report:?}"
    );
    assert_eq!(again, set);
}

#[test]
fn changed_sans_reissue_the_leaf_only_with_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let set = ensure_cluster_set(dir.path(), &request()).unwrap();
    let mut req = request();
    req.apiserver_sans.push("192.168.31.200".into());
    let (new, report) = ensure_cluster_set_with_report(dir.path(), &req).unwrap();
    for (name, status) in &report {
        match (name.as_str(), status) {
            (layout::APISERVER, Status::Reissued { backups, reason }) => {
                assert!(reason.contains("SANs"), "{reason}");
                assert!(backups.iter().all(|b| b.exists()));
                assert!(backups[0].to_string_lossy().ends_with(".bak"));
            }
            (_, Status::Reused) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Same CA, same key, new cert with the new SAN.
    assert_eq!(new.ca, set.ca);
    assert_eq!(new.apiserver().key_pem, set.apiserver().key_pem);
    assert_ne!(new.apiserver().cert_pem, set.apiserver().cert_pem);
    let info = cert_info(&new.apiserver().cert_pem, "apiserver.pem").unwrap();
    assert!(info.sans.contains(&"192.168.31.200".to_string()));
}

#[test]
fn a_half_ca_or_a_foreign_key_stops_everything() {
    let dir = tempfile::tempdir().unwrap();
    ensure_cluster_set(dir.path(), &request()).unwrap();
    std::fs::remove_file(dir.path().join("ca-key.pem")).unwrap();
    let e = ensure_cluster_set(dir.path(), &request());
    assert!(matches!(e, Err(Error::HalfCa { ref missing, .. }) if missing.ends_with("ca-key.pem")));

    let dir = tempfile::tempdir().unwrap();
    ensure_cluster_set(dir.path(), &request()).unwrap();
    let admin_key = dir.path().join("admin-key.pem");
    let other = std::fs::read(dir.path().join("kube-proxy-key.pem")).unwrap();
    std::fs::remove_file(&admin_key).unwrap();
    std::fs::write(&admin_key, &other).unwrap();
    let e = ensure_cluster_set(dir.path(), &request());
    assert!(matches!(e, Err(Error::KeyConflict { ref path, .. }) if path == &admin_key));
    // The key was not touched.
    assert_eq!(std::fs::read(&admin_key).unwrap(), other);
}

#[test]
fn bad_cluster_requests_report_every_problem() {
    let mut req = request();
    req.etcd_members.push(req.etcd_members[0].clone());
    req.etcd_members.push(Member {
        name: "../x".into(),
        address: "10.0.0.9".parse().unwrap(),
    });
    req.apiserver_sans.push("not a name".into());
    let dir = tempfile::tempdir().unwrap();
    match ensure_cluster_set(dir.path(), &req) {
        Err(Error::BadClusterRequest { problems }) => assert_eq!(problems.len(), 3, "{problems:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Every file under `dir` with its content, to prove nothing was written.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn check_says_what_ensure_would_do_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let empty = check_cluster_set(dir.path(), &request()).unwrap();
    assert!(empty.iter().all(|(_, s)| *s == Status::Issued), "{empty:?}");
    assert!(snapshot(dir.path()).is_empty());

    let (_, issued) = ensure_cluster_set_with_report(dir.path(), &request()).unwrap();
    let before = snapshot(dir.path());
    let same = check_cluster_set(dir.path(), &request()).unwrap();
    assert_eq!(same.len(), issued.len());
    assert!(same.iter().all(|(_, s)| *s == Status::Reused), "{same:?}");

    // Another key kind: every leaf would be reissued, yet nothing moves.
    let mut rsa = request();
    rsa.key = KeySpec::Rsa2048;
    let changed = check_cluster_set(dir.path(), &rsa).unwrap();
    let reissued = changed
        .iter()
        .filter(|(_, s)| matches!(s, Status::Reissued { backups, .. } if backups.is_empty()))
        .count();
    assert_eq!(
        reissued,
        changed.len() - 3,
        "all but the CAs and sa.key: {changed:?}"
    );
    assert_eq!(snapshot(dir.path()), before);
}
