//! The CSR policy: examples and properties (never approves when name, groups, usages,
//! signer or key are off).

use super::*;
use proptest::prelude::*;

pub(crate) fn inventory() -> Inventory {
    let yaml = r#"
cluster_name: kubernetes
kubernetes:
  version: "1.20.2"
network:
  pod_cidr: 172.17.0.0/16
  flannel:
    version: "0.22.0"
pki_dir: pki
hosts:
  - name: k8s-master1
    address: 192.168.31.63
    roles: [master, etcd]
  - name: k8s-node1
    address: 192.168.31.65
    roles: [node, etcd]
  - name: k8s-node2
    address: 192.168.31.66
    roles: [node, etcd]
"#;
    Inventory::from_yaml(yaml, "cluster.yaml").unwrap().0
}

fn client(node: &str) -> CsrFacts {
    CsrFacts {
        name: "csr-1".into(),
        signer: CLIENT_SIGNER.into(),
        username: "kubelet-bootstrap".into(),
        groups: vec![
            "system:kubelet-bootstrap".into(),
            "system:authenticated".into(),
        ],
        usages: CLIENT_USAGES.iter().map(|s| s.to_string()).collect(),
        request: Ok(Pkcs10 {
            common_names: vec![format!("system:node:{node}")],
            organizations: vec!["system:nodes".into()],
            key: Some(KeyKind::Ecdsa {
                curve: "P-256".into(),
            }),
            ..Pkcs10::default()
        }),
        state: CsrState::Pending,
    }
}

fn serving(node: &str, ip: &str) -> CsrFacts {
    let mut f = client(node);
    f.signer = SERVING_SIGNER.into();
    f.username = format!("system:node:{node}");
    f.groups = vec!["system:nodes".into(), "system:authenticated".into()];
    f.usages = SERVING_USAGES.iter().map(|s| s.to_string()).collect();
    let req = f.request.as_mut().unwrap();
    req.dns_names = vec![node.into()];
    req.ip_addresses = vec![ip.parse().unwrap()];
    f
}

#[track_caller]
fn check_denied(f: &CsrFacts, words: &[&str]) {
    match decide(f, &inventory()) {
        Decision::Deny(reason) => {
            for w in words {
                assert!(reason.contains(w), "reason {reason:?} lacks {w:?}");
            }
        }
        other => panic!("{other:?}"),
    }
}

fn req_mut(f: &mut CsrFacts) -> &mut Pkcs10 {
    f.request.as_mut().unwrap()
}

#[test]
fn approves_the_bootstrap_client_csr_of_an_inventory_node() {
    assert_eq!(
        decide(&client("k8s-node1"), &inventory()),
        Decision::Approve(Grant {
            node: "k8s-node1".into(),
            kind: CsrKind::Client
        })
    );
    let mut token = client("k8s-node2");
    token.username = "system:bootstrap:abcdef".into();
    token.groups = vec!["system:bootstrappers".into()];
    assert!(matches!(decide(&token, &inventory()), Decision::Approve(_)));
    let mut renewal = client("k8s-node2");
    renewal.username = "system:node:k8s-node2".into();
    renewal.groups = vec!["system:nodes".into()];
    assert!(matches!(
        decide(&renewal, &inventory()),
        Decision::Approve(_)
    ));
}

#[test]
fn denials_name_the_wrong_field_and_value() {
    let mut f = client("k8s-master1");
    check_denied(&f, &["subject CN", "system:node:k8s-master1", "no node"]);
    f = client("k8s-node9");
    check_denied(&f, &["k8s-node9", "nodes: k8s-node1, k8s-node2"]);
    f = client("k8s-node1");
    req_mut(&mut f).common_names = vec!["admin".into()];
    check_denied(&f, &["subject CN \"admin\""]);
    f = client("k8s-node1");
    f.usages.push("server auth".into());
    check_denied(&f, &["usage \"server auth\" is not allowed"]);
    f = client("k8s-node1");
    req_mut(&mut f).organizations = vec!["system:masters".into()];
    check_denied(&f, &["subject O", "system:masters"]);
    f = client("k8s-node1");
    f.username = "alice".into();
    check_denied(&f, &["requester \"alice\""]);
    f = client("k8s-node1");
    f.username = "system:bootstrap:abc".into();
    f.groups = vec!["system:authenticated".into()];
    check_denied(&f, &["requester \"system:bootstrap:abc\""]);
    f = client("k8s-node1");
    req_mut(&mut f).key = Some(KeyKind::Rsa { bits: 1024 });
    check_denied(&f, &["key RSA-1024"]);
    f = client("k8s-node1");
    req_mut(&mut f).ip_addresses = vec!["10.0.0.9".parse().unwrap()];
    check_denied(&f, &["IP:10.0.0.9"]);
    f = client("k8s-node1");
    req_mut(&mut f).other_attributes = vec!["OU=x".into()];
    check_denied(&f, &["OU=x"]);
    f = client("k8s-node1");
    f.request = Err("request is not PKCS#10: bad".into());
    check_denied(&f, &["PKCS#10"]);
    // Every problem, not the first.
    f = client("k8s-node9");
    f.usages.push("server auth".into());
    f.username = "bob".into();
    check_denied(&f, &["k8s-node9", "server auth", "bob"]);
}

#[test]
fn other_signers_are_ignored() {
    let mut f = client("k8s-node1");
    f.signer = "kubernetes.io/kube-apiserver-client".into();
    assert!(
        matches!(decide(&f, &inventory()), Decision::Ignore(r) if r.contains("kube-apiserver-client\""))
    );
}

#[test]
fn serving_csrs_only_from_the_node_itself_with_its_own_names() {
    let ok = serving("k8s-node1", "192.168.31.65");
    assert_eq!(
        decide(&ok, &inventory()),
        Decision::Approve(Grant {
            node: "k8s-node1".into(),
            kind: CsrKind::Serving
        })
    );
    let mut f = serving("k8s-node1", "10.9.9.9");
    check_denied(
        &f,
        &[
            "IP SAN 10.9.9.9 is not node k8s-node1's inventory address 192.168.31.65",
            "192.168.31.65 (the node's address) is missing",
        ],
    );
    f = ok.clone();
    f.username = "kubelet-bootstrap".into();
    check_denied(
        &f,
        &["requester \"kubelet-bootstrap\"", "not the node itself"],
    );
    f = ok.clone();
    f.username = "system:node:k8s-node2".into();
    check_denied(&f, &["requester \"system:node:k8s-node2\""]);
    f = ok.clone();
    req_mut(&mut f).dns_names.push("evil.example".into());
    check_denied(&f, &["DNS SAN \"evil.example\""]);
    f = ok.clone();
    f.usages = vec!["client auth".into()];
    check_denied(&f, &["usage \"client auth\"", "lack \"server auth\""]);
}

#[test]
fn parses_a_pkcs10_request() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["k8s-node1".to_string()]).unwrap();
    params
        .subject_alt_names
        .push(rcgen::SanType::IpAddress("192.168.31.65".parse().unwrap()));
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "system:node:k8s-node1");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "system:nodes");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationalUnitName, "x");
    let pem = params.serialize_request(&key).unwrap().pem().unwrap();
    let parsed = parse_pkcs10(pem.as_bytes()).unwrap();
    assert_eq!(parsed.common_names, ["system:node:k8s-node1"]);
    assert_eq!(parsed.organizations, ["system:nodes"]);
    assert_eq!(parsed.other_attributes, ["OU=x"]);
    assert_eq!(parsed.dns_names, ["k8s-node1"]);
    assert_eq!(
        parsed.ip_addresses,
        ["192.168.31.65".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        parsed.key,
        Some(KeyKind::Ecdsa {
            curve: "P-384".into()
        })
    );
    assert!(
        parse_pkcs10(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err()
    );
    assert!(parse_pkcs10(b"garbage").unwrap_err().contains("PKCS#10"));
}

// ---- properties ----

fn node() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("k8s-node1"), Just("k8s-node2")]
}

fn address(node: &str) -> &'static str {
    if node == "k8s-node1" {
        "192.168.31.65"
    } else {
        "192.168.31.66"
    }
}

fn good_key() -> impl Strategy<Value = KeyKind> {
    prop_oneof![
        (2048usize..=8192).prop_map(|bits| KeyKind::Rsa { bits }),
        Just(KeyKind::Ecdsa {
            curve: "P-256".into()
        }),
        Just(KeyKind::Ecdsa {
            curve: "P-384".into()
        }),
    ]
}

fn bad_key() -> impl Strategy<Value = KeyKind> {
    prop_oneof![
        (0usize..2048).prop_map(|bits| KeyKind::Rsa { bits }),
        Just(KeyKind::Ecdsa {
            curve: "1.3.132.0.35".into()
        }),
        Just(KeyKind::Other("ED25519".into())),
    ]
}

fn requester() -> impl Strategy<Value = (String, Vec<String>)> {
    prop_oneof![
        Just((
            "kubelet-bootstrap".to_string(),
            vec!["system:kubelet-bootstrap".to_string()]
        )),
        Just((
            "kubelet-bootstrap".to_string(),
            vec![
                "system:bootstrappers".to_string(),
                "system:authenticated".to_string()
            ]
        )),
        "[a-z0-9]{6}".prop_map(|id| (
            format!("system:bootstrap:{id}"),
            vec!["system:bootstrappers".to_string()]
        )),
    ]
}

/// A subset of `allowed` that contains `needed`, in some order.
fn usages(allowed: [&'static str; 3], needed: &'static str) -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(allowed.to_vec(), 0..=3)
        .prop_map(move |mut v| {
            if !v.contains(&needed) {
                v.push(needed);
            }
            v.into_iter().map(String::from).collect::<Vec<_>>()
        })
        .prop_shuffle()
}

fn valid_client() -> impl Strategy<Value = CsrFacts> {
    (
        node(),
        requester(),
        usages(CLIENT_USAGES, "client auth"),
        good_key(),
    )
        .prop_map(|(n, (user, groups), usages, key)| {
            let mut f = client(n);
            f.username = user;
            f.groups = groups;
            f.usages = usages;
            req_mut(&mut f).key = Some(key);
            f
        })
}

fn valid_serving() -> impl Strategy<Value = CsrFacts> {
    (node(), usages(SERVING_USAGES, "server auth"), good_key()).prop_map(|(n, usages, key)| {
        let mut f = serving(n, address(n));
        f.usages = usages;
        req_mut(&mut f).key = Some(key);
        f
    })
}

/// One thing made wrong, and a word the reason must hold.
#[derive(Debug, Clone)]
enum Break {
    Cn(String),
    O(String),
    Groups,
    User(String),
    ExtraUsage(String),
    Signer(String),
    Key(KeyKind),
}

fn a_break() -> impl Strategy<Value = Break> {
    prop_oneof![
        "[a-z:0-9-]{1,20}".prop_map(Break::Cn),
        "[a-z:]{1,14}".prop_map(Break::O),
        Just(Break::Groups),
        "[a-z:0-9-]{1,20}".prop_map(Break::User),
        prop_oneof![
            Just("server auth"),
            Just("client auth"),
            Just("cert sign"),
            Just("code signing"),
            Just("any"),
            Just("content commitment"),
            Just("signing")
        ]
        .prop_map(|s| Break::ExtraUsage(s.to_string())),
        "[a-z./-]{1,30}".prop_map(Break::Signer),
        bad_key().prop_map(Break::Key),
    ]
}

/// Applies `b`; `None` when it happens to change nothing that matters (e.g. a random CN
/// that is a valid node's), so the property only covers real breaks.
fn apply(mut f: CsrFacts, b: &Break) -> Option<(CsrFacts, &'static str)> {
    let serving = f.signer == SERVING_SIGNER;
    let word = match b {
        Break::Cn(cn) => {
            if cn == "k8s-node1" || cn == "k8s-node2" {
                return None;
            }
            let cn = format!("system:node:{cn}");
            if req_mut(&mut f).common_names == [cn.clone()] {
                return None;
            }
            req_mut(&mut f).common_names = vec![cn];
            "CN"
        }
        Break::O(o) => {
            if o == "system:nodes" {
                return None;
            }
            req_mut(&mut f).organizations = vec![o.clone()];
            "subject O"
        }
        Break::Groups => {
            f.groups.retain(|g| g == "system:authenticated");
            "requester"
        }
        Break::User(u) => {
            if u == &f.username || (!serving && u == "kubelet-bootstrap") {
                return None;
            }
            f.username = u.clone();
            "requester"
        }
        Break::ExtraUsage(u) => {
            let allowed = if serving {
                SERVING_USAGES
            } else {
                CLIENT_USAGES
            };
            if allowed.contains(&u.as_str()) {
                return None;
            }
            f.usages.push(u.clone());
            "usage"
        }
        Break::Signer(s) => {
            if s == CLIENT_SIGNER || s == SERVING_SIGNER {
                return None;
            }
            f.signer = s.clone();
            "signer"
        }
        Break::Key(k) => {
            req_mut(&mut f).key = Some(k.clone());
            "key"
        }
    };
    Some((f, word))
}

proptest! {
    #[test]
    fn valid_requests_are_approved(f in prop_oneof![valid_client(), valid_serving()]) {
        let node = f.request.as_ref().unwrap().common_names[0]["system:node:".len()..].to_string();
        let kind = if f.signer == CLIENT_SIGNER { CsrKind::Client } else { CsrKind::Serving };
        prop_assert_eq!(decide(&f, &inventory()), Decision::Approve(Grant { node, kind }));
    }

    #[test]
    fn never_approves_when_name_groups_usages_signer_or_key_are_off(
        f in prop_oneof![valid_client(), valid_serving()],
        breaks in proptest::collection::vec(a_break(), 1..3),
    ) {
        let mut f = f;
        let mut words = Vec::new();
        for b in &breaks {
            if let Some((g, w)) = apply(f.clone(), b) {
                f = g;
                words.push(w);
            }
        }
        prop_assume!(!words.is_empty());
        match decide(&f, &inventory()) {
            Decision::Approve(g) => prop_assert!(false, "approved {g:?} after {breaks:?}: {f:?}"),
            Decision::Ignore(r) => prop_assert!(words.contains(&"signer") && r.contains("signer")),
            Decision::Deny(r) => {
                for w in words.iter().filter(|w| **w != "signer") {
                    prop_assert!(r.contains(w), "reason {r:?} lacks {w:?} after {breaks:?}");
                }
            }
        }
    }

    #[test]
    fn an_approved_request_always_meets_every_rule(
        signer in prop_oneof![Just(CLIENT_SIGNER.to_string()), Just(SERVING_SIGNER.to_string()), "[a-z./-]{0,12}"],
        cn in prop_oneof![Just("system:node:k8s-node1".to_string()), Just("system:node:k8s-master1".to_string()), "[a-z:0-9-]{0,20}"],
        o in prop_oneof![Just(vec!["system:nodes".to_string()]), proptest::collection::vec("[a-z:]{0,14}", 0..3)],
        user in prop_oneof![Just("kubelet-bootstrap".to_string()), Just("system:node:k8s-node1".to_string()), "[a-z:0-9-]{0,20}"],
        groups in proptest::collection::vec(prop_oneof![Just("system:nodes".to_string()), Just("system:bootstrappers".to_string()), Just("system:kubelet-bootstrap".to_string()), "[a-z:]{0,12}"], 0..3),
        usages in proptest::collection::vec(prop_oneof![Just("client auth".to_string()), Just("server auth".to_string()), Just("digital signature".to_string()), "[a-z ]{0,12}"], 0..4),
        key in prop_oneof![good_key(), bad_key()],
        dns in proptest::collection::vec(prop_oneof![Just("k8s-node1".to_string()), "[a-z.]{1,10}"], 0..2),
    ) {
        let f = CsrFacts {
            name: "x".into(),
            signer: signer.clone(),
            username: user.clone(),
            groups: groups.clone(),
            usages: usages.clone(),
            request: Ok(Pkcs10 {
                common_names: vec![cn.clone()],
                organizations: o.clone(),
                dns_names: dns.clone(),
                ip_addresses: if signer == SERVING_SIGNER { vec!["192.168.31.65".parse().unwrap()] } else { vec![] },
                key: Some(key.clone()),
                ..Pkcs10::default()
            }),
            state: CsrState::Pending,
        };
        if let Decision::Approve(g) = decide(&f, &inventory()) {
            prop_assert_eq!(&cn, "system:node:k8s-node1");
            prop_assert_eq!(&g.node, "k8s-node1");
            prop_assert_eq!(o, vec!["system:nodes".to_string()]);
            let key_ok = matches!(key, KeyKind::Rsa { bits } if bits >= 2048)
                || matches!(&key, KeyKind::Ecdsa { curve } if curve == "P-256" || curve == "P-384");
            prop_assert!(key_ok);
            if signer == CLIENT_SIGNER {
                prop_assert!(dns.is_empty());
                prop_assert!(usages.iter().all(|u| CLIENT_USAGES.contains(&u.as_str())));
                prop_assert!(user == "kubelet-bootstrap" || user == "system:node:k8s-node1" || user.starts_with("system:bootstrap:"));
                prop_assert!(groups.iter().any(|g| g == "system:bootstrappers" || g == "system:kubelet-bootstrap" || g == "system:nodes"));
            } else {
                prop_assert_eq!(&signer, SERVING_SIGNER);
                prop_assert_eq!(dns, vec!["k8s-node1".to_string()]);
                prop_assert_eq!(&user, "system:node:k8s-node1");
                prop_assert!(groups.iter().any(|g| g == "system:nodes"));
                prop_assert!(usages.iter().all(|u| SERVING_USAGES.contains(&u.as_str())));
            }
        }
    }
}
