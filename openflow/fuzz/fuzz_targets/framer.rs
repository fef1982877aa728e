//! `Framer` fed arbitrary bytes in arbitrary chunks.
//!
//! Input layout: byte 0 picks the limit (0 = default 64 KiB, else n*64),
//! byte 1 seeds the chunk sizes, the rest is the TCP stream. Checked:
//! - every yielded message has 8 <= len <= limit and its header length equals
//!   its real length; messages are consecutive slices of the stream;
//! - bytes are conserved: yielded + pending = pushed;
//! - the result does not depend on how the stream was chunked (compared with
//!   pushing it all at once);
//! - decoding each yielded message never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::message::{HEADER_LEN, MAX_MESSAGE_LEN};
use openflow::{FrameError, Framer, Message};

/// Drains `f`: the messages it yields and the error that stopped it.
fn drain(f: &mut Framer, limit: usize, out: &mut Vec<Vec<u8>>) -> Option<FrameError> {
    loop {
        match f.next_message() {
            Ok(Some(m)) => {
                assert!(m.len() >= HEADER_LEN, "message of {} bytes", m.len());
                assert!(m.len() <= limit, "message of {} > limit {limit}", m.len());
                let hl = usize::from(u16::from_be_bytes([m[2], m[3]]));
                assert_eq!(hl, m.len(), "header length vs yielded length");
                let _ = Message::decode(&m);
                out.push(m.to_vec());
            }
            Ok(None) => return None,
            Err(e) => {
                // A broken stream stays broken and keeps its bytes.
                assert_eq!(f.next_message(), Err(e.clone()));
                return Some(e);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let limit = match data[0] {
        0 => MAX_MESSAGE_LEN,
        n => (usize::from(n) * 64).clamp(HEADER_LEN, MAX_MESSAGE_LEN),
    };
    let mut seed = u32::from(data[1]) | 1;
    let stream = &data[2..];

    // Chunked.
    let mut f = Framer::with_limit(limit);
    let mut msgs = Vec::new();
    let mut err = None;
    let mut pos = 0;
    while pos < stream.len() && err.is_none() {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let n = (seed as usize % 40).min(stream.len() - pos);
        f.push(&stream[pos..pos + n]);
        pos += n;
        err = drain(&mut f, limit, &mut msgs);
    }
    let yielded: usize = msgs.iter().map(Vec::len).sum();
    assert_eq!(yielded + f.pending(), pos, "bytes lost or invented");
    assert_eq!(&msgs.concat()[..], &stream[..yielded], "not a prefix");

    // All at once, up to where the chunked run stopped.
    let mut g = Framer::with_limit(limit);
    g.push(&stream[..pos]);
    let mut msgs2 = Vec::new();
    let err2 = drain(&mut g, limit, &mut msgs2);
    assert_eq!(msgs, msgs2, "framing depends on chunking");
    assert_eq!(err, err2, "error depends on chunking");
    assert_eq!(f.pending(), g.pending());

    // discard() after an error drops bytes without panicking.
    if err.is_some() {
        let before = g.pending();
        g.discard(before.min(HEADER_LEN));
        assert_eq!(g.pending(), before - before.min(HEADER_LEN));
    }
});
