//! The executor's error type: what went wrong talking to or changing a host.
//!
//! A variant's message never repeats its cause: the cause is its `source()`, and whoever
//! prints the error prints the chain ([`display_chain`], or `anyhow`'s `{:#}`).

use std::path::PathBuf;

/// Everything that can go wrong reaching a host or applying a step to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection failed.
    #[error("{host}: cannot connect to {address}")]
    Connect {
        /// The inventory name of the host.
        host: String,
        /// `address:port`.
        address: String,
        /// Why (refused, timed out, no route).
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection stood but the SSH session could not be set up.
    #[error("{host}: ssh handshake with {address} failed")]
    Handshake {
        /// The inventory name of the host.
        host: String,
        /// `address:port`.
        address: String,
        /// What libssh2 said.
        #[source]
        source: ssh2::Error,
    },
    /// The host's key is not the one known_hosts records (or is unknown under `strict`),
    /// or known_hosts could not be read or written.
    #[error("{host}: host key check failed against {known_hosts}: {problem}")]
    HostKey {
        /// The inventory name of the host.
        host: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
        /// What is wrong: unknown, changed, or what could not be done with the file.
        problem: String,
        /// libssh2's or the file system's error, when one caused the problem.
        #[source]
        source: Option<Cause>,
    },
    /// No authentication method (key file or agent) was accepted.
    #[error("{host}: authentication as {user} with {method} failed")]
    Auth {
        /// The inventory name of the host.
        host: String,
        /// The login user.
        user: String,
        /// What was tried: `key <path>` or `the ssh agent`.
        method: String,
        /// What libssh2 said; `None` when it reported success but left the session
        /// unauthenticated.
        #[source]
        source: Option<ssh2::Error>,
    },
    /// The login user is not root and `sudo -n` (no password prompt) does not let it run
    /// commands as root.
    #[error(
        "{host}: {user} cannot run commands as root through sudo without a password (kubin runs `sudo -n`; give {user} a NOPASSWD sudoers entry or log in as root)"
    )]
    Sudo {
        /// The inventory name of the host.
        host: String,
        /// The login user.
        user: String,
        /// The check command's exit status and what it printed.
        #[source]
        source: CommandFailed,
    },
    /// The SSH session broke or timed out while running something.
    #[error("{host}: ssh session failed during {during}")]
    Session {
        /// The inventory name of the host.
        host: String,
        /// What was being done (a command's description or a path).
        during: String,
        /// What libssh2 or the channel's stream said.
        #[source]
        source: Cause,
    },
    /// A helper command the transport runs itself (stat, write, read) failed on the host.
    #[error("{host}: {what} {path} failed (exit {status}): {stderr}")]
    Remote {
        /// The inventory name of the host.
        host: String,
        /// What was attempted: `write`, `read`, `stat`, `backup`.
        what: String,
        /// The path concerned.
        path: PathBuf,
        /// The exit status.
        status: i32,
        /// An excerpt of its standard error.
        stderr: String,
    },
    /// The recording transport was told to fail this call.
    #[error("{host}: injected failure at call {call}")]
    Injected {
        /// The host.
        host: String,
        /// The 1-based call number.
        call: usize,
    },
    /// What a helper command printed (the stat script's output) could not be understood.
    #[error("{host}: cannot understand the host's stat output: {message}")]
    Stat {
        /// The host.
        host: String,
        /// What was missing or malformed.
        message: String,
    },
}

/// A typed cause below an executor error: libssh2 itself, or IO (a channel's streams, a
/// local file such as known_hosts).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// libssh2 failed (opening a channel, exec, EOF, close, exit status, known_hosts).
    #[error(transparent)]
    Ssh(#[from] ssh2::Error),
    /// Reading or writing failed (a channel: a broken link, a timeout; a local file).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A command on the host ran and failed: its exit status and what it printed (an
/// excerpt of standard error, or of standard output when standard error was empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{command}` exited with status {status}: {said}")]
pub struct CommandFailed {
    /// The command, as run.
    pub command: String,
    /// Its exit status.
    pub status: i32,
    /// What it printed.
    pub said: String,
}

/// `error` and each of its causes, outermost first, joined by `": "`: what an operator
/// reads when the error is printed once, on one line.
pub fn display_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut s = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level of a chain printed once: the message does not repeat its source.
    #[test]
    fn the_printed_chain_names_the_cause_once() {
        let e = Error::Session {
            host: "node1".into(),
            during: "write /etc/hosts".into(),
            source: Cause::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out waiting on socket",
            )),
        };
        let printed = display_chain(&e);
        assert_eq!(
            printed,
            "node1: ssh session failed during write /etc/hosts: timed out waiting on socket"
        );
        assert_eq!(printed.matches("timed out waiting on socket").count(), 1);

        let refused = Error::Connect {
            host: "node1".into(),
            address: "127.0.0.1:1".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        let printed = display_chain(&refused);
        assert_eq!(printed.matches("refused").count(), 1, "{printed}");
    }

    /// Host key and sudo errors keep their causes typed, as `source()`, printed once.
    #[test]
    fn host_key_and_sudo_causes_are_typed_sources() {
        let e = Error::HostKey {
            host: "node1".into(),
            known_hosts: "/root/.ssh/known_hosts".into(),
            problem: "cannot record the new key".into(),
            source: Some(Cause::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "permission denied",
            ))),
        };
        assert!(std::error::Error::source(&e).is_some());
        let printed = display_chain(&e);
        assert_eq!(
            printed,
            "node1: host key check failed against /root/.ssh/known_hosts: cannot record the \
             new key: permission denied"
        );
        let e = Error::Sudo {
            host: "node1".into(),
            user: "ops".into(),
            source: CommandFailed {
                command: "sudo -n -- id -u".into(),
                status: 1,
                said: "sudo: a password is required".into(),
            },
        };
        let cause = std::error::Error::source(&e).expect("a typed source");
        assert!(cause.downcast_ref::<CommandFailed>().is_some());
        let printed = display_chain(&e);
        assert!(
            printed.ends_with(
                "log in as root): `sudo -n -- id -u` exited with status 1: sudo: a password is required"
            ),
            "{printed}"
        );
        assert_eq!(printed.matches("a password is required").count(), 1);
    }
}
