//! The plans: every master's files, then its three units; every node's files, then the
//! kubelet and kube-proxy. Material (certificates, keys, kubeconfigs, token.csv,
//! binaries) comes in as data; reading it from disk is the shell's job.

use crate::Error;
use crate::layout::{Layout, unit_name};
use crate::master::{
    apiserver_flags, controller_manager_flags, master, release, render_component_env,
    render_component_unit, render_scheduler_config, scheduler_flags,
};
use crate::node::{
    Adjustment, NodeFacts, kubelet_flags, node, proxy_flags, render_kubelet_config,
    render_proxy_config,
};
use crate::versions::Component;
use inventory::Inventory;
use plan::{DirSpec, FileSpec, HostSteps, Phase, Plan, Step, UnitSpec};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The masters' certificates and keys, PEM, as `pki` issued them.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterCerts {
    /// The cluster CA certificate.
    pub ca_pem: String,
    /// The cluster CA's key (the controller-manager signs kubelet certificates with it).
    pub ca_key_pem: String,
    /// The apiserver's serving certificate (SANs: `Inventory::apiserver_sans`).
    pub apiserver_cert_pem: String,
    /// Its key.
    pub apiserver_key_pem: String,
    /// The apiserver's client certificate towards kubelets.
    pub kubelet_client_cert_pem: String,
    /// Its key.
    pub kubelet_client_key_pem: String,
    /// The service-account signing key.
    pub sa_key_pem: String,
    /// The service-account public key.
    pub sa_pub_pem: String,
    /// The etcd CA certificate.
    pub etcd_ca_pem: String,
    /// The apiserver's etcd client certificate.
    pub etcd_client_cert_pem: String,
    /// Its key.
    pub etcd_client_key_pem: String,
}

impl fmt::Debug for MasterCerts {
    // Keys never appear in logs, not even in debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterCerts").finish_non_exhaustive()
    }
}

/// The masters' binaries from the bundle, as bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterBinaries {
    /// `kube-apiserver`.
    pub kube_apiserver: plan::Content,
    /// `kube-controller-manager`.
    pub kube_controller_manager: plan::Content,
    /// `kube-scheduler`.
    pub kube_scheduler: plan::Content,
}

struct Bytes(usize);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0)
    }
}

impl fmt::Debug for MasterBinaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterBinaries")
            .field("kube_apiserver", &Bytes(self.kube_apiserver.len()))
            .field(
                "kube_controller_manager",
                &Bytes(self.kube_controller_manager.len()),
            )
            .field("kube_scheduler", &Bytes(self.kube_scheduler.len()))
            .finish()
    }
}

/// Everything the control plane's files are made of besides the inventory.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlPlaneMaterial {
    /// Certificates and keys.
    pub certs: MasterCerts,
    /// `token.csv` as node-bootstrap renders it (holds the bootstrap token).
    pub token_csv: String,
    /// The controller-manager's kubeconfig (embeds its client key).
    pub controller_manager_kubeconfig: String,
    /// The scheduler's kubeconfig (embeds its client key).
    pub scheduler_kubeconfig: String,
    /// The binaries.
    pub binaries: MasterBinaries,
}

impl fmt::Debug for ControlPlaneMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ControlPlaneMaterial")
            .field("certs", &self.certs)
            .field("binaries", &self.binaries)
            .finish_non_exhaustive()
    }
}

/// The nodes' binaries from the bundle, as bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeBinaries {
    /// `kubelet`.
    pub kubelet: plan::Content,
    /// `kube-proxy`.
    pub kube_proxy: plan::Content,
}

impl fmt::Debug for NodeBinaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeBinaries")
            .field("kubelet", &Bytes(self.kubelet.len()))
            .field("kube_proxy", &Bytes(self.kube_proxy.len()))
            .finish()
    }
}

/// Everything the nodes' files are made of besides the inventory and the facts.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeMaterial {
    /// The cluster CA certificate (the kubelet's `clientCAFile`).
    pub ca_pem: String,
    /// The kubelet's bootstrap kubeconfig (holds the bootstrap token).
    pub bootstrap_kubeconfig: String,
    /// kube-proxy's kubeconfig (embeds its client key).
    pub proxy_kubeconfig: String,
    /// The binaries.
    pub binaries: NodeBinaries,
}

impl fmt::Debug for NodeMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeMaterial")
            .field("binaries", &self.binaries)
            .finish_non_exhaustive()
    }
}

fn dir(path: &Path) -> Step {
    Step::Directory(DirSpec {
        path: path.to_path_buf(),
        mode: 0o755,
    })
}

fn file(path: &Path, content: impl Into<plan::Content>, mode: u32) -> Step {
    Step::File(FileSpec::new(path, content, mode))
}

/// Keys, tokens and kubeconfigs with keys: 0600, content never shown.
fn secret(path: &Path, content: &str) -> Step {
    Step::File(FileSpec::new(path, content.as_bytes().to_vec(), 0o600).secret())
}

/// The files a component reads: a change to any of them restarts it.
pub fn restart_on(inv: &Inventory, component: Component) -> Vec<PathBuf> {
    let l = Layout::new(&inv.paths);
    let bin = component.binary();
    let mut files = vec![l.binary(bin), l.env_file(bin), l.unit_file(bin)];
    files.extend(match component {
        Component::Apiserver => vec![
            l.ca,
            l.apiserver_cert,
            l.apiserver_key,
            l.kubelet_client_cert,
            l.kubelet_client_key,
            l.sa_key,
            l.sa_pub,
            l.etcd_ca,
            l.etcd_client_cert,
            l.etcd_client_key,
            l.token_csv,
        ],
        Component::ControllerManager => {
            vec![l.controller_manager_kubeconfig, l.ca, l.ca_key, l.sa_key]
        }
        Component::Scheduler => vec![l.scheduler_kubeconfig, l.scheduler_config],
        Component::Kubelet => vec![l.kubelet_config, l.bootstrap_kubeconfig, l.ca],
        Component::Proxy => vec![l.proxy_config, l.proxy_kubeconfig],
    });
    files
}

const MASTER_COMPONENTS: [Component; 3] = [
    Component::Apiserver,
    Component::ControllerManager,
    Component::Scheduler,
];
const NODE_COMPONENTS: [Component; 2] = [Component::Kubelet, Component::Proxy];

/// The files of master `name`, in the order they are written.
pub fn master_files(
    inv: &Inventory,
    name: &str,
    m: &ControlPlaneMaterial,
) -> Result<Vec<Step>, Error> {
    master(inv, name)?;
    let l = Layout::new(&inv.paths);
    let c = &m.certs;
    let b = &m.binaries;
    let mut steps = vec![
        dir(&l.bin_dir),
        dir(&l.cfg_dir),
        dir(&l.ssl_dir),
        file(&l.binary("kube-apiserver"), b.kube_apiserver.clone(), 0o755),
        file(
            &l.binary("kube-controller-manager"),
            b.kube_controller_manager.clone(),
            0o755,
        ),
        file(&l.binary("kube-scheduler"), b.kube_scheduler.clone(), 0o755),
        file(&l.ca, c.ca_pem.as_str(), 0o644),
        secret(&l.ca_key, &c.ca_key_pem),
        file(&l.apiserver_cert, c.apiserver_cert_pem.as_str(), 0o644),
        secret(&l.apiserver_key, &c.apiserver_key_pem),
        file(
            &l.kubelet_client_cert,
            c.kubelet_client_cert_pem.as_str(),
            0o644,
        ),
        secret(&l.kubelet_client_key, &c.kubelet_client_key_pem),
        secret(&l.sa_key, &c.sa_key_pem),
        file(&l.sa_pub, c.sa_pub_pem.as_str(), 0o644),
        file(&l.etcd_ca, c.etcd_ca_pem.as_str(), 0o644),
        file(&l.etcd_client_cert, c.etcd_client_cert_pem.as_str(), 0o644),
        secret(&l.etcd_client_key, &c.etcd_client_key_pem),
        secret(&l.token_csv, &m.token_csv),
        secret(
            &l.controller_manager_kubeconfig,
            &m.controller_manager_kubeconfig,
        ),
        secret(&l.scheduler_kubeconfig, &m.scheduler_kubeconfig),
        file(&l.scheduler_config, render_scheduler_config(inv)?, 0o644),
    ];
    let flags = [
        apiserver_flags(inv, name)?,
        controller_manager_flags(inv)?,
        scheduler_flags(inv)?,
    ];
    steps.extend(component_files(inv, &l, &MASTER_COMPONENTS, &flags));
    Ok(steps)
}

/// Each component's env file (its flags) and unit.
fn component_files(
    inv: &Inventory,
    l: &Layout,
    components: &[Component],
    flags: &[Vec<String>],
) -> Vec<Step> {
    let mut steps = Vec::new();
    for (component, flags) in components.iter().zip(flags) {
        let bin = component.binary();
        steps.push(file(
            &l.env_file(bin),
            render_component_env(*component, flags),
            0o644,
        ));
        steps.push(file(
            &l.unit_file(bin),
            render_component_unit(inv, *component),
            0o644,
        ));
    }
    steps
}

fn unit_steps(inv: &Inventory, components: &[Component]) -> Vec<Step> {
    components
        .iter()
        .map(|c| {
            Step::Unit(UnitSpec::running(
                &unit_name(c.binary()),
                restart_on(inv, *c),
            ))
        })
        .collect()
}

/// The control plane's plan: phase `control plane: install` writes every master's files,
/// phase `control plane: start` has each master's apiserver, controller-manager and
/// scheduler enabled and running (restarted only when a file it reads changed).
pub fn plan_control_plane(inv: &Inventory, m: &ControlPlaneMaterial) -> Result<Plan, Error> {
    release(inv)?;
    let masters = inv.masters();
    if masters.is_empty() {
        return Err(Error::NoMaster);
    }
    let mut install = Vec::new();
    let mut start = Vec::new();
    for h in masters {
        install.push(HostSteps {
            host: h.name.clone(),
            steps: master_files(inv, &h.name, m)?,
        });
        start.push(HostSteps {
            host: h.name.clone(),
            steps: unit_steps(inv, &MASTER_COMPONENTS),
        });
    }
    Ok(Plan {
        phases: vec![
            Phase {
                name: "control plane: install".into(),
                hosts: install,
            },
            Phase {
                name: "control plane: start".into(),
                hosts: start,
            },
        ],
    })
}

/// The adjustments the node renderers make on node `name` for its facts.
pub fn node_adjustments(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
) -> Result<Vec<Adjustment>, Error> {
    let mut all = render_kubelet_config(inv, name, facts)?.adjustments;
    all.extend(render_proxy_config(inv, name, facts)?.adjustments);
    Ok(all)
}

/// The files of node `name`, in the order they are written, preceded by its adjustments
/// (as `NotApplicable` steps naming what kubin changed and why, so a plan shows them).
pub fn node_files(
    inv: &Inventory,
    name: &str,
    facts: &NodeFacts,
    m: &NodeMaterial,
) -> Result<Vec<Step>, Error> {
    node(inv, name)?;
    let l = Layout::new(&inv.paths);
    let kubelet = render_kubelet_config(inv, name, facts)?;
    let proxy = render_proxy_config(inv, name, facts)?;
    let mut steps: Vec<Step> = kubelet
        .adjustments
        .iter()
        .chain(&proxy.adjustments)
        .map(|a| Step::NotApplicable {
            what: a.what.clone(),
            why: a.why.clone(),
        })
        .collect();
    steps.extend([
        dir(&l.bin_dir),
        dir(&l.cfg_dir),
        dir(&l.ssl_dir),
        file(&l.binary("kubelet"), m.binaries.kubelet.clone(), 0o755),
        file(
            &l.binary("kube-proxy"),
            m.binaries.kube_proxy.clone(),
            0o755,
        ),
        file(&l.ca, m.ca_pem.as_str(), 0o644),
        secret(&l.bootstrap_kubeconfig, &m.bootstrap_kubeconfig),
        secret(&l.proxy_kubeconfig, &m.proxy_kubeconfig),
        file(&l.kubelet_config, kubelet.text, 0o644),
        file(&l.proxy_config, proxy.text, 0o644),
    ]);
    let flags = [kubelet_flags(inv, name)?, proxy_flags(inv)?];
    steps.extend(component_files(inv, &l, &NODE_COMPONENTS, &flags));
    Ok(steps)
}

/// The nodes' plan: phase `node components: install` writes every node's files (after
/// its adjustments), phase `node components: start` has the kubelet and kube-proxy
/// enabled and running. Every node needs its facts.
pub fn plan_node_components(
    inv: &Inventory,
    facts: &BTreeMap<String, NodeFacts>,
    m: &NodeMaterial,
) -> Result<Plan, Error> {
    release(inv)?;
    let mut install = Vec::new();
    let mut start = Vec::new();
    for h in inv.nodes() {
        let f = facts.get(&h.name).ok_or_else(|| Error::MissingFacts {
            host: h.name.clone(),
        })?;
        install.push(HostSteps {
            host: h.name.clone(),
            steps: node_files(inv, &h.name, f, m)?,
        });
        start.push(HostSteps {
            host: h.name.clone(),
            steps: unit_steps(inv, &NODE_COMPONENTS),
        });
    }
    Ok(Plan {
        phases: vec![
            Phase {
                name: "node components: install".into(),
                hosts: install,
            },
            Phase {
                name: "node components: start".into(),
                hosts: start,
            },
        ],
    })
}

#[cfg(test)]
mod tests;
