//! `Message::decode` on arbitrary bytes must never panic, and whatever it
//! accepts must survive a round trip: decode ∘ encode ∘ decode = decode, and
//! the re-encoded bytes are themselves a valid, stable encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::Message;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Message::decode(data) else {
        return;
    };
    let bytes = m.to_bytes();
    assert!(
        bytes.len() <= openflow::message::MAX_MESSAGE_LEN,
        "re-encoding is {} bytes, above the 64 KiB limit: {m:?}",
        bytes.len()
    );
    let len_field = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    assert_eq!(len_field, bytes.len(), "header length of re-encoding");
    let m2 = match Message::decode(&bytes) {
        Ok(m2) => m2,
        Err(e) => {
            panic!("re-encoded message does not decode: {e:?}\nfirst: {m:?}\nbytes: {bytes:02x?}")
        }
    };
    assert_eq!(m, m2, "decode(encode(decode(x))) != decode(x)");
    // Encoding is a function of the value, so a second trip is byte-identical.
    assert_eq!(bytes, m2.to_bytes(), "encoding not stable");
});
