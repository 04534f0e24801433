//! The one worker pool: a bounded parallel map over per-host work.
//!
//! Connecting, gathering facts and applying a phase all do the same thing per host, each
//! of which mostly waits on the network; they share this pool so the bound and the
//! ordering of results are decided once.

use std::sync::{Mutex, PoisonError};

/// How many hosts are connected to, or have their facts gathered, at once: each mostly
/// waits on the network, so more than the cores, but a bounded number of threads and
/// sessions.
pub const HOSTS_AT_ONCE: usize = 32;

/// Calls `f` on every item on at most `limit` scoped threads at once (0 is taken as 1) and
/// returns the results in the order of `items`. Returns when every call has returned; a
/// panic in `f` is raised again here once the other workers have finished.
pub fn parallel_map<T, R, F>(items: Vec<T>, limit: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
{
    let workers = limit.max(1).min(items.len());
    let queue = Mutex::new(items.into_iter().enumerate());
    let done: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    // The lock is held only to take the next item, never while `f` runs,
                    // so a panicking `f` cannot poison it; were it poisoned, the queue
                    // itself is still sound.
                    let next = queue.lock().unwrap_or_else(PoisonError::into_inner).next();
                    let Some((i, item)) = next else { break };
                    let r = f(item);
                    done.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((i, r));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let out = parallel_map((0..50).collect(), 7, |i: u64| {
            std::thread::sleep(Duration::from_millis(50 - i));
            i * 2
        });
        assert_eq!(out, (0..50).map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn never_more_than_limit_at_once() {
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        parallel_map(vec![(); 40], 3, |()| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
        });
        assert!((1..=3).contains(&most.load(Ordering::SeqCst)));
    }

    #[test]
    fn zero_limit_and_no_items() {
        assert_eq!(parallel_map(vec![1, 2], 0, |i: i32| i + 1), [2, 3]);
        assert!(parallel_map(Vec::<i32>::new(), 4, |i| i).is_empty());
    }

    #[test]
    fn items_may_borrow_mutably() {
        let mut counters = [0u32; 5];
        parallel_map(counters.iter_mut().collect(), 2, |c: &mut u32| *c += 1);
        assert_eq!(counters, [1; 5]);
    }
}
