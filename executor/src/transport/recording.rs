//! An in-memory host for fast tests: files, directories and a tiny systemd, every call
//! recorded, scripted command results, and failures injected at the Nth call.

use super::{CommandOutput, FileStat, Transport};
use crate::Error;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// One call made to a [`RecordingTransport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `run(command)`.
    Run(String),
    /// `put_file(path, ..)`.
    Put(PathBuf),
    /// `read_file(path)`.
    Read(PathBuf),
    /// `stat_files(paths)`.
    Stat(Vec<PathBuf>),
    /// `copy_file(from, to)`.
    Copy(PathBuf, PathBuf),
}

/// A file held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemFile {
    /// The content.
    pub content: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
    /// `user:group`.
    pub owner: String,
}

/// A unit's state in the fake systemd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemUnit {
    /// `systemctl is-enabled` says enabled.
    pub enabled: bool,
    /// `systemctl is-active` says active.
    pub active: bool,
}

/// An in-memory [`Transport`].
///
/// It understands the command forms the executor issues (directory checks, `mkdir`,
/// `chmod`/`chown`, `systemctl` queries and verbs); any other command answers from the
/// scripted results (first matching substring) or exits 0 with no output.
#[derive(Debug, Clone, Default)]
pub struct RecordingTransport {
    host: String,
    /// The files.
    pub files: BTreeMap<PathBuf, MemFile>,
    /// The directories and their modes.
    pub dirs: BTreeMap<PathBuf, u32>,
    /// The fake systemd's units.
    pub units: BTreeMap<String, MemUnit>,
    /// Every call, in order.
    pub calls: Vec<Call>,
    scripted: Vec<(String, CommandOutput)>,
    fail_at: Option<usize>,
    fail_from: Option<usize>,
}

impl RecordingTransport {
    /// An empty host called `host`.
    pub fn new(host: &str) -> Self {
        Self {
            host: host.to_string(),
            ..Self::default()
        }
    }

    /// Commands containing `pattern` answer with `output` (first match wins).
    pub fn script(&mut self, pattern: &str, output: CommandOutput) -> &mut Self {
        self.scripted.push((pattern.to_string(), output));
        self
    }

    /// Commands containing `pattern` exit with `status` and print `stdout`.
    pub fn script_status(&mut self, pattern: &str, status: i32, stdout: &str) -> &mut Self {
        self.script(
            pattern,
            CommandOutput {
                status,
                stdout: stdout.as_bytes().to_vec(),
                stderr: if status == 0 {
                    Vec::new()
                } else {
                    format!("scripted failure of {pattern}").into_bytes()
                },
            },
        )
    }

    /// The `n`th call (1-based, counting every call) fails as if the connection broke.
    pub fn fail_call(&mut self, n: usize) -> &mut Self {
        self.fail_at = Some(n);
        self
    }

    /// Every call from the `n`th on fails (a cut link).
    pub fn fail_from(&mut self, n: usize) -> &mut Self {
        self.fail_from = Some(n);
        self
    }

    /// Adds a file.
    pub fn with_file(&mut self, path: &str, content: &str, mode: u32) -> &mut Self {
        self.files.insert(
            PathBuf::from(path),
            MemFile {
                content: content.as_bytes().to_vec(),
                mode,
                owner: "root:root".into(),
            },
        );
        self
    }

    /// A file's content as text.
    pub fn text(&self, path: &str) -> Option<String> {
        self.files
            .get(Path::new(path))
            .map(|f| String::from_utf8_lossy(&f.content).into_owned())
    }

    /// The commands run, in order.
    pub fn commands(&self) -> Vec<&str> {
        self.calls
            .iter()
            .filter_map(|c| match c {
                Call::Run(s) => Some(s.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Calls that changed something (writes, copies, and mutating commands).
    pub fn mutations(&self) -> Vec<&Call> {
        self.calls
            .iter()
            .filter(|c| match c {
                Call::Put(_) | Call::Copy(..) => true,
                Call::Run(s) => is_mutating(s),
                _ => false,
            })
            .collect()
    }

    fn record(&mut self, call: Call) -> Result<(), Error> {
        self.calls.push(call);
        let n = self.calls.len();
        if self.fail_at == Some(n) || self.fail_from.is_some_and(|f| n >= f) {
            return Err(Error::Injected {
                host: self.host.clone(),
                call: n,
            });
        }
        Ok(())
    }

    fn emulate(&mut self, command: &str) -> CommandOutput {
        if let Some((_, out)) = self.scripted.iter().find(|(p, _)| command.contains(p)) {
            return out.clone();
        }
        let ok = |stdout: String| CommandOutput {
            status: 0,
            stdout: stdout.into_bytes(),
            stderr: Vec::new(),
        };
        let status = |s: i32| CommandOutput {
            status: s,
            ..CommandOutput::default()
        };
        // Directory check and fix: `if CHECK; then :; else mkdir .. && chmod .. && echo changed; fi`.
        if let Some(rest) = command.strip_prefix("if ")
            && let Some((check, fix)) = rest.split_once("; then :; else ")
        {
            if self.emulate(check).success() {
                return status(0);
            }
            let fix = fix
                .trim_end_matches("; fi")
                .trim_end_matches(" && echo changed");
            let out = self.emulate(fix);
            return if out.success() {
                ok("changed\n".into())
            } else {
                out
            };
        }
        let words: Vec<&str> = command.split_whitespace().collect();
        // Directory check: `[ -d P ] && [ "$(stat -c %a -- P)" = MODE ]`.
        if words.first() == Some(&"[") && words.get(1) == Some(&"-d") {
            let path = PathBuf::from(unquote(words.get(2).copied().unwrap_or_default()));
            let mode = words
                .last()
                .and_then(|m| u32::from_str_radix(m.trim_end_matches(']'), 8).ok());
            let want = words
                .iter()
                .rev()
                .nth(1)
                .and_then(|m| u32::from_str_radix(m, 8).ok())
                .or(mode);
            return match (self.dirs.get(&path), want) {
                (Some(have), Some(want)) if *have == want => status(0),
                _ => status(1),
            };
        }
        if command.starts_with("{ systemctl is-enabled ") {
            let name = command
                .split("is-enabled ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(unquote)
                .unwrap_or_default();
            return match self.units.get(&name) {
                Some(u) => ok(format!(
                    "{}\n--\n{}\n",
                    if u.enabled { "enabled" } else { "disabled" },
                    if u.active { "active" } else { "inactive" }
                )),
                None => ok("--\ninactive\n".into()),
            };
        }
        let mut last = status(0);
        for part in command.split(" && ") {
            let w: Vec<&str> = part.split_whitespace().collect();
            match w.as_slice() {
                ["mkdir", "-p", "--", p] => {
                    self.dirs.entry(PathBuf::from(unquote(p))).or_insert(0o755);
                }
                ["chmod", m, "--", p] => {
                    let Ok(mode) = u32::from_str_radix(m, 8) else {
                        return status(1);
                    };
                    let p = PathBuf::from(unquote(p));
                    if let Some(d) = self.dirs.get_mut(&p) {
                        *d = mode;
                    } else if let Some(f) = self.files.get_mut(&p) {
                        f.mode = mode;
                    } else {
                        return status(1);
                    }
                }
                ["chown", o, "--", p] => match self.files.get_mut(Path::new(&unquote(p))) {
                    Some(f) => f.owner = unquote(o),
                    None => return status(1),
                },
                ["systemctl", "daemon-reload"] => {}
                ["test", "-e", p] => {
                    if !self.files.contains_key(Path::new(&unquote(p))) {
                        return status(1);
                    }
                }
                ["touch", p] => {
                    self.files
                        .entry(PathBuf::from(unquote(p)))
                        .or_insert(MemFile {
                            content: Vec::new(),
                            mode: 0o644,
                            owner: "root:root".into(),
                        });
                }
                ["systemctl", verb, .., name] => {
                    let now = w.contains(&"--now");
                    let u = self.units.entry(unquote(name)).or_default();
                    match *verb {
                        "enable" => {
                            u.enabled = true;
                            u.active |= now;
                        }
                        "disable" => {
                            u.enabled = false;
                            u.active &= !now;
                        }
                        "start" | "restart" => u.active = true,
                        "stop" => u.active = false,
                        _ => {}
                    }
                }
                _ => last = status(0),
            }
        }
        last
    }
}

/// A [`RecordingTransport`] shared between the executor (which owns a boxed transport)
/// and the test that inspects it afterwards.
#[derive(Debug, Clone)]
pub struct Shared {
    host: String,
    inner: Arc<Mutex<RecordingTransport>>,
}

impl Shared {
    /// Wraps `t`.
    pub fn new(t: RecordingTransport) -> Self {
        Self {
            host: t.host.clone(),
            inner: Arc::new(Mutex::new(t)),
        }
    }

    /// The transport, for inspection; a poisoned lock is taken over (tests only).
    pub fn lock(&self) -> MutexGuard<'_, RecordingTransport> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A boxed transport for the executor, sharing the same state.
    pub fn boxed(&self) -> Box<dyn Transport> {
        Box::new(self.clone())
    }
}

impl Transport for Shared {
    fn host(&self) -> &str {
        &self.host
    }
    fn run(&mut self, command: &str) -> Result<CommandOutput, Error> {
        self.lock().run(command)
    }
    fn put_file(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), Error> {
        self.lock().put_file(path, content, mode, owner)
    }
    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        self.lock().read_file(path)
    }
    fn stat_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, Error> {
        self.lock().stat_files(paths)
    }
    fn copy_file(&mut self, from: &Path, to: &Path) -> Result<(), Error> {
        self.lock().copy_file(from, to)
    }
}

fn unquote(s: &str) -> String {
    s.trim_matches('\'').to_string()
}

fn is_mutating(command: &str) -> bool {
    let read_only = command.starts_with("[ -d ")
        || command.starts_with("{ systemctl is-enabled ")
        || command.starts_with("for f in ")
        || command.starts_with("test ");
    !read_only
}

impl Transport for RecordingTransport {
    fn host(&self) -> &str {
        &self.host
    }

    fn run(&mut self, command: &str) -> Result<CommandOutput, Error> {
        self.record(Call::Run(command.to_string()))?;
        Ok(self.emulate(command))
    }

    fn put_file(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), Error> {
        self.record(Call::Put(path.to_path_buf()))?;
        self.files.insert(
            path.to_path_buf(),
            MemFile {
                content: content.to_vec(),
                mode,
                owner: owner.unwrap_or("root:root").to_string(),
            },
        );
        Ok(())
    }

    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, Error> {
        self.record(Call::Read(path.to_path_buf()))?;
        Ok(self.files.get(path).map(|f| f.content.clone()))
    }

    fn stat_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, Error> {
        self.record(Call::Stat(paths.to_vec()))?;
        Ok(paths
            .iter()
            .map(|p| {
                self.files.get(p).map(|f| FileStat {
                    sha256: hex::encode(Sha256::digest(&f.content)),
                    mode: f.mode,
                    owner: f.owner.clone(),
                })
            })
            .collect())
    }

    fn copy_file(&mut self, from: &Path, to: &Path) -> Result<(), Error> {
        self.record(Call::Copy(from.to_path_buf(), to.to_path_buf()))?;
        match self.files.get(from).cloned() {
            Some(f) => {
                self.files.insert(to.to_path_buf(), f);
                Ok(())
            }
            None => Err(Error::Remote {
                host: self.host.clone(),
                what: "backup".into(),
                path: from.to_path_buf(),
                status: 1,
                stderr: "no such file".into(),
            }),
        }
    }
}
