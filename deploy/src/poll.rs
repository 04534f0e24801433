//! The one poll-until loop of the orchestration: waiting until healthy, retrying through
//! etcd's reconfiguration window, waiting for a learner to catch up.

use std::time::{Duration, Instant};

/// Calls `attempt` until `done` accepts its result or `timeout` has passed, sleeping
/// `every` between attempts (never past the deadline); returns the last result. `attempt`
/// always runs at least once, so a zero timeout means "try once".
pub fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut attempt: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let result = attempt();
        let now = Instant::now();
        if done(&result) || now >= deadline {
            return result;
        }
        std::thread::sleep(every.min(deadline - now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_when_done() {
        let mut n = 0;
        let r = poll_until(
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                n
            },
            |n| *n == 3,
        );
        assert_eq!(r, 3);
    }

    #[test]
    fn returns_the_last_result_at_the_deadline() {
        let start = Instant::now();
        let mut n = 0;
        let r = poll_until(
            Duration::from_millis(30),
            Duration::from_millis(10),
            || {
                n += 1;
                n
            },
            |_| false,
        );
        assert!(r >= 2, "{r}");
        assert!(start.elapsed() < Duration::from_millis(500));
    }

    #[test]
    fn a_zero_timeout_tries_once() {
        let mut n = 0;
        poll_until(
            Duration::ZERO,
            Duration::from_secs(60),
            || n += 1,
            |_| false,
        );
        assert_eq!(n, 1);
    }
}
