//! What the Kubernetes phases are made of, on the control machine: the certificate set, the
//! bootstrap token (kept in `<pki_dir>/token.csv`, mode 0600, never replaced), the
//! kubeconfigs and the bundle's `kubernetes/server/bin/` binaries.

use crate::pki::PkiReport;
use crate::{Error, Session};
use control_plane::{
    ControlPlaneMaterial, MasterBinaries, MasterCerts, NodeBinaries, NodeMaterial,
};
use inventory::Inventory;
use node_bootstrap::TokenFile;
use node_bootstrap::kubeconfig::{self, Credentials, NamedKubeconfig};
use node_bootstrap::token::{self, TokenDecision};
use pki::ClusterSet;
use serde::Serialize;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

/// What happened to the bootstrap token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenStatus {
    /// `<pki_dir>/token.csv` existed: its token is kept.
    Kept,
    /// It was created with a new token.
    Created,
    /// A dry run: it would be created.
    WouldCreate,
}

impl TokenStatus {
    /// `kept`, `created` or `would create`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Kept => "kept",
            TokenStatus::Created => "created",
            TokenStatus::WouldCreate => "would create",
        }
    }
}

/// The cluster's Kubernetes material on the control machine.
pub struct Material {
    /// The certificate set.
    pub set: ClusterSet,
    /// The certificate set's state.
    pub pki: PkiReport,
    /// The token file (bootstrap user's line first as the guides write it).
    pub tokens: TokenFile,
    /// What happened to it.
    pub token: TokenStatus,
    /// Every kubeconfig: bootstrap, kube-proxy, admin, controller-manager, scheduler.
    pub kubeconfigs: Vec<NamedKubeconfig>,
}

/// `<pki_dir>/token.csv`: where the bootstrap token is kept between runs.
pub fn token_path(inv: &Inventory) -> PathBuf {
    inv.pki_dir.join(token::TOKEN_FILE_NAME)
}

/// The certificate set as `pki cluster` issues it (in a dry run: `None` and a note when
/// it is not complete, since a deploy would issue what is missing first).
fn cluster_set(
    s: &Session,
    dry_run: bool,
    what: &str,
) -> Result<Option<(ClusterSet, PkiReport)>, Error> {
    let inv = &s.inventory;
    if dry_run {
        let pki = crate::pki::check(inv)?;
        if !pki.complete() {
            s.note(format!(
                "{what}: the certificate set in {} is not complete; a deploy would issue what is missing first, so the hosts were not compared",
                inv.pki_dir.display()
            ));
            return Ok(None);
        }
        // Complete, as checked: ensuring it only loads, writing nothing.
        return Ok(Some((crate::pki::ensure(inv)?.0, pki)));
    }
    crate::pki::ensure(inv).map(Some)
}

/// The token file: an existing `<pki_dir>/token.csv` kept as it is (a malformed one is an
/// error naming its line, never replaced), else a new token from the OS's secure source,
/// written 0600 (unless `dry_run`).
fn tokens(inv: &Inventory, dry_run: bool) -> Result<(TokenFile, TokenStatus), Error> {
    let path = token_path(inv);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(Error::Read { path, source }),
    };
    let name = path.display().to_string();
    match token::decide(existing.as_deref(), &name)? {
        TokenDecision::Keep(file) => Ok((file, TokenStatus::Kept)),
        TokenDecision::Create => {
            let file = TokenFile::new(token::generate(&ring::rand::SystemRandom::new())?);
            if dry_run {
                return Ok((file, TokenStatus::WouldCreate));
            }
            write_secret(&path, &file.render())?;
            Ok((file, TokenStatus::Created))
        }
    }
}

/// Writes `content` to a new file of mode 0600 (never over an existing one).
pub fn write_secret(path: &Path, content: &str) -> Result<(), Error> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    f.write_all(content.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}

/// The certificate set, the token file and every kubeconfig; `None` in a dry run whose
/// certificate set is incomplete (noted through the session).
pub fn material(s: &Session, dry_run: bool, what: &str) -> Result<Option<Material>, Error> {
    let Some((set, pki)) = cluster_set(s, dry_run, what)? else {
        return Ok(None);
    };
    let inv = &s.inventory;
    let (tokens, token) = tokens(inv, dry_run)?;
    let bootstrap = tokens
        .bootstrap_token()
        .ok_or_else(|| Error::NoBootstrapToken {
            path: token_path(inv),
        })?
        .clone();
    let cluster =
        node_bootstrap::plan::cluster_ref(inv, &set.ca.cert_pem).ok_or(Error::NoApiserver)?;
    let kubeconfigs = kubeconfig::cluster_kubeconfigs(&cluster, &set, &bootstrap);
    Ok(Some(Material {
        set,
        pki,
        tokens,
        token,
        kubeconfigs,
    }))
}

impl Material {
    /// The kubeconfig written to `file` (one of `node_bootstrap::kubeconfig`'s names).
    pub fn kubeconfig(&self, file: &str) -> Result<&kube::config::Kubeconfig, Error> {
        self.kubeconfigs
            .iter()
            .find(|k| k.file == file)
            .map(|k| &k.config)
            .ok_or_else(|| Error::NoKubeconfig {
                file: file.to_string(),
            })
    }

    fn kubeconfig_yaml(&self, file: &str) -> Result<String, Error> {
        Ok(kubeconfig::to_yaml(file, self.kubeconfig(file)?)?)
    }

    /// The control plane's material: certificates, token.csv, kubeconfigs, binaries.
    pub fn control_plane(&self, binaries: MasterBinaries) -> Result<ControlPlaneMaterial, Error> {
        let set = &self.set;
        let etcd_client = set.etcd_client();
        Ok(ControlPlaneMaterial {
            certs: MasterCerts {
                ca_pem: set.ca.cert_pem.clone(),
                ca_key_pem: set.ca.key_pem.clone(),
                apiserver_cert_pem: set.apiserver().cert_pem.clone(),
                apiserver_key_pem: set.apiserver().key_pem.clone(),
                kubelet_client_cert_pem: set.apiserver_kubelet_client().cert_pem.clone(),
                kubelet_client_key_pem: set.apiserver_kubelet_client().key_pem.clone(),
                sa_key_pem: set.service_account.key_pem.clone(),
                sa_pub_pem: set.service_account.public_pem.clone(),
                etcd_ca_pem: set.etcd_ca_pem().to_string(),
                etcd_client_cert_pem: etcd_client.cert_pem.clone(),
                etcd_client_key_pem: etcd_client.key_pem.clone(),
            },
            token_csv: self.tokens.render(),
            controller_manager_kubeconfig: self.kubeconfig_yaml(kubeconfig::CONTROLLER_MANAGER)?,
            scheduler_kubeconfig: self.kubeconfig_yaml(kubeconfig::SCHEDULER)?,
            binaries,
        })
    }

    /// The nodes' material: the CA, the bootstrap and kube-proxy kubeconfigs, binaries.
    pub fn nodes(&self, binaries: NodeBinaries) -> Result<NodeMaterial, Error> {
        Ok(NodeMaterial {
            ca_pem: self.set.ca.cert_pem.clone(),
            bootstrap_kubeconfig: self.kubeconfig_yaml(kubeconfig::BOOTSTRAP)?,
            proxy_kubeconfig: self.kubeconfig_yaml(kubeconfig::KUBE_PROXY)?,
            binaries,
        })
    }

    /// A client of the live apiserver as the admin (on the session's runtime).
    pub fn admin_client(&self, s: &mut Session) -> Result<kube::Client, Error> {
        let admin = self.kubeconfig(kubeconfig::ADMIN)?.clone();
        Ok(s.block_on(node_bootstrap::online::connect_kubeconfig(
            kubeconfig::ADMIN,
            admin,
        ))??)
    }
}

/// The admin kubeconfig (cluster CA and the admin's client certificate embedded), made
/// from a complete certificate set; nothing is issued or written here.
pub fn admin_kubeconfig(inv: &Inventory) -> Result<kube::config::Kubeconfig, Error> {
    let pki = crate::pki::check(inv)?;
    if !pki.complete() {
        return Err(Error::IncompletePki {
            dir: inv.pki_dir.clone(),
        });
    }
    let (set, _) = crate::pki::ensure(inv)?;
    let cluster =
        node_bootstrap::plan::cluster_ref(inv, &set.ca.cert_pem).ok_or(Error::NoApiserver)?;
    let admin = set.admin();
    Ok(kubeconfig::render(
        &cluster,
        "admin",
        &Credentials::ClientCert {
            cert_pem: admin.cert_pem.clone(),
            key_pem: admin.key_pem.clone(),
        },
    ))
}

/// `kubin kubeconfig`: [`admin_kubeconfig`] written to `path` with mode 0600. The
/// certificate set must be complete (a deploy makes it).
pub fn write_admin_kubeconfig(inv: &Inventory, path: &Path) -> Result<(), Error> {
    let config = admin_kubeconfig(inv)?;
    let yaml = kubeconfig::to_yaml(kubeconfig::ADMIN, &config)?;
    // Replaced as a whole: a new file of mode 0600, renamed over the old one.
    let tmp = path.with_extension("kubin-tmp");
    let _ = std::fs::remove_file(&tmp);
    write_secret(&tmp, &yaml)?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The bundle's `kubernetes/server/bin/<name>` files.
fn server_bin(inv: &Inventory, name: &str) -> Result<plan::Content, Error> {
    let bundle = inv.bundle.as_ref().ok_or(Error::NoBundle)?;
    crate::bundle::read(bundle.join("kubernetes/server/bin").join(name))
}

/// kube-apiserver, kube-controller-manager and kube-scheduler from the bundle.
pub fn master_binaries(inv: &Inventory) -> Result<MasterBinaries, Error> {
    Ok(MasterBinaries {
        kube_apiserver: server_bin(inv, "kube-apiserver")?,
        kube_controller_manager: server_bin(inv, "kube-controller-manager")?,
        kube_scheduler: server_bin(inv, "kube-scheduler")?,
    })
}

/// kubelet and kube-proxy from the bundle.
pub fn node_binaries(inv: &Inventory) -> Result<NodeBinaries, Error> {
    Ok(NodeBinaries {
        kubelet: server_bin(inv, "kubelet")?,
        kube_proxy: server_bin(inv, "kube-proxy")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(dir: &Path) -> Inventory {
        let (mut inv, _) =
            Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "example").unwrap();
        inv.pki_dir = dir.join("pki");
        inv
    }

    #[test]
    fn the_token_file_is_made_once_0600_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let inv = inv(dir.path());
        let (_, status) = tokens(&inv, true).unwrap();
        assert_eq!(status, TokenStatus::WouldCreate);
        assert!(!token_path(&inv).exists(), "a dry run wrote the token file");
        let (made, status) = tokens(&inv, false).unwrap();
        assert_eq!(status, TokenStatus::Created);
        let mode = std::fs::metadata(token_path(&inv)).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let (kept, status) = tokens(&inv, false).unwrap();
        assert_eq!(status, TokenStatus::Kept);
        assert_eq!(kept, made);
    }

    #[test]
    fn a_malformed_token_file_is_an_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let inv = inv(dir.path());
        std::fs::create_dir_all(&inv.pki_dir).unwrap();
        std::fs::write(token_path(&inv), "only-a-token\n").unwrap();
        assert!(tokens(&inv, false).is_err());
        assert_eq!(
            std::fs::read_to_string(token_path(&inv)).unwrap(),
            "only-a-token\n"
        );
    }
}
