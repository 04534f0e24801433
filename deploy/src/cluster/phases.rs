//! Each phase of `kubin deploy` as a call of its existing phase function, returning the
//! changes it made and a line per thing worth saying.

use super::DeployOptions;
use crate::flannel::SetOutcome;
use crate::phase::Phase;
use crate::verify::{self, Verification};
use crate::{Error, Session};
use hostprep::preflight::{Finding, Severity};
use inventory::{Inventory, Role};
use std::collections::{BTreeMap, BTreeSet};

/// Runs `phase`; the verification's result goes to `verification`.
pub(super) fn run(
    s: &mut Session,
    phase: Phase,
    opts: &DeployOptions,
    verification: &mut Option<Verification>,
) -> Result<(usize, Vec<String>), Error> {
    let dry_run = opts.dry_run;
    match phase {
        Phase::Preflight => preflight(s),
        Phase::Prepare => {
            let report = crate::hosts::prepare(s, &[], dry_run)?;
            let hosts: Vec<String> = s.inventory.hosts.iter().map(|h| h.name.clone()).collect();
            s.settle(&hosts, &report, "prepare")?;
            Ok((report.total_changes(), Vec::new()))
        }
        Phase::Pki => {
            let pki = crate::pki::cluster(&s.inventory, dry_run)?;
            let summary: Vec<String> = pki
                .files
                .iter()
                .filter(|f| f.status != "reused")
                .map(|f| {
                    let verb = if dry_run { "would be " } else { "" };
                    format!("{}: {verb}{}", f.name, f.status)
                })
                .collect();
            Ok((summary.len(), summary))
        }
        Phase::Etcd => {
            let opts = crate::etcd::DeployOptions {
                dry_run,
                wait: opts.etcd_wait,
            };
            let r = crate::etcd::deploy(s, opts)?;
            let Some(rollout) = r.rollout else {
                return Ok((
                    0,
                    vec!["hosts not compared: the certificates are not made yet".into()],
                ));
            };
            let summary = rollout
                .restarted
                .iter()
                .map(|h| format!("restarted etcd on {h}"))
                .collect();
            Ok((rollout.changes, summary))
        }
        Phase::Flannel => flannel(s, dry_run),
        Phase::ControlPlane => {
            let opts = crate::master::DeployOptions {
                dry_run,
                wait: opts.apiserver_wait,
            };
            let r = crate::master::deploy(s, opts)?;
            let mut changes = r.rollout.as_ref().map_or(0, |r| r.changes);
            let mut summary = Vec::new();
            if let Some(t) = r.token
                && t != crate::kubernetes::TokenStatus::Kept
            {
                changes += 1;
                summary.push(format!("bootstrap token: {}", t.as_str()));
            }
            for o in r.rbac.iter().filter(|o| o.outcome != "unchanged") {
                changes += 1;
                summary.push(format!("rbac: {} {} {}", o.kind, o.name, o.outcome));
            }
            Ok((changes, summary))
        }
        Phase::Nodes => {
            let opts = crate::nodes::DeployOptions {
                dry_run,
                timeout: opts.nodes_timeout,
            };
            let r = crate::nodes::deploy(s, opts)?;
            Ok((r.changes + r.approvals.len(), r.approvals))
        }
        Phase::Verify => {
            if dry_run {
                return Ok((0, vec!["not run in a dry run".into()]));
            }
            let v = verify::verify(s)?;
            let summary = v.problems.clone();
            *verification = Some(v);
            Ok((0, summary))
        }
    }
}

/// Preflight, judged for a deploy: a host with an error is left out of the run, except
/// for a port held by the component kubin deployed there before (a re-run); an error of
/// the bundle's, or on every host, fails it.
fn preflight(s: &mut Session) -> Result<(usize, Vec<String>), Error> {
    let findings = crate::hosts::preflight(s, &[])?;
    let deployed = hosts_with_kubin_units(s);
    let (blocking, notes) = judge_preflight(findings, &deployed);
    for n in &notes {
        s.warn(format!("{}: {}: {}", n.host, n.check, n.message));
    }
    // A host that fails a check is left out of the run (the others go on without it);
    // a problem of the bundle's stops every phase that depends on preflight.
    let mut by_host: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut general = Vec::new();
    for f in &blocking {
        if s.inventory.host(&f.host).is_some() {
            by_host
                .entry(f.host.clone())
                .or_default()
                .push(format!("{}: {}", f.check, f.message));
        } else {
            general.push(format!("{} ({}: {})", f.host, f.check, f.message));
        }
    }
    let failed: Vec<(String, String)> = by_host
        .into_iter()
        .map(|(h, why)| (h, format!("preflight: {}", why.join("; "))))
        .collect();
    if general.is_empty() && failed.len() < s.inventory.hosts.len() {
        for (host, why) in failed {
            s.leave_out(&host, why);
        }
        return Ok((0, Vec::new()));
    }
    Err(preflight_failed(&failed, general))
}

/// Preflight's error: each host with its findings, then the others (the bundle's).
fn preflight_failed(hosts: &[(String, String)], general: Vec<String>) -> Error {
    Error::Apply {
        phase: "preflight".into(),
        hosts: hosts
            .iter()
            .map(|(h, why)| format!("{h} ({why})"))
            .chain(general)
            .collect(),
    }
}

/// Splits preflight's findings into those that stop a deploy and those only shown. A port
/// in use on a host that already has kubin's units is the cluster's own component (a
/// re-run), not a stranger: neither, as a re-run of a converged cluster has nothing to
/// say. Pure.
pub fn judge_preflight(
    findings: Vec<Finding>,
    deployed: &BTreeSet<String>,
) -> (Vec<Finding>, Vec<Finding>) {
    let mut blocking = Vec::new();
    let mut notes = Vec::new();
    for f in findings {
        if f.check == "port" && deployed.contains(&f.host) {
            continue;
        }
        match f.severity {
            Severity::Error => blocking.push(f),
            Severity::Warning => notes.push(f),
        }
    }
    (blocking, notes)
}

/// The units kubin places on `host` for its roles (etcd, the control plane, the node
/// components and runtime).
pub fn kubin_units(inv: &Inventory, host: &str) -> Vec<&'static str> {
    let Some(h) = inv.host(host) else {
        return Vec::new();
    };
    let mut units = Vec::new();
    if h.roles.contains(&Role::Etcd) {
        units.push("etcd.service");
    }
    if h.roles.contains(&Role::Master) {
        units.extend([
            "kube-apiserver.service",
            "kube-controller-manager.service",
            "kube-scheduler.service",
        ]);
    }
    if h.roles.contains(&Role::Node) {
        units.extend([
            "kubelet.service",
            "kube-proxy.service",
            node_runtime::layout::CONTAINERD_UNIT,
            node_runtime::layout::ROUTES_UNIT,
        ]);
    }
    units
}

/// The connected hosts where a unit file of kubin's exists already.
fn hosts_with_kubin_units(s: &mut Session) -> BTreeSet<String> {
    let inv = s.inventory.clone();
    let dir = inv.paths.systemd_units.clone();
    let mut out = BTreeSet::new();
    for h in &inv.hosts {
        let tests: Vec<String> = kubin_units(&inv, &h.name)
            .iter()
            .map(|u| format!("-e {}", plan::shell::quote_path(&dir.join(u))))
            .collect();
        if tests.is_empty() {
            continue;
        }
        let command = format!("[ {} ] && echo kubin", tests.join(" -o "));
        if let Some(t) = s.transports().get_mut(&h.name)
            && t.run(&command)
                .is_ok_and(|o| o.stdout_text().contains("kubin"))
        {
            out.insert(h.name.clone());
        }
    }
    out
}

/// flannel's config: written where its release reads it; in a dry run, compared.
fn flannel(s: &mut Session, dry_run: bool) -> Result<(usize, Vec<String>), Error> {
    if !dry_run {
        return Ok(match crate::flannel::set(s, false)? {
            SetOutcome::Created { location, .. } => (1, vec![format!("{location}: created")]),
            SetOutcome::Unchanged { .. } => (0, Vec::new()),
            SetOutcome::Replaced { location, .. } => (1, vec![format!("{location}: replaced")]),
        });
    }
    let wanted = flannel_net::NetConf::from_inventory(&s.inventory)
        .redacted()
        .to_json_pretty();
    Ok(match crate::flannel::get(s) {
        Ok(Some(stored)) if stored.shown == wanted => (0, Vec::new()),
        Ok(Some(stored)) => (
            1,
            vec![format!(
                "{}: holds another config; a deploy refuses to replace it (`kubin flannel set --replace`)",
                stored.location
            )],
        ),
        Ok(None) => (1, vec!["flannel's config would be written".into()]),
        Err(e) => (
            1,
            vec![format!(
                "flannel's config would be written (etcd does not answer yet: {})",
                executor::display_chain(&e)
            )],
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(host: &str, severity: Severity, check: &str) -> Finding {
        Finding {
            host: host.into(),
            severity,
            check: check.into(),
            message: "port 2379 (etcd client) is already in use".into(),
        }
    }

    #[test]
    fn a_port_held_by_kubins_own_component_does_not_stop_a_rerun() {
        let findings = vec![
            finding("a", Severity::Error, "port"),
            finding("b", Severity::Error, "port"),
            finding("a", Severity::Error, "memory"),
            finding("b", Severity::Warning, "clock"),
        ];
        let deployed = BTreeSet::from(["a".to_string()]);
        let (blocking, notes) = judge_preflight(findings, &deployed);
        let b: Vec<(&str, &str)> = blocking
            .iter()
            .map(|f| (f.host.as_str(), f.check.as_str()))
            .collect();
        assert_eq!(b, [("b", "port"), ("a", "memory")]);
        let n: Vec<(&str, &str)> = notes
            .iter()
            .map(|f| (f.host.as_str(), f.check.as_str()))
            .collect();
        assert_eq!(n, [("b", "clock")]);
    }

    #[test]
    fn units_follow_the_roles() {
        let inv = inventory::Inventory::from_yaml(inventory::example::GUIDES_EXAMPLE, "c.yaml")
            .unwrap()
            .0;
        let master = &inv.masters()[0].name;
        assert_eq!(
            kubin_units(&inv, master)[..2],
            ["etcd.service", "kube-apiserver.service"]
        );
        assert!(kubin_units(&inv, "nope").is_empty());
    }
}
