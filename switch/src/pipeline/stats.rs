//! Statistics the pipeline answers multipart requests with: flows (with the
//! same selection rules as a non-strict DELETE), aggregate, tables, groups,
//! group descriptions, meters and meter configurations.

use super::flow_entry::FlowEntry;
use super::flow_mod::covered_by;
use super::state::Pipeline;
use super::table::N_TABLES;
use crate::flow_key::FlowKey;
use openflow::multipart::{
    AggregateStats, BandStats, BucketCounter, FlowStats, FlowStatsRequest, GroupDesc, GroupStats,
    MeterConfig, MeterStats, PortStats, TableStats,
};
use openflow::types::{group_no, meter_no, port_no, table_no};
use openflow::OfError;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

fn duration(created: u64, now: u64) -> (u32, u32) {
    super::flow_entry::duration_ms(created, now)
}

/// One entry's OFPMP_FLOW statistics at `now`.
pub fn flow_stats_entry(e: &FlowEntry, now: u64) -> FlowStats {
    let (duration_sec, duration_nsec) = e.duration(now);
    FlowStats {
        table_id: e.table_id,
        duration_sec,
        duration_nsec,
        priority: e.priority,
        idle_timeout: e.idle_timeout,
        hard_timeout: e.hard_timeout,
        flags: e.flags,
        cookie: e.cookie,
        packet_count: e.packets(),
        byte_count: e.bytes(),
        match_: e.match_.clone(),
        instructions: e.instructions.to_vec(),
    }
}

impl Pipeline {
    /// The entries a flow or aggregate stats request selects, table by
    /// table in ascending order, each table in priority order.
    pub fn select_flows(&self, req: &FlowStatsRequest) -> Result<Vec<Arc<FlowEntry>>, OfError> {
        if usize::from(req.table_id) >= N_TABLES && req.table_id != table_no::ALL {
            return Err(OfError::BRC_BAD_TABLE_ID);
        }
        req.match_.validate()?;
        let (rk, rm) = FlowKey::from_match(&req.match_);
        let tables = if req.table_id == table_no::ALL {
            0..N_TABLES
        } else {
            usize::from(req.table_id)..usize::from(req.table_id) + 1
        };
        let mut out = Vec::new();
        for t in tables {
            let mut entries: Vec<Arc<FlowEntry>> = self.tables[t]
                .classifier
                .candidates(&rk, &rm)
                .filter(|(k, m, _, e)| {
                    covered_by(k, m, &rk, &rm)
                        && (e.cookie ^ req.cookie) & req.cookie_mask == 0
                        && (req.out_port == port_no::ANY || e.outputs_to(req.out_port))
                        && (req.out_group == group_no::ANY || e.uses_group(req.out_group))
                })
                .map(|(_, _, _, e)| e.clone())
                .collect();
            entries.sort_by_key(|e| std::cmp::Reverse(e.priority));
            out.extend(entries);
        }
        Ok(out)
    }

    /// OFPMP_FLOW, all at once (the agent encodes [`flow_stats_entry`]
    /// one entry at a time instead).
    pub fn flow_stats(&self, req: &FlowStatsRequest, now: u64) -> Result<Vec<FlowStats>, OfError> {
        Ok(self
            .select_flows(req)?
            .iter()
            .map(|e| flow_stats_entry(e, now))
            .collect())
    }

    /// OFPMP_AGGREGATE.
    pub fn aggregate_stats(&self, req: &FlowStatsRequest) -> Result<AggregateStats, OfError> {
        let flows = self.select_flows(req)?;
        Ok(AggregateStats {
            packet_count: flows.iter().map(|e| e.packets()).sum(),
            byte_count: flows.iter().map(|e| e.bytes()).sum(),
            flow_count: flows.len() as u32,
        })
    }

    /// OFPMP_TABLE: every table, as Open vSwitch answers.
    pub fn table_stats(&self) -> Vec<TableStats> {
        self.tables
            .iter()
            .map(|t| TableStats {
                table_id: t.id,
                active_count: t.len() as u32,
                lookup_count: t.counters.lookups.load(Relaxed),
                matched_count: t.counters.matched.load(Relaxed),
            })
            .collect()
    }

    /// OFPMP_PORT_STATS for one port or all (`OFPP_ANY`), in port order.
    /// Frame, overrun and CRC errors are not counted (always 0).
    pub fn port_stats(&self, port: u32, now: u64) -> Vec<PortStats> {
        self.ports
            .values()
            .filter(|p| port == port_no::ANY || p.port_no == port)
            .map(|p| {
                let c = &p.counters;
                let (duration_sec, duration_nsec) = duration(p.created, now);
                PortStats {
                    port_no: p.port_no,
                    rx_packets: c.rx_packets.load(Relaxed),
                    tx_packets: c.tx_packets.load(Relaxed),
                    rx_bytes: c.rx_bytes.load(Relaxed),
                    tx_bytes: c.tx_bytes.load(Relaxed),
                    rx_dropped: c.rx_dropped.load(Relaxed),
                    tx_dropped: c.tx_dropped.load(Relaxed),
                    rx_errors: c.rx_errors.load(Relaxed),
                    tx_errors: c.tx_errors.load(Relaxed),
                    duration_sec,
                    duration_nsec,
                    ..PortStats::default()
                }
            })
            .collect()
    }

    /// How many flow entries and groups refer to each group, in one pass
    /// over the flows whatever the number of groups.
    fn group_ref_counts(&self) -> HashMap<u32, u32> {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        if self.groups.iter().next().is_none() {
            return counts;
        }
        for e in self.tables.iter().flat_map(|t| t.entries()) {
            for g in e.groups() {
                *counts.entry(g).or_default() += 1;
            }
        }
        for g in self.groups.iter().flat_map(|x| x.children()) {
            *counts.entry(g).or_default() += 1;
        }
        counts
    }

    /// How many flow entries use each meter, in one pass over the flows.
    fn meter_flow_counts(&self) -> HashMap<u32, u32> {
        let mut counts: HashMap<u32, u32> = HashMap::new();
        if self.meters.iter().next().is_none() {
            return counts;
        }
        for e in self.tables.iter().flat_map(|t| t.entries()) {
            for m in e.meters() {
                *counts.entry(m).or_default() += 1;
            }
        }
        counts
    }

    /// OFPMP_GROUP for one group or all (OFPG_ALL).
    pub fn group_stats(&self, group_id: u32, now: u64) -> Vec<GroupStats> {
        let refs = self.group_ref_counts();
        self.groups
            .iter()
            .filter(|g| group_id == group_no::ALL || g.id == group_id)
            .map(|g| {
                let (duration_sec, duration_nsec) = duration(g.created, now);
                GroupStats {
                    group_id: g.id,
                    ref_count: refs.get(&g.id).copied().unwrap_or(0),
                    packet_count: g.counters.packets.load(Relaxed),
                    byte_count: g.counters.bytes.load(Relaxed),
                    duration_sec,
                    duration_nsec,
                    bucket_stats: g
                        .bucket_counters
                        .iter()
                        .map(|c| BucketCounter {
                            packet_count: c.packets.load(Relaxed),
                            byte_count: c.bytes.load(Relaxed),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// OFPMP_GROUP_DESC.
    pub fn group_descs(&self) -> Vec<GroupDesc> {
        self.groups
            .iter()
            .map(|g| GroupDesc {
                group_type: g.group_type,
                group_id: g.id,
                buckets: g.buckets.clone(),
            })
            .collect()
    }

    /// OFPMP_METER for one meter or all (OFPM_ALL).
    pub fn meter_stats(&self, meter_id: u32, now: u64) -> Vec<MeterStats> {
        let flows = self.meter_flow_counts();
        self.meters
            .iter()
            .filter(|m| meter_id == meter_no::ALL || m.id == meter_id)
            .map(|m| {
                let (duration_sec, duration_nsec) = duration(m.created, now);
                MeterStats {
                    meter_id: m.id,
                    flow_count: flows.get(&m.id).copied().unwrap_or(0),
                    packet_in_count: m.packets_in.load(Relaxed),
                    byte_in_count: m.bytes_in.load(Relaxed),
                    duration_sec,
                    duration_nsec,
                    band_stats: m
                        .band_counters
                        .iter()
                        .map(|b| BandStats {
                            packet_band_count: b.packets.load(Relaxed),
                            byte_band_count: b.bytes.load(Relaxed),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// OFPMP_METER_CONFIG.
    pub fn meter_configs(&self, meter_id: u32) -> Vec<MeterConfig> {
        self.meters
            .iter()
            .filter(|m| meter_id == meter_no::ALL || m.id == meter_id)
            .map(|m| MeterConfig {
                flags: m.flags,
                meter_id: m.id,
                bands: m.bands.clone(),
            })
            .collect()
    }
}
