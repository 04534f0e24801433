//! The pure core end to end: the guides' files issued and read back, summaries snapshotted,
//! every bad input a clear error, and properties over any valid request.

use pki::{
    Ca, CsrRequest, Error, KeySpec, PrivateKey, Profile, SigningConfig, Usage, cert_info, init_ca,
    issue, issue_with_key, new_rng, sign_csr, summary,
};
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

const CA_CSR: &str = include_str!("fixtures/ca-csr.json");
const SERVER_CSR: &str = include_str!("fixtures/server-csr.json");
const CA_CONFIG: &str = include_str!("fixtures/ca-config.json");

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000)
}

fn guides_ca() -> &'static (Ca, String) {
    static CA: OnceLock<(Ca, String)> = OnceLock::new();
    CA.get_or_init(|| {
        let req = CsrRequest::from_json(CA_CSR, "ca-csr.json").unwrap();
        let issued = init_ca(&req, "ca-csr.json", now(), &new_rng()).unwrap();
        let ca = Ca::from_pem(&issued.cert_pem, "ca.pem", &issued.key_pem, "ca-key.pem").unwrap();
        (ca, issued.cert_pem)
    })
}

#[test]
fn guides_ca_and_server() {
    let (ca, ca_pem) = guides_ca();
    let info = cert_info(ca_pem, "ca.pem").unwrap();
    insta::assert_snapshot!("guides_ca", summary(&info));
    assert_eq!(info.not_before, "2026-09-21T14:08:20Z");
    assert_eq!(info.subject_key_id, info.authority_key_id);

    let cfg = SigningConfig::from_json(CA_CONFIG, "ca-config.json").unwrap();
    let profile = cfg.profile(Some("www"), "ca-config.json").unwrap();
    let req = CsrRequest::from_json(SERVER_CSR, "server-csr.json").unwrap();
    let issued = issue(ca, &req, "server-csr.json", profile, now(), &new_rng()).unwrap();
    assert!(
        issued
            .key_pem
            .starts_with("-----BEGIN RSA PRIVATE KEY-----\n")
    );
    assert!(
        issued
            .csr_pem
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----\n")
    );
    let leaf = cert_info(&issued.cert_pem, "server.pem").unwrap();
    insta::assert_snapshot!("guides_server", summary(&leaf));
    assert_eq!(leaf.authority_key_id, info.subject_key_id);
    assert_eq!(leaf.sigalg, "SHA256WithRSA");
    assert!(ca.signed(&issued.cert_pem));
    // Serials: 20 bytes, positive, different each time.
    let again = issue(ca, &req, "server-csr.json", profile, now(), &new_rng()).unwrap();
    assert_ne!(
        cert_info(&again.cert_pem, "x").unwrap().serial_number,
        leaf.serial_number
    );

    let json: serde_json::Value = serde_json::from_str(&issued.to_cfssl_json()).unwrap();
    for field in ["cert", "key", "csr"] {
        assert!(json[field].as_str().unwrap().starts_with("-----BEGIN"));
    }
}

#[test]
fn signs_a_csr_with_profile_usages() {
    let (ca, _) = guides_ca();
    let key = PrivateKey::generate(KeySpec::EcdsaP256).unwrap();
    let req = CsrRequest {
        cn: "node-1".into(),
        hosts: vec!["10.0.0.7".into(), "node-1".into()],
        ..CsrRequest::default()
    };
    let issued = issue_with_key(ca, &req, "r", &key, &Profile::www(), now(), &new_rng()).unwrap();
    let client = Profile::client(Duration::from_secs(3600));
    let pem = sign_csr(
        ca,
        &issued.csr_pem,
        "node.csr",
        &client,
        None,
        now(),
        &new_rng(),
    )
    .unwrap();
    let info = cert_info(&pem, "node.pem").unwrap();
    assert_eq!(info.sans, vec!["10.0.0.7", "node-1"]);
    assert_eq!(
        info.usages,
        vec!["digital signature", "key encipherment", "client auth"]
    );
    assert_eq!(info.key, "ecdsa-256");
    assert_eq!(info.span(), Duration::from_secs(3600));
    let hosts = vec!["example.test".to_string()];
    let pem = sign_csr(
        ca,
        &issued.csr_pem,
        "n",
        &client,
        Some(&hosts),
        now(),
        &new_rng(),
    )
    .unwrap();
    assert_eq!(cert_info(&pem, "x").unwrap().sans, hosts);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let (_, ca_pem) = guides_ca();
    let other = PrivateKey::generate(KeySpec::Rsa2048).unwrap();
    let e = Ca::from_pem(ca_pem, "ca.pem", other.pem(), "other-key.pem");
    assert!(
        matches!(e, Err(Error::CaKeyMismatch { ref cert_name, ref key_name }) if cert_name == "ca.pem" && key_name == "other-key.pem")
    );
    let e = Ca::from_pem("junk", "ca.pem", other.pem(), "k");
    assert!(matches!(e, Err(Error::BadCertificate { .. })));
    let e = Ca::from_pem(ca_pem, "ca.pem", "junk", "ca-key.pem");
    assert!(matches!(e, Err(Error::BadKey { ref source_name }) if source_name == "ca-key.pem"));

    let (ca, _) = guides_ca();
    let e = sign_csr(
        ca,
        "junk",
        "x.csr",
        &Profile::www(),
        None,
        now(),
        &new_rng(),
    );
    assert!(matches!(e, Err(Error::BadCsr { ref source_name, .. }) if source_name == "x.csr"));

    let check = |text: &str| CsrRequest::from_json(text, "csr.json");
    assert!(matches!(check("{"), Err(Error::Json { .. })));
    assert!(matches!(
        check(r#"{"CN":"a","key":{"algo":"dsa","size":2048}}"#),
        Err(Error::UnsupportedAlgo { .. })
    ));
    assert!(matches!(
        check(r#"{"CN":"a","key":{"algo":"rsa","size":1024}}"#),
        Err(Error::UnsupportedKeySize { .. })
    ));
    assert!(matches!(
        check(r#"{"CN":"a","ca":{"expiry":"soon"}}"#),
        Err(Error::BadDuration { .. })
    ));
    let e = SigningConfig::from_json(r#"{"signing":{"default":{"expiry":"1y2"}}}"#, "cfg.json");
    assert!(
        matches!(e, Err(Error::BadDuration { ref source_name, .. }) if source_name == "cfg.json")
    );
}

#[test]
fn every_key_kind_issues_and_reads_back() {
    let (ca, _) = guides_ca();
    for spec in [KeySpec::Rsa3072, KeySpec::EcdsaP256, KeySpec::EcdsaP384] {
        let req = CsrRequest {
            cn: format!("k-{spec}"),
            key: Some(pki::KeyRequest {
                algo: spec.algo().into(),
                size: spec.size(),
            }),
            ..CsrRequest::default()
        };
        let issued = issue(ca, &req, "r", &Profile::www(), now(), &new_rng()).unwrap();
        assert_eq!(
            cert_info(&issued.cert_pem, "x").unwrap().key,
            spec.to_string()
        );
        assert_eq!(
            PrivateKey::from_pem(&issued.key_pem, "k").unwrap().spec(),
            spec
        );
    }
    // An ECDSA CA signs with ECDSA.
    let req =
        CsrRequest::from_json(r#"{"CN":"ec CA","key":{"algo":"ecdsa","size":384}}"#, "r").unwrap();
    let issued = init_ca(&req, "r", now(), &new_rng()).unwrap();
    assert_eq!(
        cert_info(&issued.cert_pem, "x").unwrap().sigalg,
        "ECDSAWithSHA384"
    );
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u32>().prop_map(|n| Ipv4Addr::from(n).to_string()),
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9]{0,6}){0,3}",
    ]
}

fn leaf_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate(KeySpec::EcdsaP256).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_valid_request_reads_back_exactly(
        hosts in proptest::collection::btree_set(host(), 0..6),
        usages in proptest::sample::subsequence(Usage::ALL.to_vec(), 1..8),
        hours in 1u64..200_000,
    ) {
        let (ca, _) = guides_ca();
        let hosts: Vec<String> = hosts.into_iter().collect();
        let req = CsrRequest { cn: "prop".into(), hosts: hosts.clone(), ..CsrRequest::default() };
        let profile = Profile { usages: usages.clone(), expiry: Duration::from_secs(hours * 3600) };
        let issued = issue_with_key(ca, &req, "prop", leaf_key(), &profile, now(), &new_rng()).unwrap();
        let info = cert_info(&issued.cert_pem, "prop.pem").unwrap();
        prop_assert_eq!(&info.sans, &hosts);
        let mut want: Vec<Usage> = usages.iter().map(|u| u.canonical()).collect();
        want.sort();
        want.dedup();
        prop_assert_eq!(info.usage_set(), want);
        prop_assert_eq!(info.span(), profile.expiry);
        prop_assert!(!info.is_ca);
        prop_assert!(ca.signed(&issued.cert_pem));
    }
}
