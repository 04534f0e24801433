//! The SSH transport on `ssh2`: one session per host for the whole run, host keys checked
//! against known_hosts (strict or accept-new), key-file or agent authentication, and sudo
//! for a non-root login.

use super::known_hosts::{hashed_line, host_name};
use super::script::put_script;
use super::{CommandOutput, PutFile, Transport};
use crate::Error;
use crate::error::SessionCause;
use inventory::{Host, HostKeyPolicy};
use plan::shell::{quote, quote_path};
use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, Session};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Timeouts for SSH connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshOptions {
    /// How long the TCP connect may take.
    pub connect_timeout: Duration,
    /// How long any single SSH operation may block (a broken link fails after this).
    pub io_timeout: Duration,
    /// Under `host_key_policy: accept-new`, record an unknown host's key in known_hosts.
    /// A dry run sets this to false: the key is accepted for the run and nothing written.
    pub record_new_keys: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(120),
            record_new_keys: true,
        }
    }
}

/// Serializes known_hosts updates of parallel connections (accept-new).
static KNOWN_HOSTS_LOCK: Mutex<()> = Mutex::new(());

/// A host reached over SSH.
pub struct SshTransport {
    host: String,
    session: Session,
    sudo: bool,
}

impl std::fmt::Debug for SshTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshTransport")
            .field("host", &self.host)
            .field("sudo", &self.sudo)
            .finish()
    }
}

/// `~/x` to `$HOME/x`.
pub fn expand_home(p: &Path) -> PathBuf {
    if let Ok(rest) = p.strip_prefix("~")
        && let Some(home) = std::env::var_os("HOME")
    {
        return PathBuf::from(home).join(rest);
    }
    p.to_path_buf()
}

fn key_type_name(t: HostKeyType) -> Option<&'static str> {
    Some(match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => return None,
    })
}

impl SshTransport {
    /// Connects to `host` with the default timeouts.
    pub fn connect(host: &Host) -> Result<Self, Error> {
        Self::connect_with(host, &SshOptions::default())
    }

    /// Connects to `host`: TCP, handshake, host key check, authentication.
    pub fn connect_with(host: &Host, opts: &SshOptions) -> Result<Self, Error> {
        let addr = SocketAddr::new(host.address, host.ssh.port);
        let tcp = TcpStream::connect_timeout(&addr, opts.connect_timeout).map_err(|source| {
            Error::Connect {
                host: host.name.clone(),
                address: addr.to_string(),
                source,
            }
        })?;
        let handshake_err = |source: ssh2::Error| Error::Handshake {
            host: host.name.clone(),
            address: addr.to_string(),
            source,
        };
        // Many small request/response exchanges: Nagle's algorithm would add delays.
        let _ = tcp.set_nodelay(true);
        let mut session = Session::new().map_err(handshake_err)?;
        session.set_timeout(u32::try_from(opts.io_timeout.as_millis()).unwrap_or(u32::MAX));
        session.set_tcp_stream(tcp);
        session.handshake().map_err(handshake_err)?;
        check_host_key(host, &session, opts.record_new_keys)?;
        authenticate(host, &session)?;
        session.set_keepalive(true, 15);
        let mut t = Self {
            host: host.name.clone(),
            session,
            sudo: host.ssh.user != "root",
        };
        if t.sudo {
            t.check_sudo(&host.ssh.user)?;
        }
        Ok(t)
    }

    /// Fails with [`Error::Sudo`] unless `sudo -n` runs a command as root: a user without
    /// passwordless sudo is named at connect time, before any step, and never waits on a
    /// password prompt (`-n` makes sudo fail instead of asking).
    fn check_sudo(&mut self, user: &str) -> Result<(), Error> {
        let out = self.exec("sudo -n -- id -u", None, "the sudo check")?;
        if out.success() && out.stdout_text().trim() == "0" {
            return Ok(());
        }
        let said = out.stderr_excerpt(300);
        Err(Error::Sudo {
            host: self.host.clone(),
            user: user.to_string(),
            message: if said.is_empty() {
                format!(
                    "`sudo -n -- id -u` exited with status {} and printed {:?}",
                    out.status,
                    out.stdout_text().trim()
                )
            } else {
                said
            },
        })
    }

    /// Runs `command` (already wrapped for sudo), feeding `stdin` if given.
    fn exec(
        &mut self,
        command: &str,
        stdin: Option<&[u8]>,
        during: &str,
    ) -> Result<CommandOutput, Error> {
        let err = |e: SessionCause| Error::Session {
            host: self.host.clone(),
            during: during.to_string(),
            source: e,
        };
        let ssh = |e: ssh2::Error| err(e.into());
        let io = |e: std::io::Error| err(e.into());
        let mut ch = self.session.channel_session().map_err(ssh)?;
        ch.exec(command).map_err(ssh)?;
        if let Some(data) = stdin {
            ch.write_all(data).map_err(io)?;
        }
        ch.send_eof().map_err(ssh)?;
        let mut stdout = Vec::new();
        ch.read_to_end(&mut stdout).map_err(io)?;
        let mut stderr = Vec::new();
        ch.stderr().read_to_end(&mut stderr).map_err(io)?;
        ch.wait_close().map_err(ssh)?;
        let status = ch.exit_status().map_err(ssh)?;
        Ok(CommandOutput {
            status,
            stdout,
            stderr,
        })
    }

    fn wrap(&self, command: &str) -> String {
        if self.sudo {
            format!("sudo -n -- sh -c {}", quote(command))
        } else {
            command.to_string()
        }
    }
}

fn check_host_key(host: &Host, session: &Session, record: bool) -> Result<(), Error> {
    let known_hosts = expand_home(
        host.ssh
            .known_hosts
            .as_deref()
            .unwrap_or(Path::new("~/.ssh/known_hosts")),
    );
    let key_err = |message: String| Error::HostKey {
        host: host.name.clone(),
        known_hosts: known_hosts.clone(),
        message,
    };
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| key_err("the server sent no host key".into()))?;
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let mut kh = session.known_hosts().map_err(|e| key_err(e.to_string()))?;
    if known_hosts.exists() {
        kh.read_file(&known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| key_err(format!("cannot read: {e}")))?;
    }
    let address = host.address.to_string();
    match kh.check_port(&address, host.ssh.port, key) {
        CheckResult::Match => Ok(()),
        CheckResult::Mismatch => Err(key_err(format!(
            "the key of {} CHANGED; refusing to connect (remove the old entry only if you know why it changed)",
            host_name(&address, host.ssh.port)
        ))),
        CheckResult::Failure => Err(key_err("libssh2 could not check the key".into())),
        CheckResult::NotFound => match host.ssh.host_key_policy {
            HostKeyPolicy::Strict => Err(key_err(format!(
                "{} is not in known_hosts (add its key, or set host_key_policy: accept-new)",
                host_name(&address, host.ssh.port)
            ))),
            HostKeyPolicy::AcceptNew if !record => Ok(()),
            HostKeyPolicy::AcceptNew => {
                let name = key_type_name(key_type)
                    .ok_or_else(|| key_err("unknown host key type".into()))?;
                let mut salt = [0u8; 20];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
                    .map_err(|_| key_err("no randomness for the known_hosts salt".into()))?;
                let line = hashed_line(&host_name(&address, host.ssh.port), &salt, name, key);
                if let Some(dir) = known_hosts.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| key_err(format!("cannot create {}: {e}", dir.display())))?;
                }
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&known_hosts)
                    .map_err(|e| key_err(format!("cannot record the new key: {e}")))?;
                f.write_all(line.as_bytes())
                    .map_err(|e| key_err(format!("cannot record the new key: {e}")))?;
                Ok(())
            }
        },
    }
}

fn authenticate(host: &Host, session: &Session) -> Result<(), Error> {
    let user = &host.ssh.user;
    let (method, tried) = match &host.ssh.key {
        Some(key) => {
            let key = expand_home(key);
            let tried = session.userauth_pubkey_file(user, None, &key, None);
            (format!("key {}", key.display()), tried)
        }
        None => ("the ssh agent".to_string(), session.userauth_agent(user)),
    };
    match tried {
        Ok(()) if session.authenticated() => Ok(()),
        tried => Err(Error::Auth {
            host: host.name.clone(),
            user: user.clone(),
            method,
            source: tried.err(),
        }),
    }
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.host
    }

    fn run(&mut self, command: &str) -> Result<CommandOutput, Error> {
        let wrapped = self.wrap(command);
        self.exec(&wrapped, None, "a command")
    }

    fn put_file(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), Error> {
        self.put_files(&[PutFile {
            path,
            content,
            mode,
            owner,
        }])
    }

    fn put_files(&mut self, files: &[PutFile<'_>]) -> Result<(), Error> {
        let Some(first) = files.first() else {
            return Ok(());
        };
        // Inside the script only what the host's users may read anyway, and nothing under
        // sudo, which logs command lines (see `put_script`).
        let (script, stdin) = put_script(files, !self.sudo);
        let wrapped = self.wrap(&script);
        let during = if files.len() == 1 {
            format!("write {}", first.path.display())
        } else {
            format!("write {} files from {}", files.len(), first.path.display())
        };
        let out = self.exec(&wrapped, Some(&stdin), &during)?;
        if out.success() {
            Ok(())
        } else {
            Err(Error::Remote {
                host: self.host.clone(),
                what: "write".into(),
                path: first.path.to_path_buf(),
                status: out.status,
                stderr: out.stderr_excerpt(400),
            })
        }
    }

    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        let p = quote_path(path);
        let script = format!("[ -e {p} ] || exit 3; cat -- {p}");
        let wrapped = self.wrap(&script);
        let during = format!("read {}", path.display());
        let out = self.exec(&wrapped, None, &during)?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            3 => Ok(None),
            status => Err(Error::Remote {
                host: self.host.clone(),
                what: "read".into(),
                path: path.to_path_buf(),
                status,
                stderr: out.stderr_excerpt(400),
            }),
        }
    }
}
