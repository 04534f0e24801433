//! Kubeconfigs with embedded certificates, as `kubectl config set-cluster --embed-certs`,
//! `set-credentials`, `set-context` and `use-context` write them, in `kube`'s own
//! [`Kubeconfig`] types.
//!
//! Pure: the set of kubeconfigs is computed from the cluster's certificates, the bootstrap
//! token and the apiserver URL. `Debug` of every type here redacts tokens and keys (kube's
//! secret fields are `SecretString`s); the YAML, which must hold them, is made by
//! [`to_yaml`] only.

use crate::{Error, Token};
use base64::Engine as _;
use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext, Preferences,
};

/// The context name the guides give every kubeconfig (`kubectl config set-context default`).
pub const CONTEXT: &str = "default";

/// The cluster a kubeconfig points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRef {
    /// The cluster entry's name (the guides' `kubernetes`).
    pub name: String,
    /// The apiserver URL, e.g. `https://192.168.31.63:6443`.
    pub server: String,
    /// The cluster CA certificate (PEM), embedded as `certificate-authority-data`.
    pub ca_pem: String,
}

/// How a kubeconfig's user authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer token (`kubectl config set-credentials --token`).
    Token(Token),
    /// A client certificate and key, embedded (`--client-certificate --client-key --embed-certs`).
    ClientCert {
        /// The certificate (PEM).
        cert_pem: String,
        /// The key (PEM); never shown by `Debug`.
        key_pem: String,
    },
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Token(t) => f.debug_tuple("Token").field(t).finish(),
            Credentials::ClientCert { cert_pem, .. } => f
                .debug_struct("ClientCert")
                .field("cert_pem", cert_pem)
                .field("key_pem", &"[secret elided]")
                .finish(),
        }
    }
}

/// One kubeconfig: the file it goes to, and its content.
#[derive(Debug, Clone)]
pub struct NamedKubeconfig {
    /// The file name, e.g. `bootstrap.kubeconfig`.
    pub file: String,
    /// The user entry's name, e.g. `kubelet-bootstrap`.
    pub user: String,
    /// The kubeconfig (its `Debug` redacts tokens and keys).
    pub config: Kubeconfig,
}

/// A kubeconfig with one cluster, one user and the `default` context selected: what the
/// four `kubectl config` commands write into an empty file.
pub fn render(cluster: &ClusterRef, user: &str, credentials: &Credentials) -> Kubeconfig {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
    let mut auth = AuthInfo::default();
    match credentials {
        Credentials::Token(t) => auth.token = Some(t.expose().to_string().into()),
        Credentials::ClientCert { cert_pem, key_pem } => {
            auth.client_certificate_data = Some(b64(cert_pem));
            auth.client_key_data = Some(b64(key_pem).into());
        }
    }
    Kubeconfig {
        preferences: Some(Preferences::default()),
        clusters: vec![NamedCluster {
            name: cluster.name.clone(),
            cluster: Some(Cluster {
                server: Some(cluster.server.clone()),
                certificate_authority_data: Some(b64(&cluster.ca_pem)),
                ..Cluster::default()
            }),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: user.to_string(),
            auth_info: Some(auth),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: CONTEXT.to_string(),
            context: Some(Context {
                cluster: cluster.name.clone(),
                user: Some(user.to_string()),
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some(CONTEXT.to_string()),
        kind: Some("Config".to_string()),
        api_version: Some("v1".to_string()),
        ..Kubeconfig::default()
    }
}

/// The kubeconfig as YAML, keys in kubectl's (alphabetical) order. The text holds the
/// token or key: write it only to a file of mode 0600.
pub fn to_yaml(name: &str, config: &Kubeconfig) -> Result<String, Error> {
    // Through a JSON value: its maps are sorted, as kubectl's output is.
    let value = serde_json::to_value(config).map_err(|e| Error::RenderKubeconfig {
        name: name.to_string(),
        source: serde::ser::Error::custom(e.to_string()),
    })?;
    // Plain scalars, as kubectl writes them: no folded block for the long base64 lines.
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = false;
    serde_saphyr::to_string_with_options(&value, options).map_err(|source| {
        Error::RenderKubeconfig {
            name: name.to_string(),
            source,
        }
    })
}

/// Loads a kubeconfig's YAML with kube-rs.
pub fn from_yaml(name: &str, text: &str) -> Result<Kubeconfig, Error> {
    Kubeconfig::from_yaml(text).map_err(|source| Error::LoadKubeconfig {
        name: name.to_string(),
        source,
    })
}

/// The bootstrap kubeconfig file name (kubelet's `--bootstrap-kubeconfig`).
pub const BOOTSTRAP: &str = "bootstrap.kubeconfig";
/// kube-proxy's kubeconfig file name.
pub const KUBE_PROXY: &str = "kube-proxy.kubeconfig";
/// The admin's kubeconfig file name (the guides' admin.sh).
pub const ADMIN: &str = "admin.kubeconfig";
/// kube-controller-manager's kubeconfig file name.
pub const CONTROLLER_MANAGER: &str = "kube-controller-manager.kubeconfig";
/// kube-scheduler's kubeconfig file name.
pub const SCHEDULER: &str = "kube-scheduler.kubeconfig";

/// Every kubeconfig of the cluster: bootstrap (token user `kubelet-bootstrap`), kube-proxy,
/// admin, controller-manager and scheduler, each with the cluster CA and its own client
/// certificate embedded.
pub fn cluster_kubeconfigs(
    cluster: &ClusterRef,
    set: &pki::ClusterSet,
    bootstrap_token: &Token,
) -> Vec<NamedKubeconfig> {
    let cert = |ck: &pki::CertKey| Credentials::ClientCert {
        cert_pem: ck.cert_pem.clone(),
        key_pem: ck.key_pem.clone(),
    };
    let entries = [
        (
            BOOTSTRAP,
            crate::BOOTSTRAP_USER,
            Credentials::Token(bootstrap_token.clone()),
        ),
        (KUBE_PROXY, "kube-proxy", cert(set.kube_proxy())),
        (ADMIN, "admin", cert(set.admin())),
        (
            CONTROLLER_MANAGER,
            "system:kube-controller-manager",
            cert(set.kube_controller_manager()),
        ),
        (
            SCHEDULER,
            "system:kube-scheduler",
            cert(set.kube_scheduler()),
        ),
    ];
    entries
        .into_iter()
        .map(|(file, user, creds)| NamedKubeconfig {
            file: file.to_string(),
            user: user.to_string(),
            config: render(cluster, user, &creds),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n";
    const CERT: &str = "-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\nSECRETKEY\n-----END RSA PRIVATE KEY-----\n";
    const TOKEN: &str = "0fb61c46f8991b718eb38d27b605b008";

    fn cluster() -> ClusterRef {
        ClusterRef {
            name: "kubernetes".into(),
            server: "https://192.168.31.63:6443".into(),
            ca_pem: CA.into(),
        }
    }

    #[test]
    fn bootstrap_kubeconfig_as_kubectl_writes_it() {
        let config = render(
            &cluster(),
            "kubelet-bootstrap",
            &Credentials::Token(Token::new(TOKEN).unwrap()),
        );
        let yaml = to_yaml(BOOTSTRAP, &config).unwrap();
        insta::assert_snapshot!(yaml);
        let back = from_yaml(BOOTSTRAP, &yaml).unwrap();
        assert_eq!(back.current_context.as_deref(), Some("default"));
        let user = back.auth_infos[0].auth_info.as_ref().unwrap();
        assert_eq!(
            serde_json::to_value(user).unwrap()["token"],
            serde_json::json!(TOKEN)
        );
    }

    #[test]
    fn client_cert_kubeconfig_embeds_cert_and_key() {
        let config = render(
            &cluster(),
            "admin",
            &Credentials::ClientCert {
                cert_pem: CERT.into(),
                key_pem: KEY.into(),
            },
        );
        let yaml = to_yaml(ADMIN, &config).unwrap();
        insta::assert_snapshot!(yaml);
        let back = from_yaml(ADMIN, &yaml).unwrap();
        let cluster = back.clusters[0].cluster.as_ref().unwrap();
        let ca = base64::engine::general_purpose::STANDARD
            .decode(cluster.certificate_authority_data.as_ref().unwrap())
            .unwrap();
        assert_eq!(ca, CA.as_bytes());
    }

    #[test]
    fn debug_output_hides_tokens_and_keys() {
        let token = render(
            &cluster(),
            "kubelet-bootstrap",
            &Credentials::Token(Token::new(TOKEN).unwrap()),
        );
        let key_b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
        let cert = Credentials::ClientCert {
            cert_pem: CERT.into(),
            key_pem: KEY.into(),
        };
        let keyed = render(&cluster(), "admin", &cert);
        let named = NamedKubeconfig {
            file: ADMIN.into(),
            user: "admin".into(),
            config: keyed.clone(),
        };
        let debug = format!("{token:?} {keyed:?} {named:?} {cert:?}");
        assert!(!debug.contains(TOKEN), "{debug}");
        assert!(!debug.contains(&key_b64), "{debug}");
        assert!(!debug.contains("SECRETKEY"), "{debug}");
    }
}
