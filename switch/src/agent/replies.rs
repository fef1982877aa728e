//! Answering multipart requests: statistics from the pipeline, descriptions
//! from the bridge, capabilities from [`super::features`], each reply split
//! into messages of at most 64 KiB ([`super::multipart::split_reply`]).
//!
//! Choices where the spec leaves room, after Open vSwitch 3.1:
//! - OFPMP_QUEUE: no queues exist; port ANY or a known port with queue ALL
//!   get an empty reply, an unknown port OFPQOFC_BAD_PORT, a specific queue
//!   OFPQOFC_BAD_QUEUE.
//! - OFPMP_PORT_STATS and OFPMP_GROUP of an unknown port or group: an empty
//!   reply. OFPMP_METER and OFPMP_METER_CONFIG of an unknown meter:
//!   OFPMMFC_UNKNOWN_METER.
//! - OFPMP_TABLE_FEATURES with a body (a "set", possibly in several parts):
//!   see [`super::features`]; refused with OFPBRC_IS_SLAVE from a slave as
//!   spec 6.3.5 says. Other types in several parts: OFPBRC_BAD_MULTIPART.
//! - OFPMP_EXPERIMENTER: OFPBRC_BAD_EXPERIMENTER.

use super::bridge::{HW_DESC, MFR_DESC, SERIAL_NUM, SW_DESC};
use super::connection::Connection;
use super::features::{
    all_table_features, check_table_features_set, group_features, meter_features,
};
use super::multipart::{entry_bytes, split_reply};
use super::{Role, SwitchState};
use crate::pipeline::stats::flow_stats_entry;
use openflow::message::MAX_MESSAGE_LEN;
use openflow::multipart::{
    mp_type, Desc, FlowStats, MultipartReply, MultipartReplyBody as R, MultipartRequest,
    MultipartRequestBody as Q,
};
use openflow::types::{meter_no, port_no};
use openflow::{Body, OfError};

/// OFPQ_ALL.
const QUEUE_ALL: u32 = 0xffff_ffff;

impl Connection {
    /// Answers a complete (reassembled) multipart request.
    pub(super) fn multipart(
        &mut self,
        xid: u32,
        mut parts: Vec<MultipartRequest>,
        now: u64,
        sw: &mut SwitchState<'_>,
    ) -> Result<(), OfError> {
        let Some(first) = parts.first() else {
            return Ok(());
        };
        let typ = first.mp_type();
        if parts.len() > 1 && typ != mp_type::TABLE_FEATURES {
            return Err(OfError::BRC_BAD_MULTIPART);
        }
        let one = |body: R| -> Vec<Vec<u8>> {
            let m = openflow::Message::new(
                xid,
                Body::MultipartReply(MultipartReply { flags: 0, body }),
            );
            vec![m.to_bytes()]
        };
        let split = |entries: Vec<Vec<u8>>| split_reply(xid, typ, entries, MAX_MESSAGE_LEN);
        let msgs = match parts.remove(0).body {
            Q::Desc => one(R::Desc(Desc {
                mfr_desc: MFR_DESC.into(),
                hw_desc: HW_DESC.into(),
                sw_desc: SW_DESC.into(),
                serial_num: SERIAL_NUM.into(),
                dp_desc: if sw.bridge.dp_desc.is_empty() {
                    "None".into()
                } else {
                    sw.bridge.dp_desc.clone()
                },
            })),
            Q::Flow(req) => {
                // Encoded one entry at a time, straight into the replies:
                // 100,000 flows never exist as decoded statistics at once.
                let flows = sw.pipeline.select_flows(&req)?;
                split_reply(
                    xid,
                    typ,
                    flows.iter().map(|e| flow_entry(&flow_stats_entry(e, now))),
                    MAX_MESSAGE_LEN,
                )
            }
            Q::Aggregate(req) => one(R::Aggregate(sw.pipeline.aggregate_stats(&req)?)),
            Q::Table => split(
                sw.pipeline
                    .table_stats()
                    .into_iter()
                    .map(|t| entry_bytes(t, R::Table))
                    .collect(),
            ),
            Q::PortStats { port_no } => split(
                sw.pipeline
                    .port_stats(port_no, now)
                    .into_iter()
                    .map(|p| entry_bytes(p, R::PortStats))
                    .collect(),
            ),
            Q::Queue { port_no, queue_id } => {
                if port_no != port_no::ANY && !sw.bridge.ports.contains_key(&port_no) {
                    return Err(OfError::QOFC_BAD_PORT);
                }
                if queue_id != QUEUE_ALL {
                    return Err(OfError::QOFC_BAD_QUEUE);
                }
                one(R::Queue(Vec::new()))
            }
            Q::Group { group_id } => split(
                sw.pipeline
                    .group_stats(group_id, now)
                    .into_iter()
                    .map(|g| entry_bytes(g, R::Group))
                    .collect(),
            ),
            Q::GroupDesc => split(
                sw.pipeline
                    .group_descs()
                    .into_iter()
                    .map(|g| entry_bytes(g, R::GroupDesc))
                    .collect(),
            ),
            Q::GroupFeatures => one(R::GroupFeatures(group_features())),
            Q::Meter { meter_id } => {
                known_meter(sw, meter_id)?;
                split(
                    sw.pipeline
                        .meter_stats(meter_id, now)
                        .into_iter()
                        .map(|m| entry_bytes(m, R::Meter))
                        .collect(),
                )
            }
            Q::MeterConfig { meter_id } => {
                known_meter(sw, meter_id)?;
                split(
                    sw.pipeline
                        .meter_configs(meter_id)
                        .into_iter()
                        .map(|m| entry_bytes(m, R::MeterConfig))
                        .collect(),
                )
            }
            Q::MeterFeatures => one(R::MeterFeatures(meter_features())),
            Q::TableFeatures(mut tables) => {
                for p in parts {
                    if let Q::TableFeatures(t) = p.body {
                        tables.extend(t);
                    }
                }
                if !tables.is_empty() {
                    if sw.controllers.role(self.id) == Role::Slave {
                        return Err(OfError::BRC_IS_SLAVE);
                    }
                    for (id, name) in check_table_features_set(sw.pipeline, &tables)? {
                        if let Some(t) = sw.pipeline.table_mut(id) {
                            if t.name != name {
                                t.name = name;
                            }
                        }
                    }
                }
                split(
                    all_table_features(sw.pipeline)
                        .iter()
                        .map(|t| {
                            let mut b = Vec::with_capacity(t.wire_len());
                            t.encode(&mut b);
                            b
                        })
                        .collect(),
                )
            }
            Q::PortDesc => split(
                sw.bridge
                    .ports
                    .values()
                    .map(|p| {
                        let mut b = Vec::with_capacity(openflow::port::PORT_LEN);
                        p.encode(&mut b);
                        b
                    })
                    .collect(),
            ),
            Q::Experimenter(_) => return Err(OfError::BRC_BAD_EXPERIMENTER),
        };
        for m in msgs {
            self.outbox.extend_from_slice(&m);
        }
        Ok(())
    }
}

fn flow_entry(f: &FlowStats) -> Vec<u8> {
    let mut b = Vec::with_capacity(f.wire_len());
    f.encode(&mut b);
    b
}

fn known_meter(sw: &SwitchState<'_>, meter_id: u32) -> Result<(), OfError> {
    if meter_id == meter_no::ALL || sw.pipeline.meters.contains(meter_id) {
        Ok(())
    } else {
        Err(OfError::MMFC_UNKNOWN_METER)
    }
}
