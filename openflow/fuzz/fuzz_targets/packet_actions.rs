//! A frame from a port, then actions applied to it: the switch's packet
//! parser (`ofswitch::packet::parse`, frame → flow key) and packet editor
//! (`ofswitch::packet::apply`, one action at a time), which see every byte
//! that arrives on a port and every action a controller may send.
//!
//! Input: byte 0 is the length (in 8-byte units) of an action list that
//! follows, decoded as OpenFlow actions; the rest is the frame. Never
//! panics; after each action that applies, the key the editor kept in step
//! equals what parsing the new bytes gives (the editor's promise).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ofswitch::flow_key::FlowKey;
use ofswitch::packet;
use openflow::wire::Reader;
use openflow::{Action, OfError};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let alen = (usize::from(n) * 8).min(rest.len());
    let (actions, frame) = rest.split_at(alen);
    let mut frame = frame.to_vec();
    let mut key = FlowKey::ZERO;
    let mut layout = packet::parse(&frame, &mut key);
    let mut r = Reader::new(actions, OfError::BAC_BAD_LEN);
    let Ok(list) = Action::decode_list(&mut r) else {
        return;
    };
    for a in &list {
        if packet::apply(&mut frame, &mut key, &mut layout, a).is_err() {
            return;
        }
        let mut fresh = key;
        packet::parse(&frame, &mut fresh);
        assert!(
            fresh.as_bytes() == key.as_bytes(),
            "the key after {a:?} differs from the new frame's"
        );
    }
});
