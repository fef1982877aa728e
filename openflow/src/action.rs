//! Actions (spec 7.2.5): the typed [`Action`] enum and its wire codec.
//!
//! Experimenter actions (Open vSwitch's NX actions among them) are kept as
//! their experimenter id and raw payload so that flows read from a switch
//! can be written back unchanged.

use crate::error::{bad, DecodeError, OfError};
use crate::oxm::Oxm;
use crate::wire::{len16, pad8, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_action_type` values.
pub mod action_type {
    pub const OUTPUT: u16 = 0;
    pub const COPY_TTL_OUT: u16 = 11;
    pub const COPY_TTL_IN: u16 = 12;
    pub const SET_MPLS_TTL: u16 = 15;
    pub const DEC_MPLS_TTL: u16 = 16;
    pub const PUSH_VLAN: u16 = 17;
    pub const POP_VLAN: u16 = 18;
    pub const PUSH_MPLS: u16 = 19;
    pub const POP_MPLS: u16 = 20;
    pub const SET_QUEUE: u16 = 21;
    pub const GROUP: u16 = 22;
    pub const SET_NW_TTL: u16 = 23;
    pub const DEC_NW_TTL: u16 = 24;
    pub const SET_FIELD: u16 = 25;
    pub const PUSH_PBB: u16 = 26;
    pub const POP_PBB: u16 = 27;
    pub const EXPERIMENTER: u16 = 0xffff;

    /// Every standard action type of 1.3, in numeric order.
    pub const ALL: &[u16] = &[
        OUTPUT,
        COPY_TTL_OUT,
        COPY_TTL_IN,
        SET_MPLS_TTL,
        DEC_MPLS_TTL,
        PUSH_VLAN,
        POP_VLAN,
        PUSH_MPLS,
        POP_MPLS,
        SET_QUEUE,
        GROUP,
        SET_NW_TTL,
        DEC_NW_TTL,
        SET_FIELD,
        PUSH_PBB,
        POP_PBB,
    ];
}

/// One action.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Output to a port; `max_len` bytes go to the controller for
    /// `port == CONTROLLER` (0xffff: the whole packet, unbuffered).
    Output {
        port: u32,
        max_len: u16,
    },
    CopyTtlOut,
    CopyTtlIn,
    SetMplsTtl(u8),
    DecMplsTtl,
    /// Push a VLAN tag with this ethertype (0x8100 or 0x88a8).
    PushVlan(u16),
    PopVlan,
    /// Push an MPLS label with this ethertype (0x8847 or 0x8848).
    PushMpls(u16),
    /// Pop the MPLS label; the payload gets this ethertype.
    PopMpls(u16),
    SetQueue(u32),
    Group(u32),
    SetNwTtl(u8),
    DecNwTtl,
    /// Set a header field; the OXM carries no mask.
    SetField(Oxm),
    /// Push a PBB service tag with this ethertype (0x88e7).
    PushPbb(u16),
    PopPbb,
    /// An experimenter action: the id and everything after it, verbatim
    /// (including any padding the experimenter's format has).
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl Action {
    pub fn output(port: u32) -> Action {
        Action::Output { port, max_len: 0 }
    }

    /// The `ofp_action_type` of this action.
    pub fn action_type(&self) -> u16 {
        use action_type::*;
        match self {
            Action::Output { .. } => OUTPUT,
            Action::CopyTtlOut => COPY_TTL_OUT,
            Action::CopyTtlIn => COPY_TTL_IN,
            Action::SetMplsTtl(_) => SET_MPLS_TTL,
            Action::DecMplsTtl => DEC_MPLS_TTL,
            Action::PushVlan(_) => PUSH_VLAN,
            Action::PopVlan => POP_VLAN,
            Action::PushMpls(_) => PUSH_MPLS,
            Action::PopMpls(_) => POP_MPLS,
            Action::SetQueue(_) => SET_QUEUE,
            Action::Group(_) => GROUP,
            Action::SetNwTtl(_) => SET_NW_TTL,
            Action::DecNwTtl => DEC_NW_TTL,
            Action::SetField(_) => SET_FIELD,
            Action::PushPbb(_) => PUSH_PBB,
            Action::PopPbb => POP_PBB,
            Action::Experimenter { .. } => EXPERIMENTER,
        }
    }

    /// Length on the wire (always a multiple of 8).
    pub fn wire_len(&self) -> usize {
        match self {
            Action::Output { .. } => 16,
            Action::SetField(o) => {
                let n = 4 + o.wire_len();
                n + pad8(n)
            }
            Action::Experimenter { data, .. } => {
                let n = 8 + data.len();
                n + pad8(n)
            }
            _ => 8,
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        let len = len16(self.wire_len());
        out.put_u16(self.action_type());
        out.put_u16(len);
        match self {
            Action::Output { port, max_len } => {
                out.put_u32(*port);
                out.put_u16(*max_len);
                put_zeros(out, 6);
            }
            Action::CopyTtlOut
            | Action::CopyTtlIn
            | Action::DecMplsTtl
            | Action::PopVlan
            | Action::DecNwTtl
            | Action::PopPbb => put_zeros(out, 4),
            Action::SetMplsTtl(t) | Action::SetNwTtl(t) => {
                out.put_u8(*t);
                put_zeros(out, 3);
            }
            Action::PushVlan(e) | Action::PushMpls(e) | Action::PopMpls(e) | Action::PushPbb(e) => {
                out.put_u16(*e);
                put_zeros(out, 2);
            }
            Action::SetQueue(v) | Action::Group(v) => out.put_u32(*v),
            Action::SetField(o) => {
                o.encode(out);
                put_zeros(out, pad8(4 + o.wire_len()));
            }
            Action::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                out.put_slice(data);
                put_zeros(out, pad8(8 + data.len()));
            }
        }
    }

    /// Decodes one action at the reader's position.
    #[inline]
    pub fn decode(r: &mut Reader<'_>) -> Result<Action, DecodeError> {
        use action_type::*;
        let mut h = Reader::new(r.rest(), OfError::BAC_BAD_LEN);
        let typ = h.u16("action type")?;
        let len = usize::from(h.u16("action length")?);
        if len < 8 || len % 8 != 0 {
            return bad(
                OfError::BAC_BAD_LEN,
                "action length not a positive multiple of 8",
            );
        }
        let mut b = r.sub_with(len, OfError::BAC_BAD_LEN, "action")?;
        b.skip(4, "action header")?;
        let fixed = |want: usize| -> Result<(), DecodeError> {
            if len != want {
                return bad(OfError::BAC_BAD_LEN, "action length wrong for its type");
            }
            Ok(())
        };
        Ok(match typ {
            OUTPUT => {
                fixed(16)?;
                Action::Output {
                    port: b.u32("port")?,
                    max_len: b.u16("max_len")?,
                }
            }
            COPY_TTL_OUT => fixed(8).map(|_| Action::CopyTtlOut)?,
            COPY_TTL_IN => fixed(8).map(|_| Action::CopyTtlIn)?,
            DEC_MPLS_TTL => fixed(8).map(|_| Action::DecMplsTtl)?,
            POP_VLAN => fixed(8).map(|_| Action::PopVlan)?,
            DEC_NW_TTL => fixed(8).map(|_| Action::DecNwTtl)?,
            POP_PBB => fixed(8).map(|_| Action::PopPbb)?,
            SET_MPLS_TTL => {
                fixed(8)?;
                Action::SetMplsTtl(b.u8("ttl")?)
            }
            SET_NW_TTL => {
                fixed(8)?;
                Action::SetNwTtl(b.u8("ttl")?)
            }
            PUSH_VLAN => {
                fixed(8)?;
                Action::PushVlan(b.u16("ethertype")?)
            }
            PUSH_MPLS => {
                fixed(8)?;
                Action::PushMpls(b.u16("ethertype")?)
            }
            POP_MPLS => {
                fixed(8)?;
                Action::PopMpls(b.u16("ethertype")?)
            }
            PUSH_PBB => {
                fixed(8)?;
                Action::PushPbb(b.u16("ethertype")?)
            }
            SET_QUEUE => {
                fixed(8)?;
                Action::SetQueue(b.u32("queue id")?)
            }
            GROUP => {
                fixed(8)?;
                Action::Group(b.u32("group id")?)
            }
            SET_FIELD => {
                let mut f = Reader::new(b.rest(), OfError::BAC_BAD_SET_LEN);
                let oxm = Oxm::decode(&mut f).map_err(|e| {
                    // A bad OXM inside set_field is a set_field problem.
                    let error = match e.error {
                        OfError::BMC_BAD_LEN => OfError::BAC_BAD_SET_LEN,
                        OfError::BMC_BAD_MASK => OfError::BAC_BAD_SET_ARGUMENT,
                        other => other,
                    };
                    DecodeError::new(error, e.what)
                })?;
                if f.rest().iter().any(|&x| x != 0) || f.remaining() >= 8 {
                    return bad(OfError::BAC_BAD_SET_LEN, "set_field padding wrong");
                }
                if oxm.has_mask() {
                    return bad(OfError::BAC_BAD_SET_ARGUMENT, "set_field with a mask");
                }
                Action::SetField(oxm)
            }
            EXPERIMENTER => Action::Experimenter {
                experimenter: b.u32("experimenter id")?,
                data: b.rest_vec(),
            },
            _ => return bad(OfError::BAC_BAD_TYPE, "unknown action type"),
        })
    }

    /// Encodes a list of actions.
    pub fn encode_list(actions: &[Action], out: &mut impl BufMut) {
        for a in actions {
            a.encode(out);
        }
    }

    pub fn list_len(actions: &[Action]) -> usize {
        actions.iter().map(Action::wire_len).sum()
    }

    /// Decodes actions until the reader is empty.
    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Action>, DecodeError> {
        let mut v = Vec::with_capacity(r.remaining() / 16 + 1);
        while !r.is_empty() {
            v.push(Action::decode(r)?);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::port_no;
    use bytes::BytesMut;
    use std::net::Ipv4Addr;

    fn rt(a: Action) -> Vec<u8> {
        let mut b = BytesMut::new();
        a.encode(&mut b);
        assert_eq!(b.len(), a.wire_len(), "{a:?}");
        let mut r = Reader::new(&b, OfError::BAC_BAD_LEN);
        assert_eq!(Action::decode(&mut r).unwrap(), a);
        assert!(r.is_empty());
        b.to_vec()
    }

    #[test]
    fn every_action_roundtrips() {
        assert_eq!(
            rt(Action::Output {
                port: port_no::CONTROLLER,
                max_len: 0xffff
            }),
            [0, 0, 0, 16, 0xff, 0xff, 0xff, 0xfd, 0xff, 0xff, 0, 0, 0, 0, 0, 0]
        );
        for a in [
            Action::CopyTtlOut,
            Action::CopyTtlIn,
            Action::SetMplsTtl(9),
            Action::DecMplsTtl,
            Action::PushVlan(0x8100),
            Action::PopVlan,
            Action::PushMpls(0x8847),
            Action::PopMpls(0x0800),
            Action::SetQueue(3),
            Action::Group(7),
            Action::SetNwTtl(64),
            Action::DecNwTtl,
            Action::PushPbb(0x88e7),
            Action::PopPbb,
            Action::Experimenter {
                experimenter: 0x2320,
                data: vec![0, 1, 2, 3, 4, 5, 6, 7],
            },
        ] {
            assert_eq!(rt(a).len() % 8, 0);
        }
        // set_field vlan_vid 4196: 00 19 00 10 80 00 0c 02 10 64 00 00 00 00 00 00
        assert_eq!(
            rt(Action::SetField(Oxm::VlanVid(4196, None))),
            [0, 25, 0, 16, 0x80, 0, 0x0c, 2, 0x10, 0x64, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            rt(Action::SetField(Oxm::Ipv4Dst(
                Ipv4Addr::new(10, 0, 0, 9),
                None
            )))
            .len(),
            16
        );
    }

    #[test]
    fn bad_actions() {
        let e = |b: &[u8]| {
            Action::decode(&mut Reader::new(b, OfError::BAC_BAD_LEN))
                .unwrap_err()
                .error
        };
        assert_eq!(e(&[0, 99, 0, 8, 0, 0, 0, 0]), OfError::BAC_BAD_TYPE);
        assert_eq!(e(&[0, 0, 0, 8, 0, 0, 0, 0]), OfError::BAC_BAD_LEN);
        assert_eq!(
            e(&[0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0]),
            OfError::BAC_BAD_LEN
        );
        assert_eq!(e(&[0, 0, 0, 16, 0, 0, 0, 0]), OfError::BAC_BAD_LEN);
        assert_eq!(e(&[0, 0, 0, 0]), OfError::BAC_BAD_LEN);
        // set_field with a masked OXM
        assert_eq!(
            e(&[0, 25, 0, 16, 0x80, 0, 0x0d, 4, 0x10, 0x64, 0x1f, 0xff, 0, 0, 0, 0]),
            OfError::BAC_BAD_SET_ARGUMENT
        );
    }
}
