//! The SSH transport on `ssh2`: one session per host for the whole run, host keys checked
//! against known_hosts (strict or accept-new), key-file or agent authentication, and sudo
//! for a non-root login.

use super::known_hosts::{hashed_line, host_name};
use super::manifest::{MANIFEST, Manifest, write_script};
use super::script::{hash_command, parse_hashes, parse_quick_stat, put_script, quick_stat_command};
use super::{CommandOutput, FileStat, PutFile, Transport};
use crate::Error;
use crate::error::{Cause, CommandFailed};
use inventory::{Host, HostKeyPolicy};
use plan::shell::{quote, quote_path};
use ssh2::{CheckResult, HostKeyType, KnownHostFileKind, Session};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How SSH connections are opened: timeouts, and whether the run is a dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SshOptions {
    /// How long the TCP connect may take.
    pub connect_timeout: Duration,
    /// How long any single SSH operation may block (a broken link fails after this).
    pub io_timeout: Duration,
    /// A dry run writes nothing, known_hosts included: under accept-new a new host key is
    /// trusted for this connection only ([`NewHostKey::recorded`] is false).
    pub dry_run: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            io_timeout: Duration::from_secs(120),
            dry_run: false,
        }
    }
}

/// A host key that known_hosts did not have and accept-new trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHostKey {
    /// The inventory name of the host.
    pub host: String,
    /// The host as known_hosts names it (`addr`, or `[addr]:port` off port 22).
    pub name: String,
    /// The key's type, as known_hosts writes it (`ssh-ed25519`).
    pub key_type: String,
    /// The key's fingerprint as OpenSSH prints it (`SHA256:` and unpadded base64).
    pub fingerprint: String,
    /// The known_hosts file.
    pub known_hosts: PathBuf,
    /// Whether the key was written to `known_hosts` (false in a dry run: trusted in
    /// memory for this run only).
    pub recorded: bool,
}

impl std::fmt::Display for NewHostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: new host key for {} ({} {}) ",
            self.host, self.name, self.key_type, self.fingerprint
        )?;
        if self.recorded {
            write!(f, "recorded in {}", self.known_hosts.display())
        } else {
            write!(
                f,
                "accepted for this dry run only, not written to {}",
                self.known_hosts.display()
            )
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
    new_host_key: Option<NewHostKey>,
    /// A dry run: the quick-check records are read, never written.
    dry_run: bool,
    /// Where the host keeps the quick-check records (`None`: hash every file).
    manifest_path: Option<PathBuf>,
    /// The records, once read from the host, with this run's additions.
    manifest: Option<Manifest>,
    /// Whether `manifest` holds records the host does not have yet.
    manifest_dirty: bool,
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
    /// The same transport keeping its quick-check records at `path` on the host (default
    /// [`MANIFEST`]), or hashing every file it stats when `None`.
    pub fn with_manifest(mut self, path: Option<PathBuf>) -> Self {
        self.manifest_path = path;
        self.manifest = None;
        self.manifest_dirty = false;
        self
    }

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
        let new_host_key = check_host_key(host, &session, !opts.dry_run)?;
        authenticate(host, &session)?;
        // No libssh2 keepalive: with one configured, a blocking read gives up ("Timed out
        // waiting on socket") as soon as the next keepalive is due, whatever `io_timeout`
        // says; a `sha256sum` of the bundle's binaries on a busy host outlasted its 15 s.
        let mut t = Self {
            host: host.name.clone(),
            session,
            sudo: host.ssh.user != "root",
            new_host_key,
            dry_run: opts.dry_run,
            manifest_path: Some(PathBuf::from(MANIFEST)),
            manifest: None,
            manifest_dirty: false,
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
            source: CommandFailed {
                command: "sudo -n -- id -u".into(),
                status: out.status,
                said: if said.is_empty() {
                    format!("printed {:?}", out.stdout_text().trim())
                } else {
                    said
                },
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
        let err = |e: Cause| Error::Session {
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

/// Checks the host's key against known_hosts; under accept-new, trusts an unknown one and
/// (when `record`) appends it to known_hosts, returning it.
fn check_host_key(
    host: &Host,
    session: &Session,
    record: bool,
) -> Result<Option<NewHostKey>, Error> {
    let known_hosts = expand_home(
        host.ssh
            .known_hosts
            .as_deref()
            .unwrap_or(Path::new("~/.ssh/known_hosts")),
    );
    let key_err = |problem: &str, source: Option<Cause>| Error::HostKey {
        host: host.name.clone(),
        known_hosts: known_hosts.clone(),
        problem: problem.to_string(),
        source,
    };
    let (key, key_type) = session
        .host_key()
        .ok_or_else(|| key_err("the server sent no host key", None))?;
    let _guard = KNOWN_HOSTS_LOCK.lock();
    let mut kh = session
        .known_hosts()
        .map_err(|e| key_err("libssh2 cannot check host keys", Some(e.into())))?;
    if known_hosts.exists() {
        kh.read_file(&known_hosts, KnownHostFileKind::OpenSSH)
            .map_err(|e| key_err("cannot read", Some(e.into())))?;
    }
    let address = host.address.to_string();
    match kh.check_port(&address, host.ssh.port, key) {
        CheckResult::Match => Ok(None),
        CheckResult::Mismatch => Err(key_err(
            &format!(
                "the key of {} CHANGED; refusing to connect (remove the old entry only if you know why it changed)",
                host_name(&address, host.ssh.port)
            ),
            None,
        )),
        CheckResult::Failure => Err(key_err("libssh2 could not check the key", None)),
        CheckResult::NotFound => match host.ssh.host_key_policy {
            HostKeyPolicy::Strict => Err(key_err(
                &format!(
                    "{} is not in known_hosts (add its key, or set host_key_policy: accept-new)",
                    host_name(&address, host.ssh.port)
                ),
                None,
            )),
            HostKeyPolicy::AcceptNew => {
                let name = key_type_name(key_type)
                    .ok_or_else(|| key_err("unknown host key type", None))?;
                let new = NewHostKey {
                    host: host.name.clone(),
                    name: host_name(&address, host.ssh.port),
                    key_type: name.to_string(),
                    fingerprint: fingerprint(key),
                    known_hosts: known_hosts.clone(),
                    recorded: record,
                };
                if !record {
                    return Ok(Some(new));
                }
                let mut salt = [0u8; 20];
                // ring's error carries nothing to keep (`Unspecified`).
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt)
                    .map_err(|_| key_err("no randomness for the known_hosts salt", None))?;
                let line = hashed_line(&host_name(&address, host.ssh.port), &salt, name, key);
                if let Some(dir) = known_hosts.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        key_err(&format!("cannot create {}", dir.display()), Some(e.into()))
                    })?;
                }
                let write_err =
                    |e: std::io::Error| key_err("cannot record the new key", Some(e.into()));
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&known_hosts)
                    .map_err(write_err)?;
                f.write_all(line.as_bytes()).map_err(write_err)?;
                Ok(Some(new))
            }
        },
    }
}

/// OpenSSH's fingerprint of a key blob: `SHA256:` and the unpadded base64 of its digest.
fn fingerprint(key: &[u8]) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(key))
    )
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

    fn new_host_key(&self) -> Option<&NewHostKey> {
        self.new_host_key.as_ref()
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
            sha256: None,
        }])
    }

    fn put_files(&mut self, files: &[PutFile<'_>]) -> Result<(), Error> {
        let Some(first) = files.first() else {
            return Ok(());
        };
        // Inside the script only what the host's users may read anyway, and nothing under
        // sudo, which logs command lines (see `put_script`).
        let stamps = self.manifest_path.is_some() && files.iter().any(|f| f.sha256.is_some());
        let (script, stdin) = put_script(files, !self.sudo, stamps);
        let wrapped = self.wrap(&script);
        let during = if files.len() == 1 {
            format!("write {}", first.path.display())
        } else {
            format!("write {} files from {}", files.len(), first.path.display())
        };
        let out = self.exec(&wrapped, Some(&stdin), &during)?;
        if out.success() {
            if stamps {
                self.record_written(files, &out.stdout_text());
            }
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

    /// Stats in one round trip without hashing, and hashes (a second round trip) only the
    /// files whose stamp differs from the host's records.
    fn stat_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, Error> {
        let Some(manifest_path) = self.manifest_path.clone() else {
            return self.stat_and_hash(paths);
        };
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let read = self.manifest.is_none().then_some(manifest_path.as_path());
        let out = self.run(&quick_stat_command(paths, read))?;
        if !out.success() {
            return Err(self.stat_failed(paths, &out));
        }
        let (stats, text) = parse_quick_stat(&self.host, paths, &out.stdout_text())?;
        let manifest = self.manifest.get_or_insert_with(|| Manifest::parse(&text));
        let mut known: Vec<Option<String>> = Vec::with_capacity(paths.len());
        let mut unknown: Vec<PathBuf> = Vec::new();
        for (path, st) in paths.iter().zip(&stats) {
            let sha = match st {
                Some(st) => manifest.lookup(path, &st.stamp).map(str::to_string),
                None => {
                    self.manifest_dirty |= manifest.forget(path);
                    None
                }
            };
            if st.is_some() && sha.is_none() {
                unknown.push(path.clone());
            }
            known.push(sha);
        }
        if !unknown.is_empty() {
            let out = self.run(&hash_command(&unknown))?;
            if !out.success() {
                return Err(self.stat_failed(&unknown, &out));
            }
            let hashes = parse_hashes(&self.host, &unknown, &out.stdout_text())?;
            let mut hashed = unknown.iter().zip(hashes);
            let manifest = self.manifest.get_or_insert_with(Manifest::default);
            for ((path, st), sha) in paths.iter().zip(&stats).zip(known.iter_mut()) {
                if let (Some(st), None) = (st, &sha) {
                    let (p, h) = hashed.next().ok_or_else(|| Error::Stat {
                        host: self.host.clone(),
                        message: "sha256sum output ended early".into(),
                    })?;
                    debug_assert_eq!(p, path);
                    // The stamp was read before the hash: a change in between leaves a
                    // record whose stamp no longer matches, which only costs a hash.
                    self.manifest_dirty |= manifest.record(path, &st.stamp, &h);
                    *sha = Some(h);
                }
            }
        }
        Ok(stats
            .into_iter()
            .zip(known)
            .map(|(st, sha)| {
                st.zip(sha).map(|(st, sha256)| FileStat {
                    sha256,
                    mode: st.mode,
                    owner: st.owner,
                })
            })
            .collect())
    }

    /// Writes the records this run added (never in a dry run).
    fn flush(&mut self) -> Result<(), Error> {
        let (Some(path), Some(manifest)) = (&self.manifest_path, &self.manifest) else {
            return Ok(());
        };
        if !self.manifest_dirty || self.dry_run {
            return Ok(());
        }
        let path = path.clone();
        let text = manifest.render();
        let wrapped = self.wrap(&write_script(&path));
        let out = self.exec(
            &wrapped,
            Some(text.as_bytes()),
            "write the quick-check records",
        )?;
        if !out.success() {
            return Err(Error::Remote {
                host: self.host.clone(),
                what: "write".into(),
                path,
                status: out.status,
                stderr: out.stderr_excerpt(400),
            });
        }
        self.manifest_dirty = false;
        Ok(())
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

impl SshTransport {
    /// The trait's stat, one `stat` and one `sha256sum` of every file, when there are no
    /// records to consult.
    fn stat_and_hash(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.run(&super::script::stat_command(paths))?;
        if !out.success() {
            return Err(self.stat_failed(paths, &out));
        }
        super::script::parse_stat_output(&self.host, paths, &out.stdout_text())
    }

    fn stat_failed(&self, paths: &[PathBuf], out: &CommandOutput) -> Error {
        Error::Remote {
            host: self.host.clone(),
            what: "stat".into(),
            path: paths.first().cloned().unwrap_or_default(),
            status: out.status,
            stderr: out.stderr_excerpt(400),
        }
    }

    /// Records the files a write placed, with the stamps the write script printed, for the
    /// ones whose sha256 the caller gave. A short or odd output records nothing.
    fn record_written(&mut self, files: &[PutFile<'_>], stamps: &str) {
        let lines: Vec<&str> = stamps.lines().collect();
        if lines.len() != files.len() {
            return;
        }
        // Records are added only to those read from the host: writing a partial set back
        // would drop the others (harmless, but a hash each next time).
        let Some(manifest) = self.manifest.as_mut() else {
            return;
        };
        for (f, stamp) in files.iter().zip(lines) {
            if let Some(sha) = f.sha256 {
                self.manifest_dirty |= manifest.record(f.path, stamp.trim(), sha);
            }
        }
    }
}
