//! The control plane phase: kube-apiserver, kube-controller-manager and kube-scheduler on
//! every master, then the bootstrap RBAC through the live apiserver.

use crate::kubernetes::{self, TokenStatus};
use crate::pki::PkiReport;
use crate::runner::{self, HealthCheck, RolloutReport, RunOptions};
use crate::{Error, Session};
use node_bootstrap::online::{self, Outcome};
use plan::{Rollout, Stage};
use serde::Serialize;
use std::time::Duration;

/// The apiserver's `/healthz`, asked as the admin on the session's runtime.
pub struct ApiserverHealth {
    handle: tokio::runtime::Handle,
    client: kube::Client,
    url: String,
}

/// One `/healthz` answer.
#[derive(Debug, Clone, Serialize)]
pub struct Healthz {
    /// The apiserver's URL.
    pub url: String,
    /// Its answer (`ok` when healthy).
    pub answer: String,
}

impl ApiserverHealth {
    /// A probe of the apiserver `client` talks to (at `url`).
    pub fn new(s: &mut Session, client: kube::Client, url: String) -> Result<Self, Error> {
        Ok(Self {
            handle: s.runtime()?.handle().clone(),
            client,
            url,
        })
    }
}

impl HealthCheck for ApiserverHealth {
    type Report = Healthz;

    fn probe(&self) -> Result<Healthz, Error> {
        let answer = self.handle.block_on(online::healthz(&self.client))?;
        Ok(Healthz {
            url: self.url.clone(),
            answer,
        })
    }

    fn healthy(report: &Healthz) -> bool {
        report.answer.trim() == "ok"
    }

    fn describe(report: &Healthz) -> (String, String) {
        (
            "unhealthy".into(),
            format!("{}/healthz: {}\n", report.url, report.answer),
        )
    }

    fn hint(&self) -> String {
        "journalctl -u kube-apiserver on the masters tells why".into()
    }
}

/// What `control-plane deploy` does.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// Show what would change and change nothing, locally or on a host.
    pub dry_run: bool,
    /// How long the wait until the apiserver answers `/healthz` may take.
    pub wait: Duration,
}

/// One RBAC object applied.
#[derive(Debug, Clone, Serialize)]
pub struct RbacObject {
    /// `ClusterRole` or `ClusterRoleBinding`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// `created`, `updated` or `unchanged`.
    pub outcome: &'static str,
}

/// What `control-plane deploy` did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// The certificate set (in a dry run: what would be issued).
    pub pki: PkiReport,
    /// The bootstrap token in `<pki_dir>/token.csv`; `None` when a dry run stopped early.
    pub token: Option<TokenStatus>,
    /// The rollout (apply, wait until `/healthz` is ok), unless a dry run stopped before
    /// the hosts.
    pub rollout: Option<RolloutReport<Healthz>>,
    /// The bootstrap RBAC (empty in a dry run).
    pub rbac: Vec<RbacObject>,
}

/// `kubin control-plane deploy`: the certificate set (as `pki cluster` issues it), the
/// bootstrap token (kept when it exists), the kubeconfigs and the bundle's binaries, planned
/// by `control_plane::plan_control_plane` and applied (restarting a component only where a
/// file it reads changed); then wait until the apiserver answers `/healthz` and apply the
/// bootstrap RBAC as the admin. A dry run writes nothing, locally or on a host.
pub fn deploy(s: &mut Session, opts: DeployOptions) -> Result<DeployReport, Error> {
    let Some(m) = kubernetes::material(s, opts.dry_run, "control plane")? else {
        return Ok(DeployReport {
            pki: crate::pki::check(&s.inventory)?,
            token: None,
            rollout: None,
            rbac: Vec::new(),
        });
    };
    let inv = s.inventory.clone();
    let material = m.control_plane(kubernetes::master_binaries(&inv)?)?;
    let plan = control_plane::plan_control_plane(&inv, &material)?;
    let rollout = Rollout {
        stages: vec![Stage::Apply(plan), Stage::WaitHealthy],
    };
    let client = m.admin_client(s)?;
    let url = inv.apiserver_url().ok_or(Error::NoApiserver)?;
    let check = ApiserverHealth::new(s, client.clone(), url)?;
    let run_opts = RunOptions {
        dry_run: opts.dry_run,
        wait: opts.wait,
    };
    let report = runner::run(s, rollout, run_opts, &check)?;
    let mut rbac = Vec::new();
    if !opts.dry_run {
        let applied = s.block_on(online::apply_rbac(
            &client,
            &node_bootstrap::rbac::bootstrap_rbac(),
        ))??;
        rbac = applied
            .into_iter()
            .map(|a| RbacObject {
                kind: a.kind,
                name: a.name,
                outcome: match a.outcome {
                    Outcome::Created => "created",
                    Outcome::Updated => "updated",
                    Outcome::Unchanged => "unchanged",
                },
            })
            .collect();
    }
    Ok(DeployReport {
        pki: m.pki,
        token: Some(m.token),
        rollout: Some(report),
        rbac,
    })
}
