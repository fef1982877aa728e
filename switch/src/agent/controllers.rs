//! The set of OpenFlow channels of one bridge: each channel's role and
//! asynchronous-message configuration, the bridge-wide generation id, and
//! the fan-out of asynchronous messages (PACKET_IN, FLOW_REMOVED,
//! PORT_STATUS) to the channels that want them.
//!
//! Why a separate structure rather than state inside each
//! [`super::Connection`]: roles are not per connection. A ROLE_REQUEST
//! making one channel MASTER demotes every other master to SLAVE, and the
//! generation id that detects stale requests is one per switch (spec
//! 6.3.5). Asynchronous messages are also decided for all channels at once.
//! So everything that one channel's request may change on another lives
//! here, keyed by [`ConnId`], and connections hold only their id.
//!
//! Filtering follows spec 7.3.10 and Open vSwitch's `connmgr.c`: a channel
//! gets an asynchronous message when the bit of its reason is set in the
//! mask for its role (index 0 for MASTER and EQUAL, 1 for SLAVE). Service
//! channels (a passive listener used by `ovs-ofctl`) get none until they set
//! a non-zero `miss_send_len`, as in Open vSwitch.

use crate::pipeline::execute::clip_packet_in;
use crate::pipeline::{Event, Pipeline};
use openflow::messages::{packet_in_reason, role, AsyncConfig, FlowRemoved, PacketIn, RoleMsg};
use openflow::port::PortStatus;
use openflow::{Body, Message, OfError};
use std::collections::BTreeMap;

/// Default `miss_send_len` of a controller channel (OFP_DEFAULT_MISS_SEND_LEN).
pub const DEFAULT_MISS_SEND_LEN: u16 = 128;

/// Identifies one channel within a [`Controllers`] set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A channel's controller role (spec 6.3.5). The default is EQUAL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    #[default]
    Equal,
    Master,
    Slave,
}

impl Role {
    /// The `ofp_controller_role` value.
    pub fn to_wire(self) -> u32 {
        match self {
            Role::Equal => role::EQUAL,
            Role::Master => role::MASTER,
            Role::Slave => role::SLAVE,
        }
    }

    /// The role of a wire value; `None` for NOCHANGE and unknown values.
    pub fn from_wire(v: u32) -> Option<Role> {
        match v {
            role::EQUAL => Some(Role::Equal),
            role::MASTER => Some(Role::Master),
            role::SLAVE => Some(Role::Slave),
            _ => None,
        }
    }

    /// Index into the [`AsyncConfig`] masks.
    fn mask_index(self) -> usize {
        usize::from(self == Role::Slave)
    }
}

/// How the channel came to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnKind {
    /// A configured controller the switch connected to (or that connected
    /// to a controller listener): gets asynchronous messages by default.
    #[default]
    Controller,
    /// A management connection on a passive listener (ovs-ofctl): no
    /// asynchronous messages until it sets a non-zero `miss_send_len`.
    Service,
}

/// The kinds of asynchronous message, for [`Controllers::wants`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsyncKind {
    PacketIn,
    PortStatus,
    FlowRemoved,
}

/// What the set knows about one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub kind: ConnKind,
    pub role: Role,
    pub async_config: AsyncConfig,
    pub miss_send_len: u16,
    /// The HELLO exchange is done; before that nothing asynchronous may be
    /// sent (the peer does not know our version yet).
    pub ready: bool,
}

impl Channel {
    fn new(kind: ConnKind) -> Channel {
        Channel {
            kind,
            role: Role::Equal,
            async_config: AsyncConfig::default(),
            miss_send_len: match kind {
                ConnKind::Controller => DEFAULT_MISS_SEND_LEN,
                ConnKind::Service => 0,
            },
            ready: false,
        }
    }

    /// Whether this channel wants an asynchronous message of `kind` with
    /// `reason`.
    pub fn wants(&self, kind: AsyncKind, reason: u8) -> bool {
        if !self.ready || (self.kind == ConnKind::Service && self.miss_send_len == 0) {
            return false;
        }
        let i = self.role.mask_index();
        let mask = match kind {
            AsyncKind::PacketIn => self.async_config.packet_in_mask[i],
            AsyncKind::PortStatus => self.async_config.port_status_mask[i],
            AsyncKind::FlowRemoved => self.async_config.flow_removed_mask[i],
        };
        reason < 32 && mask & (1 << reason) != 0
    }
}

/// An encoded message for one channel.
pub type Outgoing = (ConnId, Vec<u8>);

/// One encoding of `body` for each channel of `ids`; nothing for none.
fn encode_for(ids: Vec<ConnId>, body: Body) -> Vec<Outgoing> {
    if ids.is_empty() {
        return Vec::new();
    }
    // Asynchronous messages carry xid 0, as Open vSwitch sends them.
    let bytes = Message::new(0, body).to_bytes();
    ids.into_iter().map(|id| (id, bytes.clone())).collect()
}

/// All channels of one bridge.
#[derive(Clone, Debug, Default)]
pub struct Controllers {
    channels: BTreeMap<ConnId, Channel>,
    next_id: u64,
    /// The generation id of the last accepted MASTER/SLAVE request.
    generation_id: Option<u64>,
}

impl Controllers {
    pub fn new() -> Controllers {
        Controllers::default()
    }

    /// Adds a channel (done by [`super::Connection::new`]).
    pub fn register(&mut self, kind: ConnKind) -> ConnId {
        self.next_id += 1;
        let id = ConnId(self.next_id);
        self.channels.insert(id, Channel::new(kind));
        id
    }

    /// Forgets a channel whose connection closed. Call
    /// [`Controllers::sync_pipeline`] afterwards.
    pub fn unregister(&mut self, id: ConnId) {
        self.channels.remove(&id);
    }

    pub fn get(&self, id: ConnId) -> Option<&Channel> {
        self.channels.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: ConnId) -> Option<&mut Channel> {
        self.channels.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.channels.keys().copied()
    }

    pub fn role(&self, id: ConnId) -> Role {
        self.get(id).map(|c| c.role).unwrap_or_default()
    }

    /// The bridge's generation id, if a MASTER or SLAVE request set one.
    pub fn generation_id(&self) -> Option<u64> {
        self.generation_id
    }

    /// Handles a ROLE_REQUEST from channel `id` and returns the ROLE_REPLY
    /// body (spec 6.3.5, as Open vSwitch implements it).
    ///
    /// - NOCHANGE only reports the current role.
    /// - MASTER and SLAVE carry a generation id; one older than the last
    ///   accepted (by the signed distance of the spec) is OFPRRFC_STALE.
    /// - A new MASTER demotes every other master to SLAVE.
    /// - The reply carries the generation id, or all-ones if none is known
    ///   yet (as Open vSwitch does).
    pub fn request_role(&mut self, id: ConnId, req: RoleMsg) -> Result<RoleMsg, OfError> {
        if req.role != role::NOCHANGE {
            let Some(new) = Role::from_wire(req.role) else {
                return Err(OfError::RRFC_BAD_ROLE);
            };
            if new != Role::Equal {
                if let Some(cur) = self.generation_id {
                    if (req.generation_id.wrapping_sub(cur) as i64) < 0 {
                        return Err(OfError::RRFC_STALE);
                    }
                }
                self.generation_id = Some(req.generation_id);
            }
            if new == Role::Master {
                for (other, ch) in self.channels.iter_mut() {
                    if *other != id && ch.role == Role::Master {
                        ch.role = Role::Slave;
                    }
                }
            }
            if let Some(ch) = self.channels.get_mut(&id) {
                ch.role = new;
            }
        }
        Ok(RoleMsg {
            role: self.role(id).to_wire(),
            generation_id: self.generation_id.unwrap_or(u64::MAX),
        })
    }

    /// Whether channel `id` wants a message of `kind` with `reason`.
    pub fn wants(&self, id: ConnId, kind: AsyncKind, reason: u8) -> bool {
        self.get(id).is_some_and(|c| c.wants(kind, reason))
    }

    /// The channels that want a message of `kind` with `reason`.
    pub fn recipients(&self, kind: AsyncKind, reason: u8) -> Vec<ConnId> {
        self.channels
            .iter()
            .filter(|(_, c)| c.wants(kind, reason))
            .map(|(id, _)| *id)
            .collect()
    }

    fn fan_out(
        &self,
        kind: AsyncKind,
        reason: u8,
        body: Body,
        except: Option<ConnId>,
    ) -> Vec<Outgoing> {
        let ids: Vec<ConnId> = self
            .recipients(kind, reason)
            .into_iter()
            .filter(|id| Some(*id) != except)
            .collect();
        encode_for(ids, body)
    }

    /// A PACKET_IN for every channel that wants its reason; its data
    /// clipped to what one message holds
    /// ([`crate::pipeline::execute::clip_packet_in`]).
    pub fn packet_in(&self, pi: &PacketIn) -> Vec<Outgoing> {
        let mut pi = pi.clone();
        clip_packet_in(&mut pi);
        self.fan_out(AsyncKind::PacketIn, pi.reason, Body::PacketIn(pi), None)
    }

    /// [`Self::packet_in`] for the channels among those that want it that
    /// `admit` lets through (the daemon's per-connection rate limits),
    /// encoded only if one does.
    pub fn packet_in_where(
        &self,
        mut pi: PacketIn,
        mut admit: impl FnMut(ConnId) -> bool,
    ) -> Vec<Outgoing> {
        clip_packet_in(&mut pi);
        let ids: Vec<ConnId> = self
            .recipients(AsyncKind::PacketIn, pi.reason)
            .into_iter()
            .filter(|id| admit(*id))
            .collect();
        encode_for(ids, Body::PacketIn(pi))
    }

    /// A FLOW_REMOVED for every channel that wants its reason (the pipeline
    /// reports only entries with OFPFF_SEND_FLOW_REM).
    pub fn flow_removed(&self, fr: &FlowRemoved) -> Vec<Outgoing> {
        self.fan_out(
            AsyncKind::FlowRemoved,
            fr.reason,
            Body::FlowRemoved(fr.clone()),
            None,
        )
    }

    /// A PORT_STATUS for every channel that wants its reason, except
    /// `except` (the channel whose PORT_MOD caused it: before 1.5 the spec
    /// says PORT_MOD does not echo PORT_STATUS to its sender; Open vSwitch
    /// sends it to the others).
    pub fn port_status(&self, ps: &PortStatus, except: Option<ConnId>) -> Vec<Outgoing> {
        self.fan_out(
            AsyncKind::PortStatus,
            ps.reason,
            Body::PortStatus(ps.clone()),
            except,
        )
    }

    /// The messages for pipeline events (FLOW_REMOVED from expiry, deletes,
    /// group and meter deletion). The daemon calls this with what
    /// [`Pipeline::expire`] returns.
    pub fn events(&self, events: &[Event]) -> Vec<Outgoing> {
        events
            .iter()
            .flat_map(|e| match e {
                Event::FlowRemoved(fr) => self.flow_removed(fr),
            })
            .collect()
    }

    /// Whether some channel wants OFPR_INVALID_TTL packet-ins in its role;
    /// the pipeline produces them only then.
    pub fn wants_invalid_ttl(&self) -> bool {
        self.channels
            .values()
            .any(|c| c.wants(AsyncKind::PacketIn, packet_in_reason::INVALID_TTL))
    }

    /// Brings the pipeline's bridge-wide switches in line with the channels'
    /// configuration (after SET_ASYNC, SET_CONFIG, role changes, and
    /// connections coming and going).
    pub fn sync_pipeline(&self, p: &mut Pipeline) {
        let want = self.wants_invalid_ttl();
        if p.invalid_ttl_to_controller != want {
            p.invalid_ttl_to_controller = want;
            p.generation += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(c: &mut Controllers, kind: ConnKind) -> ConnId {
        let id = c.register(kind);
        if let Some(ch) = c.get_mut(id) {
            ch.ready = true;
        }
        id
    }

    fn rq(r: u32, g: u64) -> RoleMsg {
        RoleMsg {
            role: r,
            generation_id: g,
        }
    }

    #[test]
    fn master_demotes_and_stale_generations_fail() {
        let mut c = Controllers::new();
        let a = ready(&mut c, ConnKind::Controller);
        let b = ready(&mut c, ConnKind::Controller);
        assert_eq!(
            c.request_role(a, rq(role::NOCHANGE, 0)),
            Ok(rq(role::EQUAL, u64::MAX))
        );
        assert_eq!(
            c.request_role(a, rq(role::MASTER, 10)),
            Ok(rq(role::MASTER, 10))
        );
        assert_eq!(
            c.request_role(b, rq(role::MASTER, 11)),
            Ok(rq(role::MASTER, 11))
        );
        assert_eq!(c.role(a), Role::Slave);
        assert_eq!(
            c.request_role(a, rq(role::MASTER, 9)),
            Err(OfError::RRFC_STALE)
        );
        assert_eq!(c.role(a), Role::Slave);
        // Equal requests ignore the generation id.
        assert_eq!(
            c.request_role(a, rq(role::EQUAL, 0)),
            Ok(rq(role::EQUAL, 11))
        );
        // Wrap-around: 0 is "newer" than u64::MAX - 1 by signed distance.
        let mut c2 = Controllers::new();
        let x = ready(&mut c2, ConnKind::Controller);
        assert!(c2.request_role(x, rq(role::SLAVE, u64::MAX - 1)).is_ok());
        assert!(c2.request_role(x, rq(role::MASTER, 0)).is_ok());
        assert_eq!(c.request_role(a, rq(7, 0)), Err(OfError::RRFC_BAD_ROLE));
    }

    #[test]
    fn packet_in_where_asks_only_the_recipients_and_encodes_for_the_admitted() {
        let mut c = Controllers::new();
        let a = ready(&mut c, ConnKind::Controller);
        let b = ready(&mut c, ConnKind::Controller);
        let _svc = ready(&mut c, ConnKind::Service);
        let pi = PacketIn {
            buffer_id: u32::MAX,
            total_len: 1,
            reason: packet_in_reason::NO_MATCH,
            table_id: 0,
            cookie: 0,
            match_: Default::default(),
            data: vec![0],
        };
        let mut asked = Vec::new();
        let out = c.packet_in_where(pi.clone(), |id| {
            asked.push(id);
            id == b
        });
        assert_eq!(asked, vec![a, b], "the service channel wants none");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, b);
        assert_eq!(
            out,
            c.packet_in(&pi)
                .into_iter()
                .filter(|o| o.0 == b)
                .collect::<Vec<_>>()
        );
        assert!(c.packet_in_where(pi, |_| false).is_empty());
    }

    #[test]
    fn a_packet_in_too_big_for_one_message_is_clipped_both_ways() {
        let mut c = Controllers::new();
        ready(&mut c, ConnKind::Controller);
        let max = crate::pipeline::execute::MAX_PACKET_IN_DATA;
        let pi = PacketIn {
            buffer_id: u32::MAX,
            total_len: u16::MAX,
            reason: packet_in_reason::NO_MATCH,
            table_id: 0,
            cookie: 0,
            match_: Default::default(),
            data: vec![7; max + 5000],
        };
        for out in [c.packet_in(&pi), c.packet_in_where(pi.clone(), |_| true)] {
            assert_eq!(out.len(), 1);
            let m = Message::decode(&out[0].1).expect("one whole message");
            let Body::PacketIn(got) = m.body else {
                panic!("not a packet-in: {m:?}");
            };
            assert_eq!(got.data.len(), max);
            assert_eq!(
                got.total_len,
                u16::MAX,
                "total_len says how long the frame was"
            );
        }
    }

    #[test]
    fn async_filtering_by_role_and_kind() {
        let mut c = Controllers::new();
        let m = ready(&mut c, ConnKind::Controller);
        let s = ready(&mut c, ConnKind::Controller);
        let svc = ready(&mut c, ConnKind::Service);
        let _not_ready = c.register(ConnKind::Controller);
        c.request_role(m, rq(role::MASTER, 1)).ok();
        c.request_role(s, rq(role::SLAVE, 1)).ok();
        assert_eq!(
            c.recipients(AsyncKind::PacketIn, packet_in_reason::NO_MATCH),
            vec![m]
        );
        assert_eq!(c.recipients(AsyncKind::PortStatus, 0), vec![m, s]);
        assert_eq!(c.recipients(AsyncKind::FlowRemoved, 2), vec![m]);
        assert!(!c.wants_invalid_ttl());
        if let Some(ch) = c.get_mut(svc) {
            ch.miss_send_len = 128;
        }
        assert_eq!(c.recipients(AsyncKind::PortStatus, 0), vec![m, s, svc]);
        let mut cfg = AsyncConfig::default();
        cfg.packet_in_mask[1] = 1 << packet_in_reason::INVALID_TTL;
        if let Some(ch) = c.get_mut(s) {
            ch.async_config = cfg;
        }
        assert!(c.wants_invalid_ttl());
        let mut p = Pipeline::new();
        c.sync_pipeline(&mut p);
        assert!(p.invalid_ttl_to_controller);
        c.unregister(s);
        c.sync_pipeline(&mut p);
        assert!(!p.invalid_ttl_to_controller);
    }
}
