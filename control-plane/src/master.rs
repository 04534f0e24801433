//! The masters' components: kube-apiserver, kube-controller-manager and kube-scheduler,
//! each an env file (the guides' format) and a systemd unit; the scheduler also reads a
//! `KubeSchedulerConfiguration`.
//!
//! Pure functions of the inventory (and, for the apiserver, the master it runs on).

use crate::Error;
use crate::args::{Args, UnitParts, render_env, render_unit};
use crate::config::{ClientConnection, KubeSchedulerConfiguration, LeaderElection, to_yaml};
use crate::layout::Layout;
use crate::versions::{Component, Release};
use inventory::{FlannelMode, Host, Inventory};

/// The guides' signing duration for certificates the controller-manager signs (ten years).
pub const CLUSTER_SIGNING_DURATION: &str = "87600h";
/// The guides' NodePort range.
pub const NODE_PORT_RANGE: &str = "30000-32767";
/// The admission plugins enabled on top of the defaults (the guides' list, with
/// NodeRestriction so a kubelet can change only its own Node and pods).
pub const ADMISSION_PLUGINS: &str =
    "NamespaceLifecycle,LimitRanger,ServiceAccount,ResourceQuota,NodeRestriction";
/// The per-node pod range size when the inventory names none.
pub const DEFAULT_NODE_CIDR_MASK: u8 = 24;

/// The release the inventory names, or the error naming the supported range.
pub fn release(inv: &Inventory) -> Result<Release, Error> {
    Release::new(inv.kubernetes.version)
}

/// The inventory's master called `name`.
pub fn master<'a>(inv: &'a Inventory, name: &str) -> Result<&'a Host, Error> {
    let masters = inv.masters();
    masters
        .iter()
        .find(|h| h.name == name)
        .copied()
        .ok_or_else(|| Error::NotAMaster {
            name: name.to_string(),
            masters: masters
                .iter()
                .map(|h| h.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The service-account token issuer: the `kubernetes` service's in-cluster URL.
pub fn service_account_issuer(inv: &Inventory) -> String {
    format!(
        "https://kubernetes.default.svc.{}",
        inv.kubernetes.cluster_domain
    )
}

/// kube-apiserver's flags on master `name`: secure port only, bound to and advertising
/// the master's address; etcd over TLS; static-token and bootstrap-token auth for kubelets
/// joining; Node and RBAC authorization.
pub fn apiserver_flags(inv: &Inventory, name: &str) -> Result<Vec<String>, Error> {
    let r = release(inv)?;
    let host = master(inv, name)?;
    let l = Layout::new(&inv.paths);
    let mut a = Args::new(Component::Apiserver, r);
    a.set("--v", 2)
        .set("--etcd-servers", inv.etcd_endpoints().join(","))
        .path("--etcd-cafile", &l.etcd_ca)
        .path("--etcd-certfile", &l.etcd_client_cert)
        .path("--etcd-keyfile", &l.etcd_client_key)
        .set("--bind-address", host.address)
        .set("--secure-port", inventory::APISERVER_PORT)
        .set("--advertise-address", host.address)
        .set("--allow-privileged", true)
        .set("--service-cluster-ip-range", inv.kubernetes.service_cidr)
        .set("--service-node-port-range", NODE_PORT_RANGE)
        .set("--enable-admission-plugins", ADMISSION_PLUGINS)
        .set("--authorization-mode", "Node,RBAC")
        .set("--enable-bootstrap-token-auth", true)
        .path("--token-auth-file", &l.token_csv)
        .path("--client-ca-file", &l.ca)
        .path("--tls-cert-file", &l.apiserver_cert)
        .path("--tls-private-key-file", &l.apiserver_key)
        .path("--kubelet-client-certificate", &l.kubelet_client_cert)
        .path("--kubelet-client-key", &l.kubelet_client_key)
        // Kubelets serve with certificates the cluster CA signs (`serverTLSBootstrap`,
        // approved by kubin's policy only for the node's own address and name): check them.
        .path("--kubelet-certificate-authority", &l.ca)
        // Node names need not resolve (they do not in the lab): reach kubelets by address.
        .set("--kubelet-preferred-address-types", "InternalIP,Hostname")
        .set("--service-account-issuer", service_account_issuer(inv))
        .path("--service-account-key-file", &l.sa_pub)
        .path("--service-account-signing-key-file", &l.sa_key);
    a.finish()
}

/// Whether the pod network needs the controller-manager to hand each node a pod range
/// (`node.spec.podCIDR`): flannel with `--kube-subnet-mgr` reads it; flannel on etcd
/// keeps its own leases.
pub fn allocates_node_cidrs(inv: &Inventory) -> bool {
    inv.network.flannel.mode == FlannelMode::KubeSubnetMgr
}

/// kube-controller-manager's flags: its kubeconfig (also for delegated authn/authz,
/// required since 1.20), signing with the cluster CA for the guides' ten years, service
/// account credentials per controller, leader election, and node pod ranges when the
/// network needs them.
pub fn controller_manager_flags(inv: &Inventory) -> Result<Vec<String>, Error> {
    let r = release(inv)?;
    let l = Layout::new(&inv.paths);
    let mut a = Args::new(Component::ControllerManager, r);
    a.set("--v", 2)
        .path("--kubeconfig", &l.controller_manager_kubeconfig)
        .path(
            "--authentication-kubeconfig",
            &l.controller_manager_kubeconfig,
        )
        .path(
            "--authorization-kubeconfig",
            &l.controller_manager_kubeconfig,
        )
        .set("--bind-address", "127.0.0.1")
        .set("--leader-elect", true)
        .set("--cluster-name", &inv.cluster_name)
        // bootstrapsigner and tokencleaner serve bootstrap tokens kept as Secrets.
        .set("--controllers", "*,bootstrapsigner,tokencleaner")
        .set("--service-cluster-ip-range", inv.kubernetes.service_cidr)
        .path("--cluster-signing-cert-file", &l.ca)
        .path("--cluster-signing-key-file", &l.ca_key)
        .set("--cluster-signing-duration", CLUSTER_SIGNING_DURATION)
        .path("--root-ca-file", &l.ca)
        .path("--service-account-private-key-file", &l.sa_key)
        .set("--use-service-account-credentials", true);
    if allocates_node_cidrs(inv) {
        a.set("--allocate-node-cidrs", true)
            .set("--cluster-cidr", inv.network.pod_cidr)
            .set(
                "--node-cidr-mask-size",
                inv.network
                    .flannel
                    .subnet_len
                    .unwrap_or(DEFAULT_NODE_CIDR_MASK),
            );
    }
    a.finish()
}

/// kube-scheduler's flags: everything else is in its config file (with `--config`, a
/// 1.20 scheduler ignores the deprecated `--kubeconfig`/`--leader-elect` flags).
pub fn scheduler_flags(inv: &Inventory) -> Result<Vec<String>, Error> {
    let r = release(inv)?;
    let l = Layout::new(&inv.paths);
    let mut a = Args::new(Component::Scheduler, r);
    a.set("--v", 2)
        .path("--config", &l.scheduler_config)
        .path("--authentication-kubeconfig", &l.scheduler_kubeconfig)
        .path("--authorization-kubeconfig", &l.scheduler_kubeconfig)
        .set("--bind-address", "127.0.0.1");
    a.finish()
}

/// The `KubeSchedulerConfiguration` in the API version the release serves; on releases
/// whose version still has the insecure health port, that port listens on loopback only.
pub fn scheduler_config(inv: &Inventory) -> Result<KubeSchedulerConfiguration, Error> {
    let api = release(inv)?.scheduler_api();
    let l = Layout::new(&inv.paths);
    let loopback = api
        .has_insecure_bind_addresses()
        .then(|| "127.0.0.1:10251".to_string());
    Ok(KubeSchedulerConfiguration {
        api_version: api.api_version().to_string(),
        kind: "KubeSchedulerConfiguration".to_string(),
        client_connection: ClientConnection {
            kubeconfig: l.scheduler_kubeconfig.display().to_string(),
        },
        leader_election: LeaderElection { leader_elect: true },
        healthz_bind_address: loopback.clone(),
        metrics_bind_address: loopback,
    })
}

/// The scheduler's config file, as YAML.
pub fn render_scheduler_config(inv: &Inventory) -> Result<String, Error> {
    to_yaml("kube-scheduler-config.yaml", &scheduler_config(inv)?)
}

/// The env file variable of a component, as the guides name it (`KUBE_APISERVER_OPTS`).
pub fn env_var(component: Component) -> String {
    format!(
        "{}_OPTS",
        component.binary().to_uppercase().replace('-', "_")
    )
}

/// A component's env file from its flags.
pub fn render_component_env(component: Component, flags: &[String]) -> String {
    render_env(&env_var(component), flags)
}

/// A component's systemd unit (the same on every host).
pub fn render_component_unit(inv: &Inventory, component: Component) -> String {
    let l = Layout::new(&inv.paths);
    let (description, after): (&str, &[&str]) = match component {
        Component::Apiserver => ("Kubernetes API Server (kubin)", &[]),
        Component::ControllerManager => ("Kubernetes Controller Manager (kubin)", &[]),
        Component::Scheduler => ("Kubernetes Scheduler (kubin)", &[]),
        Component::Kubelet => match inv.network.runtime {
            inventory::Runtime::Containerd => {
                ("Kubernetes Kubelet (kubin)", &["containerd.service"])
            }
            inventory::Runtime::Docker => ("Kubernetes Kubelet (kubin)", &["docker.service"]),
        },
        Component::Proxy => ("Kubernetes Proxy (kubin)", &[]),
    };
    let env = l.env_file(component.binary());
    let bin = l.binary(component.binary());
    render_unit(&UnitParts {
        description,
        after,
        env_file: &env,
        binary: &bin,
        var: &env_var(component),
    })
}

#[cfg(test)]
mod tests;
