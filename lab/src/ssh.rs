//! The system `ssh`/`scp`, with the lab's key and known_hosts and nothing from the user's
//! configuration; and waiting for a booting machine.

use crate::cmd::{cmd, output};
use crate::error::{Error, Result};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// Options for `ssh` and `scp`: the lab key only, strict host keys from the lab's
/// known_hosts, batch mode, short timeouts.
pub(crate) fn options(key: &Path, known_hosts: &Path) -> Vec<String> {
    [
        "-F".to_string(),
        "/dev/null".into(),
        "-i".into(),
        key.display().to_string(),
        "-o".into(),
        "IdentitiesOnly=yes".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        "StrictHostKeyChecking=yes".into(),
        "-o".into(),
        format!("UserKnownHostsFile={}", known_hosts.display()),
        "-o".into(),
        "GlobalKnownHostsFile=/dev/null".into(),
        "-o".into(),
        "ConnectTimeout=3".into(),
        "-o".into(),
        "ServerAliveInterval=5".into(),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
        "-o".into(),
        "LogLevel=ERROR".into(),
    ]
    .to_vec()
}

/// Runs `command` as root at `address`.
pub(crate) fn ssh(opts: &[String], address: Ipv4Addr, command: &str) -> Result<Output> {
    output(
        cmd("ssh", opts)
            .arg(format!("root@{address}"))
            .arg("--")
            .arg(command),
    )
}

/// Copies `local` to `remote` at `address` with `scp`.
pub(crate) fn scp(opts: &[String], address: Ipv4Addr, local: &Path, remote: &Path) -> Result<()> {
    let mut c = cmd("scp", ["-q"]);
    c.args(opts)
        .arg(local)
        .arg(format!("root@{address}:{}", remote.display()));
    crate::cmd::run(&mut c).map(|_| ())
}

/// How a machine came up: systemd's state and the units that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// The host name.
    pub host: String,
    /// `systemctl is-system-running` after startup settled: `running` or `degraded`.
    pub state: String,
    /// Failed units when degraded.
    pub failed: Vec<String>,
    /// How long from boot until it settled.
    pub took: Duration,
}

/// The script run once SSH answers: wait for startup to finish, print the state and
/// failed units.
const SETTLE: &str = "s=$(systemctl is-system-running --wait 2>/dev/null); echo \"$s\"; systemctl --failed --no-legend --plain 2>/dev/null | cut -d' ' -f1";

/// Parses [`SETTLE`]'s output into (state, failed units).
pub(crate) fn parse_settle(stdout: &str) -> (String, Vec<String>) {
    let mut lines = stdout.lines().map(str::trim).filter(|l| !l.is_empty());
    let state = lines.next().unwrap_or("unknown").to_string();
    (state, lines.map(String::from).collect())
}

/// A machine that was just booted, to wait for.
pub(crate) struct Booting<'a> {
    /// The lab name (for messages).
    pub lab: &'a str,
    /// The host name.
    pub host: &'a str,
    /// Its address.
    pub address: Ipv4Addr,
    /// The ssh options of the lab.
    pub opts: &'a [String],
    /// Its nspawn log, shown if nspawn exits.
    pub machine_log: &'a Path,
    /// Its nspawn PID.
    pub pid: u32,
    /// When it was started.
    pub started: Instant,
}

/// Polls the machine until SSH answers and systemd settled (running or degraded); fails
/// early if its nspawn exits.
pub(crate) fn wait_ready(b: &Booting<'_>, timeout: Duration) -> Result<Readiness> {
    let Booting {
        lab,
        host,
        address,
        opts,
        machine_log,
        pid,
        started,
    } = *b;
    let mut last = String::from("no answer yet");
    while started.elapsed() < timeout {
        if !crate::machine::is_alive(pid) {
            let log = std::fs::read(machine_log).unwrap_or_default();
            return Err(Error::NotReady {
                lab: lab.to_string(),
                host: host.to_string(),
                address: address.to_string(),
                seconds: started.elapsed().as_secs(),
                last: format!("systemd-nspawn exited: {}", crate::cmd::tail(&log)),
            });
        }
        let out = ssh(opts, address, SETTLE)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.code() != Some(255) {
            let (state, failed) = parse_settle(&stdout);
            if state == "running" || state == "degraded" {
                return Ok(Readiness {
                    host: host.to_string(),
                    state,
                    failed,
                    took: started.elapsed(),
                });
            }
            last = format!("system state {state}");
        } else {
            last = crate::cmd::tail(&out.stderr);
        }
        std::thread::sleep(Duration::from_millis(150));
    }
    Err(Error::NotReady {
        lab: lab.to_string(),
        host: host.to_string(),
        address: address.to_string(),
        seconds: timeout.as_secs(),
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settle_output() {
        assert_eq!(parse_settle("running\n"), ("running".into(), vec![]));
        assert_eq!(
            parse_settle("degraded\nfoo.service\nbar.mount\n"),
            (
                "degraded".into(),
                vec!["foo.service".into(), "bar.mount".into()]
            )
        );
        assert_eq!(parse_settle(""), ("unknown".into(), vec![]));
    }
}
