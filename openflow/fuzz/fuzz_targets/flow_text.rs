//! The ovs-ofctl flow syntax (`add-flow`, `del-flows` and files of flows
//! given to `ofswitch ofctl`): `parse_flow_mod` on arbitrary text. Never
//! panics; a flow it accepts encodes into a FLOW_MOD that decodes back to
//! the same value, and its match and instructions print as text that
//! parses again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openflow::message::{Body, Message};
use openflow::ofctl::format::{actions_to_string, match_to_string};
use openflow::ofctl::parse::parse_flow_mod;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(fm) = parse_flow_mod(text, 0) else {
        return;
    };
    let bytes = Message::new(7, Body::FlowMod(fm.clone())).to_bytes();
    let back = Message::decode(&bytes).expect("an encoded FLOW_MOD decodes");
    assert_eq!(back.body, Body::FlowMod(fm.clone()));
    let printed = format!(
        "{},actions={}",
        match_to_string(&fm.match_),
        actions_to_string(&fm.instructions)
    );
    assert!(
        parse_flow_mod(printed.trim_start_matches(','), 0).is_ok(),
        "printed {printed:?} does not parse"
    );
});
