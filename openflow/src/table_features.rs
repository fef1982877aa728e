//! OFPMP_TABLE_FEATURES bodies (spec 7.3.5.5): a table's description and its
//! property list. `ovs-ofctl add-flow` asks for these before anything else,
//! so they must decode and encode exactly.

use crate::error::{bad, DecodeError, OfError};
use crate::oxm::OFPXMC_EXPERIMENTER;
use crate::wire::{len16, pad8, put_string, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_table_feature_prop_type`.
pub mod prop_type {
    pub const INSTRUCTIONS: u16 = 0;
    pub const INSTRUCTIONS_MISS: u16 = 1;
    pub const NEXT_TABLES: u16 = 2;
    pub const NEXT_TABLES_MISS: u16 = 3;
    pub const WRITE_ACTIONS: u16 = 4;
    pub const WRITE_ACTIONS_MISS: u16 = 5;
    pub const APPLY_ACTIONS: u16 = 6;
    pub const APPLY_ACTIONS_MISS: u16 = 7;
    pub const MATCH: u16 = 8;
    pub const WILDCARDS: u16 = 10;
    pub const WRITE_SETFIELD: u16 = 12;
    pub const WRITE_SETFIELD_MISS: u16 = 13;
    pub const APPLY_SETFIELD: u16 = 14;
    pub const APPLY_SETFIELD_MISS: u16 = 15;
    pub const EXPERIMENTER: u16 = 0xfffe;
    pub const EXPERIMENTER_MISS: u16 = 0xffff;
}

/// An instruction or action id in a property list: its type, and for
/// experimenter ones the bytes after the 4-byte header (experimenter id...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlvId {
    pub typ: u16,
    pub data: Vec<u8>,
}

impl TlvId {
    pub fn new(typ: u16) -> TlvId {
        TlvId {
            typ,
            data: Vec::new(),
        }
    }
}

/// An OXM id: the 32-bit header, plus the experimenter id for class 0xffff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OxmId {
    pub header: u32,
    pub experimenter: Option<u32>,
}

impl OxmId {
    pub fn basic(f: crate::oxm::OxmField, hasmask: bool) -> OxmId {
        OxmId {
            header: f.header(hasmask),
            experimenter: None,
        }
    }

    pub fn class(&self) -> u16 {
        (self.header >> 16) as u16
    }

    pub fn field(&self) -> u8 {
        ((self.header >> 9) & 0x7f) as u8
    }

    pub fn hasmask(&self) -> bool {
        self.header & 0x100 != 0
    }
}

/// One table feature property.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableFeatureProp {
    /// INSTRUCTIONS (miss = false) or INSTRUCTIONS_MISS.
    Instructions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    NextTables {
        miss: bool,
        tables: Vec<u8>,
    },
    WriteActions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    ApplyActions {
        miss: bool,
        ids: Vec<TlvId>,
    },
    Match(Vec<OxmId>),
    Wildcards(Vec<OxmId>),
    WriteSetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    ApplySetfield {
        miss: bool,
        ids: Vec<OxmId>,
    },
    Experimenter {
        miss: bool,
        experimenter: u32,
        exp_type: u32,
        data: Vec<u8>,
    },
    /// A property type this crate does not know, payload verbatim.
    Unknown {
        typ: u16,
        data: Vec<u8>,
    },
}

fn miss_type(miss: bool, t: u16) -> u16 {
    t + u16::from(miss)
}

impl TableFeatureProp {
    pub fn prop_type(&self) -> u16 {
        use prop_type::*;
        match self {
            TableFeatureProp::Instructions { miss, .. } => miss_type(*miss, INSTRUCTIONS),
            TableFeatureProp::NextTables { miss, .. } => miss_type(*miss, NEXT_TABLES),
            TableFeatureProp::WriteActions { miss, .. } => miss_type(*miss, WRITE_ACTIONS),
            TableFeatureProp::ApplyActions { miss, .. } => miss_type(*miss, APPLY_ACTIONS),
            TableFeatureProp::Match(_) => MATCH,
            TableFeatureProp::Wildcards(_) => WILDCARDS,
            TableFeatureProp::WriteSetfield { miss, .. } => miss_type(*miss, WRITE_SETFIELD),
            TableFeatureProp::ApplySetfield { miss, .. } => miss_type(*miss, APPLY_SETFIELD),
            TableFeatureProp::Experimenter { miss, .. } => miss_type(*miss, EXPERIMENTER),
            TableFeatureProp::Unknown { typ, .. } => *typ,
        }
    }

    fn body_len(&self) -> usize {
        let tlvs = |ids: &[TlvId]| ids.iter().map(|i| 4 + i.data.len()).sum::<usize>();
        let oxms = |ids: &[OxmId]| {
            ids.iter()
                .map(|i| if i.experimenter.is_some() { 8 } else { 4 })
                .sum::<usize>()
        };
        match self {
            TableFeatureProp::Instructions { ids, .. }
            | TableFeatureProp::WriteActions { ids, .. }
            | TableFeatureProp::ApplyActions { ids, .. } => tlvs(ids),
            TableFeatureProp::NextTables { tables, .. } => tables.len(),
            TableFeatureProp::Match(ids)
            | TableFeatureProp::Wildcards(ids)
            | TableFeatureProp::WriteSetfield { ids, .. }
            | TableFeatureProp::ApplySetfield { ids, .. } => oxms(ids),
            TableFeatureProp::Experimenter { data, .. } => 8 + data.len(),
            TableFeatureProp::Unknown { data, .. } => data.len(),
        }
    }

    /// Length on the wire including padding.
    pub fn wire_len(&self) -> usize {
        let n = 4 + self.body_len();
        n + pad8(n)
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        let n = 4 + self.body_len();
        out.put_u16(self.prop_type());
        out.put_u16(len16(n));
        match self {
            TableFeatureProp::Instructions { ids, .. }
            | TableFeatureProp::WriteActions { ids, .. }
            | TableFeatureProp::ApplyActions { ids, .. } => {
                for i in ids {
                    out.put_u16(i.typ);
                    out.put_u16(len16(4 + i.data.len()));
                    out.put_slice(&i.data);
                }
            }
            TableFeatureProp::NextTables { tables, .. } => out.put_slice(tables),
            TableFeatureProp::Match(ids)
            | TableFeatureProp::Wildcards(ids)
            | TableFeatureProp::WriteSetfield { ids, .. }
            | TableFeatureProp::ApplySetfield { ids, .. } => {
                for i in ids {
                    out.put_u32(i.header);
                    if let Some(e) = i.experimenter {
                        out.put_u32(e);
                    }
                }
            }
            TableFeatureProp::Experimenter {
                experimenter,
                exp_type,
                data,
                ..
            } => {
                out.put_u32(*experimenter);
                out.put_u32(*exp_type);
                out.put_slice(data);
            }
            TableFeatureProp::Unknown { data, .. } => out.put_slice(data),
        }
        put_zeros(out, pad8(n));
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        use prop_type::*;
        let mut h = Reader::new(r.rest(), OfError::TFFC_BAD_LEN);
        let typ = h.u16("property type")?;
        let len = usize::from(h.u16("property length")?);
        if len < 4 {
            return bad(
                OfError::TFFC_BAD_LEN,
                "table feature property length below 4",
            );
        }
        let mut b = r.sub_with(len, OfError::TFFC_BAD_LEN, "table feature property")?;
        // The last property's padding may be cut off by a sloppy peer.
        let pad = pad8(len).min(r.remaining());
        r.skip(pad, "property padding")?;
        b.skip(4, "property header")?;
        let tlvs = |b: &mut Reader<'_>| -> Result<Vec<TlvId>, DecodeError> {
            let mut v = Vec::new();
            while !b.is_empty() {
                let typ = b.u16("id type")?;
                let l = usize::from(b.u16("id length")?);
                if l < 4 {
                    return bad(OfError::TFFC_BAD_LEN, "id length below 4");
                }
                v.push(TlvId {
                    typ,
                    data: b.bytes(l - 4, "id body")?.to_vec(),
                });
            }
            Ok(v)
        };
        let oxms = |b: &mut Reader<'_>| -> Result<Vec<OxmId>, DecodeError> {
            let mut v = Vec::with_capacity(b.remaining() / 4);
            while !b.is_empty() {
                let header = b.u32("oxm id")?;
                let experimenter = if (header >> 16) as u16 == OFPXMC_EXPERIMENTER {
                    Some(b.u32("oxm experimenter")?)
                } else {
                    None
                };
                v.push(OxmId {
                    header,
                    experimenter,
                });
            }
            Ok(v)
        };
        let miss = typ & 1 == 1;
        Ok(match typ {
            INSTRUCTIONS | INSTRUCTIONS_MISS => TableFeatureProp::Instructions {
                miss,
                ids: tlvs(&mut b)?,
            },
            NEXT_TABLES | NEXT_TABLES_MISS => TableFeatureProp::NextTables {
                miss,
                tables: b.rest_vec(),
            },
            WRITE_ACTIONS | WRITE_ACTIONS_MISS => TableFeatureProp::WriteActions {
                miss,
                ids: tlvs(&mut b)?,
            },
            APPLY_ACTIONS | APPLY_ACTIONS_MISS => TableFeatureProp::ApplyActions {
                miss,
                ids: tlvs(&mut b)?,
            },
            MATCH => TableFeatureProp::Match(oxms(&mut b)?),
            WILDCARDS => TableFeatureProp::Wildcards(oxms(&mut b)?),
            WRITE_SETFIELD | WRITE_SETFIELD_MISS => TableFeatureProp::WriteSetfield {
                miss,
                ids: oxms(&mut b)?,
            },
            APPLY_SETFIELD | APPLY_SETFIELD_MISS => TableFeatureProp::ApplySetfield {
                miss,
                ids: oxms(&mut b)?,
            },
            EXPERIMENTER | EXPERIMENTER_MISS => TableFeatureProp::Experimenter {
                miss,
                experimenter: b.u32("experimenter")?,
                exp_type: b.u32("exp_type")?,
                data: b.rest_vec(),
            },
            _ => TableFeatureProp::Unknown {
                typ,
                data: b.rest_vec(),
            },
        })
    }
}

/// Length of the fixed part of `ofp_table_features`.
pub const TABLE_FEATURES_HEADER_LEN: usize = 64;
pub const MAX_TABLE_NAME_LEN: usize = 32;

/// One table's features.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableFeatures {
    pub table_id: u8,
    pub name: String,
    pub metadata_match: u64,
    pub metadata_write: u64,
    pub config: u32,
    pub max_entries: u32,
    pub properties: Vec<TableFeatureProp>,
}

impl TableFeatures {
    pub fn wire_len(&self) -> usize {
        TABLE_FEATURES_HEADER_LEN
            + self
                .properties
                .iter()
                .map(TableFeatureProp::wire_len)
                .sum::<usize>()
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(len16(self.wire_len()));
        out.put_u8(self.table_id);
        put_zeros(out, 5);
        put_string(out, &self.name, MAX_TABLE_NAME_LEN);
        out.put_u64(self.metadata_match);
        out.put_u64(self.metadata_write);
        out.put_u32(self.config);
        out.put_u32(self.max_entries);
        for p in &self.properties {
            p.encode(out);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut h = Reader::new(r.rest(), OfError::TFFC_BAD_LEN);
        let len = usize::from(h.u16("table features length")?);
        if len < TABLE_FEATURES_HEADER_LEN {
            return bad(OfError::TFFC_BAD_LEN, "table features length below 64");
        }
        let mut b = r.sub_with(len, OfError::TFFC_BAD_LEN, "table features")?;
        b.skip(2, "length")?;
        let table_id = b.u8("table_id")?;
        b.skip(5, "pad")?;
        let name = b.string(MAX_TABLE_NAME_LEN, "name")?;
        let metadata_match = b.u64("metadata_match")?;
        let metadata_write = b.u64("metadata_write")?;
        let config = b.u32("config")?;
        let max_entries = b.u32("max_entries")?;
        let mut properties = Vec::new();
        while !b.is_empty() {
            properties.push(TableFeatureProp::decode(&mut b)?);
        }
        Ok(TableFeatures {
            table_id,
            name,
            metadata_match,
            metadata_write,
            config,
            max_entries,
            properties,
        })
    }
}
