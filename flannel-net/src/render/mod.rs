//! The node side of flannel, rendered (pure): flanneld's env file and unit, docker's
//! drop-in or containerd's CNI conflist, or kube-flannel.yml in kube-subnet-mgr mode, as
//! a [`plan::Plan`] fragment the deploy applies.

pub mod cni;
pub mod files;
pub mod layout;
pub mod manifest;
#[cfg(test)]
mod tests;

pub use cni::{ConfList, render_conflist};
pub use files::{render_docker_dropin, render_env, render_unit};
pub use layout::NodeLayout;
pub use manifest::{Images, render_manifest};

use crate::error::Error;
use crate::netconf::NetConf;
use crate::validate::{check, flannel_hosts};
use inventory::{FlannelMode, Inventory, Runtime};
use layout::{CNI_CONF_DIR, CNI_CONFLIST, DOCKER_DROPIN_DIR, UNIT};
use plan::{Binaries, DirSpec, FileSpec, HostSteps, Plan, Step, UnitSpec};
use std::path::PathBuf;

/// flanneld's etcd client material, PEM (pki's `etcd/ca.pem`, `etcd/client.pem`,
/// `etcd/client-key.pem`): the same type kubin's own etcd calls use.
pub use etcd_cluster::online::ClientTls;

/// The file names of flannel's binaries that the node plan requires, from its release
/// tarball (`flannel-v*-linux-amd64.tar.gz` in the bundle), installed under the same names.
pub const BINARIES: [&str; 1] = ["flanneld"];

/// `mk-docker-opts.sh`: only docker needs it (containerd's CNI plugin reads flanneld's
/// `subnet.env` itself); installed when the binaries hold it.
pub const MK_DOCKER_OPTS: &str = "mk-docker-opts.sh";

/// What the node plan carries besides the inventory. Absent certificates or binaries
/// mean the plan only writes configs (the deploy may ship those itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInputs {
    /// flanneld's etcd client certificate.
    pub certs: Option<ClientTls>,
    /// flannel's binaries ([`BINARIES`]).
    pub binaries: Option<Binaries>,
    /// The images kube-flannel.yml names.
    pub images: Images,
}

impl NodeInputs {
    /// No certificates, no binaries, the default images for the inventory's flannel.
    pub fn configs_only(inv: &Inventory) -> Self {
        Self {
            certs: None,
            binaries: None,
            images: Images::for_version(inv.network.flannel.version),
        }
    }
}

fn dir(path: impl Into<PathBuf>) -> Step {
    Step::Directory(DirSpec {
        path: path.into(),
        mode: 0o755,
    })
}

/// The node side as a plan. In `etcd` mode, one phase `flannel: node` with, on every
/// master and node: binaries and certificates (when given), the env file, the unit, the
/// runtime's file (docker drop-in or CNI conflist), and flanneld running. In
/// `kube-subnet-mgr` mode, one phase `flannel: manifest` writing kube-flannel.yml on the
/// first master. Refuses a pod network flannel or the cluster cannot use.
pub fn plan_node(inv: &Inventory, inputs: &NodeInputs) -> Result<Plan, Error> {
    let conf = NetConf::from_inventory(inv);
    check(&conf, inv)?;
    let l = NodeLayout::new(&inv.paths);
    if inv.network.flannel.mode == FlannelMode::KubeSubnetMgr {
        let hosts = inv
            .masters()
            .first()
            .map(|m| HostSteps {
                host: m.name.clone(),
                steps: vec![
                    dir(&inv.paths.kubernetes_cfg),
                    Step::File(FileSpec::new(
                        &l.manifest,
                        render_manifest(inv, &conf, &inputs.images),
                        0o644,
                    )),
                ],
            })
            .into_iter()
            .collect();
        return Ok(Plan::single("flannel: manifest", hosts));
    }
    let docker = inv.network.runtime == Runtime::Docker;
    let unit_file = render_unit(inv);
    let mut hosts = Vec::new();
    for h in flannel_hosts(inv) {
        let mut steps = vec![
            dir(&inv.paths.kubernetes_cfg),
            dir(&inv.paths.kubernetes_bin),
            dir(&inv.paths.etcd_ssl),
        ];
        let mut restart_on = vec![l.env_file.clone(), l.unit_file.clone()];
        if let Some(b) = &inputs.binaries {
            b.require(&BINARIES)
                .map_err(|missing| Error::MissingBinaries { missing })?;
            let [flanneld] = BINARIES.map(|n| b.get(n).unwrap_or_default());
            steps.push(Step::File(FileSpec::new(
                &l.flanneld,
                flanneld.to_vec(),
                0o755,
            )));
            if let Some(mk) = b.get(MK_DOCKER_OPTS) {
                steps.push(Step::File(FileSpec::new(
                    &l.mk_docker_opts,
                    mk.to_vec(),
                    0o755,
                )));
            }
            restart_on.push(l.flanneld.clone());
        }
        if let Some(c) = &inputs.certs {
            steps.push(Step::File(FileSpec::new(
                &l.etcd_ca,
                c.ca_pem.clone(),
                0o644,
            )));
            steps.push(Step::File(FileSpec::new(
                &l.etcd_cert,
                c.cert_pem.clone(),
                0o644,
            )));
            steps.push(Step::File(
                FileSpec::new(&l.etcd_key, c.key_pem.clone(), 0o600).secret(),
            ));
            restart_on.extend([l.etcd_ca.clone(), l.etcd_cert.clone(), l.etcd_key.clone()]);
        }
        steps.push(Step::File(FileSpec::new(
            &l.env_file,
            render_env(inv, h),
            0o644,
        )));
        steps.push(Step::File(FileSpec::new(
            &l.unit_file,
            unit_file.clone(),
            0o644,
        )));
        steps.push(Step::Unit(UnitSpec::running(UNIT, restart_on)));
        if docker {
            steps.push(dir(DOCKER_DROPIN_DIR));
            steps.push(Step::File(FileSpec::new(
                &l.docker_dropin,
                render_docker_dropin(),
                0o644,
            )));
            steps.push(Step::Unit(UnitSpec::running(
                "docker.service",
                vec![l.docker_dropin.clone()],
            )));
        } else {
            steps.push(dir(CNI_CONF_DIR));
            steps.push(Step::File(FileSpec::new(
                CNI_CONFLIST,
                render_conflist(),
                0o644,
            )));
        }
        hosts.push(HostSteps {
            host: h.name.clone(),
            steps,
        });
    }
    Ok(Plan::single("flannel: node", hosts))
}
