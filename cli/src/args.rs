//! What every subcommand shares: the inventory flag, etcd access flags, the one duration
//! syntax, the `--output` flag, opening a session, and the observers that print its events.

use anyhow::Result;
use deploy::{EtcdAccess, Event, Observer, Session, Settings};
use etcd_cluster::Timeouts;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

/// Every duration flag's syntax: `2s`, `500ms`, `1m`, `30d` (a unit is required).
pub fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration such as 2s, 500ms or 1m: {e}"))
}

/// The inventory.
#[derive(clap::Args, Clone)]
pub struct InventoryArg {
    /// The inventory.
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "inventory",
        value_name = "FILE",
        default_value = "cluster.yaml"
    )]
    pub file: PathBuf,
}

/// Where the cluster is described and how its etcd is reached (every `etcd` and `flannel`
/// subcommand).
#[derive(clap::Args, Clone)]
pub struct Common {
    #[command(flatten)]
    pub inventory: InventoryArg,
    /// etcd client URLs instead of the inventory's members (comma-separated).
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// The etcd CA (default: <pki_dir>/etcd/ca.pem).
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// The client certificate (default: <pki_dir>/etcd/client.pem).
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// The client key (default: <pki_dir>/etcd/client-key.pem).
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// How long connecting to one member may take.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = duration)]
    pub connect_timeout: Duration,
    /// How long one request to a member may take.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = duration)]
    pub request_timeout: Duration,
}

/// How results and progress are printed.
#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Progress lines (bars on a terminal) and tables.
    #[default]
    Text,
    /// One JSON object per event, then the result.
    Json,
}

/// The `--output` flag.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct OutputArg {
    /// How results and progress are printed.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

impl OutputArg {
    /// Whether JSON was asked for.
    pub fn json(self) -> bool {
        self.output == OutputFormat::Json
    }

    /// Prints `value` as one JSON line (in JSON mode), or `text` otherwise.
    pub fn print<T: Serialize>(self, value: &T, text: impl FnOnce() -> String) -> Result<()> {
        if self.json() {
            println!("{}", serde_json::to_string(value)?);
        } else {
            print!("{}", text());
        }
        Ok(())
    }
}

/// The flags of a command that changes things from the inventory: the inventory, whether
/// to change anything at all, how to print.
#[derive(clap::Args)]
pub struct Changing {
    #[command(flatten)]
    pub inventory: InventoryArg,
    /// Show what would change and change nothing, locally or on a host.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub output: OutputArg,
}

impl Changing {
    /// The session for `command` (`kubin prepare`): a dry run records no new host key;
    /// a real run holds every host's lock until the session ends.
    pub fn open(&self, command: &str, ssh_timeout: Option<Duration>) -> Result<Session> {
        let mut s = open(&self.inventory, None, self.output, ssh_timeout)?;
        changing(&mut s, self.dry_run, command)?;
        Ok(s)
    }
}

/// Readies `s` for a command that changes hosts: a dry run records no new host key, a
/// real run takes every host's lock (held until the session ends).
pub fn changing(s: &mut Session, dry_run: bool, command: &str) -> Result<()> {
    if dry_run {
        s.settings.ssh.dry_run = true;
    } else {
        s.lock(command)?;
    }
    Ok(())
}

/// The flags of every subcommand that talks to etcd.
#[derive(clap::Args)]
pub struct Online {
    #[command(flatten)]
    pub common: Common,
    #[command(flatten)]
    pub output: OutputArg,
}

impl Online {
    /// The session these flags describe.
    pub fn session(&self) -> Result<Session> {
        open(
            &self.common.inventory,
            Some(&self.common),
            self.output,
            None,
        )
    }
}

/// Prints events as lines (notes on stdout, warnings on stderr, reports as text).
struct TextObserver;

impl Observer for TextObserver {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Note { message } => println!("{message}"),
            Event::Warning { message } => eprintln!("kubin: warning: {message}"),
            Event::Applied { report } => print!("{}", report.render_text()),
            Event::PhaseStarted { phase } => println!("\n== {phase}"),
            Event::PhaseEnded { phase, outcome } => println!("== {phase}: {outcome}"),
            _ => {}
        }
    }
}

/// Prints each event as one JSON line; an executor's report as `{"event": "report", ...}`.
struct JsonObserver;

impl Observer for JsonObserver {
    fn event(&self, event: &Event<'_>) {
        let value = match event {
            Event::Applied { report } => serde_json::to_value(report).map(|mut v| {
                if let Some(o) = v.as_object_mut() {
                    o.insert("event".into(), "report".into());
                    o.insert("success".into(), report.is_success().into());
                }
                v
            }),
            other => serde_json::to_value(other),
        };
        if let Ok(v) = value {
            println!("{v}");
        }
    }
}

/// Opens the session: the inventory, how hosts and etcd are reached, the observer.
pub fn open(
    inventory: &InventoryArg,
    etcd: Option<&Common>,
    output: OutputArg,
    ssh_timeout: Option<Duration>,
) -> Result<Session> {
    let mut settings = Settings::default();
    settings.apply.output = if output.json() {
        executor::Output::Json
    } else {
        executor::Output::Text
    };
    if let Some(t) = ssh_timeout {
        settings.ssh.io_timeout = t.max(Duration::from_secs(1));
    }
    if let Some(c) = etcd {
        settings.etcd = EtcdAccess {
            endpoints: c.endpoints.clone(),
            cacert: c.cacert.clone(),
            cert: c.cert.clone(),
            key: c.key.clone(),
            timeouts: Timeouts {
                connect: c.connect_timeout,
                request: c.request_timeout,
            },
        };
    }
    let observer: Box<dyn Observer> = if output.json() {
        Box::new(JsonObserver)
    } else {
        Box::new(TextObserver)
    };
    Ok(Session::open(&inventory.file, settings, observer)?)
}

#[cfg(test)]
mod tests {
    use super::duration;
    use std::time::Duration;

    #[test]
    fn one_duration_syntax() {
        assert_eq!(duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("30d"), Ok(Duration::from_secs(30 * 86400)));
        assert!(duration("7").is_err(), "a unit is required");
        assert!(duration("x").is_err());
    }
}
