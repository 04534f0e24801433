//! Plans as data: what should be true on each host, in phases with barriers between them.
//!
//! Concern crates (`etcd-cluster`, `flannel-net`, `hostprep`'s host preparation) build
//! [`Plan`]s with pure functions; the `executor` crate is the only thing that applies them.
//! A plan says *what* should hold (this file with this content and mode, this unit enabled
//! and running), not how to get there, so applying it twice changes nothing the second time.

pub mod binaries;
pub mod content;
pub mod shell;

use serde::Serialize;
use std::path::PathBuf;

pub mod rollout;
pub use binaries::Binaries;
pub use content::Content;
pub use rollout::{Rollout, Stage};

/// A whole plan: phases run one after another; within a phase every host runs its steps in
/// order, hosts in parallel, and the next phase starts when every host finished this one.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    /// The phases, in order.
    pub phases: Vec<Phase>,
}

/// One phase: a name for progress output and the steps of each host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    /// What the phase does, e.g. `etcd: install`.
    pub name: String,
    /// Each host's steps.
    pub hosts: Vec<HostSteps>,
}

/// The ordered steps of one host within a phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSteps {
    /// The inventory name of the host.
    pub host: String,
    /// The steps, applied in order.
    pub steps: Vec<Step>,
}

/// One thing that should hold on a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// A directory exists with this mode.
    Directory(DirSpec),
    /// A file exists with exactly this content, mode and owner.
    File(FileSpec),
    /// A command has been run (unless its check says it is not needed).
    Command(CommandSpec),
    /// A systemd unit is in this state.
    Unit(UnitSpec),
    /// A step that does not apply on this host, with the reason; reported, never faked.
    NotApplicable {
        /// What would have been done.
        what: String,
        /// Why it does not apply (e.g. "swap is the host's, not the container's").
        why: String,
    },
}

/// A directory that should exist.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DirSpec {
    /// Absolute path on the host.
    pub path: PathBuf,
    /// Permission bits, e.g. `0o700`.
    pub mode: u32,
}

/// A file that should exist with exactly this content.
///
/// `Debug` and `Serialize` never show the content of a secret file.
#[derive(Clone, PartialEq, Serialize)]
pub struct FileSpec {
    /// Absolute path on the host.
    pub path: PathBuf,
    /// The content; never printed when `secret`.
    #[serde(serialize_with = "content_summary")]
    pub content: Content,
    /// Permission bits, e.g. `0o600` for keys.
    pub mode: u32,
    /// `user:group` to own the file; `None` leaves the login user's.
    pub owner: Option<String>,
    /// Keys, tokens: content never appears in logs, diffs or plan output.
    pub secret: bool,
    /// Back up the existing file (`PATH.kubin-backup-<time>`) before replacing it; for
    /// system files kubin does not own (/etc/hosts, /etc/fstab).
    pub backup: bool,
}

impl FileSpec {
    /// A non-secret file owned by the login user, not backed up.
    pub fn new(path: impl Into<PathBuf>, content: impl Into<Content>, mode: u32) -> Self {
        Self {
            path: path.into(),
            content: content.into(),
            mode,
            owner: None,
            secret: false,
            backup: false,
        }
    }

    /// The same file, marked secret.
    pub fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    /// The same file, backed up before it is replaced.
    pub fn backed_up(mut self) -> Self {
        self.backup = true;
        self
    }
}

impl std::fmt::Debug for FileSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSpec")
            .field("path", &self.path)
            .field("content", &ContentSummary(self))
            .field("mode", &format_args!("{:#o}", self.mode))
            .field("owner", &self.owner)
            .field("secret", &self.secret)
            .field("backup", &self.backup)
            .finish()
    }
}

/// How `Debug` shows a file's content: the length, and for a file that is not secret its
/// first characters, so that a failed `assert_eq!` on two plans still says which differ.
struct ContentSummary<'a>(&'a FileSpec);

impl std::fmt::Debug for ContentSummary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// How many characters of a non-secret file `Debug` shows.
        const SHOWN: usize = 60;
        let content = &self.0.content;
        if self.0.secret {
            return write!(f, "<{} bytes, secret>", content.len());
        }
        let text = String::from_utf8_lossy(content);
        let mut shown: String = text.chars().take(SHOWN).collect();
        if text.chars().nth(SHOWN).is_some() {
            shown.push('…');
        }
        write!(f, "<{} bytes> {shown:?}", content.len())
    }
}

fn content_summary<S: serde::Serializer>(content: &Content, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("<{} bytes>", content.len()))
}

/// A command to run through `sh -c` on the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandSpec {
    /// What it does, for progress output (commands with secrets are described, not shown).
    pub description: String,
    /// The shell command.
    pub command: String,
    /// A check run first: exit status 0 means the command is not needed (already done).
    /// Without one, the command runs on every apply and counts as a change.
    pub unless: Option<String>,
    /// Exit statuses other than 0 that still count as success.
    pub ok_status: Vec<i32>,
}

impl CommandSpec {
    /// A command that runs unless `unless` exits 0.
    pub fn new(description: &str, command: &str, unless: Option<&str>) -> Self {
        Self {
            description: description.into(),
            command: command.into(),
            unless: unless.map(Into::into),
            ok_status: Vec::new(),
        }
    }
}

/// The state a systemd unit should be in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitSpec {
    /// The unit, e.g. `etcd.service`.
    pub name: String,
    /// Enabled at boot.
    pub enabled: bool,
    /// Running (`Some(true)`), stopped (`Some(false)`), or left as it is (`None`).
    pub running: Option<bool>,
    /// Files (written earlier in the same plan) whose change means the unit restarts.
    pub restart_on: Vec<PathBuf>,
    /// Start without waiting for the unit to report ready (etcd's first member waits for
    /// quorum, so all members must be started at once).
    pub no_block: bool,
}

impl UnitSpec {
    /// An enabled, running unit that restarts when any of `restart_on` changes.
    pub fn running(name: &str, restart_on: Vec<PathBuf>) -> Self {
        Self {
            name: name.into(),
            enabled: true,
            running: Some(true),
            restart_on,
            no_block: false,
        }
    }
}

impl Plan {
    /// A plan of one phase.
    pub fn single(name: &str, hosts: Vec<HostSteps>) -> Self {
        Self {
            phases: vec![Phase {
                name: name.into(),
                hosts,
            }],
        }
    }

    /// Appends the phases of `other`.
    pub fn then(mut self, other: Plan) -> Self {
        self.phases.extend(other.phases);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_content_never_serializes() {
        let f = FileSpec::new("/opt/etcd/ssl/server-key.pem", "PRIVATE KEY", 0o600).secret();
        let json = serde_json::to_string(&Step::File(f)).expect("serializes");
        assert!(!json.contains("PRIVATE"), "{json}");
        assert!(json.contains("<11 bytes>"), "{json}");
    }

    #[test]
    fn secret_content_never_debugs() {
        let key = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA\n-----END EC PRIVATE KEY-----\n";
        let plan = Plan::single(
            "etcd: install",
            vec![HostSteps {
                host: "etcd-1".into(),
                steps: vec![
                    Step::File(FileSpec::new("/opt/etcd/ssl/server-key.pem", key, 0o600).secret()),
                    Step::File(FileSpec::new(
                        "/etc/etcd/etcd.conf",
                        "ETCD_NAME=etcd-1\n",
                        0o644,
                    )),
                ],
            }],
        );
        // A derived `Debug` prints the bytes as numbers: the key in another spelling.
        let as_numbers = format!("{:?}", &key.as_bytes()[..12]);
        let as_numbers = as_numbers.trim_matches(['[', ']']);
        for debug in [format!("{plan:?}"), format!("{plan:#?}")] {
            assert!(!debug.contains("PRIVATE"), "{debug}");
            let squeezed = debug.replace([' ', '\n'], "");
            assert!(!squeezed.contains(&as_numbers.replace(' ', "")), "{debug}");
            assert!(!debug.contains("MHcCAQEEIA"), "{debug}");
            assert!(
                debug.contains(&format!("<{} bytes, secret>", key.len())),
                "{debug}"
            );
            assert!(debug.contains("ETCD_NAME=etcd-1"), "{debug}");
        }
    }

    #[test]
    fn long_public_content_is_cut_in_debug() {
        let f = FileSpec::new("/etc/hosts", "x".repeat(500), 0o644);
        let debug = format!("{f:?}");
        assert!(debug.contains("<500 bytes>"), "{debug}");
        assert!(debug.len() < 300, "{debug}");
    }
}
