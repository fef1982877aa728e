//! Instructions (spec 7.2.4).

use crate::action::Action;
use crate::error::{bad, DecodeError, OfError};
use crate::wire::{len16, pad8, put_zeros, Reader};
use bytes::BufMut;

/// `ofp_instruction_type` values.
pub mod instruction_type {
    pub const GOTO_TABLE: u16 = 1;
    pub const WRITE_METADATA: u16 = 2;
    pub const WRITE_ACTIONS: u16 = 3;
    pub const APPLY_ACTIONS: u16 = 4;
    pub const CLEAR_ACTIONS: u16 = 5;
    pub const METER: u16 = 6;
    pub const EXPERIMENTER: u16 = 0xffff;

    pub const ALL: &[u16] = &[
        GOTO_TABLE,
        WRITE_METADATA,
        WRITE_ACTIONS,
        APPLY_ACTIONS,
        CLEAR_ACTIONS,
        METER,
    ];
}

/// One instruction of a flow entry.
#[derive(Clone, Debug, PartialEq)]
pub enum Instruction {
    GotoTable(u8),
    WriteMetadata {
        metadata: u64,
        mask: u64,
    },
    WriteActions(Vec<Action>),
    ApplyActions(Vec<Action>),
    ClearActions,
    Meter(u32),
    /// An experimenter instruction: id and payload verbatim.
    Experimenter {
        experimenter: u32,
        data: Vec<u8>,
    },
}

impl Instruction {
    pub fn instruction_type(&self) -> u16 {
        use instruction_type::*;
        match self {
            Instruction::GotoTable(_) => GOTO_TABLE,
            Instruction::WriteMetadata { .. } => WRITE_METADATA,
            Instruction::WriteActions(_) => WRITE_ACTIONS,
            Instruction::ApplyActions(_) => APPLY_ACTIONS,
            Instruction::ClearActions => CLEAR_ACTIONS,
            Instruction::Meter(_) => METER,
            Instruction::Experimenter { .. } => EXPERIMENTER,
        }
    }

    pub fn wire_len(&self) -> usize {
        match self {
            Instruction::GotoTable(_) | Instruction::ClearActions | Instruction::Meter(_) => 8,
            Instruction::WriteMetadata { .. } => 24,
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => 8 + Action::list_len(a),
            Instruction::Experimenter { data, .. } => {
                let n = 8 + data.len();
                n + pad8(n)
            }
        }
    }

    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_u16(self.instruction_type());
        out.put_u16(len16(self.wire_len()));
        match self {
            Instruction::GotoTable(t) => {
                out.put_u8(*t);
                put_zeros(out, 3);
            }
            Instruction::WriteMetadata { metadata, mask } => {
                put_zeros(out, 4);
                out.put_u64(*metadata);
                out.put_u64(*mask);
            }
            Instruction::WriteActions(a) | Instruction::ApplyActions(a) => {
                put_zeros(out, 4);
                Action::encode_list(a, out);
            }
            Instruction::ClearActions => put_zeros(out, 4),
            Instruction::Meter(m) => out.put_u32(*m),
            Instruction::Experimenter { experimenter, data } => {
                out.put_u32(*experimenter);
                out.put_slice(data);
                put_zeros(out, pad8(8 + data.len()));
            }
        }
    }

    #[inline]
    pub fn decode(r: &mut Reader<'_>) -> Result<Instruction, DecodeError> {
        use instruction_type::*;
        let mut h = Reader::new(r.rest(), OfError::BIC_BAD_LEN);
        let typ = h.u16("instruction type")?;
        let len = usize::from(h.u16("instruction length")?);
        if len < 8 || len % 8 != 0 {
            return bad(
                OfError::BIC_BAD_LEN,
                "instruction length not a positive multiple of 8",
            );
        }
        let mut b = r.sub_with(len, OfError::BIC_BAD_LEN, "instruction")?;
        b.skip(4, "instruction header")?;
        let fixed = |want: usize| -> Result<(), DecodeError> {
            if len != want {
                return bad(
                    OfError::BIC_BAD_LEN,
                    "instruction length wrong for its type",
                );
            }
            Ok(())
        };
        Ok(match typ {
            GOTO_TABLE => {
                fixed(8)?;
                Instruction::GotoTable(b.u8("table id")?)
            }
            WRITE_METADATA => {
                fixed(24)?;
                b.skip(4, "pad")?;
                Instruction::WriteMetadata {
                    metadata: b.u64("metadata")?,
                    mask: b.u64("metadata mask")?,
                }
            }
            WRITE_ACTIONS | APPLY_ACTIONS => {
                b.skip(4, "pad")?;
                let mut acts = Reader::new(b.rest(), OfError::BAC_BAD_LEN);
                let list = Action::decode_list(&mut acts)?;
                if typ == WRITE_ACTIONS {
                    Instruction::WriteActions(list)
                } else {
                    Instruction::ApplyActions(list)
                }
            }
            CLEAR_ACTIONS => fixed(8).map(|_| Instruction::ClearActions)?,
            METER => {
                fixed(8)?;
                Instruction::Meter(b.u32("meter id")?)
            }
            EXPERIMENTER => Instruction::Experimenter {
                experimenter: b.u32("experimenter id")?,
                data: b.rest_vec(),
            },
            _ => return bad(OfError::BIC_UNKNOWN_INST, "unknown instruction type"),
        })
    }

    pub fn encode_list(list: &[Instruction], out: &mut impl BufMut) {
        for i in list {
            i.encode(out);
        }
    }

    pub fn list_len(list: &[Instruction]) -> usize {
        list.iter().map(Instruction::wire_len).sum()
    }

    pub fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Instruction>, DecodeError> {
        let mut v = Vec::with_capacity(2);
        while !r.is_empty() {
            v.push(Instruction::decode(r)?);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn roundtrip_all() {
        for i in [
            Instruction::GotoTable(3),
            Instruction::WriteMetadata {
                metadata: 2,
                mask: 2,
            },
            Instruction::WriteActions(vec![Action::output(1)]),
            Instruction::ApplyActions(vec![Action::PopVlan, Action::output(2)]),
            Instruction::ApplyActions(vec![]),
            Instruction::ClearActions,
            Instruction::Meter(1),
            Instruction::Experimenter {
                experimenter: 0x2320,
                data: vec![1, 2, 3],
            },
        ] {
            let mut b = BytesMut::new();
            i.encode(&mut b);
            assert_eq!(b.len(), i.wire_len());
            let mut r = Reader::new(&b, OfError::BIC_BAD_LEN);
            let back = Instruction::decode(&mut r).unwrap();
            if let Instruction::Experimenter { data, .. } = &back {
                // padding is kept as part of the payload
                assert_eq!(&data[..3], &[1, 2, 3]);
            } else {
                assert_eq!(back, i);
            }
        }
    }

    #[test]
    fn bad_instructions() {
        let e = |b: &[u8]| {
            Instruction::decode(&mut Reader::new(b, OfError::BIC_BAD_LEN))
                .unwrap_err()
                .error
        };
        assert_eq!(e(&[0, 9, 0, 8, 0, 0, 0, 0]), OfError::BIC_UNKNOWN_INST);
        assert_eq!(e(&[0, 1, 0, 16, 0, 0, 0, 0]), OfError::BIC_BAD_LEN);
        assert_eq!(e(&[0, 2, 0, 8, 0, 0, 0, 0]), OfError::BIC_BAD_LEN);
        // apply_actions containing a bad action
        assert_eq!(
            e(&[0, 4, 0, 16, 0, 0, 0, 0, 0, 77, 0, 8, 0, 0, 0, 0]),
            OfError::BAC_BAD_TYPE
        );
    }
}
