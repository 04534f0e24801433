//! Progress out of the orchestration: events an observer shows. The deploy crate never
//! prints; the CLI's observer turns events into lines or JSON.

use serde::Serialize;

/// Something an operator should see while a phase runs.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event<'a> {
    /// A step of the orchestration, e.g. `restarting k8s-node1 (2 of 3)`.
    Note {
        /// What happens.
        message: String,
    },
    /// Something the operator should look at, but which does not stop the phase.
    Warning {
        /// What is off.
        message: String,
    },
    /// A phase of `kubin deploy` starts.
    PhaseStarted {
        /// Its name (`etcd`, `control-plane`, ...).
        phase: &'a str,
    },
    /// A phase of `kubin deploy` ended.
    PhaseEnded {
        /// Its name.
        phase: &'a str,
        /// `done`, `failed` or `stopped`, with the changes, the error or the failed
        /// phase it depends on.
        outcome: String,
    },
    /// A plan was applied (or, in a dry run, compared): the executor's report.
    Applied {
        /// The report.
        report: &'a executor::Report,
    },
}

/// Receives the events of a session.
pub trait Observer: Send + Sync {
    /// Called once per event, in order.
    fn event(&self, event: &Event<'_>);
}

/// An observer that drops every event (tests, library callers).
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event<'_>) {}
}
