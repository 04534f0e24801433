//! The narrow host trait every remote action goes through, and its implementations.
//!
//! [`Transport`] runs a command, puts a file atomically, reads a file and stats files.
//! [`ssh::SshTransport`] is the real one; [`recording::RecordingTransport`] is an in-memory
//! double for fast tests that records every call and can be told to fail the Nth.

pub mod known_hosts;
pub mod manifest;
pub mod recording;
pub mod script;
pub mod ssh;

use crate::Error;
use plan::shell::quote_path;
use script::{parse_stat_output, stat_command};
use std::path::{Path, PathBuf};

/// What a command printed and how it exited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOutput {
    /// The exit status (`-1` when the command was killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// Standard output as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The last lines of standard error, at most `max` bytes, for failure summaries.
    pub fn stderr_excerpt(&self, max: usize) -> String {
        excerpt(&String::from_utf8_lossy(&self.stderr), max)
    }
}

/// The tail of `text`, trimmed, at most `max` bytes (on a character boundary).
pub fn excerpt(text: &str, max: usize) -> String {
    let t = text.trim();
    if t.len() <= max {
        return t.to_string();
    }
    let mut start = t.len() - max;
    while !t.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &t[start..])
}

/// What the executor needs to know about an existing remote file to decide whether to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// Hex SHA-256 of the content.
    pub sha256: String,
    /// Permission bits.
    pub mode: u32,
    /// `user:group`.
    pub owner: String,
}

/// One file of [`Transport::put_files`].
#[derive(Debug, Clone, Copy)]
pub struct PutFile<'a> {
    /// Absolute path on the host.
    pub path: &'a Path,
    /// The content.
    pub content: &'a [u8],
    /// Permission bits.
    pub mode: u32,
    /// `user:group`, or `None` for the writing user's.
    pub owner: Option<&'a str>,
    /// The content's hex sha256 when the caller has it: a transport with a quick check
    /// records it with the written file's stamp, so the next run need not hash the file.
    pub sha256: Option<&'a str>,
}

/// A host reached by some means: run commands, put, read and stat files.
///
/// Commands run through `sh -c` with root rights (the SSH transport adds `sudo -n` for a
/// non-root login). Implementations are `Send` so the executor can drive hosts from threads.
pub trait Transport: Send {
    /// The inventory name of the host.
    fn host(&self) -> &str;

    /// Runs `command` through `sh -c` and returns its status and output; a non-zero exit is
    /// not an error here, a broken connection is.
    fn run(&mut self, command: &str) -> Result<CommandOutput, Error>;

    /// Writes `content` to `path` atomically: a temp file in the same directory gets the
    /// mode and owner, then is renamed over `path`. The parent directory must exist.
    fn put_file(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), Error>;

    /// Writes several files, each as [`Transport::put_file`] does, in one round trip where
    /// the transport can; stops at the first that fails.
    fn put_files(&mut self, files: &[PutFile<'_>]) -> Result<(), Error> {
        for f in files {
            self.put_file(f.path, f.content, f.mode, f.owner)?;
        }
        Ok(())
    }

    /// Reads `path`; `None` when it does not exist.
    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, Error>;

    /// The host key this connection trusted because known_hosts had none (accept-new),
    /// and whether it was recorded, for the operator to hear about; `None` otherwise.
    fn new_host_key(&self) -> Option<&ssh::NewHostKey> {
        None
    }

    /// Keeps what the transport learnt for the next run, where it keeps anything (the SSH
    /// transport's quick-check records, see [`manifest`]); the executor calls it after each
    /// host's steps of a phase, never in a dry run.
    fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }

    /// Stats each path (content hash, mode, owner), `None` for missing ones, in one round
    /// trip where the transport can.
    fn stat_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, Error> {
        if paths.is_empty() {
            return Ok(Vec::new());
        }
        let out = self.run(&stat_command(paths))?;
        if !out.success() {
            return Err(Error::Remote {
                host: self.host().to_string(),
                what: "stat".into(),
                path: paths[0].clone(),
                status: out.status,
                stderr: out.stderr_excerpt(400),
            });
        }
        parse_stat_output(self.host(), paths, &out.stdout_text())
    }

    /// Copies `from` to `to` keeping mode and owner (backups before replacement).
    fn copy_file(&mut self, from: &Path, to: &Path) -> Result<(), Error> {
        let cmd = format!("cp -p -- {} {}", quote_path(from), quote_path(to));
        let out = self.run(&cmd)?;
        if out.success() {
            Ok(())
        } else {
            Err(Error::Remote {
                host: self.host().to_string(),
                what: "backup".into(),
                path: from.to_path_buf(),
                status: out.status,
                stderr: out.stderr_excerpt(400),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_the_tail() {
        assert_eq!(excerpt("  short ", 10), "short");
        assert_eq!(excerpt("0123456789abc", 3), "…abc");
    }
}
