//! The flannel phases: its network config in etcd (in the API its release reads), the
//! nodes' leases, and the node side rendered without touching a host.

use crate::{Error, Session, etcd_access};
use flannel_net::leases::{self, Lease};
use flannel_net::online::{Access, WriteOutcome};
use flannel_net::{NetConf, NodeInputs, check, plan_node};
use inventory::Inventory;
use serde::Serialize;

/// flannel's config key, how it is reached, for whom.
fn access(s: &Session) -> Result<Access, Error> {
    let tls = etcd_access::client_tls(&s.inventory, &s.settings.etcd)?;
    let mut a = Access::from_inventory(&s.inventory, tls, s.settings.etcd.timeouts);
    if !s.settings.etcd.endpoints.is_empty() {
        a.target.endpoints = s.settings.etcd.endpoints.clone();
    }
    Ok(a)
}

/// Where the config lives, as the operator should read it.
fn location(a: &Access) -> String {
    format!(
        "{} (etcd {} API, as flannel {} reads it)",
        a.config_key(),
        a.api_name(),
        a.flannel
    )
}

/// What `flannel get` found.
#[derive(Debug, Clone, Serialize)]
pub struct StoredConfig {
    /// The key and API.
    pub location: String,
    /// The config as flannel reads it (secrets redacted), or the raw value when it does
    /// not parse.
    pub shown: String,
    /// Why flannel would refuse it, if it would.
    pub problem: Option<String>,
}

/// `kubin flannel get`: the stored config (secrets redacted) and whether flannel would
/// accept it; `None` when the key is empty.
pub fn get(s: &mut Session) -> Result<Option<StoredConfig>, Error> {
    let a = access(s)?;
    let Some(stored) = a.read()? else {
        return Ok(None);
    };
    let location = location(&a);
    Ok(Some(match NetConf::parse(&stored.value, &a.config_key()) {
        Ok(c) => StoredConfig {
            location,
            shown: c.redacted().to_json_pretty(),
            problem: flannel_net::flannel_rules(&c)
                .err()
                .map(|e| executor::display_chain(&e)),
        },
        Err(e) => StoredConfig {
            location,
            shown: flannel_net::decide::shown(&stored.value),
            problem: Some(executor::display_chain(&e)),
        },
    }))
}

/// What `flannel set` did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SetOutcome {
    /// The key was empty and now holds the config (shown redacted).
    Created {
        /// The key and API.
        location: String,
        /// The config written and read back.
        shown: String,
    },
    /// The key already held this config.
    Unchanged {
        /// The key and API.
        location: String,
    },
    /// Another config was replaced (`replace` was given).
    Replaced {
        /// The key and API.
        location: String,
        /// The old value (redacted).
        old_shown: String,
        /// Old → new.
        diff: String,
    },
}

/// `kubin flannel set`: writes the inventory's config where flannel reads it (a different
/// one only with `replace`), then reads it back.
pub fn set(s: &mut Session, replace: bool) -> Result<SetOutcome, Error> {
    let a = access(s)?;
    let conf = NetConf::from_inventory(&s.inventory);
    check(&conf, &s.inventory)?;
    let location = location(&a);
    Ok(match a.write(&conf, replace)? {
        WriteOutcome::Created => SetOutcome::Created {
            location,
            shown: conf.redacted().to_json_pretty(),
        },
        WriteOutcome::Unchanged => SetOutcome::Unchanged { location },
        WriteOutcome::Replaced { old_shown, diff } => SetOutcome::Replaced {
            location,
            old_shown,
            diff,
        },
    })
}

/// The nodes' leases.
#[derive(Debug, Clone, Serialize)]
pub struct Subnets {
    /// `<prefix>/subnets` and the API.
    pub location: String,
    /// Every lease, inside or outside the pod network.
    pub leases: Vec<Lease>,
}

/// `kubin flannel subnets`: the leases under `<prefix>/subnets/`.
pub fn subnets(s: &mut Session) -> Result<Subnets, Error> {
    let a = access(s)?;
    let entries = a.subnets()?;
    Ok(Subnets {
        location: format!("{} ({} API)", a.subnets_dir(), a.api_name()),
        leases: leases::leases(&entries, Some(s.inventory.network.pod_cidr)),
    })
}

/// One file of the node side, as `flannel render` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RenderedFile {
    /// The host it goes to.
    pub host: String,
    /// Its path there.
    pub path: String,
    /// Its content (secret files are never rendered here).
    pub content: String,
}

/// `kubin flannel render`: every non-secret file of the node plan, touching no host.
pub fn render(inv: &Inventory) -> Result<Vec<RenderedFile>, Error> {
    let plan = plan_node(inv, &NodeInputs::configs_only(inv))?;
    let mut out = Vec::new();
    for phase in &plan.phases {
        for host in &phase.hosts {
            for step in &host.steps {
                if let plan::Step::File(f) = step
                    && !f.secret
                {
                    out.push(RenderedFile {
                        host: host.host.clone(),
                        path: f.path.display().to_string(),
                        content: String::from_utf8_lossy(&f.content).into_owned(),
                    });
                }
            }
        }
    }
    Ok(out)
}
