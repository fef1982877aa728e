//! Helpers shared by the integration tests: proptest strategies for every
//! OpenFlow value ([`strategies`]), spec-derived sizes ([`layout`]) and
//! small byte helpers.
#![allow(dead_code)]

pub mod layout;
pub mod strategies;

use bytes::BytesMut;
use openflow::Message;

/// Encodes a message into a fresh buffer.
pub fn encode(m: &Message) -> Vec<u8> {
    let mut b = BytesMut::new();
    let n = m.encode(&mut b);
    assert_eq!(
        n,
        b.len(),
        "encode() returned a length other than what it wrote"
    );
    b.to_vec()
}

/// Sets the header's length field to the buffer's length.
pub fn fix_len(b: &mut [u8]) {
    let n = u16::try_from(b.len()).unwrap_or(u16::MAX);
    b[2..4].copy_from_slice(&n.to_be_bytes());
}
