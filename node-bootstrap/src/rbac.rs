//! The cluster's bootstrap RBAC as data: who may ask for node certificates, and what the
//! apiserver may do on kubelets. [`crate::online::apply_rbac`] applies it.
//!
//! Never a `cluster-admin` binding for `system:anonymous` (the second guide's shortcut).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The built-in role that lets a user create and read CSRs (and nothing else).
pub const NODE_BOOTSTRAPPER_ROLE: &str = "system:node-bootstrapper";
/// The built-in role that lets a node request renewal of its own client certificate.
pub const SELFNODECLIENT_ROLE: &str =
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient";
/// The role kubin makes for the apiserver's calls to kubelets (`kubectl logs/exec`).
pub const APISERVER_TO_KUBELET_ROLE: &str = "kubin:apiserver-to-kubelet";
/// The CN of the apiserver's client certificate towards kubelets
/// (`pki`'s `apiserver-kubelet-client` leaf; a test checks they agree).
pub const APISERVER_KUBELET_CLIENT_USER: &str = "kube-apiserver-kubelet-client";
/// The kubelet API subresources the apiserver uses.
pub const KUBELET_API_RESOURCES: [&str; 5] = [
    "nodes/proxy",
    "nodes/log",
    "nodes/stats",
    "nodes/metrics",
    "nodes/spec",
];

/// Every object kubin applies, in order: roles before the bindings that name them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rbac {
    /// Cluster roles kubin owns.
    pub roles: Vec<ClusterRole>,
    /// Cluster role bindings kubin owns.
    pub bindings: Vec<ClusterRoleBinding>,
}

fn subject(kind: &str, name: &str) -> Subject {
    Subject {
        kind: kind.to_string(),
        name: name.to_string(),
        api_group: Some("rbac.authorization.k8s.io".to_string()),
        namespace: None,
    }
}

fn binding(name: &str, role: &str, subjects: Vec<Subject>) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(subjects),
    }
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(
            [(
                "app.kubernetes.io/managed-by".to_string(),
                "kubin".to_string(),
            )]
            .into(),
        ),
        ..ObjectMeta::default()
    }
}

/// The bootstrap RBAC:
/// - `kubelet-bootstrap` → `system:node-bootstrapper` for user `kubelet-bootstrap` and group
///   `system:bootstrappers` (create CSRs, nothing more);
/// - `kubin:node-autoapprove-certificate-rotation` → the selfnodeclient role for group
///   `system:nodes` (kubelets renew their own client certificates);
/// - `kubin:apiserver-to-kubelet` (get/create on the kubelet API subresources) for the
///   apiserver's kubelet-client identity.
pub fn bootstrap_rbac() -> Rbac {
    let role = ClusterRole {
        metadata: meta(APISERVER_TO_KUBELET_ROLE),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(
                KUBELET_API_RESOURCES
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            verbs: vec!["get".to_string(), "create".to_string()],
            ..PolicyRule::default()
        }]),
        aggregation_rule: None,
    };
    Rbac {
        roles: vec![role],
        bindings: vec![
            binding(
                "kubelet-bootstrap",
                NODE_BOOTSTRAPPER_ROLE,
                vec![
                    subject("User", crate::BOOTSTRAP_USER),
                    subject("Group", crate::policy::BOOTSTRAPPERS),
                ],
            ),
            binding(
                "kubin:node-autoapprove-certificate-rotation",
                SELFNODECLIENT_ROLE,
                vec![subject("Group", crate::policy::NODES_GROUP)],
            ),
            binding(
                APISERVER_TO_KUBELET_ROLE,
                APISERVER_TO_KUBELET_ROLE,
                vec![subject("User", APISERVER_KUBELET_CLIENT_USER)],
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_snapshot() {
        let rbac = bootstrap_rbac();
        let objects: Vec<serde_json::Value> = rbac
            .roles
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .chain(
                rbac.bindings
                    .iter()
                    .map(|b| serde_json::to_value(b).unwrap()),
            )
            .collect();
        insta::assert_json_snapshot!(objects);
    }

    #[test]
    fn never_binds_anonymous_or_cluster_admin() {
        for b in bootstrap_rbac().bindings {
            assert_ne!(b.role_ref.name, "cluster-admin");
            for s in b.subjects.unwrap_or_default() {
                assert!(!s.name.contains("anonymous") && s.name != "system:unauthenticated");
            }
        }
    }

    #[test]
    fn the_kubelet_client_user_is_pkis_cn() {
        let req = pki::ClusterSetRequest::new(
            vec![pki::Member {
                name: "etcd-1".into(),
                address: "10.0.0.1".parse().unwrap(),
            }],
            vec!["127.0.0.1".into()],
        );
        let leaf = pki::cluster_leaves(&req)
            .into_iter()
            .find(|l| l.name == pki::layout::APISERVER_KUBELET_CLIENT)
            .unwrap();
        assert_eq!(leaf.request.cn, APISERVER_KUBELET_CLIENT_USER);
    }
}
