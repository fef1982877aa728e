//! The meter table (spec 5.7): token-bucket rate limiters with DROP and
//! DSCP_REMARK bands, in kbps or packets per second, with optional burst.
//!
//! Each band has a bucket filled at the band's rate up to its burst size. A
//! packet that finds too few tokens in a band's bucket exceeds that band;
//! of the exceeded bands the one with the highest rate applies (spec
//! 7.3.4.4). Buckets live behind a small per-meter mutex held for a few
//! arithmetic operations; forwarding never waits on the control plane.

use openflow::meter::{command, flags, MeterBand, MeterMod};
use openflow::types::meter_no;
use openflow::OfError;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub const MAX_METERS: u32 = 65536;
pub const MAX_BANDS: usize = 16;

/// What a meter decided for one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MeterVerdict {
    Pass,
    Drop,
    /// Raise the drop precedence of the packet's DSCP by this many levels.
    Remark(u8),
}

#[derive(Debug, Default)]
struct BandState {
    /// Tokens in millibits (kbps meters) or millipackets (pps meters).
    tokens: u64,
}

#[derive(Debug)]
struct State {
    last: u64,
    bands: Vec<BandState>,
}

/// Per-band counters.
#[derive(Debug, Default)]
pub struct BandCounters {
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
}

/// One meter.
#[derive(Debug)]
pub struct Meter {
    pub id: u32,
    pub flags: u16,
    pub bands: Vec<MeterBand>,
    pub created: u64,
    pub packets_in: AtomicU64,
    pub bytes_in: AtomicU64,
    pub band_counters: Vec<BandCounters>,
    state: Mutex<State>,
}

impl Meter {
    fn new(mm: &MeterMod, now: u64) -> Meter {
        let state = State {
            last: now,
            bands: mm
                .bands
                .iter()
                .map(|b| BandState {
                    tokens: Self::capacity(mm.flags, b),
                })
                .collect(),
        };
        Meter {
            id: mm.meter_id,
            flags: mm.flags,
            bands: mm.bands.clone(),
            created: now,
            packets_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            band_counters: mm.bands.iter().map(|_| BandCounters::default()).collect(),
            state: Mutex::new(state),
        }
    }

    fn pps(&self) -> bool {
        self.flags & flags::PKTPS != 0
    }

    /// Bucket size in milli-units (millibits or millipackets): the burst
    /// when the meter has OFPMF_BURST, else one second's worth of the rate.
    fn capacity(fl: u16, b: &MeterBand) -> u64 {
        let burst = if fl & flags::BURST != 0 && b.burst_size() > 0 {
            u64::from(b.burst_size())
        } else {
            u64::from(b.rate())
        };
        // 1 kbit = 1000 bits = 1,000,000 millibits.
        if fl & flags::PKTPS != 0 {
            burst * 1000
        } else {
            burst * 1_000_000
        }
    }

    /// Meters one packet of `bytes` bytes at time `now` (ns).
    pub fn apply(&self, bytes: usize, now: u64) -> MeterVerdict {
        self.packets_in.fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Relaxed);
        let cost = if self.pps() {
            1000
        } else {
            bytes as u64 * 8 * 1000
        };
        let mut chosen: Option<usize> = None;
        {
            let Ok(mut st) = self.state.lock() else {
                return MeterVerdict::Pass;
            };
            let elapsed = now.saturating_sub(st.last);
            st.last = st.last.max(now);
            for (i, b) in self.bands.iter().enumerate() {
                // The band's rate in milli-units per second.
                let per_sec = if self.pps() {
                    u64::from(b.rate()) * 1000
                } else {
                    u64::from(b.rate()) * 1_000_000
                };
                let add = (u128::from(per_sec) * u128::from(elapsed) / 1_000_000_000) as u64;
                let cap = Self::capacity(self.flags, b);
                let bs = &mut st.bands[i];
                bs.tokens = bs.tokens.saturating_add(add).min(cap);
                if bs.tokens >= cost {
                    bs.tokens -= cost;
                } else if chosen.is_none_or(|c| self.bands[c].rate() < b.rate()) {
                    chosen = Some(i);
                }
            }
        }
        let Some(i) = chosen else {
            return MeterVerdict::Pass;
        };
        self.band_counters[i].packets.fetch_add(1, Relaxed);
        self.band_counters[i].bytes.fetch_add(bytes as u64, Relaxed);
        match self.bands[i] {
            MeterBand::Drop { .. } => MeterVerdict::Drop,
            MeterBand::DscpRemark { prec_level, .. } => MeterVerdict::Remark(prec_level),
            MeterBand::Experimenter { .. } => MeterVerdict::Pass,
        }
    }
}

/// All meters, by id.
#[derive(Clone, Debug, Default)]
pub struct MeterTable {
    meters: BTreeMap<u32, Arc<Meter>>,
}

impl MeterTable {
    pub fn get(&self, id: u32) -> Option<&Arc<Meter>> {
        self.meters.get(&id)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.meters.contains_key(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Meter>> {
        self.meters.values()
    }

    fn check(mm: &MeterMod) -> Result<(), OfError> {
        if mm.meter_id == 0 || mm.meter_id > meter_no::MAX {
            return Err(OfError::MMFC_INVALID_METER);
        }
        let known = flags::KBPS | flags::PKTPS | flags::BURST | flags::STATS;
        let unit = mm.flags & (flags::KBPS | flags::PKTPS);
        if mm.flags & !known != 0 || unit == 0 || unit == (flags::KBPS | flags::PKTPS) {
            return Err(OfError::MMFC_BAD_FLAGS);
        }
        if mm.bands.len() > MAX_BANDS {
            return Err(OfError::MMFC_OUT_OF_BANDS);
        }
        for b in &mm.bands {
            match b {
                MeterBand::Experimenter { .. } => return Err(OfError::MMFC_BAD_BAND),
                MeterBand::DscpRemark { prec_level, .. } if *prec_level == 0 => {
                    return Err(OfError::MMFC_BAD_BAND_VALUE)
                }
                _ => {}
            }
            if b.rate() == 0 {
                return Err(OfError::MMFC_BAD_RATE);
            }
            if mm.flags & flags::BURST != 0 && b.burst_size() == 0 {
                return Err(OfError::MMFC_BAD_BURST);
            }
        }
        Ok(())
    }

    /// Applies a METER_MOD; returns the ids of meters deleted (flows using
    /// them must go).
    pub fn apply(&mut self, mm: &MeterMod, now: u64) -> Result<Vec<u32>, OfError> {
        match mm.command {
            command::ADD => {
                Self::check(mm)?;
                if self.meters.contains_key(&mm.meter_id) {
                    return Err(OfError::MMFC_METER_EXISTS);
                }
                if self.meters.len() as u32 >= MAX_METERS {
                    return Err(OfError::MMFC_OUT_OF_METERS);
                }
                self.meters
                    .insert(mm.meter_id, Arc::new(Meter::new(mm, now)));
                Ok(vec![])
            }
            command::MODIFY => {
                Self::check(mm)?;
                if !self.meters.contains_key(&mm.meter_id) {
                    return Err(OfError::MMFC_UNKNOWN_METER);
                }
                self.meters
                    .insert(mm.meter_id, Arc::new(Meter::new(mm, now)));
                Ok(vec![])
            }
            command::DELETE => {
                if mm.meter_id == meter_no::ALL {
                    let ids = self.meters.keys().copied().collect();
                    self.meters.clear();
                    Ok(ids)
                } else {
                    Ok(self
                        .meters
                        .remove(&mm.meter_id)
                        .map(|m| m.id)
                        .into_iter()
                        .collect())
                }
            }
            _ => Err(OfError::MMFC_BAD_COMMAND),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mm(flags: u16, bands: Vec<MeterBand>) -> MeterMod {
        MeterMod {
            command: command::ADD,
            flags,
            meter_id: 1,
            bands,
        }
    }

    #[test]
    fn pps_meter_drops_above_rate() {
        let mut t = MeterTable::default();
        t.apply(
            &mm(
                flags::PKTPS | flags::BURST,
                vec![MeterBand::Drop {
                    rate: 100,
                    burst_size: 10,
                }],
            ),
            0,
        )
        .unwrap();
        let m = t.get(1).unwrap().clone();
        // 1000 packets over one second offered at 1000 pps: about 100 + 10 pass.
        let mut passed = 0;
        for i in 0..1000u64 {
            if m.apply(100, i * 1_000_000) == MeterVerdict::Pass {
                passed += 1;
            }
        }
        assert!((105..=115).contains(&passed), "{passed}");
        assert_eq!(m.band_counters[0].packets.load(Relaxed), 1000 - passed);
    }

    #[test]
    fn kbps_meter_limits_bytes() {
        let mut t = MeterTable::default();
        t.apply(
            &mm(
                flags::KBPS,
                vec![MeterBand::Drop {
                    rate: 800,
                    burst_size: 0,
                }],
            ),
            0,
        )
        .unwrap();
        let m = t.get(1).unwrap().clone();
        // 800 kbps = 100,000 bytes/s; offer 1000-byte packets at 1000/s for 2 s
        let mut passed = 0u64;
        for i in 0..2000u64 {
            if m.apply(1000, i * 1_000_000) == MeterVerdict::Pass {
                passed += 1;
            }
        }
        // 2 s * 100 pkt/s + initial bucket of 1 s = ~300
        assert!((280..=320).contains(&passed), "{passed}");
    }

    #[test]
    fn meter_mod_errors() {
        let mut t = MeterTable::default();
        let drop = MeterBand::Drop {
            rate: 1,
            burst_size: 1,
        };
        assert_eq!(
            t.apply(&mm(0, vec![drop.clone()]), 0),
            Err(OfError::MMFC_BAD_FLAGS)
        );
        assert_eq!(
            t.apply(
                &mm(
                    flags::KBPS,
                    vec![MeterBand::Drop {
                        rate: 0,
                        burst_size: 0
                    }]
                ),
                0
            ),
            Err(OfError::MMFC_BAD_RATE)
        );
        let mut bad_id = mm(flags::KBPS, vec![drop.clone()]);
        bad_id.meter_id = 0;
        assert_eq!(t.apply(&bad_id, 0), Err(OfError::MMFC_INVALID_METER));
        t.apply(&mm(flags::KBPS, vec![drop.clone()]), 0).unwrap();
        assert_eq!(
            t.apply(&mm(flags::KBPS, vec![drop.clone()]), 0),
            Err(OfError::MMFC_METER_EXISTS)
        );
        let mut modify = mm(flags::KBPS, vec![drop]);
        modify.command = command::MODIFY;
        modify.meter_id = 9;
        assert_eq!(t.apply(&modify, 0), Err(OfError::MMFC_UNKNOWN_METER));
    }
}
