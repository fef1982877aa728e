//! Meters (spec 7.3.4.4): METER_MOD and the band list shared with METER_CONFIG.

use crate::error::{bad, DecodeError, OfError};
use crate::wire::{len16, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_meter_mod_command`.
pub mod command {
    pub const ADD: u16 = 0;
    pub const MODIFY: u16 = 1;
    pub const DELETE: u16 = 2;
}

/// `ofp_meter_flags`.
pub mod flags {
    pub const KBPS: u16 = 1 << 0;
    pub const PKTPS: u16 = 1 << 1;
    pub const BURST: u16 = 1 << 2;
    pub const STATS: u16 = 1 << 3;
}

/// `ofp_meter_band_type`.
pub mod band_type {
    pub const DROP: u16 = 1;
    pub const DSCP_REMARK: u16 = 2;
    pub const EXPERIMENTER: u16 = 0xffff;
}

/// A meter band.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeterBand {
    Drop {
        rate: u32,
        burst_size: u32,
    },
    DscpRemark {
        rate: u32,
        burst_size: u32,
        prec_level: u8,
    },
    /// Experimenter band: id and any bytes after it.
    Experimenter {
        rate: u32,
        burst_size: u32,
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl MeterBand {
    pub fn rate(&self) -> u32 {
        match self {
            MeterBand::Drop { rate, .. }
            | MeterBand::DscpRemark { rate, .. }
            | MeterBand::Experimenter { rate, .. } => *rate,
        }
    }

    pub fn burst_size(&self) -> u32 {
        match self {
            MeterBand::Drop { burst_size, .. }
            | MeterBand::DscpRemark { burst_size, .. }
            | MeterBand::Experimenter { burst_size, .. } => *burst_size,
        }
    }

    pub fn band_type(&self) -> u16 {
        match self {
            MeterBand::Drop { .. } => band_type::DROP,
            MeterBand::DscpRemark { .. } => band_type::DSCP_REMARK,
            MeterBand::Experimenter { .. } => band_type::EXPERIMENTER,
        }
    }

    pub fn wire_len(&self) -> usize {
        match self {
            MeterBand::Experimenter { data, .. } => 16 + data.len(),
            _ => 16,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.band_type());
        out.put_u16(len16(self.wire_len()));
        out.put_u32(self.rate());
        out.put_u32(self.burst_size());
        match self {
            MeterBand::Drop { .. } => put_zeros(out, 4),
            MeterBand::DscpRemark { prec_level, .. } => {
                out.put_u8(*prec_level);
                put_zeros(out, 3);
            }
            MeterBand::Experimenter {
                experimenter, data, ..
            } => {
                out.put_u32(*experimenter);
                out.put_slice(data);
            }
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<MeterBand, DecodeError> {
        let mut h = Reader::new(r.rest(), OfError::MMFC_BAD_BAND);
        let typ = h.u16("band type")?;
        let len = usize::from(h.u16("band length")?);
        if len < 16 || len % 8 != 0 {
            return bad(OfError::MMFC_BAD_BAND, "band length");
        }
        let mut b = r.sub_with(len, OfError::MMFC_BAD_BAND, "band")?;
        b.skip(4, "header")?;
        let rate = b.u32("rate")?;
        let burst_size = b.u32("burst_size")?;
        Ok(match typ {
            band_type::DROP if len == 16 => MeterBand::Drop { rate, burst_size },
            band_type::DSCP_REMARK if len == 16 => MeterBand::DscpRemark {
                rate,
                burst_size,
                prec_level: b.u8("prec_level")?,
            },
            band_type::EXPERIMENTER => MeterBand::Experimenter {
                rate,
                burst_size,
                experimenter: b.u32("experimenter")?,
                data: b.rest_vec(),
            },
            band_type::DROP | band_type::DSCP_REMARK => {
                return bad(OfError::MMFC_BAD_BAND, "band length wrong for its type")
            }
            _ => return bad(OfError::MMFC_BAD_BAND, "unknown band type"),
        })
    }

    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<MeterBand>, DecodeError> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(MeterBand::decode(r)?);
        }
        Ok(v)
    }
}

/// OFPT_METER_MOD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterMod {
    pub command: u16,
    pub flags: u16,
    pub meter_id: u32,
    pub bands: Vec<MeterBand>,
}

impl MeterMod {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.command);
        out.put_u16(self.flags);
        out.put_u32(self.meter_id);
        for b in &self.bands {
            b.encode(out);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(MeterMod {
            command: r.u16("command")?,
            flags: r.u16("flags")?,
            meter_id: r.u32("meter_id")?,
            bands: MeterBand::decode_list(r)?,
        })
    }
}
