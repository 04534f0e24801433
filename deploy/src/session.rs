//! One run's state: the inventory, SSH connections opened once and reused by every phase,
//! one tokio runtime for the online calls, the certificate set and the observer.

use crate::observer::{Event, Observer};
use crate::{Error, etcd_access, lock};
use etcd_cluster::online::{Target, Timeouts};
use executor::{ApplyOptions, Report, SshOptions, Transports};
use inventory::Inventory;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How a session reaches hosts and etcd.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// SSH timeouts.
    pub ssh: SshOptions,
    /// How plans are applied: parallelism and how the executor shows progress (its
    /// `dry_run` is set per phase).
    pub apply: ApplyOptions,
    /// How etcd is reached.
    pub etcd: EtcdAccess,
}

/// How etcd is reached: the inventory's members and the client certificate in pki_dir,
/// unless given otherwise.
#[derive(Debug, Clone, Default)]
pub struct EtcdAccess {
    /// Client URLs instead of the inventory's members (empty: the inventory's).
    pub endpoints: Vec<String>,
    /// The etcd CA instead of `<pki_dir>/etcd/ca.pem`.
    pub cacert: Option<PathBuf>,
    /// The client certificate instead of `<pki_dir>/etcd/client.pem`.
    pub cert: Option<PathBuf>,
    /// The client key instead of `<pki_dir>/etcd/client-key.pem`.
    pub key: Option<PathBuf>,
    /// Connect and request timeouts.
    pub timeouts: Timeouts,
}

/// One run of kubin against one inventory.
pub struct Session {
    /// The validated inventory.
    pub inventory: Inventory,
    /// The inventory file, for messages that tell the operator what to edit.
    pub inventory_path: PathBuf,
    /// How hosts and etcd are reached.
    pub settings: Settings,
    transports: Transports,
    runtime: Option<tokio::runtime::Runtime>,
    observer: Box<dyn Observer>,
    /// This run as a lock holder, and the hosts whose lock it holds.
    lock: Option<(lock::Holder, Vec<String>)>,
    /// Whether a host that cannot be reached or fails a step is left out and the run goes
    /// on with the others ([`Session::keep_going`]).
    keep_going: bool,
    /// The hosts left out of the rest of this run, with why.
    left_out: BTreeMap<String, String>,
}

impl Session {
    /// Loads and validates the inventory at `path`; its warnings go to the observer.
    pub fn open(
        path: &Path,
        settings: Settings,
        observer: Box<dyn Observer>,
    ) -> Result<Self, Error> {
        let (inventory, warnings) = Inventory::load(path).map_err(|source| Error::Inventory {
            path: path.to_path_buf(),
            source,
        })?;
        let session = Self::with_inventory(inventory, path, settings, observer);
        // The observer says "warning" itself: the problem's own Display would say it twice.
        for w in warnings {
            session.warn(format!("{}: {}", w.path, w.message));
        }
        Ok(session)
    }

    /// A session over an inventory already loaded.
    pub fn with_inventory(
        inventory: Inventory,
        path: &Path,
        settings: Settings,
        observer: Box<dyn Observer>,
    ) -> Self {
        Self {
            inventory,
            inventory_path: path.to_path_buf(),
            settings,
            transports: Transports::new(),
            runtime: None,
            observer,
            lock: None,
            keep_going: false,
            left_out: BTreeMap::new(),
        }
    }

    /// From now on, a host that cannot be reached or fails a step is left out of the rest
    /// of the run and the run goes on with the others (`kubin deploy`), instead of the
    /// call failing; a call fails only when every host it needs is out.
    pub fn keep_going(&mut self) {
        self.keep_going = true;
    }

    /// The hosts left out of the rest of this run, with why.
    pub fn left_out(&self) -> &BTreeMap<String, String> {
        &self.left_out
    }

    /// Whether `host` is still in this run.
    pub fn is_in(&self, host: &str) -> bool {
        !self.left_out.contains_key(host)
    }

    /// Leaves `host` out of the rest of this run: its connection is dropped and every later
    /// connection to it fails at once with `why`. The first reason is kept.
    pub fn leave_out(&mut self, host: &str, why: String) {
        if self.left_out.contains_key(host) {
            return;
        }
        // Connection errors name their host already; the record is keyed by it.
        let why = why
            .strip_prefix(&format!("{host}: "))
            .map_or(why.clone(), str::to_string);
        self.transports.remove(host);
        self.warn(format!("{host}: left out of the rest of this run: {why}"));
        self.left_out.insert(host.to_string(), why);
    }

    /// Hosts that could not be reached, each with why: left out when the run keeps going,
    /// otherwise an error naming them.
    pub fn lost(&mut self, unreachable: Vec<(String, String)>) -> Result<(), Error> {
        if unreachable.is_empty() {
            return Ok(());
        }
        if !self.keep_going {
            return Err(Error::Unreachable { unreachable });
        }
        for (host, why) in unreachable {
            self.leave_out(&host, why);
        }
        Ok(())
    }

    /// Takes the lock ([`lock::LOCK_PATH`]) on every reachable host of the inventory for
    /// `command` (`kubin deploy`): fails at once naming the holder when another run holds
    /// one (releasing those taken), takes over stale ones with a warning. Held until
    /// [`Session::unlock`] or the session's end, on success and error alike. Unreachable
    /// hosts are left out when the run keeps going, otherwise left to the phases, which
    /// report them.
    pub fn lock(&mut self, command: &str) -> Result<(), Error> {
        let now = unix_now();
        let hosts: Vec<String> = self
            .inventory
            .hosts
            .iter()
            .map(|h| h.name.clone())
            .collect();
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let unreachable = self.connect_some(&refs);
        if self.keep_going {
            self.lost(unreachable)?;
        }
        let (holder, mut held) = self
            .lock
            .take()
            .unwrap_or_else(|| (lock::this_run(command, now), Vec::new()));
        for host in &hosts {
            if held.contains(host) {
                continue;
            }
            let Some(t) = self.transports.get_mut(host) else {
                continue;
            };
            match lock::acquire(t.as_mut(), &holder, now) {
                Ok(lock::Acquired::Taken) => held.push(host.clone()),
                Ok(lock::Acquired::TookOver(why)) => {
                    self.warn(format!("{host}: took over a stale lock: {why}"));
                    held.push(host.clone());
                }
                Err(e) => {
                    self.lock = Some((holder, held));
                    self.unlock();
                    return Err(e);
                }
            }
        }
        self.lock = Some((holder, held));
        Ok(())
    }

    /// Releases the locks this run holds (a failure to release is a warning: the lock is
    /// then stale once this process is gone).
    pub fn unlock(&mut self) {
        let Some((holder, held)) = self.lock.take() else {
            return;
        };
        for host in held {
            if let Some(t) = self.transports.get_mut(&host)
                && let Err(e) = lock::release(t.as_mut(), &holder)
            {
                self.warn(executor::display_chain(&e));
            }
        }
    }

    /// Passes `event` to the observer.
    pub fn event(&self, event: &Event<'_>) {
        self.observer.event(event);
    }

    /// Tells the observer what happens.
    pub fn note(&self, message: impl Into<String>) {
        self.observer.event(&Event::Note {
            message: message.into(),
        });
    }

    /// Tells the observer about something off that does not stop the phase.
    pub fn warn(&self, message: impl Into<String>) {
        self.observer.event(&Event::Warning {
            message: message.into(),
        });
    }

    /// The runtime for the online calls, started on first use and kept for the run.
    pub fn runtime(&mut self) -> Result<&tokio::runtime::Runtime, Error> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(4)
                .enable_all()
                .build()
                .map_err(Error::Runtime)?;
            self.runtime = Some(rt);
        }
        Ok(self.runtime.as_ref().expect("set above"))
    }

    /// Runs one online call to completion on the session's runtime.
    pub fn block_on<F: std::future::Future>(&mut self, f: F) -> Result<F::Output, Error> {
        Ok(self.runtime()?.block_on(f))
    }

    /// The etcd cluster as the settings say: endpoints, client certificate, timeouts.
    pub fn etcd_target(&self) -> Result<Target, Error> {
        etcd_access::target(&self.inventory, &self.settings.etcd)
    }

    /// Connects to the `hosts` not connected yet (connections are reused by every later
    /// phase of the run); returns those that could not be reached, with why. A host left
    /// out is not tried again: it fails with the reason it was left out for.
    pub fn connect_some(&mut self, hosts: &[&str]) -> Vec<(String, String)> {
        let out: Vec<(String, String)> = hosts
            .iter()
            .filter_map(|h| Some((h.to_string(), self.left_out.get(*h)?.clone())))
            .collect();
        let missing: Vec<&str> = hosts
            .iter()
            .copied()
            .filter(|h| self.is_in(h) && !self.transports.contains_key(*h))
            .collect();
        if missing.is_empty() {
            return out;
        }
        let (new, failed) =
            executor::connect_all_with(&self.inventory, &missing, &self.settings.ssh);
        // A host key accept-new trusted (recorded, or in a dry run trusted for this run
        // only) is the operator's to know about.
        for t in new.values() {
            if let Some(key) = t.new_host_key() {
                self.note(key.to_string());
            }
        }
        self.transports.extend(new);
        out.into_iter()
            .chain(
                failed
                    .into_iter()
                    .map(|(h, e)| (h, executor::display_chain(&e))),
            )
            .collect()
    }

    /// [`Session::connect_some`]; the unreachable hosts are [`Session::lost`].
    pub fn connect(&mut self, hosts: &[&str]) -> Result<(), Error> {
        let unreachable = self.connect_some(hosts);
        self.lost(unreachable)
    }

    /// The open connections, for phases that read hosts (facts) before planning.
    pub fn transports(&mut self) -> &mut Transports {
        &mut self.transports
    }

    /// Applies `plan` to its hosts (connecting first), shows the report through the
    /// observer, and returns it; fails naming the hosts when a step failed. When the run
    /// keeps going, the hosts left out are skipped and those that fail are left out; it
    /// fails only when no host of the plan is left ([`Session::settle`]).
    pub fn apply(&mut self, mut plan: plan::Plan, dry_run: bool) -> Result<Report, Error> {
        let hosts = plan_hosts(&plan);
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        self.connect(&refs)?;
        for p in &mut plan.phases {
            p.hosts.retain(|h| !self.left_out.contains_key(&h.host));
        }
        let report = if plan_hosts(&plan).is_empty() {
            Report::default()
        } else {
            let r = self.apply_connected(&plan, dry_run);
            self.show(&r);
            r
        };
        self.settle(&hosts, &report, &plan_names(&plan))?;
        Ok(report)
    }

    /// Judges the `report` of applying `what` to `hosts`: when the run keeps going, the
    /// hosts that failed are left out, and it fails only when none of `hosts` is left
    /// (naming each, failed now or left out before); otherwise it fails naming each host
    /// that failed, its step and cause.
    pub fn settle(&mut self, hosts: &[String], report: &Report, what: &str) -> Result<(), Error> {
        let failed = |h: &str| report.hosts.get(h).is_some_and(|r| r.failure.is_some());
        let everyone_out = !hosts.is_empty() && hosts.iter().all(|h| !self.is_in(h) || failed(h));
        if self.keep_going {
            for f in report.failures() {
                self.leave_out(&f.host, failure_cause(f));
            }
            if !everyone_out {
                return Ok(());
            }
        } else if report.is_success() && !everyone_out {
            return Ok(());
        }
        let mut named: Vec<String> = report
            .failures()
            .iter()
            .map(|f| format!("{} ({})", f.host, failure_cause(f)))
            .collect();
        for h in hosts.iter().filter(|h| !failed(h)) {
            if let Some(why) = self.left_out.get(h) {
                named.push(format!("{h} (left out: {why})"));
            }
        }
        Err(Error::Apply {
            phase: what.to_string(),
            hosts: named,
        })
    }

    /// Applies `plan` over the connections already open (hosts without one fail in the
    /// report); never fails itself, and leaves showing the report to the caller.
    pub fn apply_connected(&mut self, plan: &plan::Plan, dry_run: bool) -> Report {
        let opts = ApplyOptions {
            dry_run,
            ..self.settings.apply
        };
        executor::apply(plan, &mut self.transports, &opts)
    }

    /// Shows an executor's report through the observer.
    pub fn show(&self, report: &Report) {
        self.observer.event(&Event::Applied { report });
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.unlock();
    }
}

/// Seconds since the Unix epoch on the control machine.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A failed step's cause: the step, its target when it is not the step's own name, the
/// message.
fn failure_cause(f: &executor::Failure) -> String {
    if f.step == f.target {
        format!("{}: {}", f.step, f.message)
    } else {
        format!("{}: {}: {}", f.step, f.target, f.message)
    }
}

/// The plan's phase names, for messages.
fn plan_names(plan: &plan::Plan) -> String {
    plan.phases
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The hosts a plan touches, in first-seen order.
fn plan_hosts(plan: &plan::Plan) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for h in plan.phases.iter().flat_map(|p| &p.hosts) {
        if !hosts.contains(&h.host) {
            hosts.push(h.host.clone());
        }
    }
    hosts
}
