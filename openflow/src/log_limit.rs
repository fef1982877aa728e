//! Warnings that cannot flood the log: a [`LogLimiter`] lets one message
//! through per interval and counts the ones it holds back, so that the
//! next message let through says how many similar ones were suppressed.
//!
//! Why: the daemon runs for months, and a condition that persists (a
//! socket that keeps failing, a listener that cannot accept, peers that
//! keep failing their TLS handshake) must cost a few lines, not one per
//! packet, tick or retry. Measured before this existed: a daemon left with
//! two ports whose interfaces had vanished wrote 18 MB of identical
//! warnings in two hours. Open vSwitch rate-limits its log the same way
//! (`VLOG_RATE_LIMIT_INIT`, "Dropped N log messages ... due to excessive
//! rate").
//!
//! Use one limiter per kind of message and per thing it is about (a port,
//! a listener), so that one noisy port cannot hide another's first
//! warning. A limiter is lock-free and works through `&self`, so the tasks
//! of one listener can share it behind an `Arc`, and a `static` works for
//! a message with a single source.
//!
//! ```
//! use openflow::log_limit::LogLimiter;
//! static ACCEPT: LogLimiter = LogLimiter::new(LogLimiter::INTERVAL);
//! # let e = "Too many open files";
//! if let Some(suppressed) = ACCEPT.allow() {
//!     eprintln!("accept failed: {e}{suppressed}"); // tracing::warn! in the daemons
//! }
//! ```
//!
//! Suppressed messages are reported when the next one is let through; if
//! the condition ends, their count is never printed (the first message
//! already said what was wrong).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Lets one message through per interval; see the module documentation.
#[derive(Debug)]
pub struct LogLimiter {
    interval_ms: u64,
    /// When a message was last let through, in ms since the process's
    /// epoch ([`epoch_ms`]) plus one; 0 when none was yet.
    last: AtomicU64,
    /// Messages held back since then.
    suppressed: AtomicU64,
}

impl Default for LogLimiter {
    fn default() -> Self {
        LogLimiter::new(LogLimiter::INTERVAL)
    }
}

impl LogLimiter {
    /// The interval most warnings use: a persistent condition shows up
    /// about six times a minute.
    pub const INTERVAL: Duration = Duration::from_secs(10);

    /// A limiter that lets one message through per `interval`.
    pub const fn new(interval: Duration) -> LogLimiter {
        LogLimiter {
            interval_ms: interval.as_millis() as u64,
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Whether to log a message now: `Some` with the count of messages
    /// suppressed since the last one let through (it prints as a suffix
    /// for the message), or `None` (the message is counted).
    pub fn allow(&self) -> Option<Suppressed> {
        self.allow_at(epoch_ms())
    }

    /// [`Self::allow`] at `now`, in ms since a fixed point.
    fn allow_at(&self, now: u64) -> Option<Suppressed> {
        let last = self.last.load(Relaxed);
        let open = last == 0 || now.saturating_sub(last - 1) >= self.interval_ms;
        // Of two threads that find it open, one wins the exchange.
        if open
            && self
                .last
                .compare_exchange(last, now + 1, Relaxed, Relaxed)
                .is_ok()
        {
            return Some(Suppressed(self.suppressed.swap(0, Relaxed)));
        }
        self.suppressed.fetch_add(1, Relaxed);
        None
    }
}

/// How many similar messages a limiter held back; displays as
/// ` (N similar messages suppressed)`, or as nothing for none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Suppressed(pub u64);

impl fmt::Display for Suppressed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            1 => write!(f, " (1 similar message suppressed)"),
            n => write!(f, " ({n} similar messages suppressed)"),
        }
    }
}

/// Milliseconds since the first call in this process (a monotonic clock).
fn epoch_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_per_interval_then_the_count() {
        let l = LogLimiter::new(Duration::from_secs(10));
        assert_eq!(l.allow_at(0), Some(Suppressed(0)), "the first passes");
        for t in 1..=99 {
            assert_eq!(l.allow_at(t * 100), None, "held back at {t}00 ms");
        }
        assert_eq!(
            l.allow_at(10_000),
            Some(Suppressed(99)),
            "after the interval, with the count"
        );
        assert_eq!(l.allow_at(10_001), None);
        // A long quiet spell: the next passes, counting what was held.
        assert_eq!(l.allow_at(1_000_000), Some(Suppressed(1)));
        assert_eq!(l.allow_at(1_010_000), Some(Suppressed(0)));
    }

    #[test]
    fn limiters_are_independent() {
        let (a, b) = (LogLimiter::default(), LogLimiter::default());
        assert!(a.allow_at(5).is_some());
        assert!(
            b.allow_at(5).is_some(),
            "one port's warning hides no other's"
        );
        assert!(a.allow_at(6).is_none());
    }

    #[test]
    fn shared_between_threads_one_passes() {
        let l = std::sync::Arc::new(LogLimiter::default());
        let passed: usize = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || (0..1000).filter(|_| l.allow_at(7).is_some()).count())
            })
            .map(|h| h.join().unwrap_or(0))
            .sum();
        assert_eq!(passed, 1);
        assert_eq!(l.allow_at(20_000), Some(Suppressed(3999)));
    }

    #[test]
    fn the_suffix_reads_well() {
        assert_eq!(Suppressed(0).to_string(), "");
        assert_eq!(Suppressed(1).to_string(), " (1 similar message suppressed)");
        assert_eq!(
            Suppressed(42).to_string(),
            " (42 similar messages suppressed)"
        );
    }

    #[test]
    fn the_real_clock_lets_the_first_through() {
        static L: LogLimiter = LogLimiter::new(LogLimiter::INTERVAL);
        assert!(L.allow().is_some());
        assert!(L.allow().is_none());
    }
}
