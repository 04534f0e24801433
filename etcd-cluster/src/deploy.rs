//! The deploy plan: binaries, certificates, env file and unit on every member, then every
//! unit started at once (a new cluster), or member by member (a running one: see
//! [`crate::rollout`]).

use crate::Error;
use crate::layout::{Layout, UNIT};
use crate::render::{ClusterState, render_env, render_unit};
use inventory::Inventory;
use plan::{Binaries, DirSpec, FileSpec, HostSteps, Phase, Plan, Step, UnitSpec};
use std::path::PathBuf;

/// One member's certificates, PEM, as pki issued them for the member's address.
#[derive(Clone, PartialEq, Eq)]
pub struct MemberCerts {
    /// The member's inventory name.
    pub member: String,
    /// The etcd CA certificate.
    pub ca_pem: String,
    /// The server certificate (client-facing, SANs: the member's address, 127.0.0.1).
    pub server_cert_pem: String,
    /// The server certificate's key.
    pub server_key_pem: String,
    /// The peer certificate (server and client auth between members).
    pub peer_cert_pem: String,
    /// The peer certificate's key.
    pub peer_key_pem: String,
}

impl std::fmt::Debug for MemberCerts {
    // Keys never appear in logs, not even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberCerts")
            .field("member", &self.member)
            .finish_non_exhaustive()
    }
}

/// The file names of etcd's binaries in the bundle's `etcd-v*-linux-amd64/` directory,
/// installed under the same names.
pub const BINARIES: [&str; 2] = ["etcd", "etcdctl"];

/// Fails with [`Error::Bundle`] naming every binary of [`BINARIES`] that `binaries` lacks.
fn require_binaries(binaries: &Binaries) -> Result<(), Error> {
    binaries
        .require(&BINARIES)
        .map_err(|missing| Error::Bundle {
            what: missing.join(" and "),
            detail: "etcd's binaries come from the bundle's etcd-v*-linux-amd64/ directory".into(),
        })
}

/// The files (with their steps) a member gets; `state` goes into the env file.
pub fn member_files(
    inv: &Inventory,
    certs: &MemberCerts,
    binaries: &Binaries,
    state: ClusterState,
) -> Result<Vec<Step>, Error> {
    require_binaries(binaries)?;
    let l = Layout::new(&inv.paths);
    let env = render_env(inv, &certs.member, state)?;
    let dir = |path: &PathBuf, mode| {
        Step::Directory(DirSpec {
            path: path.clone(),
            mode,
        })
    };
    let file = |path: &PathBuf, content: plan::Content, mode| {
        Step::File(FileSpec::new(path.clone(), content, mode))
    };
    let key = |path: &PathBuf, content: &str| {
        Step::File(FileSpec::new(path.clone(), content.as_bytes().to_vec(), 0o600).secret())
    };
    Ok(vec![
        dir(&l.bin_dir, 0o755),
        dir(&l.cfg_dir, 0o755),
        dir(&l.ssl_dir, 0o755),
        // etcd refuses (3.4: warns and fixes) a data dir readable by others.
        dir(&l.data_dir, 0o700),
        file(&l.etcd, binaries.content("etcd").unwrap_or_default(), 0o755),
        file(
            &l.etcdctl,
            binaries.content("etcdctl").unwrap_or_default(),
            0o755,
        ),
        file(&l.ca, certs.ca_pem.as_str().into(), 0o644),
        file(&l.server_cert, certs.server_cert_pem.as_str().into(), 0o644),
        key(&l.server_key, &certs.server_key_pem),
        file(&l.peer_cert, certs.peer_cert_pem.as_str().into(), 0o644),
        key(&l.peer_key, &certs.peer_key_pem),
        file(&l.env_file, env.as_str().into(), 0o644),
        file(&l.unit_file, render_unit(inv).into(), 0o644),
    ])
}

/// Every file whose change restarts etcd.
pub fn restart_on(inv: &Inventory) -> Vec<PathBuf> {
    let l = Layout::new(&inv.paths);
    vec![
        l.etcd,
        l.ca,
        l.server_cert,
        l.server_key,
        l.peer_cert,
        l.peer_key,
        l.env_file,
        l.unit_file,
    ]
}

/// The unit step: enabled and running, started without waiting (`--no-block`) because a
/// member of a new cluster reports ready only once a quorum of its peers is up.
pub fn unit_step(inv: &Inventory) -> Step {
    let mut unit = UnitSpec::running(UNIT, restart_on(inv));
    unit.no_block = true;
    Step::Unit(unit)
}

/// The deploy plan: phase `etcd: install` writes every member's files, phase `etcd: start`
/// enables and starts every member's unit at once. The shell then waits for health.
///
/// Every inventory member needs its certificates in `certs`; certificates for hosts that
/// are not members are refused, so a typo cannot go unnoticed.
pub fn plan_deploy(
    inv: &Inventory,
    certs: &[MemberCerts],
    binaries: &Binaries,
) -> Result<Plan, Error> {
    for c in certs {
        crate::render::member(inv, &c.member)?;
    }
    let mut install = Vec::new();
    let mut start = Vec::new();
    for m in inv.etcd_members() {
        let c = certs
            .iter()
            .find(|c| c.member == m.name)
            .ok_or_else(|| Error::MissingCerts {
                member: m.name.clone(),
            })?;
        install.push(HostSteps {
            host: m.name.clone(),
            steps: member_files(inv, c, binaries, ClusterState::New)?,
        });
        start.push(HostSteps {
            host: m.name.clone(),
            steps: vec![unit_step(inv)],
        });
    }
    Ok(Plan {
        phases: vec![
            Phase {
                name: "etcd: install".into(),
                hosts: install,
            },
            Phase {
                name: "etcd: start".into(),
                hosts: start,
            },
        ],
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use inventory::example::GUIDES_EXAMPLE;

    pub(crate) fn guides() -> Inventory {
        Inventory::from_yaml(GUIDES_EXAMPLE, "example").unwrap().0
    }

    pub(crate) fn certs_for(inv: &Inventory) -> Vec<MemberCerts> {
        inv.etcd_members()
            .iter()
            .map(|m| MemberCerts {
                member: m.name.clone(),
                ca_pem: "CA".into(),
                server_cert_pem: format!("SERVER {}", m.name),
                server_key_pem: "SERVERKEY-SECRET".into(),
                peer_cert_pem: format!("PEER {}", m.name),
                peer_key_pem: "PEERKEY-SECRET".into(),
            })
            .collect()
    }

    pub(crate) fn bins() -> Binaries {
        Binaries::new()
            .with("etcd", b"ELF etcd".to_vec())
            .with("etcdctl", b"ELF etcdctl".to_vec())
    }

    /// etcd's and flannel's binaries are one type, `plan::Binaries`; a bundle that lacks
    /// one of etcd's is named, every missing binary at once.
    #[test]
    fn missing_binaries_are_all_named() {
        let inv = guides();
        let only_etcd = Binaries::new().with("etcd", b"ELF etcd".to_vec());
        match plan_deploy(&inv, &certs_for(&inv), &only_etcd) {
            Err(Error::Bundle { what, .. }) => assert_eq!(what, "etcdctl"),
            other => panic!("expected Error::Bundle, got {other:?}"),
        }
        match plan_deploy(&inv, &certs_for(&inv), &Binaries::new()) {
            Err(Error::Bundle { what, .. }) => assert_eq!(what, "etcd and etcdctl"),
            other => panic!("expected Error::Bundle, got {other:?}"),
        }
    }

    #[test]
    fn plan_shape_for_the_guides() {
        let inv = guides();
        let plan = plan_deploy(&inv, &certs_for(&inv), &bins()).unwrap();
        // The JSON form never shows content, so keys cannot leak through plan output.
        let json = serde_json::to_string_pretty(&plan).unwrap();
        assert!(!json.contains("SECRET"), "{json}");
        insta::assert_snapshot!("plan_guides", json);
        let Step::Directory(data) = &plan.phases[0].hosts[0].steps[3] else {
            panic!("the data dir comes fourth")
        };
        assert_eq!(data.mode, 0o700);
        for phase in &plan.phases {
            assert_eq!(phase.hosts.len(), 3);
        }
        for h in &plan.phases[1].hosts {
            let Step::Unit(u) = &h.steps[0] else { panic!() };
            assert!(u.no_block && u.enabled && u.running == Some(true));
        }
    }

    #[test]
    fn keys_are_secret_and_0600() {
        let inv = guides();
        let plan = plan_deploy(&inv, &certs_for(&inv), &bins()).unwrap();
        for h in &plan.phases[0].hosts {
            for s in &h.steps {
                if let Step::File(f) = s {
                    let is_key = f.path.to_string_lossy().ends_with("-key.pem");
                    assert_eq!(f.secret, is_key, "{}", f.path.display());
                    if is_key {
                        assert_eq!(f.mode, 0o600);
                    }
                }
            }
        }
    }

    #[test]
    fn missing_and_foreign_certs_are_refused() {
        let inv = guides();
        let mut certs = certs_for(&inv);
        certs.pop();
        assert!(matches!(
            plan_deploy(&inv, &certs, &bins()),
            Err(Error::MissingCerts { member }) if member == "k8s-node2"
        ));
        let mut certs = certs_for(&inv);
        certs[0].member = "stranger".into();
        assert!(matches!(
            plan_deploy(&inv, &certs, &bins()),
            Err(Error::NotAMember { name, .. }) if name == "stranger"
        ));
    }

    #[test]
    fn debug_output_hides_keys() {
        let inv = guides();
        let text = format!("{:?}", certs_for(&inv));
        assert!(!text.contains("SECRET"), "{text}");
    }
}
