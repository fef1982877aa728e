//! When to open again the device of a system port whose interface
//! vanished, and what to say about it in the log.
//!
//! A system port outlives its Linux interface: when the interface is
//! deleted (a veth whose peer went, a VM's tap torn down), the port stays
//! configured, its device (the `AF_PACKET` socket bound to the old ifindex)
//! is closed at once, and when an interface of that name appears again the
//! port opens it, as Open vSwitch does.
//!
//! The link monitor ([`super::link`]) looks for the interface on every
//! tick (one ioctl per port); only when it is present does the bridge try
//! to open it, so a port whose interface stays away costs no open attempts
//! and no log lines. An attempt on a present interface can still fail (the
//! interface is being set up, or it is something the back-end cannot
//! bind): then the port retries with exponential back-off, from
//! [`FIRST_DELAY`] doubling up to [`MAX_DELAY`], without logging again.
//!
//! The log says it three times at most per disappearance: a warning when
//! the interface is lost, a warning on the first failed attempt to reopen
//! it, and an info line when it is back. Before this, a lost interface was
//! retried, and warned about, on every tick: ten lines a second per port.

use std::time::Duration;

/// Wait after a failed attempt before the next one.
pub const FIRST_DELAY: Duration = Duration::from_millis(100);
/// Longest wait between attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(5);

/// A lost interface, being waited for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Reopen {
    /// The port's creation time in the pipeline (a port removed and added
    /// again under the same number is not this one).
    pub created: u64,
    /// No attempt before this time (clock ns).
    next: u64,
    /// The wait after the next failure.
    delay: Duration,
    /// Failed attempts so far.
    pub failures: u32,
}

impl Reopen {
    /// The interface was found gone at `now`: the first attempt may run as
    /// soon as it is back.
    pub fn new(created: u64, now: u64) -> Reopen {
        Reopen {
            created,
            next: now,
            delay: FIRST_DELAY,
            failures: 0,
        }
    }

    /// Whether an attempt may run at `now`.
    pub fn due(&self, now: u64) -> bool {
        now >= self.next
    }

    /// Records a failed attempt at `now` and schedules the next one;
    /// true for the first failure, the one to log.
    pub fn failed(&mut self, now: u64) -> bool {
        self.failures = self.failures.saturating_add(1);
        let wait = u64::try_from(self.delay.as_nanos()).unwrap_or(u64::MAX);
        self.next = now.saturating_add(wait);
        self.delay = (self.delay * 2).min(MAX_DELAY);
        self.failures == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn first_attempt_at_once_then_back_off_doubling_to_the_cap() {
        let mut r = Reopen::new(7, 1_000 * MS);
        assert!(r.due(1_000 * MS), "tried as soon as the interface is back");
        let mut now = 1_000 * MS;
        let mut waits = Vec::new();
        let mut logged = 0;
        for _ in 0..10 {
            logged += u32::from(r.failed(now));
            let mut t = now;
            while !r.due(t) {
                t += MS;
            }
            waits.push((t - now) / MS);
            now = t;
        }
        assert_eq!(
            waits,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000],
            "ms between attempts"
        );
        assert_eq!(logged, 1, "only the first failure is logged");
        assert_eq!(r.failures, 10);
    }
}
