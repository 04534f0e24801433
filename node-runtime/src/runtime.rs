//! The container runtime on one node: containerd, runc and the CNI plugins from the bundle
//! where upstream puts them, containerd's config and unit, and the images imported.

use crate::Error;
use crate::adjust::{Adjustment, KubeProxySetting, ProxyMode, Target};
use crate::bundle::{ImageArchive, RuntimeBundle};
use crate::containerd::{containerd_config, render_config, render_unit, version_adjustments};
use crate::facts::RuntimeFacts;
use crate::layout::{
    CNI_BIN_DIR, CONTAINERD_BIN_DIR, CONTAINERD_CONF_DIR, CONTAINERD_CONFIG, CONTAINERD_UNIT,
    IMAGES_DIR, K8S_NAMESPACE, RUNC,
};
use inventory::{Inventory, Role};
use plan::{CommandSpec, DirSpec, FileSpec, Step, UnitSpec};
use std::path::{Path, PathBuf};

/// One host's steps, and the adjustments its facts caused (to print with the plan).
#[derive(Debug, Clone, PartialEq)]
pub struct HostPlan {
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Every decision taken because of the host's facts or the versions, with its reason.
    pub adjustments: Vec<Adjustment>,
}

fn dir(path: impl Into<PathBuf>) -> Step {
    Step::Directory(DirSpec {
        path: path.into(),
        mode: 0o755,
    })
}

fn exe(path: impl Into<PathBuf>, content: &plan::Content) -> Step {
    Step::File(FileSpec::new(path, content.clone(), 0o755))
}

/// kube-proxy settings a host's facts call for.
pub fn kube_proxy_adjustments(facts: &RuntimeFacts) -> Vec<Adjustment> {
    let mut out = Vec::new();
    if let Some(c) = &facts.container {
        out.push(Adjustment::new(
            Target::KubeProxy(KubeProxySetting::ConntrackMaxPerCore(0)),
            "conntrack.maxPerCore: 0",
            format!("the host runs in a {c} container, where nf_conntrack_max is read-only"),
        ));
    }
    if !facts.ipvs {
        out.push(Adjustment::new(
            Target::KubeProxy(KubeProxySetting::Mode(ProxyMode::Iptables)),
            "mode: iptables",
            "the kernel has no IPVS: no /proc/net/ip_vs, no ip_vs module",
        ));
    }
    out
}

/// `ctr` as installed from the bundle.
fn ctr() -> String {
    format!("{CONTAINERD_BIN_DIR}/ctr -n {K8S_NAMESPACE}")
}

/// Imports `image` from `file` for `snapshotter`, unless containerd's `k8s.io` namespace
/// has an image of that name with that digest. After the import the check must hold, so
/// an archive whose digest is not the bundle's fails instead of importing on every apply.
pub fn import_command(image: &ImageArchive, file: &Path, snapshotter: &str) -> CommandSpec {
    // Names and digests are checked by `RuntimeBundle::check`: no quotes, no spaces.
    let check = format!(
        "{ctr} images ls -q 'name=={name},target.digest=={digest}' | grep -qxF '{name}'",
        ctr = ctr(),
        name = image.name,
        digest = image.digest
    );
    CommandSpec::new(
        &format!("import image {} ({})", image.name, image.digest),
        &format!(
            "{ctr} images import --snapshotter={snapshotter} {file} && {{ {check} || {{ echo '{file} holds no {name} with digest {digest}' >&2; exit 1; }}; }}",
            ctr = ctr(),
            file = file.display(),
            name = image.name,
            digest = image.digest,
        ),
        Some(&check),
    )
}

/// The runtime's steps on node `host`: directories; containerd's binaries to
/// `/usr/local/bin`, runc to `/usr/local/sbin/runc`, the CNI plugins to `/opt/cni/bin`;
/// `config.toml` for the host's facts; the unit, restarted only when containerd's binary,
/// config or unit changed; then each image archive under `/opt/kubernetes/images/`,
/// imported unless already there.
pub fn plan_runtime(
    inv: &Inventory,
    host: &str,
    facts: &RuntimeFacts,
    bundle: &RuntimeBundle,
) -> Result<HostPlan, Error> {
    if !inv.host(host).is_some_and(|h| h.has(Role::Node)) {
        return Err(Error::NotAHost {
            host: host.to_string(),
            wanted: "node",
        });
    }
    bundle.check()?;
    let mut adjustments = version_adjustments(bundle.containerd_version, inv.kubernetes.version)?;
    let (config, containerd_adjustments) = containerd_config(facts, &bundle.pause.name);
    let config_text = render_config(host, &config, &containerd_adjustments)?;
    adjustments.splice(0..0, containerd_adjustments);
    adjustments.extend(kube_proxy_adjustments(facts));

    let bin = Path::new(CONTAINERD_BIN_DIR);
    let runc = Path::new(RUNC);
    let unit_file = inv.paths.systemd_units.join(crate::layout::CONTAINERD_UNIT);
    let mut steps = vec![
        dir(bin),
        dir(runc.parent().unwrap_or(Path::new("/usr/local/sbin"))),
        dir(CNI_BIN_DIR),
        dir(CONTAINERD_CONF_DIR),
        dir(IMAGES_DIR),
        dir(&inv.paths.systemd_units),
    ];
    for (name, blob) in &bundle.containerd_bin {
        steps.push(exe(bin.join(name), &blob.0));
    }
    steps.push(exe(runc, &bundle.runc.0));
    for (name, blob) in &bundle.cni_plugins {
        steps.push(exe(Path::new(CNI_BIN_DIR).join(name), &blob.0));
    }
    steps.push(Step::File(FileSpec::new(
        CONTAINERD_CONFIG,
        config_text,
        0o644,
    )));
    steps.push(Step::File(FileSpec::new(&unit_file, render_unit(), 0o644)));
    // Shims, ctr and runc are run afresh for each use; only these need a restart, and a
    // restart keeps pods running (KillMode=process).
    steps.push(Step::Unit(UnitSpec::running(
        CONTAINERD_UNIT,
        vec![
            bin.join("containerd"),
            PathBuf::from(CONTAINERD_CONFIG),
            unit_file,
        ],
    )));
    let snapshotter = &config.plugins.cri.containerd.snapshotter;
    for image in bundle.all_images() {
        let file = Path::new(IMAGES_DIR).join(&image.file);
        steps.push(Step::File(FileSpec::new(
            &file,
            image.archive.0.clone(),
            0o644,
        )));
        steps.push(Step::Command(import_command(image, &file, snapshotter)));
    }
    Ok(HostPlan { steps, adjustments })
}

#[cfg(test)]
mod tests;
