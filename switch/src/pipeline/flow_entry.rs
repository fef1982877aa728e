//! A flow entry and its counters.
//!
//! Entries are shared (`Arc`) between the control plane's tables and every
//! published snapshot, so the counters are atomics: forwarding threads bump
//! them through whichever snapshot they hold, and stats requests read them
//! from the current one.

use openflow::instruction::Instruction;
use openflow::messages::flow_mod_flags;
use openflow::Match;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Packet and byte counters plus the last time a packet hit (ns).
#[derive(Debug, Default)]
pub struct Counters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub last_used: AtomicU64,
}

impl Counters {
    #[inline]
    pub fn hit(&self, bytes: usize, now: u64) {
        self.packets.fetch_add(1, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
        // A coarse stamp is enough for idle timeouts; skip the write when
        // another packet already stamped this millisecond.
        if now.saturating_sub(self.last_used.load(Relaxed)) > 1_000_000 {
            self.last_used.store(now, Relaxed);
        }
    }

    pub fn reset(&self) {
        self.packets.store(0, Relaxed);
        self.bytes.store(0, Relaxed);
    }
}

/// The (seconds, nanoseconds) between two clock readings, at millisecond
/// granularity as Open vSwitch reports durations (so `dump-flows` shows
/// `duration=1.039s`, not nine decimals).
pub fn duration_ms(from: u64, now: u64) -> (u32, u32) {
    let ms = now.saturating_sub(from) / 1_000_000;
    (
        u32::try_from(ms / 1000).unwrap_or(u32::MAX),
        (ms % 1000) as u32 * 1_000_000,
    )
}

/// One flow entry.
#[derive(Debug)]
pub struct FlowEntry {
    pub table_id: u8,
    pub priority: u16,
    /// The match as the controller sent it (for stats and FLOW_REMOVED).
    /// Its key and mask live in the classifier only, which gives them back
    /// on iteration: a flow costs one copy of them, not two.
    pub match_: Match,
    pub cookie: u64,
    pub idle_timeout: u16,
    pub hard_timeout: u16,
    pub flags: u16,
    pub instructions: Arc<[Instruction]>,
    /// When the entry was added (ns, the pipeline's clock).
    pub created: u64,
    pub counters: Counters,
}

impl FlowEntry {
    /// A stand-in entry for actions that come from no flow (packet-out):
    /// packet-ins report `table_id` and an all-ones cookie.
    pub fn pseudo(table_id: u8) -> FlowEntry {
        FlowEntry {
            table_id,
            priority: 0,
            match_: Match::default(),
            cookie: u64::MAX,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            instructions: Arc::from(Vec::new()),
            created: 0,
            counters: Counters::default(),
        }
    }

    /// Whether this is a table-miss entry (priority 0, matching all).
    pub fn is_table_miss(&self) -> bool {
        self.priority == 0 && self.match_.fields.is_empty()
    }

    pub fn send_flow_rem(&self) -> bool {
        self.flags & flow_mod_flags::SEND_FLOW_REM != 0
    }

    pub fn packets(&self) -> u64 {
        self.counters.packets.load(Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.counters.bytes.load(Relaxed)
    }

    pub fn last_used(&self) -> u64 {
        self.counters.last_used.load(Relaxed).max(self.created)
    }

    /// Duration since creation as (seconds, nanoseconds).
    pub fn duration(&self, now: u64) -> (u32, u32) {
        duration_ms(self.created, now)
    }

    /// The earliest time (ns) a timeout can remove this entry as things
    /// stand (the hard deadline, or the idle one counted from the last
    /// hit); `None` without timeouts.
    pub fn deadline(&self) -> Option<u64> {
        let secs = |t: u16| u64::from(t) * 1_000_000_000;
        let hard = (self.hard_timeout != 0).then(|| self.created + secs(self.hard_timeout));
        let idle = (self.idle_timeout != 0).then(|| self.last_used() + secs(self.idle_timeout));
        match (hard, idle) {
            (Some(h), Some(i)) => Some(h.min(i)),
            (h, i) => h.or(i),
        }
    }

    /// Whether a timeout has expired at `now`, and which.
    pub fn expired(&self, now: u64) -> Option<u8> {
        use openflow::messages::flow_removed_reason::*;
        let secs = |t: u16| u64::from(t) * 1_000_000_000;
        if self.hard_timeout != 0 && now >= self.created + secs(self.hard_timeout) {
            return Some(HARD_TIMEOUT);
        }
        if self.idle_timeout != 0 && now >= self.last_used() + secs(self.idle_timeout) {
            return Some(IDLE_TIMEOUT);
        }
        None
    }

    /// Whether any instruction outputs to `port` (for out_port filters).
    pub fn outputs_to(&self, port: u32) -> bool {
        use openflow::Action;
        self.actions()
            .any(|a| matches!(a, Action::Output { port: p, .. } if *p == port))
    }

    /// Whether any instruction sends to `group` (for out_group filters).
    pub fn uses_group(&self, group: u32) -> bool {
        self.groups().any(|g| g == group)
    }

    /// The groups the instructions send to.
    pub fn groups(&self) -> impl Iterator<Item = u32> + '_ {
        self.actions().filter_map(|a| match a {
            openflow::Action::Group(g) => Some(*g),
            _ => None,
        })
    }

    pub fn uses_meter(&self, meter: u32) -> bool {
        self.meters().any(|m| m == meter)
    }

    /// The meters the instructions apply.
    pub fn meters(&self) -> impl Iterator<Item = u32> + '_ {
        self.instructions.iter().filter_map(|i| match i {
            Instruction::Meter(m) => Some(*m),
            _ => None,
        })
    }

    fn actions(&self) -> impl Iterator<Item = &openflow::Action> {
        self.instructions.iter().flat_map(|i| match i {
            Instruction::ApplyActions(a) | Instruction::WriteActions(a) => a.as_slice(),
            _ => &[],
        })
    }
}
