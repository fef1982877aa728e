//! Action and instruction lists on arbitrary bytes. Byte 0 chooses the
//! decoder (even: actions, odd: instructions), the rest is the list. Never
//! panics; what decodes re-encodes to `list_len()` bytes and decodes back to
//! the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::wire::Reader;
use openflow::{Action, Instruction, OfError};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    if sel % 2 == 0 {
        let mut r = Reader::new(body, OfError::BAC_BAD_LEN);
        let Ok(list) = Action::decode_list(&mut r) else {
            return;
        };
        let mut out = Vec::new();
        Action::encode_list(&list, &mut out);
        assert_eq!(out.len(), Action::list_len(&list), "{list:?}");
        let mut r2 = Reader::new(&out, OfError::BAC_BAD_LEN);
        let list2 = Action::decode_list(&mut r2).expect("re-encoded actions decode");
        assert_eq!(list, list2);
    } else {
        let mut r = Reader::new(body, OfError::BIC_BAD_LEN);
        let Ok(list) = Instruction::decode_list(&mut r) else {
            return;
        };
        let mut out = Vec::new();
        Instruction::encode_list(&list, &mut out);
        assert_eq!(out.len(), Instruction::list_len(&list), "{list:?}");
        let mut r2 = Reader::new(&out, OfError::BIC_BAD_LEN);
        let list2 = Instruction::decode_list(&mut r2).expect("re-encoded instructions decode");
        assert_eq!(list, list2);
    }
});
