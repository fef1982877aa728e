//! Answering the controller-to-switch messages other than multipart
//! requests ([`super::replies`] has those): what each does to the switch
//! and what it sends back.
//!
//! Choices where the spec leaves room, after Open vSwitch 3.1:
//! - SET_CONFIG: only OFPC_FRAG_NORMAL is implemented; DROP and REASM are
//!   accepted and ignored (GET_CONFIG keeps saying NORMAL), as Open vSwitch
//!   does for modes its datapath lacks. Bit 2 (1.1/1.2's
//!   OFPC_INVALID_TTL_TO_CONTROLLER, gone from 1.3) is accepted and turns
//!   on OFPR_INVALID_TTL packet-ins for this channel (its master async
//!   mask; clearing it never turns them off, since a 1.3 controller sends
//!   0 there and controls them with SET_ASYNC); other bits are
//!   OFPSCFC_BAD_FLAGS. `miss_send_len` is per channel (GET_CONFIG reports
//!   it) and also becomes the pipeline's.
//! - PACKET_OUT: buffer ids other than OFP_NO_BUFFER are
//!   OFPBRC_BUFFER_UNKNOWN (nothing is ever buffered); in_port must be a
//!   port number up to OFPP_MAX (present or not, as Open vSwitch), LOCAL,
//!   CONTROLLER or ANY, else OFPBRC_BAD_PORT; actions are validated as for
//!   a flow entry without a match.
//! - PORT_MOD: unknown config bits are ignored (Open vSwitch masks them),
//!   `advertise` is ignored; PORT_STATUS goes to the other channels only.
//! - TABLE_MOD: accepted for any table (config is deprecated in 1.3).
//! - QUEUE_GET_CONFIG: no queues are configured; an empty list for known
//!   ports and ANY, OFPQOFC_BAD_PORT otherwise.
//! - Replies-only types (FEATURES_REPLY, PACKET_IN...) from a controller
//!   are OFPBRC_BAD_TYPE; ERROR, ECHO_REPLY and repeated HELLOs are ignored.

use super::connection::{Connection, Effect};
use super::controllers::Outgoing;
use super::features::switch_features;
use super::SwitchState;
use crate::pipeline::table::N_TABLES;
use crate::pipeline::validate::ActionContext;
use crate::pipeline::{Event, Outcome};
use openflow::messages::{
    config_flags, packet_in_reason, PacketOut, QueueGetConfigReply, SwitchConfig, TableMod,
};
use openflow::port::{config as port_config, reason as port_reason, PortMod, PortStatus};
use openflow::types::{port_no, table_no, NO_BUFFER};
use openflow::{Body, Message, OfError};

/// SET_CONFIG bit 2 (OFPC_INVALID_TTL_TO_CONTROLLER of OpenFlow 1.1/1.2).
const INVALID_TTL_TO_CONTROLLER: u16 = 1 << 2;

/// The `ofp_port_config` bits a PORT_MOD may change.
const PORT_CONFIG_BITS: u32 =
    port_config::PORT_DOWN | port_config::NO_RECV | port_config::NO_FWD | port_config::NO_PACKET_IN;

impl Connection {
    /// Handles one decoded message after the HELLO exchange.
    pub(super) fn dispatch(
        &mut self,
        raw: &[u8],
        msg: Message,
        now: u64,
        sw: &mut SwitchState<'_>,
        effects: &mut Vec<Effect>,
    ) {
        let xid = msg.xid;
        let result = match msg.body {
            Body::Hello(_) | Body::Error(_) | Body::EchoReply(_) => Ok(()),
            Body::EchoRequest(data) => {
                self.reply(xid, Body::EchoReply(data));
                Ok(())
            }
            Body::Experimenter(_) => Err(OfError::BRC_BAD_EXPERIMENTER),
            Body::FeaturesRequest => {
                let f = switch_features(sw.bridge.datapath_id);
                self.reply(xid, Body::FeaturesReply(f));
                Ok(())
            }
            Body::GetConfigRequest => {
                let miss_send_len = sw.controllers.get(self.id).map_or(0, |c| c.miss_send_len);
                let c = SwitchConfig {
                    flags: config_flags::FRAG_NORMAL,
                    miss_send_len,
                };
                self.reply(xid, Body::GetConfigReply(c));
                Ok(())
            }
            Body::SetConfig(c) => self.set_config(c, sw),
            Body::PacketOut(po) => self.packet_out(po, now, sw, effects),
            Body::FlowMod(fm) => sw
                .pipeline
                .flow_mod(&fm, now)
                .map(|ev| self.changed(&ev, sw, effects)),
            Body::GroupMod(gm) => sw
                .pipeline
                .group_mod(&gm, now)
                .map(|ev| self.changed(&ev, sw, effects)),
            Body::MeterMod(mm) => sw
                .pipeline
                .meter_mod(&mm, now)
                .map(|ev| self.changed(&ev, sw, effects)),
            Body::PortMod(pm) => self.port_mod(pm, sw, effects),
            Body::TableMod(TableMod { table_id, .. }) => {
                if usize::from(table_id) < N_TABLES || table_id == table_no::ALL {
                    Ok(())
                } else {
                    Err(OfError::TMFC_BAD_TABLE)
                }
            }
            Body::MultipartRequest(req) => match self.assembler.push(xid, raw.len(), req) {
                Ok(Some(parts)) => self.multipart(xid, parts, now, sw),
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            },
            Body::BarrierRequest => {
                // Everything before it was done synchronously.
                self.reply(xid, Body::BarrierReply);
                Ok(())
            }
            Body::QueueGetConfigRequest { port } => {
                if port == port_no::ANY || sw.bridge.ports.contains_key(&port) {
                    let r = QueueGetConfigReply {
                        port,
                        queues: Vec::new(),
                    };
                    self.reply(xid, Body::QueueGetConfigReply(r));
                    Ok(())
                } else {
                    Err(OfError::QOFC_BAD_PORT)
                }
            }
            Body::RoleRequest(r) => sw.controllers.request_role(self.id, r).map(|reply| {
                sw.controllers.sync_pipeline(sw.pipeline);
                self.reply(xid, Body::RoleReply(reply));
            }),
            Body::GetAsyncRequest => {
                let c = sw
                    .controllers
                    .get(self.id)
                    .map(|c| c.async_config)
                    .unwrap_or_default();
                self.reply(xid, Body::GetAsyncReply(c));
                Ok(())
            }
            Body::SetAsync(c) => {
                if let Some(ch) = sw.controllers.get_mut(self.id) {
                    ch.async_config = c;
                }
                sw.controllers.sync_pipeline(sw.pipeline);
                Ok(())
            }
            Body::FeaturesReply(_)
            | Body::GetConfigReply(_)
            | Body::PacketIn(_)
            | Body::FlowRemoved(_)
            | Body::PortStatus(_)
            | Body::MultipartReply(_)
            | Body::BarrierReply
            | Body::QueueGetConfigReply(_)
            | Body::RoleReply(_)
            | Body::GetAsyncReply(_) => Err(OfError::BRC_BAD_TYPE),
        };
        if let Err(e) = result {
            self.send_error(e, raw);
        }
    }

    /// Sends asynchronous messages: this connection's into its own output
    /// (keeping them in order with its replies), the others' as effects.
    pub(super) fn route(&mut self, out: Vec<Outgoing>, effects: &mut Vec<Effect>) {
        for (conn, bytes) in out {
            if conn == self.id {
                self.outbox.extend_from_slice(&bytes);
            } else {
                effects.push(Effect::Send { conn, bytes });
            }
        }
    }

    /// After a successful FLOW_MOD, GROUP_MOD or METER_MOD.
    fn changed(&mut self, events: &[Event], sw: &mut SwitchState<'_>, effects: &mut Vec<Effect>) {
        let out = sw.controllers.events(events);
        self.route(out, effects);
        effects.push(Effect::PipelineChanged);
    }

    fn set_config(&mut self, c: SwitchConfig, sw: &mut SwitchState<'_>) -> Result<(), OfError> {
        if c.flags & !(config_flags::FRAG_MASK | INVALID_TTL_TO_CONTROLLER) != 0 {
            return Err(OfError::SCFC_BAD_FLAGS);
        }
        let slave = sw.controllers.role(self.id) == super::Role::Slave;
        if let Some(ch) = sw.controllers.get_mut(self.id) {
            ch.miss_send_len = c.miss_send_len;
            if c.flags & INVALID_TTL_TO_CONTROLLER != 0 {
                ch.async_config.packet_in_mask[0] |= 1 << packet_in_reason::INVALID_TTL;
            }
        }
        if !slave {
            sw.pipeline.miss_send_len = c.miss_send_len;
        }
        sw.controllers.sync_pipeline(sw.pipeline);
        Ok(())
    }

    fn packet_out(
        &mut self,
        po: PacketOut,
        now: u64,
        sw: &mut SwitchState<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), OfError> {
        if po.buffer_id != NO_BUFFER {
            return Err(OfError::BRC_BUFFER_UNKNOWN);
        }
        let in_port_ok = matches!(
            po.in_port,
            1..=port_no::MAX | port_no::LOCAL | port_no::CONTROLLER | port_no::ANY
        );
        if !in_port_ok {
            return Err(OfError::BRC_BAD_PORT);
        }
        sw.pipeline
            .validate_actions(&po.actions, ActionContext::PacketOut, None)?;
        let outcomes = sw
            .pipeline
            .packet_out(po.data, po.in_port, &po.actions, now);
        for o in outcomes {
            match o {
                Outcome::Output {
                    port,
                    queue,
                    tunnel_id,
                    frame,
                } => effects.push(Effect::Output {
                    port,
                    queue,
                    tunnel_id,
                    frame,
                }),
                Outcome::PacketIn(pi) => {
                    let out = sw.controllers.packet_in(&pi);
                    self.route(out, effects);
                }
                // Only received frames are BPDUs for spanning tree.
                Outcome::Bpdu { .. } => {}
            }
        }
        Ok(())
    }

    fn port_mod(
        &mut self,
        pm: PortMod,
        sw: &mut SwitchState<'_>,
        effects: &mut Vec<Effect>,
    ) -> Result<(), OfError> {
        let Some(port) = sw.bridge.ports.get(&pm.port_no) else {
            return Err(OfError::PMFC_BAD_PORT);
        };
        if port.hw_addr != pm.hw_addr {
            return Err(OfError::PMFC_BAD_HW_ADDR);
        }
        let old = port.config;
        let mask = pm.mask & PORT_CONFIG_BITS;
        let new = (old & !mask) | (pm.config & mask);
        if new == old {
            return Ok(());
        }
        let Some(desc) = sw.bridge.apply_port_config(pm.port_no, new) else {
            return Err(OfError::PMFC_BAD_PORT);
        };
        if let Some(info) = sw.pipeline.port(pm.port_no) {
            let mut info = info.clone();
            info.config = new;
            sw.pipeline.set_port(info);
        }
        effects.push(Effect::PortConfig {
            port_no: pm.port_no,
            old,
            new,
        });
        effects.push(Effect::PipelineChanged);
        let ps = PortStatus {
            reason: port_reason::MODIFY,
            desc,
        };
        let out = sw.controllers.port_status(&ps, Some(self.id));
        self.route(out, effects);
        Ok(())
    }
}
