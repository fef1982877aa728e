//! `Match::decode` (ofp_match with its OXM TLVs) on arbitrary bytes: never
//! panics; what it accepts re-encodes to `wire_len()` bytes, consumes exactly
//! that much of the input, and decodes back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::wire::Reader;
use openflow::{Match, OfError};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data, OfError::BMC_BAD_LEN);
    let Ok(m) = Match::decode(&mut r) else {
        return;
    };
    let _ = m.validate();
    let consumed = r.position();
    let mut out = Vec::new();
    m.encode(&mut out);
    assert_eq!(out.len(), m.wire_len(), "wire_len vs encoding: {m:?}");
    assert_eq!(consumed, out.len(), "consumed vs re-encoded length: {m:?}");
    let mut r2 = Reader::new(&out, OfError::BMC_BAD_LEN);
    let m2 = Match::decode(&mut r2).expect("re-encoded match decodes");
    assert!(r2.is_empty());
    assert_eq!(m, m2);
});
