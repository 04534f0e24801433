//! The per-host lock every command that changes hosts takes (as k0sctl does): the file
//! [`LOCK_PATH`], created atomically (`set -C`, O_EXCL), holding who holds it. The decision
//! (free, ours, held, stale) is the pure [`decide`]; [`acquire`] and [`release`] do the IO
//! over a host's transport.

use crate::Error;
use executor::Transport;
use plan::shell::quote;
use serde::Serialize;
use std::time::Duration;

/// The lock file. Under /run, so a reboot of the host clears it.
pub const LOCK_PATH: &str = "/run/kubin.lock";

/// A lock older than this is taken over with a warning: no run of kubin holds a host that
/// long, so its holder crashed without releasing it.
pub const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);

/// Who holds (or wants) a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// The login on the control machine.
    pub user: String,
    /// The control machine's host name.
    pub host: String,
    /// The kubin process on the control machine.
    pub pid: u32,
    /// When it took the lock, in seconds since the Unix epoch (control machine's clock).
    pub started: u64,
    /// The command, e.g. `kubin deploy`.
    pub command: String,
}

impl Holder {
    /// The lock file's content: one `key=value` per line, no trailing newline.
    pub fn render(&self) -> String {
        format!(
            "user={}\nhost={}\npid={}\nstarted={}\ncommand={}",
            one_line(&self.user),
            one_line(&self.host),
            self.pid,
            self.started,
            one_line(&self.command)
        )
    }

    /// Reads a lock file's content; `None` when it is not one (empty, cut short, garbage).
    pub fn parse(text: &str) -> Option<Self> {
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_string)
        };
        Some(Self {
            user: field("user")?,
            host: field("host")?,
            pid: field("pid")?.parse().ok()?,
            started: field("started")?.parse().ok()?,
            command: field("command")?,
        })
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}, `{}`, since {})",
            self.user,
            self.host,
            self.pid,
            self.command,
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + Duration::from_secs(self.started)
            )
        )
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// What to do about a host's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nobody holds it: take it.
    Take,
    /// This run holds it already.
    Ours,
    /// Someone else holds it: fail at once, naming them.
    Held(Holder),
    /// It is left over from a run that is gone: take it over, saying so.
    TakeOver {
        /// Why it is stale.
        why: String,
    },
}

/// Decides about the lock file's `existing` content for `me`, at `now` (seconds since the
/// epoch on the control machine). A holder on this same control machine whose process is
/// gone (`alive` says) or any holder older than `stale_after` is stale; an unreadable lock
/// is stale too (a lock is written in one `printf`, so a crash left it so).
pub fn decide(
    existing: Option<&str>,
    me: &Holder,
    now: u64,
    stale_after: Duration,
    alive: &dyn Fn(u32) -> bool,
) -> Decision {
    let Some(text) = existing else {
        return Decision::Take;
    };
    let Some(h) = Holder::parse(text) else {
        return Decision::TakeOver {
            why: format!("its content is not a lock ({} bytes)", text.len()),
        };
    };
    if h == *me {
        return Decision::Ours;
    }
    if h.host == me.host && !alive(h.pid) {
        return Decision::TakeOver {
            why: format!("its holder {h} is gone: no process {} here", h.pid),
        };
    }
    let age = now.saturating_sub(h.started);
    if age > stale_after.as_secs() {
        return Decision::TakeOver {
            why: format!(
                "its holder {h} took it {} ago, longer than any run ({})",
                humantime::format_duration(Duration::from_secs(age)),
                humantime::format_duration(stale_after)
            ),
        };
    }
    Decision::Held(h)
}

/// The marker the acquire script prints when it created the lock.
const ACQUIRED: &str = "kubin-lock-acquired";

/// What [`acquire`] did on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    /// The lock was free (or already ours) and is now held.
    Taken,
    /// A stale lock was taken over; why it was stale.
    TookOver(String),
}

/// Takes `host`'s lock for `me` (one round trip when it is free): fails with
/// [`Error::Locked`] naming the holder when another live run holds it.
pub fn acquire(t: &mut dyn Transport, me: &Holder, now: u64) -> Result<Acquired, Error> {
    let host = t.host().to_string();
    let io = |source| Error::Lock {
        host: host.clone(),
        source: Box::new(source),
    };
    let content = quote(&me.render());
    let script = format!(
        "if ( set -C; printf '%s' {content} > {LOCK_PATH} ) 2>/dev/null; then echo {ACQUIRED}; else cat {LOCK_PATH}; fi"
    );
    let out = t.run(&script).map_err(io)?;
    let text = out.stdout_text();
    if text.trim() == ACQUIRED {
        return Ok(Acquired::Taken);
    }
    match decide(Some(&text), me, now, STALE_AFTER, &local_pid_alive) {
        Decision::Take | Decision::Ours => Ok(Acquired::Taken),
        Decision::Held(holder) => Err(Error::Locked {
            host,
            holder: holder.to_string(),
        }),
        Decision::TakeOver { why } => {
            // Replaced by a rename, then read back: of two runs taking over at once, one
            // sees the other's content and stops.
            let tmp = format!("{LOCK_PATH}.{}", me.pid);
            let replace = format!(
                "printf '%s' {content} > {tmp} && mv -f {tmp} {LOCK_PATH} && cat {LOCK_PATH}"
            );
            let back = t.run(&replace).map_err(io)?.stdout_text();
            if back != me.render() {
                let holder = Holder::parse(&back).map_or(back, |h| h.to_string());
                return Err(Error::Locked { host, holder });
            }
            Ok(Acquired::TookOver(why))
        }
    }
}

/// Releases `host`'s lock if `me` holds it (another run's lock is left alone).
pub fn release(t: &mut dyn Transport, me: &Holder) -> Result<(), Error> {
    let script = format!(
        "if [ \"$(cat {LOCK_PATH} 2>/dev/null)\" = {} ]; then rm -f {LOCK_PATH}; fi",
        quote(&me.render())
    );
    let host = t.host().to_string();
    t.run(&script).map_err(|source| Error::Lock {
        host,
        source: Box::new(source),
    })?;
    Ok(())
}

/// Whether process `pid` runs on this (the control) machine.
pub fn local_pid_alive(pid: u32) -> bool {
    std::path::Path::new("/proc").join(pid.to_string()).exists()
}

/// The login of this process's real uid, from /proc/self/status and /etc/passwd (when
/// `USER` is not set, as under cron or a test harness).
fn login_of_this_process() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        (f.nth(1)? == uid).then(|| name.to_string())
    });
    Some(name.unwrap_or(format!("uid {uid}")))
}

/// This process as a lock holder for `command`, at `now`.
pub fn this_run(command: &str, now: u64) -> Holder {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .or_else(login_of_this_process)
        .unwrap_or_else(|| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    Holder {
        user,
        host,
        pid: std::process::id(),
        started: now,
        command: command.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> Holder {
        Holder {
            user: "root".into(),
            host: "ctl".into(),
            pid: 100,
            started: 1_000,
            command: "kubin deploy".into(),
        }
    }

    fn other(host: &str, pid: u32, started: u64) -> String {
        Holder {
            host: host.into(),
            pid,
            started,
            ..me()
        }
        .render()
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[track_caller]
    fn check(existing: Option<&str>, now: u64, alive: bool, expected: &str) {
        let d = decide(existing, &me(), now, HOUR, &|_| alive);
        let shown = match &d {
            Decision::Take => "take".to_string(),
            Decision::Ours => "ours".to_string(),
            Decision::Held(h) => format!("held by {h}"),
            Decision::TakeOver { why } => format!("take over: {why}"),
        };
        assert!(shown.starts_with(expected), "{shown}");
    }

    #[test]
    fn the_content_round_trips_on_one_line_per_field() {
        let h = Holder {
            command: "kubin deploy\n-f x".into(),
            ..me()
        };
        let back = Holder::parse(&h.render()).unwrap();
        assert_eq!(back.command, "kubin deploy -f x");
        assert_eq!(Holder::parse(""), None);
        assert_eq!(Holder::parse("user=a\nhost=b\npid=x"), None);
    }

    #[test]
    fn decisions() {
        check(None, 1_000, true, "take");
        check(Some(&me().render()), 1_000, true, "ours");
        check(
            Some(&other("ctl", 7, 1_000)),
            1_010,
            true,
            "held by root@ctl (pid 7, `kubin deploy`, since 1970-01-01T00:16:40Z)",
        );
        check(
            Some(&other("ctl", 7, 1_000)),
            1_010,
            false,
            "take over: its holder root@ctl (pid 7",
        );
        // Another control machine's pid says nothing here: only the age does.
        check(
            Some(&other("laptop", 7, 1_000)),
            1_010,
            false,
            "held by root@laptop",
        );
        check(
            Some(&other("laptop", 7, 1_000)),
            1_000 + 3601,
            true,
            "take over: its holder root@laptop",
        );
        check(
            Some("garbage"),
            1_000,
            true,
            "take over: its content is not a lock (7 bytes)",
        );
    }

    #[test]
    fn acquire_then_a_second_run_is_refused_then_release_frees_it() {
        use executor::RecordingTransport;
        // The recording transport runs no shell: it answers the acquire script as a free
        // host would, then as one held by another control machine.
        let mut free = RecordingTransport::new("k8s-node1");
        free.script_status("set -C", 0, ACQUIRED);
        assert_eq!(acquire(&mut free, &me(), 1_000).unwrap(), Acquired::Taken);
        let script = free.commands()[0].to_string();
        assert!(
            script.contains("set -C") && script.contains(LOCK_PATH),
            "{script}"
        );
        release(&mut free, &me()).unwrap();
        assert!(free.commands()[1].contains("rm -f /run/kubin.lock"));

        let mut held = RecordingTransport::new("k8s-node1");
        held.script_status("set -C", 0, &other("laptop", 7, 1_000));
        match acquire(&mut held, &me(), 1_001) {
            Err(Error::Locked { host, holder }) => {
                assert_eq!(host, "k8s-node1");
                assert!(holder.starts_with("root@laptop (pid 7"), "{holder}");
            }
            other => panic!("{other:?}"),
        }
    }
}
