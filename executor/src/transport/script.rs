//! The shell scripts the transports run on a host to stat and to write files, and the
//! parser of what the stat script prints (pure: text in, text out).
//!
//! Every process a script starts costs the host a fork and an exec, and all lab machines
//! (and many small VMs) share few cores, so the scripts start a fixed handful of
//! processes per call rather than several per file.

use super::manifest::STAMP_FORMAT;
use super::{FileStat, PutFile};
use crate::Error;
use plan::shell::{quote, quote_path};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Files at most this long, with no NUL byte, travel inside the script (written by the
/// shell's `printf` builtin, no process) when [`put_script`] may inline them; longer ones
/// travel on stdin, read by `dd`.
pub const INLINE_FILE_MAX: usize = 16 * 1024;

/// At most this many content bytes inside one script: the script is one argument of
/// `sh -c` (and of `sudo`), and Linux caps one argument at 128 KiB.
pub const INLINE_TOTAL_MAX: usize = 64 * 1024;

/// One shell command printing, per path, `+` (a regular file) or `-` (missing), then for
/// the present ones, in order, a `MODE USER:GROUP` line each (one `stat`) and a
/// `SHA256  NAME` line each (one `sha256sum`).
pub fn stat_command(paths: &[PathBuf]) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote_path(p)).collect();
    format!(
        "for f in {}; do if [ -f \"$f\" ]; then set -- \"$@\" \"$f\"; echo +; else echo -; fi; done; if [ $# -gt 0 ]; then stat -c '%a %U:%G' -- \"$@\" && sha256sum -- \"$@\"; fi",
        list.join(" ")
    )
}

/// Parses what [`stat_command`] printed for `paths`.
pub fn parse_stat_output(
    host: &str,
    paths: &[PathBuf],
    text: &str,
) -> Result<Vec<Option<FileStat>>, Error> {
    let bad = |message: String| Error::Stat {
        host: host.to_string(),
        message,
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < paths.len() {
        return Err(bad(format!(
            "stat printed {} lines for {} paths",
            lines.len(),
            paths.len()
        )));
    }
    let (marks, rest) = lines.split_at(paths.len());
    let present = marks.iter().filter(|m| m.trim() == "+").count();
    if rest.len() != 2 * present {
        return Err(bad(format!(
            "stat printed {} lines for {} present files",
            rest.len(),
            present
        )));
    }
    let (stats, sums) = rest.split_at(present);
    let mut found = stats.iter().zip(sums);
    marks
        .iter()
        .zip(paths)
        .map(|(mark, path)| match mark.trim() {
            "-" => Ok(None),
            "+" => {
                let (stat, sum) = found
                    .next()
                    .ok_or_else(|| bad("stat output ended early".into()))?;
                let mut parts = stat.split_whitespace();
                let (Some(mode), Some(owner)) = (parts.next(), parts.next()) else {
                    return Err(bad(format!(
                        "cannot parse stat of {}: {stat:?}",
                        path.display()
                    )));
                };
                let mode = u32::from_str_radix(mode, 8)
                    .map_err(|_| bad(format!("bad mode {mode:?} for {}", path.display())))?;
                // sha256sum marks a line whose name it had to escape with a leading `\`.
                let sha = sum
                    .trim_start_matches('\\')
                    .split_whitespace()
                    .next()
                    .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| {
                        bad(format!(
                            "cannot parse sha256sum of {}: {sum:?}",
                            path.display()
                        ))
                    })?;
                Ok(Some(FileStat {
                    sha256: sha.to_string(),
                    mode,
                    owner: owner.to_string(),
                }))
            }
            other => Err(bad(format!(
                "cannot parse stat of {}: {other:?}",
                path.display()
            ))),
        })
        .collect()
}

/// What [`quick_stat_command`] found of one present file: mode, owner and stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuickStat {
    /// Permission bits.
    pub mode: u32,
    /// `user:group`.
    pub owner: String,
    /// Size, inode, device, mtime and ctime ([`STAMP_FORMAT`]).
    pub stamp: String,
}

/// One shell command printing, per path, `+` (a regular file) or `-`, then a
/// `MODE USER:GROUP STAMP` line per present file (one `stat`, no hashing), then a `--` line,
/// then, when `manifest` is given, that file's text (empty when it does not exist).
pub fn quick_stat_command(paths: &[PathBuf], manifest: Option<&Path>) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote_path(p)).collect();
    let mut s = format!(
        "for f in {}; do if [ -f \"$f\" ]; then set -- \"$@\" \"$f\"; echo +; else echo -; fi; done; if [ $# -gt 0 ]; then stat -c '%a %U:%G {STAMP_FORMAT}' -- \"$@\" || exit; fi; echo --",
        list.join(" ")
    );
    if let Some(m) = manifest {
        let m = quote_path(m);
        s.push_str(&format!("; if [ -f {m} ]; then cat -- {m}; fi"));
    }
    s
}

/// Parses what [`quick_stat_command`] printed for `paths`: each path's stat (`None` when
/// missing), and the text after the `--` line.
pub fn parse_quick_stat(
    host: &str,
    paths: &[PathBuf],
    text: &str,
) -> Result<(Vec<Option<QuickStat>>, String), Error> {
    let bad = |message: String| Error::Stat {
        host: host.to_string(),
        message,
    };
    let (head, rest) = match text.split_once("\n--\n") {
        Some((h, r)) => (h, r),
        None => (text.strip_suffix("--\n").unwrap_or(text), ""),
    };
    let lines: Vec<&str> = head.lines().collect();
    if lines.len() < paths.len() {
        return Err(bad(format!(
            "stat printed {} lines for {} paths",
            lines.len(),
            paths.len()
        )));
    }
    let (marks, stats) = lines.split_at(paths.len());
    let present = marks.iter().filter(|m| m.trim() == "+").count();
    if stats.len() != present {
        return Err(bad(format!(
            "stat printed {} lines for {} present files",
            stats.len(),
            present
        )));
    }
    let mut found = stats.iter();
    let parsed = marks
        .iter()
        .zip(paths)
        .map(|(mark, path)| match mark.trim() {
            "-" => Ok(None),
            "+" => {
                let line = found
                    .next()
                    .ok_or_else(|| bad("stat output ended early".into()))?;
                let mut parts = line.splitn(3, ' ');
                let (Some(mode), Some(owner), Some(stamp)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad(format!(
                        "cannot parse stat of {}: {line:?}",
                        path.display()
                    )));
                };
                let mode = u32::from_str_radix(mode, 8)
                    .map_err(|_| bad(format!("bad mode {mode:?} for {}", path.display())))?;
                Ok(Some(QuickStat {
                    mode,
                    owner: owner.to_string(),
                    stamp: stamp.trim().to_string(),
                }))
            }
            other => Err(bad(format!(
                "cannot parse stat of {}: {other:?}",
                path.display()
            ))),
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((parsed, rest.to_string()))
}

/// One `sha256sum` of `paths`, a line each, in order.
pub fn hash_command(paths: &[PathBuf]) -> String {
    let list: Vec<String> = paths.iter().map(|p| quote_path(p)).collect();
    format!("sha256sum -- {}", list.join(" "))
}

/// Parses what [`hash_command`] printed: each path's hex sha256.
pub fn parse_hashes(host: &str, paths: &[PathBuf], text: &str) -> Result<Vec<String>, Error> {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() != paths.len() {
        return Err(Error::Stat {
            host: host.to_string(),
            message: format!(
                "sha256sum printed {} lines for {} files",
                lines.len(),
                paths.len()
            ),
        });
    }
    lines
        .iter()
        .zip(paths)
        .map(|(line, path)| sha_of_line(host, path, line))
        .collect()
}

/// The hex digest of one `sha256sum` line (a leading `\` marks a name it had to escape).
fn sha_of_line(host: &str, path: &Path, line: &str) -> Result<String, Error> {
    line.trim_start_matches('\\')
        .split_whitespace()
        .next()
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_string)
        .ok_or_else(|| Error::Stat {
            host: host.to_string(),
            message: format!("cannot parse sha256sum of {}: {line:?}", path.display()),
        })
}

/// A script writing `files` atomically, and the bytes to feed it on stdin.
///
/// Per target directory, a private staging directory is made next to the targets
/// (`mktemp -d`, mode 700, same file system); each file is written there under its own
/// name, then all get their modes and owners (one `chmod` per mode, one `chown` per
/// owner), and one `mv` per directory renames them over their targets, each rename
/// atomic. A failure leaves every target as it was before the failing step and removes
/// the staging directories.
///
/// With `inline`, small text files that every user of the host may read anyway (mode has
/// the others-read bit) travel inside the script, which is a command line anyone on the
/// host can see in the process list. Everything else, keys and tokens above all, travels
/// on stdin. Callers pass `inline = false` when the script runs through `sudo`, which logs
/// whole command lines to the host's auth log.
///
/// With `stamps`, the script then prints each target's stamp ([`STAMP_FORMAT`]), a line
/// each in order, for the quick check of the next run (nothing when `stat` fails: the
/// files are written all the same).
pub fn put_script(files: &[PutFile<'_>], inline: bool, stamps: bool) -> (String, Vec<u8>) {
    let mut dirs: Vec<&Path> = Vec::new();
    for f in files {
        let dir = parent(f.path);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    let var = |dir: &Path| format!("d{}", dirs.iter().position(|d| *d == dir).unwrap_or(0));
    let all: Vec<String> = (0..dirs.len()).map(|i| format!("\"$d{i}\"")).collect();
    let all = all.join(" ");
    let mut s = String::from("set -e; umask 077; ");
    for i in 0..dirs.len() {
        s.push_str(&format!("d{i}=; "));
    }
    s.push_str(&format!("trap 'rm -rf -- {all}' EXIT; "));
    for (i, dir) in dirs.iter().enumerate() {
        s.push_str(&format!(
            "d{i}=$(mktemp -d {}); ",
            quote_path(&dir.join(".kubin-XXXXXX"))
        ));
    }
    let mut stdin = Vec::new();
    let mut inline_total = 0usize;
    let mut by_mode: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut by_owner: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut by_dir: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for f in files {
        let dir = parent(f.path);
        let staged = format!("\"${}\"/{}", var(dir), quote(&base_name(f.path)));
        let inline = inline
            && f.mode & 0o004 != 0
            && f.content.len() <= INLINE_FILE_MAX
            && !f.content.contains(&0)
            && std::str::from_utf8(f.content).is_ok()
            && inline_total + f.content.len() <= INLINE_TOTAL_MAX;
        if f.content.is_empty() {
            s.push_str(&format!(": > {staged}; "));
        } else if inline {
            inline_total += f.content.len();
            s.push_str(&format!(
                "printf '%s' {} > {staged}; ",
                quote_bytes(f.content)
            ));
        } else {
            s.push_str(&format!(
                "dd of={staged} bs={} count=1 iflag=fullblock status=none; ",
                f.content.len()
            ));
            stdin.extend_from_slice(f.content);
        }
        by_mode.entry(f.mode).or_default().push(staged.clone());
        if let Some(o) = f.owner {
            by_owner.entry(o).or_default().push(staged.clone());
        }
        let d = dirs.iter().position(|d| *d == dir).unwrap_or(0);
        by_dir.entry(d).or_default().push(staged);
    }
    for (mode, list) in &by_mode {
        s.push_str(&format!("chmod {mode:o} -- {}; ", list.join(" ")));
    }
    for (owner, list) in &by_owner {
        s.push_str(&format!("chown {} -- {}; ", quote(owner), list.join(" ")));
    }
    for (d, list) in &by_dir {
        // The trailing slash makes `mv` fail rather than rename onto a missing directory.
        let target = format!("{}/", dirs[*d].to_string_lossy().trim_end_matches('/'));
        s.push_str(&format!("mv -f -- {} {}; ", list.join(" "), quote(&target)));
    }
    s.push_str(&format!("rmdir -- {all}; trap - EXIT"));
    if stamps {
        let targets: Vec<String> = files.iter().map(|f| quote_path(f.path)).collect();
        s.push_str(&format!(
            "; stat -c '{STAMP_FORMAT}' -- {} 2>/dev/null || :",
            targets.join(" ")
        ));
    }
    (s, stdin)
}

fn parent(p: &Path) -> &Path {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("/"),
    }
}

fn base_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// Quotes UTF-8 content (no NUL) as one single-quoted shell word; single quotes keep
/// every byte but `'` as is. Other content goes through stdin (see [`put_script`]).
fn quote_bytes(content: &[u8]) -> String {
    quote(&String::from_utf8_lossy(content))
}

#[cfg(test)]
mod tests;
