//! CPU time readings the benchmarks print beside wall-clock rates (steadier on a shared
//! machine): this process, its live threads, its reaped children, the lab's machines.

use lab::Lab;
use std::collections::BTreeMap;
use std::path::Path;

/// Fields of /proc/self/stat after the command name (which is in parentheses and may hold
/// spaces).
fn stat_fields() -> Vec<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    rest.split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect()
}

/// CPU seconds used so far by this process's live threads. Read from each thread's schedstat
/// (nanoseconds), as a kubin ECDSA round uses only tens of milliseconds; falls back to
/// /proc/self/stat's clock ticks of 1/100 s.
pub fn live_threads_secs() -> f64 {
    let from_schedstat = || -> Option<f64> {
        let mut ns = 0u64;
        for task in std::fs::read_dir("/proc/self/task").ok()? {
            let text = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(ns as f64 / 1e9)
    };
    from_schedstat().unwrap_or_else(|| {
        let f = stat_fields();
        // utime and stime are fields 14 and 15, i.e. 11 and 12 after the ')'.
        let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
        get(11) + get(12)
    })
}

/// CPU seconds used so far by this process's reaped children (cutime + cstime, fields 16 and
/// 17 of /proc/self/stat, in ticks of 1/100 s).
pub fn children_secs() -> f64 {
    let f = stat_fields();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    get(13) + get(14)
}

/// CPU time used so far by each lab machine (its cgroup's `usage_usec`), in seconds.
pub fn lab_machines_secs(lab: &Lab) -> BTreeMap<String, f64> {
    let base = Path::new("/sys/fs/cgroup/unified/kubin-lab").join(lab.name());
    let base = if base.exists() {
        base
    } else {
        Path::new("/sys/fs/cgroup/kubin-lab").join(lab.name())
    };
    lab.hosts()
        .iter()
        .filter_map(|h| {
            let text = std::fs::read_to_string(base.join(&h.machine).join("cpu.stat")).ok()?;
            let usec: f64 = text
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))?
                .trim()
                .parse()
                .ok()?;
            Some((h.name.clone(), usec / 1e6))
        })
        .collect()
}

/// CPU seconds used so far by this process, exited threads included (utime + stime of
/// /proc/self/stat, in ticks of 1/100 s).
pub fn process_secs() -> f64 {
    let f = stat_fields();
    let get = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    get(11) + get(12)
}
