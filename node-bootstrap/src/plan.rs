//! Where the token file and the kubeconfigs go: a [`plan::Plan`] of secret files (mode
//! 0600) in the inventory's Kubernetes config directory.

use crate::kubeconfig::{self, ClusterRef, NamedKubeconfig};
use crate::{Error, TokenFile};
use inventory::{Inventory, Role};
use plan::{DirSpec, FileSpec, HostSteps, Plan, Step};

/// The cluster entry of every kubeconfig: the inventory's cluster name and apiserver URL
/// (the load balancer or the first master), with the cluster CA; `None` without a master.
pub fn cluster_ref(inv: &Inventory, ca_pem: &str) -> Option<ClusterRef> {
    Some(ClusterRef {
        name: inv.cluster_name.clone(),
        server: inv.apiserver_url()?,
        ca_pem: ca_pem.to_string(),
    })
}

/// Which hosts read a kubeconfig: the node components' on nodes, the rest on masters.
fn role_of(file: &str) -> Role {
    match file {
        kubeconfig::BOOTSTRAP | kubeconfig::KUBE_PROXY => Role::Node,
        _ => Role::Master,
    }
}

/// The files on each host: `token.csv` and the admin, controller-manager and scheduler
/// kubeconfigs on masters; the bootstrap and kube-proxy kubeconfigs on nodes. Every one is
/// secret, mode 0600, under `paths.kubernetes_cfg`.
pub fn plan_files(
    inv: &Inventory,
    tokens: &TokenFile,
    kubeconfigs: &[NamedKubeconfig],
) -> Result<Plan, Error> {
    let cfg = &inv.paths.kubernetes_cfg;
    let mut rendered = Vec::new();
    for k in kubeconfigs {
        rendered.push((
            role_of(&k.file),
            k.file.clone(),
            kubeconfig::to_yaml(&k.file, &k.config)?,
        ));
    }
    let mut hosts = Vec::new();
    for host in &inv.hosts {
        let mut steps = Vec::new();
        let mut file = |name: &str, content: &str| {
            steps.push(Step::File(
                FileSpec::new(cfg.join(name), content.as_bytes().to_vec(), 0o600).secret(),
            ));
        };
        if host.has(Role::Master) {
            file(crate::token::TOKEN_FILE_NAME, &tokens.render());
        }
        for (role, name, text) in &rendered {
            if host.has(*role) {
                file(name, text);
            }
        }
        if !steps.is_empty() {
            steps.insert(
                0,
                Step::Directory(DirSpec {
                    path: cfg.clone(),
                    mode: 0o755,
                }),
            );
            hosts.push(HostSteps {
                host: host.name.clone(),
                steps,
            });
        }
    }
    Ok(Plan::single("node-bootstrap: token and kubeconfigs", hosts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_go_to_the_right_hosts_at_0600_and_never_serialize() {
        let inv = crate::policy::tests::inventory();
        let token = crate::Token::new("0fb61c46f8991b718eb38d27b605b008").unwrap();
        let set = pki::issue_cluster_set(
            &{
                let mut r = pki::ClusterSetRequest::new(
                    vec![pki::Member {
                        name: "k8s-master1".into(),
                        address: "192.168.31.63".parse().unwrap(),
                    }],
                    inv.apiserver_sans(),
                );
                r.key = pki::KeySpec::EcdsaP256;
                r
            },
            std::time::SystemTime::now(),
            &pki::new_rng(),
        )
        .unwrap();
        let cluster = cluster_ref(&inv, set.ca_pem()).unwrap();
        assert_eq!(cluster.server, "https://192.168.31.63:6443");
        let kubeconfigs = kubeconfig::cluster_kubeconfigs(&cluster, &set, &token);
        let plan = plan_files(&inv, &TokenFile::new(token.clone()), &kubeconfigs).unwrap();
        let files = |host: &str| -> Vec<String> {
            plan.phases[0]
                .hosts
                .iter()
                .find(|h| h.host == host)
                .unwrap()
                .steps
                .iter()
                .filter_map(|s| match s {
                    Step::File(f) => {
                        assert!(f.secret && f.mode == 0o600, "{}", f.path.display());
                        Some(f.path.display().to_string())
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(
            files("k8s-master1"),
            [
                "/opt/kubernetes/cfg/token.csv",
                "/opt/kubernetes/cfg/admin.kubeconfig",
                "/opt/kubernetes/cfg/kube-controller-manager.kubeconfig",
                "/opt/kubernetes/cfg/kube-scheduler.kubeconfig",
            ]
        );
        assert_eq!(
            files("k8s-node1"),
            [
                "/opt/kubernetes/cfg/bootstrap.kubeconfig",
                "/opt/kubernetes/cfg/kube-proxy.kubeconfig",
            ]
        );
        let json = serde_json::to_string(&plan).unwrap();
        assert!(!json.contains(token.expose()), "{json}");
        assert!(
            !json.contains("PRIVATE KEY") && !json.contains("LS0t"),
            "{json}"
        );
    }
}
