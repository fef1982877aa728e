//! Packet-ins from the datapath to the controllers, at each controller's
//! pace: the per-connection rate limit (`controller_rate_limit`,
//! `controller_burst_limit` of Open vSwitch's `Controller` table), the
//! guard against a controller that reads too slowly, and the counters.
//!
//! Where packet-ins are bounded, and why there:
//!
//! - Forwarding threads hand every packet-in to the bridge task through a
//!   bounded queue ([`super::UPCALL_QUEUE`]) with `try_send`: when the task
//!   is behind, the packet-in is dropped and counted (bridge statistics
//!   `packet_in_dropped`) for the price of one failed atomic operation, so
//!   a flood never blocks forwarding and costs it almost nothing. The task
//!   takes at most [`super::UPCALL_BATCH`] packet-ins per wakeup before it
//!   turns to its other work (timers, commands, controller messages), so a
//!   flood cannot starve it either. That queue is the datapath's only
//!   bound: no fixed packet-in rate per bridge any more (there was one,
//!   5,000/s, in the forwarding path).
//! - Each controller connection may have a rate limit, checked here when a
//!   packet-in is about to be sent to it, as Open vSwitch does (its
//!   `pinsched`): a token bucket refilled at `controller_rate_limit` per
//!   second holding at most `controller_burst_limit` tokens (default a
//!   quarter of the rate). As in OVS there are two buckets, one for table
//!   misses and one for packet-ins an action asked for, so the two kinds
//!   together may reach twice the rate. A listener (`ptcp:`) gives each of
//!   its connections its own buckets.
//! - A controller that reads more slowly than packet-ins come gets none
//!   while more than [`BACKLOG`] bytes wait for it in its outbox (Open
//!   vSwitch: `controller_queue_size`, 100 packets). Packet-ins are
//!   expendable (the next frame of the flow asks again); replies and
//!   PORT_STATUS are not, and without this guard a flood would fill the
//!   outbox and the bridge would close the controller's connection as
//!   stuck.
//!
//! The default is no per-controller limit, as in Open vSwitch. Why: a
//! learning controller must see the first packets of every host, and a
//! thousand hosts that start at once send a few thousand packet-ins
//! (ARP, DHCP, neighbour discovery) within a second; any fixed rate low
//! enough to protect a slow controller drops some of them, and a fast
//! controller would be held below its pace. Without a limit the pace is
//! the controller's own: the backlog guard follows how fast it reads. An
//! operator who wants a ceiling sets one, as on Open vSwitch.
//!
//! Unlike Open vSwitch, packet-ins above the rate are dropped, not queued
//! (OVS queues up to `controller_burst_limit` of them, shared fairly among
//! ports, and sends them as tokens come): simpler, and no packet-in
//! arrives late; a burst passes `controller_burst_limit` packet-ins at
//! once where OVS passes up to twice that over the following quarter of a
//! second.
//!
//! Counters: per connection in `list controller`'s `status` column (since
//! the connection was made or its limit last changed, as OVS's), and per
//! bridge, since the bridge started, in `get bridge BR statistics`.

use openflow::messages::packet_in_reason;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bytes waiting in a controller's outbox (not yet in its socket) above
/// which it gets no packet-ins: a few thousand packet-ins of the default
/// 128-byte `miss_send_len`, on top of what the socket buffer holds.
pub const BACKLOG: usize = 256 * 1024;

const NS_PER_S: u64 = 1_000_000_000;

/// A token bucket in nanosecond ticks: `rate` tokens a second, at most
/// `burst`, one per packet-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct TokenBucket {
    rate: u64,
    /// `burst` tokens, in token-nanoseconds.
    cap: u64,
    /// Tokens, in token-nanoseconds (so a refill needs no division).
    tokens: u64,
    /// When the bucket was last refilled (clock ns).
    last: u64,
}

impl TokenBucket {
    /// A full bucket at `now`.
    fn new(rate: u32, burst: u32, now: u64) -> TokenBucket {
        let cap = u64::from(burst).saturating_mul(NS_PER_S);
        TokenBucket {
            rate: u64::from(rate),
            cap,
            tokens: cap,
            last: now,
        }
    }

    /// Takes a token at `now`; false when there is none.
    fn take(&mut self, now: u64) -> bool {
        let elapsed = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(self.rate))
            .min(self.cap);
        if self.tokens < NS_PER_S {
            return false;
        }
        self.tokens -= NS_PER_S;
        true
    }
}

/// What happens to one packet-in for one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    Send,
    /// Over the connection's `controller_rate_limit`.
    RateLimited,
    /// The controller is more than [`BACKLOG`] bytes behind.
    Backlog,
}

/// Packet-ins of one connection, by verdict.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Counts {
    pub sent: u64,
    pub rate_limited: u64,
    pub backlog_dropped: u64,
}

impl Counts {
    fn count(&mut self, v: Verdict) {
        match v {
            Verdict::Send => self.sent += 1,
            Verdict::RateLimited => self.rate_limited += 1,
            Verdict::Backlog => self.backlog_dropped += 1,
        }
    }

    /// Adds `other` (another connection of the same target).
    pub fn add(&mut self, other: &Counts) {
        self.sent += other.sent;
        self.rate_limited += other.rate_limited;
        self.backlog_dropped += other.backlog_dropped;
    }

    /// As the keys of the `Controller.status` column.
    pub fn status(&self) -> BTreeMap<String, String> {
        [
            ("packet_in_sent", self.sent),
            ("packet_in_rate_limited", self.rate_limited),
            ("packet_in_backlog_dropped", self.backlog_dropped),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}

/// The packet-in gate of one controller connection.
#[derive(Clone, Debug)]
pub(super) struct Gate {
    /// `(rate, burst)` in effect; `None`: no rate limit.
    limit: Option<(u32, u32)>,
    /// Table misses, and packet-ins an action asked for (OVS's two
    /// schedulers), when there is a limit.
    buckets: Option<[TokenBucket; 2]>,
    pub counts: Counts,
}

impl Gate {
    /// A gate with `limit` (see
    /// [`crate::config::model::ControllerSettings::packet_in_limit`]).
    pub fn new(limit: Option<(u32, u32)>, now: u64) -> Gate {
        Gate {
            limit,
            buckets: limit.map(|(rate, burst)| [TokenBucket::new(rate, burst, now); 2]),
            counts: Counts::default(),
        }
    }

    /// Applies a reconfiguration: a changed limit starts afresh (full
    /// buckets, counters from zero, as OVS's statistics restart when rate
    /// limiting is enabled); an unchanged one is left alone.
    pub fn configure(&mut self, limit: Option<(u32, u32)>, now: u64) {
        if limit != self.limit {
            *self = Gate::new(limit, now);
        }
    }

    /// Whether a packet-in with `reason` may go to this connection at
    /// `now`, when `unwritten` bytes already wait in its outbox; counted.
    pub fn admit(&mut self, reason: u8, now: u64, unwritten: usize) -> Verdict {
        let v = if unwritten > BACKLOG {
            Verdict::Backlog
        } else {
            let kind = usize::from(reason != packet_in_reason::NO_MATCH);
            let token = self.buckets.as_mut().is_none_or(|b| b[kind].take(now));
            if token {
                Verdict::Send
            } else {
                Verdict::RateLimited
            }
        };
        self.counts.count(v);
        v
    }
}

/// A bridge's packet-ins withheld from controllers since it started, for
/// its statistics (read by the management side, hence atomics).
#[derive(Debug, Default)]
pub(super) struct Totals {
    pub rate_limited: AtomicU64,
    pub backlog_dropped: AtomicU64,
}

impl Totals {
    pub fn count(&self, v: Verdict) {
        match v {
            Verdict::Send => {}
            Verdict::RateLimited => {
                self.rate_limited.fetch_add(1, Relaxed);
            }
            Verdict::Backlog => {
                self.backlog_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The packet-in drop counters of a bridge at one time (clock ns), for
/// its periodic log line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Drops {
    pub at: u64,
    /// Dropped by the datapath: the bridge task's queue was full.
    pub datapath: u64,
    /// [`Totals::rate_limited`].
    pub rate_limited: u64,
    /// [`Totals::backlog_dropped`].
    pub backlog: u64,
}

impl Drops {
    /// What to log about the drops since `earlier`: the line, and whether
    /// it is a warning (something could not keep up) rather than info
    /// (only configured rate limits dropped them); `None` when nothing was
    /// dropped.
    pub fn since(&self, earlier: &Drops) -> Option<(bool, String)> {
        let datapath = self.datapath.saturating_sub(earlier.datapath);
        let backlog = self.backlog.saturating_sub(earlier.backlog);
        let rate_limited = self.rate_limited.saturating_sub(earlier.rate_limited);
        let parts: Vec<String> = [
            (
                datapath,
                "with the bridge's control task behind (its queue full)",
            ),
            (backlog, "to controllers reading too slowly"),
            (rate_limited, "over a controller_rate_limit"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, why)| format!("{n} {why}"))
        .collect();
        if parts.is_empty() {
            return None;
        }
        let secs = self.at.saturating_sub(earlier.at) / NS_PER_S;
        let line = format!(
            "packet-ins dropped in the last {secs} s: {}",
            parts.join(", ")
        );
        Some((datapath > 0 || backlog > 0, line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use packet_in_reason::{ACTION, NO_MATCH};

    const MS: u64 = 1_000_000;
    const T0: u64 = 5 * NS_PER_S;

    fn sent(g: &mut Gate, reason: u8, now: u64, n: usize) -> usize {
        (0..n)
            .filter(|_| g.admit(reason, now, 0) == Verdict::Send)
            .count()
    }

    #[test]
    fn no_limit_by_default_lets_a_flood_through() {
        let mut g = Gate::new(None, T0);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 100_000), 100_000);
        assert_eq!(g.counts.sent, 100_000);
    }

    #[test]
    fn the_burst_at_once_then_the_rate() {
        let mut g = Gate::new(Some((100, 25)), T0);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 1000), 25, "the burst");
        assert_eq!(sent(&mut g, NO_MATCH, T0 + 100 * MS, 1000), 10, "0.1 s: 10");
        // Over ten seconds of a steady flood: the rate, whatever the
        // offered load.
        let mut total = 0;
        for ms in 101..=10_100 {
            total += sent(&mut g, NO_MATCH, T0 + ms * MS, 5);
        }
        assert_eq!(total, 1000, "100/s for 10 s");
        // A long pause refills up to the burst only.
        assert_eq!(sent(&mut g, NO_MATCH, T0 + 3600 * NS_PER_S, 1000), 25);
        assert_eq!(g.counts.sent, 25 + 10 + 1000 + 25);
        assert_eq!(g.counts.rate_limited, 3 * 1000 + 10_000 * 5 - 1060);
    }

    #[test]
    fn misses_and_actions_have_a_bucket_each_as_in_ovs() {
        let mut g = Gate::new(Some((100, 25)), T0);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 100), 25);
        assert_eq!(sent(&mut g, ACTION, T0, 100), 25);
        assert_eq!(
            sent(&mut g, packet_in_reason::INVALID_TTL, T0, 100),
            0,
            "other reasons share the action bucket"
        );
    }

    #[test]
    fn a_controller_behind_gets_none_and_keeps_its_tokens() {
        let mut g = Gate::new(Some((100, 25)), T0);
        assert_eq!(g.admit(NO_MATCH, T0, BACKLOG + 1), Verdict::Backlog);
        assert_eq!(g.admit(NO_MATCH, T0, BACKLOG), Verdict::Send);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 100), 24, "no token was spent");
        let mut unlimited = Gate::new(None, T0);
        assert_eq!(unlimited.admit(ACTION, T0, usize::MAX), Verdict::Backlog);
        assert_eq!(
            g.counts,
            Counts {
                sent: 25,
                rate_limited: 76,
                backlog_dropped: 1
            }
        );
    }

    #[test]
    fn reconfiguration_restarts_only_a_changed_limit() {
        let mut g = Gate::new(Some((100, 25)), T0);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 100), 25);
        g.configure(Some((100, 25)), T0);
        assert_eq!(
            sent(&mut g, NO_MATCH, T0, 100),
            0,
            "same limit: same bucket"
        );
        g.configure(Some((1000, 250)), T0);
        assert_eq!(g.counts, Counts::default(), "counters restart");
        assert_eq!(sent(&mut g, NO_MATCH, T0, 1000), 250);
        g.configure(None, T0);
        assert_eq!(sent(&mut g, NO_MATCH, T0, 1000), 1000, "limit removed");
    }

    #[test]
    fn clock_steps_and_huge_rates_do_not_overflow() {
        let mut b = TokenBucket::new(u32::MAX, u32::MAX, 0);
        assert!(b.take(u64::MAX));
        assert!(b.take(0), "a clock going back takes from what is there");
        let mut b = TokenBucket::new(100, 25, T0);
        for _ in 0..25 {
            assert!(b.take(T0));
        }
        assert!(!b.take(T0 - NS_PER_S), "going back refills nothing");
    }

    #[test]
    fn the_drops_line_says_why() {
        let t0 = Drops {
            at: 10 * NS_PER_S,
            datapath: 5,
            rate_limited: 100,
            backlog: 0,
        };
        assert_eq!(t0.since(&t0), None, "nothing new, nothing logged");
        let limited = Drops {
            at: 20 * NS_PER_S,
            rate_limited: 1100,
            ..t0
        };
        assert_eq!(
            limited.since(&t0),
            Some((
                false,
                "packet-ins dropped in the last 10 s: 1000 over a controller_rate_limit".into()
            )),
            "configured limits at work: info"
        );
        let behind = Drops {
            at: 20 * NS_PER_S,
            datapath: 7,
            backlog: 3,
            ..limited
        };
        assert_eq!(
            behind.since(&t0),
            Some((
                true,
                "packet-ins dropped in the last 10 s: 2 with the bridge's control task behind \
                 (its queue full), 3 to controllers reading too slowly, 1000 over a \
                 controller_rate_limit"
                    .into()
            ))
        );
    }

    #[test]
    fn totals_and_status_keys() {
        let t = Totals::default();
        for v in [
            Verdict::Send,
            Verdict::RateLimited,
            Verdict::Backlog,
            Verdict::Backlog,
        ] {
            t.count(v);
        }
        assert_eq!(t.rate_limited.load(Relaxed), 1);
        assert_eq!(t.backlog_dropped.load(Relaxed), 2);
        let mut c = Counts {
            sent: 3,
            rate_limited: 2,
            backlog_dropped: 1,
        };
        c.add(&c.clone());
        let st = c.status();
        assert_eq!(st["packet_in_sent"], "6");
        assert_eq!(st["packet_in_rate_limited"], "4");
        assert_eq!(st["packet_in_backlog_dropped"], "2");
    }
}
