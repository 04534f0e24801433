//! The lab's error type: every variant names the host, path, command or value involved.

use std::path::PathBuf;

/// Everything that can go wrong building caches, booting machines or tearing them down.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A lab name that cannot name a bridge, a directory and a cluster.
    #[error("lab name {name:?} is not valid: {reason}")]
    BadName {
        /// The offending name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// A host count outside what one /24 can hold.
    #[error("a lab has 1 to {max} hosts, not {hosts}")]
    BadHostCount {
        /// The requested count.
        hosts: usize,
        /// The largest allowed.
        max: usize,
    },
    /// Another `Lab` of this name is alive (in this process or another).
    #[error(
        "lab {name:?} is already up in a live process (lock {lock:?} is held); name labs per test"
    )]
    Busy {
        /// The lab name.
        name: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// No lab of this name is up (no state file).
    #[error("lab {name:?} is not up: no state at {state:?}")]
    NotUp {
        /// The lab name.
        name: String,
        /// Where its state would be.
        state: PathBuf,
    },
    /// The lab has no host of this name.
    #[error("lab {lab:?} has no host {host:?}")]
    NoSuchHost {
        /// The lab name.
        lab: String,
        /// The requested host.
        host: String,
    },
    /// Every /24 the lab may use is taken by other labs.
    #[error("no free lab subnet left in 10.213.0.0/16")]
    NoFreeSubnet,
    /// A file or directory operation failed.
    #[error("{action} {path:?}")]
    Io {
        /// What was being done ("cannot write", "cannot create").
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("cannot start `{program}`")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A program exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line (never containing secrets).
        command: String,
        /// Its exit status.
        status: String,
        /// The tail of its standard error.
        stderr: String,
    },
    /// A machine did not come up in time.
    #[error("host {host} ({address}) of lab {lab:?} not ready after {seconds} s: {last}")]
    NotReady {
        /// The lab name.
        lab: String,
        /// The host name.
        host: String,
        /// Its address.
        address: String,
        /// How long we waited.
        seconds: u64,
        /// The last thing seen (ssh error or system state).
        last: String,
    },
    /// The machine's apt configuration names no Debian mirror for the suite.
    #[error(
        "no Debian mirror for {suite:?} in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
    )]
    NoMirror {
        /// The suite looked for.
        suite: String,
    },
    /// A package or source package apt knows nothing about.
    #[error("apt has no {what} {name:?}")]
    NoPackage {
        /// "package" or "source package".
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A cache entry is incomplete or inconsistent.
    #[error("cache {path:?} is broken: {reason}")]
    BrokenCache {
        /// The cache entry.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The state file of a lab cannot be parsed.
    #[error("state {path:?} is not a lab state: {message}")]
    BadState {
        /// The state file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// Teardown left something behind.
    #[error("lab {lab:?} left behind: {leftovers:?}")]
    Leftovers {
        /// The lab name.
        lab: String,
        /// What remains (processes, mounts, links).
        leftovers: Vec<String>,
    },
    /// An OCI image archive could not be written.
    #[error("cannot write image {image}: {reason}")]
    Image {
        /// The image's reference.
        image: String,
        /// What went wrong.
        reason: String,
    },
    /// The inventory written for the lab does not validate.
    #[error("inventory written for lab {lab:?} is invalid")]
    Inventory {
        /// The lab name.
        lab: String,
        /// The validation error.
        source: inventory::Error,
    },
}

/// The lab's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps an `io::Error` into [`Error::Io`] naming the action and path.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cause_is_printed_once() {
        let cause = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = super::io("cannot write", "/var/lib/lab/state")(cause);
        let printed = format!("{:#}", anyhow::Error::new(e));
        assert_eq!(printed, "cannot write \"/var/lib/lab/state\": no such file");
    }
}
