//! Running programs: a failing exit becomes an [`Error::Command`] with the tail of stderr.

use crate::error::{Error, Result};
use std::process::{Command, Output};

/// The command line of `c`, for messages (lab commands never carry secrets as arguments).
pub(crate) fn describe(c: &Command) -> String {
    let mut s = c.get_program().to_string_lossy().into_owned();
    for a in c.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last few lines of `bytes`, as text.
pub(crate) fn tail(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(8);
    lines[start..].join("\n")
}

/// Runs `c` to completion, capturing output; errors if it cannot start.
pub(crate) fn output(c: &mut Command) -> Result<Output> {
    c.output().map_err(|source| Error::Spawn {
        program: c.get_program().to_string_lossy().into_owned(),
        source,
    })
}

/// Runs `c`, failing unless it exits 0; returns its stdout.
pub(crate) fn run(c: &mut Command) -> Result<String> {
    let out = output(c)?;
    if !out.status.success() {
        return Err(Error::Command {
            command: describe(c),
            status: out.status.to_string(),
            stderr: tail(if out.stderr.is_empty() {
                &out.stdout
            } else {
                &out.stderr
            }),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Shorthand for `Command::new(program).args(args)`.
pub(crate) fn cmd<I, S>(program: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(program);
    c.args(args);
    c
}
