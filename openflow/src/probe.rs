//! The inactivity probe: after `interval` without receiving anything, send
//! an ECHO_REQUEST; if nothing arrives for a further `interval`, the
//! connection is dead (Open vSwitch's `inactivity_probe`, default 5 s).
//!
//! Pure timer arithmetic on caller-supplied nanoseconds, so the caller
//! sleeps until [`Probe::deadline`] and the logic is testable without
//! clocks. Before the HELLO exchange no ECHO can be sent, so a silent peer
//! is declared dead after twice the interval.
//!
//! Both ends of a channel use it: the switch's agent and the client side
//! ([`crate::channel`]), which is why it lives in this crate.

/// What the timer asks the connection to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeAction {
    Nothing,
    SendEcho,
    Dead,
}

#[derive(Clone, Debug)]
pub struct Probe {
    interval: Option<u64>,
    last_rx: u64,
    /// When the outstanding probe was sent (or would have been).
    probing_since: Option<u64>,
}

impl Probe {
    /// `interval` in ns; `None` disables probing.
    pub fn new(interval: Option<u64>, now: u64) -> Probe {
        Probe {
            interval: interval.filter(|i| *i > 0),
            last_rx: now,
            probing_since: None,
        }
    }

    /// Something arrived.
    pub fn received(&mut self, now: u64) {
        self.last_rx = now;
        self.probing_since = None;
    }

    /// When [`Probe::fire`] has something to do.
    pub fn deadline(&self) -> Option<u64> {
        let n = self.interval?;
        Some(match self.probing_since {
            Some(t) => t.saturating_add(n),
            None => self.last_rx.saturating_add(n),
        })
    }

    /// Advances to `now`; `ready` says whether an ECHO_REQUEST may be sent.
    pub fn fire(&mut self, now: u64, ready: bool) -> ProbeAction {
        let Some(deadline) = self.deadline() else {
            return ProbeAction::Nothing;
        };
        if now < deadline {
            return ProbeAction::Nothing;
        }
        if self.probing_since.is_some() {
            return ProbeAction::Dead;
        }
        self.probing_since = Some(now);
        if ready {
            ProbeAction::SendEcho
        } else {
            ProbeAction::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn idle_probe_then_dead() {
        let mut p = Probe::new(Some(5 * S), 0);
        assert_eq!(p.deadline(), Some(5 * S));
        assert_eq!(p.fire(4 * S, true), ProbeAction::Nothing);
        assert_eq!(p.fire(5 * S, true), ProbeAction::SendEcho);
        assert_eq!(p.deadline(), Some(10 * S));
        assert_eq!(p.fire(9 * S, true), ProbeAction::Nothing);
        p.received(9 * S);
        assert_eq!(p.deadline(), Some(14 * S));
        assert_eq!(p.fire(14 * S, true), ProbeAction::SendEcho);
        assert_eq!(p.fire(19 * S, true), ProbeAction::Dead);
    }

    #[test]
    fn silent_before_hello_and_disabled() {
        let mut p = Probe::new(Some(S), 0);
        assert_eq!(p.fire(S, false), ProbeAction::Nothing);
        assert_eq!(p.fire(2 * S, false), ProbeAction::Dead);
        let mut off = Probe::new(None, 0);
        assert_eq!(off.deadline(), None);
        assert_eq!(off.fire(u64::MAX, true), ProbeAction::Nothing);
    }
}
