//! Reading and writing flannel's config, and listing its leases, in the etcd API the
//! flannel release reads: v3 through `etcd-client`, v2 through the keys HTTP API, both
//! with the CA and a client certificate.
//!
//! Everything here blocks (v3 calls run on a small runtime of their own): do not call it
//! from async code. Every write is conditional (create only if absent, replace only if
//! unchanged since it was read) and is read back afterwards.

mod v2;
mod v3;

use crate::decide::{WriteDecision, decide};
use crate::error::Error;
use crate::netconf::NetConf;
use etcd_cluster::online::{ClientTls, Target, Timeouts};
use inventory::derived::EtcdApi;
use inventory::{Inventory, Version};

/// A stored value and the revision (v3 `mod_revision`, v2 `modifiedIndex`) it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The value.
    pub value: String,
    /// Its revision, for a compare-and-swap.
    pub revision: i64,
}

/// A raw lease entry: key, value, seconds to live (when etcd reports it).
pub type RawEntry = (String, String, Option<i64>);

/// Where flannel's config lives and how to reach it.
#[derive(Debug, Clone)]
pub struct Access {
    /// The etcd endpoints and the client's TLS material.
    pub target: Target,
    /// The API the flannel release reads.
    pub api: EtcdApi,
    /// flannel's `-etcd-prefix`, e.g. `/coreos.com/network`.
    pub prefix: String,
    /// The flannel release (named in explanations).
    pub flannel: Version,
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The key was empty and now holds the config.
    Created,
    /// The key already held this config.
    Unchanged,
    /// The key held another config, now replaced.
    Replaced {
        /// The old value (secrets redacted).
        old_shown: String,
        /// A unified diff old → new (secrets redacted).
        diff: String,
    },
}

impl Access {
    /// The inventory's etcd endpoints, the API its flannel release reads and its prefix.
    pub fn from_inventory(inv: &Inventory, tls: ClientTls, timeouts: Timeouts) -> Self {
        Self {
            target: Target {
                endpoints: inv.etcd_endpoints(),
                tls,
                timeouts,
            },
            api: inv.flannel_etcd_api(),
            prefix: inv.network.flannel.etcd_prefix.clone(),
            flannel: inv.network.flannel.version,
        }
    }

    /// `<prefix>/config`.
    pub fn config_key(&self) -> String {
        format!("{}/config", self.prefix)
    }

    /// `<prefix>/subnets/`.
    pub fn subnets_dir(&self) -> String {
        format!("{}/subnets/", self.prefix)
    }

    /// The API's name, for messages.
    pub fn api_name(&self) -> &'static str {
        match self.api {
            EtcdApi::V2 => "v2",
            EtcdApi::V3 => "v3",
        }
    }

    /// The config's current value, if the key exists.
    pub fn read(&self) -> Result<Option<Stored>, Error> {
        let key = self.config_key();
        match self.api {
            EtcdApi::V2 => v2::Client::new(self)?.get(&key),
            EtcdApi::V3 => v3::get(&self.target, &key),
        }
    }

    /// Writes `conf` unless the key holds a different config and `replace` is false
    /// ([`Error::Differs`], with the old value and a diff), then reads it back.
    pub fn write(&self, conf: &NetConf, replace: bool) -> Result<WriteOutcome, Error> {
        let key = self.config_key();
        let value = conf.to_json();
        let existing = self.read()?;
        let decision = decide(existing.as_ref().map(|s| s.value.as_str()), conf, replace);
        let outcome = match decision {
            WriteDecision::Unchanged => return Ok(WriteOutcome::Unchanged),
            WriteDecision::Refuse { old_shown, diff } => {
                return Err(Error::Differs {
                    key,
                    old: old_shown,
                    diff,
                });
            }
            WriteDecision::Create => {
                self.put(&key, &value, None)?;
                WriteOutcome::Created
            }
            WriteDecision::Replace {
                old_shown, diff, ..
            } => {
                let revision = existing.map(|s| s.revision);
                self.put(&key, &value, revision)?;
                WriteOutcome::Replaced { old_shown, diff }
            }
        };
        let back = self.read()?;
        match back {
            Some(s) if NetConf::parse(&s.value, &key).is_ok_and(|c| &c == conf) => Ok(outcome),
            other => Err(Error::ReadBack {
                key,
                found: other.map(|s| crate::decide::shown(&s.value)),
            }),
        }
    }

    fn put(&self, key: &str, value: &str, revision: Option<i64>) -> Result<(), Error> {
        match self.api {
            EtcdApi::V2 => v2::Client::new(self)?.put(key, value, revision),
            EtcdApi::V3 => v3::put(&self.target, key, value, revision),
        }
    }

    /// The raw entries under `<prefix>/subnets/`.
    pub fn subnets(&self) -> Result<Vec<RawEntry>, Error> {
        let dir = self.subnets_dir();
        match self.api {
            EtcdApi::V2 => v2::Client::new(self)?.list(dir.trim_end_matches('/')),
            EtcdApi::V3 => v3::list(&self.target, &dir),
        }
    }
}
