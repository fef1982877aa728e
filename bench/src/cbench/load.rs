//! The load: one thread drives a group of set-up switches through one
//! event loop ([`run_group`]), waiting on all their sockets at once.
//!
//! Why not a thread per switch (as cbench had until issue 13): on two
//! cores shared with the controller, 16 generator threads each waking for
//! their own packet-ins and answers spent more time waiting for a core
//! than the controller spent answering, and that wait was inside every
//! latency sample (p99 4.8 ms at half load from 16 switches, 1.3 ms from 4).
//! One loop per group wakes once for whatever is ready on any of its
//! sockets.
//!
//! Pacing (`--rate`): the group's packet-ins are due evenly, the k-th at
//! `start + k / rate`, so the controller sees a steady stream rather than
//! a burst per switch per wake-up. The loop sleeps until the next one is
//! due or an answer arrives ([`crate::poll`]); what is due at a wake-up
//! (a few at 100,000/s and more) goes to one switch, the next wake-up's to
//! the next switch: one write per wake-up rather than one per packet-in,
//! since each write is a TCP segment both sides pay for in system time
//! (sending to the switches in turn packet by packet cost 5 times the
//! writes, on the same cores as the controller).
//!
//! Latency is from the loop's clock reading just before the packet-in is
//! written to the one just after the read that brought its answer.

use super::switch::Switch;
use super::wire::{classify, host_mac, mac_key, packet_in, Seen};
use super::Args;
use crate::poll;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest the loop sleeps with nothing due: an answer wakes it
/// earlier; only the end of the run can come in between.
const IDLE_WAIT: Duration = Duration::from_millis(20);

/// When the load runs: packet-ins from `start`, answers counted when read
/// in `[measure_from, stop)` (with `--count`: all, and `stop` is the
/// timeout).
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub start: Instant,
    pub measure_from: Instant,
    pub stop: Instant,
}

/// A group's counts and samples.
#[derive(Default)]
pub struct Tally {
    pub sent: u64,
    pub answered: u64,
    pub flow_mods: u64,
    pub group_mods: u64,
    pub packet_outs: u64,
    pub samples: Vec<Duration>,
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

/// One switch during the load: its hosts' packet-ins and what is in flight.
struct Emulated<'a> {
    sw: &'a mut Switch,
    templates: Vec<Vec<u8>>,
    keys: Vec<u64>,
    /// By source MAC: when its packet-in was written.
    in_flight: HashMap<u64, Instant>,
    next_host: u32,
    sent: u64,
}

impl<'a> Emulated<'a> {
    fn new(args: &Args, sw: &'a mut Switch) -> Emulated<'a> {
        let s = sw.index;
        Emulated {
            templates: (0..args.hosts).map(|h| packet_in(args, s, h)).collect(),
            keys: (0..args.hosts)
                .map(|h| mac_key(&host_mac(s, h).0).unwrap_or(0))
                .collect(),
            in_flight: HashMap::with_capacity(args.window as usize * 2),
            next_host: 0,
            sent: 0,
            sw,
        }
    }

    /// How many more packet-ins the window (and --count) allow now.
    fn room(&self, args: &Args) -> u64 {
        let room = (args.window as usize).saturating_sub(self.in_flight.len()) as u64;
        if args.count > 0 {
            room.min(args.count - self.sent)
        } else {
            room
        }
    }

    /// Queues the next host's packet-in, sent at `now`.
    fn queue(&mut self, args: &Args, now: Instant) {
        let h = self.next_host as usize;
        self.next_host = (self.next_host + 1) % args.hosts;
        self.sw.out.extend_from_slice(&self.templates[h]);
        self.in_flight.insert(self.keys[h], now);
        self.sent += 1;
    }

    fn done(&self, args: &Args) -> bool {
        self.sent >= args.count && self.in_flight.is_empty()
    }

    /// Takes every complete message read so far, read at `at`.
    fn take_input(
        &mut self,
        args: &Args,
        times: &Times,
        at: Instant,
        t: &mut Tally,
    ) -> Result<(), String> {
        while let Some(raw) = self
            .sw
            .framer
            .next_message()
            .map_err(|e| format!("switch {}: {e:?}", self.sw.index))?
        {
            let key = match classify(&raw) {
                Seen::FlowMod(k) => {
                    t.flow_mods += 1;
                    k
                }
                Seen::PacketOut(k) => {
                    t.packet_outs += 1;
                    k
                }
                Seen::GroupMod => {
                    t.group_mods += 1;
                    None
                }
                Seen::Other => {
                    self.sw.handle(&raw, args.ports)?;
                    None
                }
            };
            if let Some(sent_at) = key.and_then(|k| self.in_flight.remove(&k)) {
                if args.count > 0 || (at >= times.measure_from && at < times.stop) {
                    t.answered += 1;
                    t.samples.push(at - sent_at);
                    t.first.get_or_insert(sent_at);
                    t.last = Some(at);
                }
            }
        }
        Ok(())
    }
}

/// Drives `switches` until `times.stop` (or, with --count, until each has
/// sent that many and had them answered), at `rate` packet-ins per second
/// over the group (0: every window kept full).
pub fn run_group(
    args: &Args,
    switches: &mut [Switch],
    rate: f64,
    times: Times,
) -> Result<Tally, String> {
    poll::fine_timer_slack();
    for sw in switches.iter() {
        sw.set_nonblocking()?;
    }
    let mut em: Vec<Emulated> = switches
        .iter_mut()
        .map(|sw| Emulated::new(args, sw))
        .collect();
    let n = em.len();
    let mut t = Tally::default();
    let mut cursor = 0;
    let mut fds = Vec::with_capacity(n);

    loop {
        let now = Instant::now();
        if args.count > 0 && em.iter().all(|e| e.done(args)) {
            break;
        }
        if now >= times.stop {
            if args.count == 0 {
                break;
            }
            let left: usize = em.iter().map(|e| e.in_flight.len()).sum();
            return Err(format!(
                "{left} of {} packet-ins unanswered after the timeout",
                args.count * n as u64
            ));
        }
        let mut wait = IDLE_WAIT;
        if rate > 0.0 {
            let due = (now.duration_since(times.start).as_secs_f64() * rate) as u64;
            let mut want = due.saturating_sub(t.sent);
            // What is due now goes to one switch (one write), the next
            // wake-up's to the next one; a full window passes the rest on.
            for _ in 0..n {
                if want == 0 {
                    break;
                }
                let e = &mut em[cursor];
                cursor = (cursor + 1) % n;
                let k = want.min(e.room(args));
                for _ in 0..k {
                    e.queue(args, now);
                }
                t.sent += k;
                want -= k;
            }
            if want == 0 {
                let next = times.start + Duration::from_secs_f64((t.sent + 1) as f64 / rate);
                wait = wait.min(next.saturating_duration_since(Instant::now()));
            }
        } else {
            for e in &mut em {
                for _ in 0..e.room(args) {
                    e.queue(args, now);
                    t.sent += 1;
                }
            }
        }
        fds.clear();
        for e in &mut em {
            let all_out = e.sw.flush()?;
            fds.push(poll::interest(e.sw.fd(), !all_out));
        }
        poll::wait(&mut fds, wait).map_err(|e| format!("poll: {e}"))?;
        for (e, p) in em.iter_mut().zip(&fds) {
            if poll::readable(p) && e.sw.read()? {
                let at = Instant::now();
                e.take_input(args, &times, at, &mut t)?;
            }
        }
    }
    Ok(t)
}

/// Keeps `switches` answering (echoes) until `until`, after the load.
pub fn hold(args: &Args, switches: &mut [Switch], until: Instant) -> Result<(), String> {
    let mut fds = Vec::with_capacity(switches.len());
    loop {
        let now = Instant::now();
        if now >= until {
            return Ok(());
        }
        fds.clear();
        for sw in switches.iter_mut() {
            let all_out = sw.flush()?;
            fds.push(poll::interest(sw.fd(), !all_out));
        }
        poll::wait(&mut fds, (until - now).min(IDLE_WAIT)).map_err(|e| format!("poll: {e}"))?;
        for (sw, p) in switches.iter_mut().zip(&fds) {
            if poll::readable(p) && sw.read()? {
                while let Some(raw) = sw.framer.next_message().map_err(|e| format!("{e:?}"))? {
                    sw.handle(&raw, args.ports)?;
                }
            }
        }
    }
}
