//! `ofp_port` (spec 7.2.1), port config/state/feature bits, PORT_STATUS and PORT_MOD.

use crate::error::{DecodeError, OfError};
use crate::types::MacAddr;
use crate::wire::{put_string, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_port_config` bits.
pub mod config {
    pub const PORT_DOWN: u32 = 1 << 0;
    pub const NO_RECV: u32 = 1 << 2;
    pub const NO_FWD: u32 = 1 << 5;
    pub const NO_PACKET_IN: u32 = 1 << 6;
}

/// `ofp_port_state` bits.
pub mod state {
    pub const LINK_DOWN: u32 = 1 << 0;
    pub const BLOCKED: u32 = 1 << 1;
    pub const LIVE: u32 = 1 << 2;
}

/// `ofp_port_features` bits.
pub mod features {
    pub const F_10MB_HD: u32 = 1 << 0;
    pub const F_10MB_FD: u32 = 1 << 1;
    pub const F_100MB_HD: u32 = 1 << 2;
    pub const F_100MB_FD: u32 = 1 << 3;
    pub const F_1GB_HD: u32 = 1 << 4;
    pub const F_1GB_FD: u32 = 1 << 5;
    pub const F_10GB_FD: u32 = 1 << 6;
    pub const F_40GB_FD: u32 = 1 << 7;
    pub const F_100GB_FD: u32 = 1 << 8;
    pub const F_1TB_FD: u32 = 1 << 9;
    pub const F_OTHER: u32 = 1 << 10;
    pub const COPPER: u32 = 1 << 11;
    pub const FIBER: u32 = 1 << 12;
    pub const AUTONEG: u32 = 1 << 13;
    pub const PAUSE: u32 = 1 << 14;
    pub const PAUSE_ASYM: u32 = 1 << 15;
}

/// Length of `ofp_port` on the wire.
pub const PORT_LEN: usize = 64;
/// Length of a port name field, including its NUL.
pub const MAX_PORT_NAME_LEN: usize = 16;

/// A port's description.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Port {
    pub port_no: u32,
    pub hw_addr: MacAddr,
    pub name: String,
    pub config: u32,
    pub state: u32,
    pub curr: u32,
    pub advertised: u32,
    pub supported: u32,
    pub peer: u32,
    /// Current bit rate in kbps.
    pub curr_speed: u32,
    pub max_speed: u32,
}

impl Port {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.port_no);
        put_zeros(out, 4);
        out.put_slice(&self.hw_addr.0);
        put_zeros(out, 2);
        put_string(out, &self.name, MAX_PORT_NAME_LEN);
        for v in [
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        ] {
            out.put_u32(v);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Port, DecodeError> {
        let mut b = r.sub_with(PORT_LEN, OfError::BRC_BAD_LEN, "ofp_port")?;
        let port_no = b.u32("port_no")?;
        b.skip(4, "pad")?;
        let hw_addr = MacAddr(b.array("hw_addr")?);
        b.skip(2, "pad")?;
        Ok(Port {
            port_no,
            hw_addr,
            name: b.string(MAX_PORT_NAME_LEN, "name")?,
            config: b.u32("config")?,
            state: b.u32("state")?,
            curr: b.u32("curr")?,
            advertised: b.u32("advertised")?,
            supported: b.u32("supported")?,
            peer: b.u32("peer")?,
            curr_speed: b.u32("curr_speed")?,
            max_speed: b.u32("max_speed")?,
        })
    }
}

/// `ofp_port_reason`.
pub mod reason {
    pub const ADD: u8 = 0;
    pub const DELETE: u8 = 1;
    pub const MODIFY: u8 = 2;
}

/// OFPT_PORT_STATUS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortStatus {
    pub reason: u8,
    pub desc: Port,
}

impl PortStatus {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u8(self.reason);
        put_zeros(out, 7);
        self.desc.encode(out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let reason = r.u8("reason")?;
        r.skip(7, "pad")?;
        Ok(PortStatus {
            reason,
            desc: Port::decode(r)?,
        })
    }
}

/// OFPT_PORT_MOD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortMod {
    pub port_no: u32,
    pub hw_addr: MacAddr,
    pub config: u32,
    pub mask: u32,
    pub advertise: u32,
}

impl PortMod {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u32(self.port_no);
        put_zeros(out, 4);
        out.put_slice(&self.hw_addr.0);
        put_zeros(out, 2);
        out.put_u32(self.config);
        out.put_u32(self.mask);
        out.put_u32(self.advertise);
        put_zeros(out, 4);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let port_no = r.u32("port_no")?;
        r.skip(4, "pad")?;
        let hw_addr = MacAddr(r.array("hw_addr")?);
        r.skip(2, "pad")?;
        let m = PortMod {
            port_no,
            hw_addr,
            config: r.u32("config")?,
            mask: r.u32("mask")?,
            advertise: r.u32("advertise")?,
        };
        r.skip(4, "pad")?;
        Ok(m)
    }
}
