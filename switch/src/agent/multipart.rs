//! Multipart plumbing: reassembling requests sent in several parts
//! (OFPMPF_REQ_MORE) and splitting replies into messages of at most 64 KiB
//! (OFPMPF_REPLY_MORE on all but the last).
//!
//! Requests: like Open vSwitch's `ofpmp_assembler`, parts are held by xid
//! until the part without REQ_MORE arrives; a part of another type for the
//! same xid is OFPBRC_BAD_MULTIPART, and more than [`MAX_PENDING_BYTES`]
//! held (across all xids) is OFPBRC_MULTIPART_BUFFER_OVERFLOW. Only
//! TABLE_FEATURES has a meaning in several parts (a long "set" list); other
//! types that arrive in several parts are refused with OFPBRC_BAD_MULTIPART
//! by the caller, as Open vSwitch does. There is no reassembly timeout: the
//! memory held is bounded instead, so the agent needs no timer for it.
//!
//! Replies: a reply body is a list of entries, each encoded on its own;
//! entries are packed into messages in order and never split, so every
//! message decodes on its own.

use openflow::message::{msg_type, HEADER_LEN, MAX_MESSAGE_LEN};
use openflow::multipart::{MultipartReply, MultipartReplyBody, MultipartRequest, MORE};
use openflow::types::OFP_VERSION;
use openflow::{Body, Message, OfError};
use std::collections::BTreeMap;

/// Largest total size of incomplete multipart requests held per connection
/// (Open vSwitch's limit).
pub const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;
/// Most incomplete multipart requests (distinct xids) held per connection.
pub const MAX_PENDING_XIDS: usize = 64;

/// Length of the multipart header after the OpenFlow header.
const MP_HEADER_LEN: usize = 8;

#[derive(Debug)]
struct Partial {
    mp_type: u16,
    parts: Vec<MultipartRequest>,
    bytes: usize,
}

/// Per-connection reassembly of multipart requests.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: BTreeMap<u32, Partial>,
    bytes: usize,
}

impl Assembler {
    /// Adds one decoded part (`len` bytes on the wire). Returns every part
    /// of the request once the last has come, `Ok(None)` while more are
    /// expected.
    pub fn push(
        &mut self,
        xid: u32,
        len: usize,
        req: MultipartRequest,
    ) -> Result<Option<Vec<MultipartRequest>>, OfError> {
        let more = req.flags & MORE != 0;
        if !more && !self.pending.contains_key(&xid) {
            return Ok(Some(vec![req]));
        }
        if !self.pending.contains_key(&xid) && self.pending.len() >= MAX_PENDING_XIDS {
            return Err(OfError::BRC_MULTIPART_BUFFER_OVERFLOW);
        }
        let mp_type = req.mp_type();
        let p = self.pending.entry(xid).or_insert_with(|| Partial {
            mp_type,
            parts: Vec::new(),
            bytes: 0,
        });
        if p.mp_type != mp_type {
            self.drop_xid(xid);
            return Err(OfError::BRC_BAD_MULTIPART);
        }
        p.bytes += len;
        self.bytes += len;
        p.parts.push(req);
        if self.bytes > MAX_PENDING_BYTES {
            self.drop_xid(xid);
            return Err(OfError::BRC_MULTIPART_BUFFER_OVERFLOW);
        }
        if more {
            return Ok(None);
        }
        Ok(self.drop_xid(xid).map(|p| p.parts))
    }

    fn drop_xid(&mut self, xid: u32) -> Option<Partial> {
        let p = self.pending.remove(&xid)?;
        self.bytes -= p.bytes;
        Some(p)
    }

    /// Number of incomplete requests held.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

/// The encoded body of one reply entry: `wrap` puts the single entry into
/// a reply body; the multipart header is cut off again.
pub fn entry_bytes<T>(entry: T, wrap: fn(Vec<T>) -> MultipartReplyBody) -> Vec<u8> {
    let m = Message::new(
        0,
        Body::MultipartReply(MultipartReply {
            flags: 0,
            body: wrap(vec![entry]),
        }),
    );
    let b = m.to_bytes();
    b.get(HEADER_LEN + MP_HEADER_LEN..)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Packs encoded entries into MULTIPART_REPLY messages of type `mp_type`
/// answering `xid`, none longer than `max_len` (at most 65535), all but the
/// last flagged OFPMPF_REPLY_MORE. An entry too long for any message is
/// left out (it cannot be expressed). No entries give one empty reply.
pub fn split_reply(
    xid: u32,
    mp_type: u16,
    entries: impl IntoIterator<Item = Vec<u8>>,
    max_len: usize,
) -> Vec<Vec<u8>> {
    let max_len = max_len.min(MAX_MESSAGE_LEN);
    let room = max_len.saturating_sub(HEADER_LEN + MP_HEADER_LEN);
    let mut out = Vec::new();
    let mut cur = start(xid, mp_type);
    for e in entries {
        if e.len() > room {
            continue;
        }
        if cur.len() + e.len() > max_len {
            out.push(std::mem::replace(&mut cur, start(xid, mp_type)));
        }
        cur.extend_from_slice(&e);
    }
    out.push(cur);
    let n = out.len();
    for (i, m) in out.iter_mut().enumerate() {
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        if i + 1 < n {
            m[10..12].copy_from_slice(&MORE.to_be_bytes());
        }
    }
    out
}

/// A reply header with length and flags to be patched.
fn start(xid: u32, mp_type: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(1024);
    m.push(OFP_VERSION);
    m.push(msg_type::MULTIPART_REPLY);
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&xid.to_be_bytes());
    m.extend_from_slice(&mp_type.to_be_bytes());
    m.extend_from_slice(&[0; 6]);
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::multipart::{mp_type, MultipartRequestBody, TableStats};

    #[test]
    fn split_keeps_entries_whole() {
        let entries: Vec<Vec<u8>> = (0..100u8)
            .map(|i| {
                entry_bytes(
                    TableStats {
                        table_id: i,
                        ..TableStats::default()
                    },
                    MultipartReplyBody::Table,
                )
            })
            .collect();
        assert_eq!(entries[0].len(), 24);
        let msgs = split_reply(7, mp_type::TABLE, entries, 16 + 24 * 30 + 10);
        assert_eq!(msgs.len(), 4);
        let mut ids = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            let d = Message::decode(m).expect("decodes");
            assert_eq!(d.xid, 7);
            let Body::MultipartReply(r) = d.body else {
                panic!("not a reply")
            };
            assert_eq!(r.flags & MORE != 0, i + 1 < msgs.len());
            let MultipartReplyBody::Table(t) = r.body else {
                panic!("not table stats")
            };
            ids.extend(t.iter().map(|t| t.table_id));
        }
        assert_eq!(ids, (0..100).collect::<Vec<u8>>());
        let empty = split_reply(1, mp_type::FLOW, Vec::new(), MAX_MESSAGE_LEN);
        assert_eq!(empty.len(), 1);
        assert_eq!(empty[0].len(), 16);
    }

    #[test]
    fn assembler_joins_and_refuses() {
        let part = |flags, body| MultipartRequest { flags, body };
        let mut a = Assembler::default();
        assert!(matches!(
            a.push(1, 16, part(0, MultipartRequestBody::Desc)),
            Ok(Some(v)) if v.len() == 1
        ));
        assert_eq!(
            a.push(
                2,
                16,
                part(MORE, MultipartRequestBody::TableFeatures(vec![]))
            ),
            Ok(None)
        );
        assert_eq!(a.pending(), 1);
        assert!(matches!(
            a.push(2, 16, part(0, MultipartRequestBody::TableFeatures(vec![]))),
            Ok(Some(v)) if v.len() == 2
        ));
        assert_eq!(a.pending(), 0);
        assert_eq!(
            a.push(3, 16, part(MORE, MultipartRequestBody::Desc)),
            Ok(None)
        );
        assert_eq!(
            a.push(3, 16, part(0, MultipartRequestBody::Table)),
            Err(OfError::BRC_BAD_MULTIPART)
        );
        assert_eq!(a.pending(), 0);
        for x in 0..MAX_PENDING_XIDS as u32 {
            assert_eq!(
                a.push(100 + x, 16, part(MORE, MultipartRequestBody::Desc)),
                Ok(None)
            );
        }
        assert_eq!(
            a.push(99, 16, part(MORE, MultipartRequestBody::Desc)),
            Err(OfError::BRC_MULTIPART_BUFFER_OVERFLOW)
        );
        let mut b = Assembler::default();
        assert_eq!(
            b.push(
                5,
                MAX_PENDING_BYTES + 1,
                part(MORE, MultipartRequestBody::Desc)
            ),
            Err(OfError::BRC_MULTIPART_BUFFER_OVERFLOW)
        );
        assert_eq!(b.pending(), 0);
    }
}
