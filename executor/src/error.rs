//! The executor's error type: what went wrong talking to or changing a host.

use std::path::PathBuf;

/// Everything that can go wrong reaching a host or applying a step to it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection or SSH handshake failed.
    #[error("{host}: cannot connect to {address}: {message}")]
    Connect {
        /// The inventory name of the host.
        host: String,
        /// `address:port`.
        address: String,
        /// What failed.
        message: String,
    },
    /// The host's key is not the one known_hosts records (or is unknown under `strict`).
    #[error("{host}: host key check failed against {known_hosts}: {message}")]
    HostKey {
        /// The inventory name of the host.
        host: String,
        /// The known_hosts file consulted.
        known_hosts: PathBuf,
        /// Unknown, changed, or unreadable.
        message: String,
    },
    /// No authentication method (key file or agent) was accepted.
    #[error("{host}: authentication as {user} failed: {message}")]
    Auth {
        /// The inventory name of the host.
        host: String,
        /// The login user.
        user: String,
        /// What the server or agent said.
        message: String,
    },
    /// The login user is not root and `sudo -n` (no password prompt) does not let it run
    /// commands as root.
    #[error(
        "{host}: {user} cannot run commands as root through sudo without a password (kubin runs `sudo -n`; give {user} a NOPASSWD sudoers entry or log in as root): {message}"
    )]
    Sudo {
        /// The inventory name of the host.
        host: String,
        /// The login user.
        user: String,
        /// What sudo said.
        message: String,
    },
    /// The SSH session broke or timed out while running something.
    #[error("{host}: ssh session failed during {during}: {message}")]
    Session {
        /// The inventory name of the host.
        host: String,
        /// What was being done (a command's description or a path).
        during: String,
        /// The libssh2 message.
        message: String,
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
