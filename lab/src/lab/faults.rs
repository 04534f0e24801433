//! Faults tests inject into a running lab: stop, cut and restore a link, restart.

use super::boot::report;
use super::{Lab, guard};
use crate::error::Result;
use crate::ssh::Readiness;
use crate::{machine, names, net};
use std::time::Instant;

impl Lab {
    /// Stops `host` (SIGTERM to its nspawn, a clean shutdown; SIGKILL after a bound).
    /// Its disk (overlay) stays, so [`Lab::restart`] boots the same machine again.
    pub fn stop(&self, host: &str) -> Result<()> {
        let h = self.host(host)?;
        let child = guard(&self.children).remove(host);
        let mut st = guard(&self.state);
        let Some(m) = st.machines.iter_mut().find(|m| m.host == h.name) else {
            return Ok(());
        };
        let mut procs = Vec::new();
        if let Some(pid) = m.pid
            && (child.is_some() || machine::is_nspawn_of(pid, &m.machine))
        {
            procs.push((pid, child));
        }
        machine::stop_all(&mut procs, machine::STOP_BOUND);
        m.pid = None;
        st.save()
    }

    /// Cuts `host`'s link: its veth's outer end goes down; the machine keeps running.
    pub fn cut_link(&self, host: &str) -> Result<()> {
        net::set_link(&names::veth_name(&self.host(host)?.machine), false)
    }

    /// Restores a link cut by [`Lab::cut_link`].
    pub fn restore_link(&self, host: &str) -> Result<()> {
        net::set_link(&names::veth_name(&self.host(host)?.machine), true)
    }

    /// Restarts `host` (stopping it first if it runs) and waits until it answers SSH again.
    pub fn restart(&self, host: &str) -> Result<Readiness> {
        let h = self.host(host)?.clone();
        self.stop(host)?;
        let started = Instant::now();
        let pid = self.start(&self.spec(&h))?;
        let r = self.wait(&h, pid, started)?;
        report(&self.name, std::slice::from_ref(&h), &r);
        Ok(r)
    }

    /// Whether `host`'s machine process is running.
    pub fn is_running(&self, host: &str) -> Result<bool> {
        let h = self.host(host)?;
        let st = guard(&self.state);
        Ok(st
            .machines
            .iter()
            .find(|m| m.host == h.name)
            .and_then(|m| m.pid)
            .is_some_and(|pid| machine::is_nspawn_of(pid, &h.machine)))
    }
}
