//! `cargo xtask lab`: the lab, real Debian hosts with systemd on a private bridge.
//!
//! A thin front over the `lab` library: `up` leaves the machines running (state under
//! `/var/lib/kubin-lab/<name>/`), the other subcommands find the lab by name.

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lab::{Lab, LabConfig};
use std::io::Write;
use std::time::Instant;

/// The lab name the CLI uses unless told otherwise.
const DEFAULT_NAME: &str = "kubin";

/// Arguments of `cargo xtask lab`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(clap::Args, Clone)]
struct Name {
    /// The lab's name (labs of different names coexist).
    #[arg(long, default_value = DEFAULT_NAME)]
    name: String,
}

#[derive(Subcommand)]
enum Sub {
    /// Bring a lab up (the default): caches, bridge, machines, inventory.
    Up {
        /// How many machines (the guides' topology: 3).
        #[arg(long, default_value_t = 3)]
        hosts: usize,
        #[command(flatten)]
        name: Name,
    },
    /// Tear a lab down: processes, mounts, links, state (the caches stay).
    Down {
        #[command(flatten)]
        name: Name,
    },
    /// Run a command on a machine as root.
    Ssh {
        /// The host name (k8s-master1, k8s-node1, ...).
        host: String,
        /// The command line.
        #[arg(last = true, required = true)]
        command: Vec<String>,
        #[command(flatten)]
        name: Name,
    },
    /// Inject a fault into a machine.
    Fault {
        /// What to do.
        #[arg(value_enum)]
        fault: Fault,
        /// The host name.
        host: String,
        #[command(flatten)]
        name: Name,
    },
    /// Warm the caches (base root, Kubernetes build, bundle) without starting machines.
    Prepare,
    /// Show the labs on this machine.
    Status,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Fault {
    /// Shut the machine down (its disk stays).
    Stop,
    /// Take its link down.
    Cut,
    /// Bring its link back up.
    Restore,
    /// Stop it (if running) and boot it again.
    Restart,
}

impl Args {
    /// Whether this subcommand builds or runs kubin, or builds the lab's caches (and so
    /// needs the host's packages first); the others only look at or stop a lab.
    pub fn builds(&self) -> bool {
        match self.command {
            None | Some(Sub::Up { .. }) | Some(Sub::Prepare) => true,
            Some(Sub::Down { .. })
            | Some(Sub::Ssh { .. })
            | Some(Sub::Fault { .. })
            | Some(Sub::Status) => false,
        }
    }
}

/// Runs `cargo xtask lab`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        None => {
            let inventory = up(DEFAULT_NAME, 3)?;
            crate::main_job::deploy(&inventory)
        }
        Some(Sub::Up { hosts, name }) => up(&name.name, hosts).map(drop),
        Some(Sub::Down { name }) => {
            let t = Instant::now();
            lab::down(&name.name).with_context(|| format!("cannot tear down lab {}", name.name))?;
            println!(
                "lab {} down in {:.1} s",
                name.name,
                t.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Some(Sub::Ssh {
            host,
            command,
            name,
        }) => ssh(&name.name, &host, &command.join(" ")),
        Some(Sub::Fault { fault, host, name }) => {
            let lab = Lab::attach(&name.name)?;
            match fault {
                Fault::Stop => lab.stop(&host)?,
                Fault::Cut => lab.cut_link(&host)?,
                Fault::Restore => lab.restore_link(&host)?,
                Fault::Restart => {
                    lab.restart(&host)?;
                }
            }
            println!("lab {}: {host}: done", name.name);
            Ok(())
        }
        Some(Sub::Prepare) => prepare(),
        Some(Sub::Status) => status(),
    }
}

/// Warms every cache the lab needs, printing what it found or built.
pub fn prepare() -> Result<()> {
    let t = Instant::now();
    let root = lab::rootfs::ensure().context("cannot build the base root")?;
    println!(
        "base root: {} ({:.1} s)",
        root.display(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let bundle = lab::bundle::ensure().context("cannot build the bundle")?;
    println!(
        "bundle:    {} ({:.1} s)",
        bundle.display(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Brings lab `name` up with `hosts` machines and leaves it running; returns its inventory.
fn up(name: &str, hosts: usize) -> Result<std::path::PathBuf> {
    let t = Instant::now();
    let lab = Lab::up(&LabConfig {
        name: name.to_string(),
        hosts,
    })
    .with_context(|| format!("cannot bring lab {name} up"))?;
    println!(
        "lab {name} up in {:.1} s, bridge {} ({})",
        t.elapsed().as_secs_f64(),
        lab.bridge(),
        lab.subnet()
    );
    for h in lab.hosts() {
        println!("  {:<12} {}", h.name, h.address);
    }
    println!("inventory: {}", lab.inventory_path().display());
    println!("ssh:       cargo xtask lab ssh --name {name} k8s-master1 -- hostname");
    println!(
        "check:     cargo run -q -p cli -- preflight -f {}",
        lab.inventory_path().display()
    );
    let inventory = lab.inventory_path().to_path_buf();
    lab.keep();
    Ok(inventory)
}

fn ssh(name: &str, host: &str, command: &str) -> Result<()> {
    let lab = Lab::attach(name)?;
    let out = lab.ssh(host, command)?;
    std::io::stdout().write_all(&out.stdout)?;
    std::io::stderr().write_all(&out.stderr)?;
    if !out.status.success() {
        bail!("`{command}` on {host} exited with {}", out.status);
    }
    Ok(())
}

fn status() -> Result<()> {
    let labs = lab::list();
    if labs.is_empty() {
        println!("no labs");
    }
    for name in labs {
        match Lab::attach(&name) {
            Ok(l) => {
                println!("lab {name}: bridge {} ({})", l.bridge(), l.subnet());
                for h in l.hosts() {
                    let running = if l.is_running(&h.name)? {
                        "running"
                    } else {
                        "stopped"
                    };
                    println!("  {:<12} {:<14} {running}", h.name, h.address);
                }
            }
            Err(lab::Error::Busy { .. }) => println!("lab {name}: in use by a live process"),
            Err(e) => println!("lab {name}: {:#}", anyhow::Error::new(e)),
        }
    }
    Ok(())
}
