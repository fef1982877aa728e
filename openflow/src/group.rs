//! Groups (spec 7.3.4.2): GROUP_MOD and the bucket list shared with GROUP_DESC.

use crate::action::Action;
use crate::error::{bad, DecodeError, OfError};
use crate::wire::{len16, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_group_mod_command`.
pub mod command {
    pub const ADD: u16 = 0;
    pub const MODIFY: u16 = 1;
    pub const DELETE: u16 = 2;
}

/// `ofp_group_type`.
pub mod group_type {
    pub const ALL: u8 = 0;
    pub const SELECT: u8 = 1;
    pub const INDIRECT: u8 = 2;
    pub const FF: u8 = 3;
}

/// A bucket of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Bucket {
    pub weight: u16,
    pub watch_port: u32,
    pub watch_group: u32,
    pub actions: Vec<Action>,
}

impl Bucket {
    pub const HEADER_LEN: usize = 16;

    /// A bucket with no watch and weight 0, for ALL and INDIRECT groups.
    pub fn new(actions: Vec<Action>) -> Bucket {
        Bucket {
            weight: 0,
            watch_port: crate::types::port_no::ANY,
            watch_group: crate::types::group_no::ANY,
            actions,
        }
    }

    pub fn wire_len(&self) -> usize {
        Self::HEADER_LEN + Action::list_len(&self.actions)
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(len16(self.wire_len()));
        out.put_u16(self.weight);
        out.put_u32(self.watch_port);
        out.put_u32(self.watch_group);
        put_zeros(out, 4);
        Action::encode_list(&self.actions, out);
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Bucket, DecodeError> {
        let mut h = Reader::new(r.rest(), OfError::GMFC_BAD_BUCKET);
        let len = usize::from(h.u16("bucket length")?);
        if len < Self::HEADER_LEN || len % 8 != 0 {
            return bad(OfError::GMFC_BAD_BUCKET, "bucket length");
        }
        let mut b = r.sub_with(len, OfError::GMFC_BAD_BUCKET, "bucket")?;
        b.skip(2, "len")?;
        let weight = b.u16("weight")?;
        let watch_port = b.u32("watch_port")?;
        let watch_group = b.u32("watch_group")?;
        b.skip(4, "pad")?;
        let mut acts = Reader::new(b.rest(), OfError::BAC_BAD_LEN);
        Ok(Bucket {
            weight,
            watch_port,
            watch_group,
            actions: Action::decode_list(&mut acts)?,
        })
    }

    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Bucket>, DecodeError> {
        let mut v = Vec::new();
        while !r.is_empty() {
            v.push(Bucket::decode(r)?);
        }
        Ok(v)
    }
}

/// OFPT_GROUP_MOD.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMod {
    pub command: u16,
    pub group_type: u8,
    pub group_id: u32,
    pub buckets: Vec<Bucket>,
}

impl GroupMod {
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.command);
        out.put_u8(self.group_type);
        put_zeros(out, 1);
        out.put_u32(self.group_id);
        for b in &self.buckets {
            b.encode(out);
        }
    }

    pub fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let command = r.u16("command")?;
        let group_type = r.u8("type")?;
        r.skip(1, "pad")?;
        let group_id = r.u32("group_id")?;
        Ok(GroupMod {
            command,
            group_type,
            group_id,
            buckets: Bucket::decode_list(r)?,
        })
    }
}
