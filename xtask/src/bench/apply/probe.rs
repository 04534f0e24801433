//! What `bench apply` measures besides time: round trips per host (a counting transport
//! around the real one) and the time each host spends per kind of step (an observer).

use executor::{CommandOutput, Event, FileStat, Observer, PutFile, Transport};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A transport that counts its round trips (each call is one SSH exec channel) and the
/// time spent in them, around the real one.
pub struct Counting {
    /// The real transport.
    pub inner: Box<dyn Transport>,
    /// Calls so far, shared by every host's counter.
    pub calls: Arc<AtomicUsize>,
}

impl Counting {
    fn count<T>(&mut self, f: impl FnOnce(&mut dyn Transport) -> T) -> T {
        self.calls.fetch_add(1, Ordering::Relaxed);
        f(self.inner.as_mut())
    }
}

impl Transport for Counting {
    fn host(&self) -> &str {
        self.inner.host()
    }
    fn run(&mut self, command: &str) -> Result<CommandOutput, executor::Error> {
        self.count(|t| t.run(command))
    }
    fn put_file(
        &mut self,
        path: &Path,
        content: &[u8],
        mode: u32,
        owner: Option<&str>,
    ) -> Result<(), executor::Error> {
        self.count(|t| t.put_file(path, content, mode, owner))
    }
    fn put_files(&mut self, files: &[PutFile<'_>]) -> Result<(), executor::Error> {
        self.count(|t| t.put_files(files))
    }
    fn read_file(&mut self, path: &Path) -> Result<Option<Vec<u8>>, executor::Error> {
        self.count(|t| t.read_file(path))
    }
    fn stat_files(&mut self, paths: &[PathBuf]) -> Result<Vec<Option<FileStat>>, executor::Error> {
        self.count(|t| t.stat_files(paths))
    }
    fn copy_file(&mut self, from: &Path, to: &Path) -> Result<(), executor::Error> {
        self.count(|t| t.copy_file(from, to))
    }
    // A round trip only when the quick-check records changed (the first apply), so not
    // counted: the figures are the steady state's.
    fn flush(&mut self) -> Result<(), executor::Error> {
        self.inner.flush()
    }
}

/// Per step kind, the time each host spent in it (start to finish events).
#[derive(Default)]
pub struct StepTimes {
    started: Mutex<BTreeMap<(String, String), Instant>>,
    spent: Mutex<BTreeMap<&'static str, Vec<Duration>>>,
}

fn step_kind(step: &str) -> &'static str {
    if step.starts_with("directory ") {
        "directory"
    } else if step.starts_with("unit ") {
        "unit"
    } else if step.contains("/file00.conf") {
        // The first file step stats all 21 files and writes those that differ.
        "files (stat + write)"
    } else {
        "other files"
    }
}

impl Observer for StepTimes {
    fn event(&self, event: &Event) {
        match event {
            Event::StepStarted { host, step, .. } => {
                if let Ok(mut m) = self.started.lock() {
                    m.insert((host.clone(), step.clone()), Instant::now());
                }
            }
            Event::StepFinished { host, step, .. } => {
                let start = self
                    .started
                    .lock()
                    .ok()
                    .and_then(|mut m| m.remove(&(host.clone(), step.clone())));
                if let (Some(start), Ok(mut spent)) = (start, self.spent.lock()) {
                    spent
                        .entry(step_kind(step))
                        .or_default()
                        .push(start.elapsed());
                }
            }
            _ => {}
        }
    }
}

impl StepTimes {
    /// `kind: mean/max ms` per step kind, summed over a host's steps of that kind.
    pub fn summary(&self, hosts: usize) -> String {
        let Ok(spent) = self.spent.lock() else {
            return String::new();
        };
        spent
            .iter()
            .map(|(kind, ds)| {
                let total: f64 = ds.iter().map(Duration::as_secs_f64).sum();
                let max = ds.iter().map(Duration::as_secs_f64).fold(0.0, f64::max);
                format!(
                    "{kind} {:.0}/{:.0} ms",
                    total * 1000.0 / hosts.max(1) as f64,
                    max * 1000.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}
