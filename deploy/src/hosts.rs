//! The host phases: preflight (judge the hosts, change nothing) and prepare (the guides'
//! chapter 1, idempotently).

use crate::{Error, Session};
use executor::Report;
use hostprep::preflight::{
    Finding, Severity, check_bundle, check_hosts, check_pod_network, inspect_bundle_with,
    inspect_pod_network,
};
use inventory::Inventory;
use std::collections::BTreeMap;

/// The hosts `names` selects, each checked against the inventory; empty selects every host.
pub fn select_hosts(inv: &Inventory, names: &[String]) -> Result<Vec<String>, Error> {
    let unknown: Vec<String> = names
        .iter()
        .filter(|n| inv.host(n).is_none())
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::UnknownHosts { names: unknown });
    }
    Ok(if names.is_empty() {
        inv.hosts.iter().map(|h| h.name.clone()).collect()
    } else {
        names.to_vec()
    })
}

/// `kubin preflight`: every problem with the selected hosts (an unreachable host is one)
/// and with the bundle.
pub fn preflight(s: &mut Session, names: &[String]) -> Result<Vec<Finding>, Error> {
    let selected = select_hosts(&s.inventory, names)?;
    let refs: Vec<&str> = selected.iter().map(String::as_str).collect();
    let inventory = s.inventory.clone();
    // The bundle is read and hashed here (hundreds of megabytes) while the hosts answer
    // over SSH: neither waits for the other.
    let (unreachable, (facts, failed), bundle) = std::thread::scope(|scope| {
        let bundle = scope.spawn(|| {
            inventory.bundle.as_ref().map(|dir| {
                let mut found =
                    check_bundle(&inspect_bundle_with(dir, &crate::bundle::sha256_file));
                found.extend(check_pod_network(&inspect_pod_network(dir, &inventory)));
                found
            })
        });
        let unreachable = s.connect_some(&refs);
        let gathered = hostprep::gather_all(s.transports());
        (unreachable, gathered, bundle.join())
    });
    let why: BTreeMap<String, String> = unreachable
        .into_iter()
        .chain(
            failed
                .into_iter()
                .map(|(h, e)| (h, executor::display_chain(&e))),
        )
        .collect();
    let mut checked = s.inventory.clone();
    checked.hosts.retain(|h| selected.contains(&h.name));
    let mut findings = check_hosts(&checked, &facts, &why);
    match bundle {
        Ok(Some(found)) => findings.extend(found),
        Ok(None) => findings.push(Finding {
            host: "bundle".into(),
            severity: Severity::Warning,
            check: "bundle".into(),
            message: "the inventory names no bundle; binaries cannot be checked".into(),
        }),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    Ok(findings)
}

/// `kubin prepare`: connect, gather facts, plan, apply (or compare, in a dry run); an
/// unreachable host is a failure in the report, the others are still prepared.
pub fn prepare(s: &mut Session, names: &[String], dry_run: bool) -> Result<Report, Error> {
    let selected = select_hosts(&s.inventory, names)?;
    let refs: Vec<&str> = selected.iter().map(String::as_str).collect();
    let unreachable = s.connect_some(&refs);
    let (facts, failed) = hostprep::gather_all(s.transports());
    let plan = hostprep::plan_hostprep(&s.inventory, &facts);
    let mut report = s.apply_connected(&plan, dry_run);
    for (host, e) in unreachable.into_iter().chain(
        failed
            .into_iter()
            .map(|(h, e)| (h, executor::display_chain(&e))),
    ) {
        report.record_unreachable(&host, &e);
    }
    s.show(&report);
    Ok(report)
}
