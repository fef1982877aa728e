//! The OpenFlow 1.3 pipeline, driven the way a controller drives it: flows,
//! groups and meters in `ovs-ofctl` syntax, real frames built with
//! etherparse, and assertions on the frames that come out, the packet-ins,
//! the counters and the errors.
//!
//! Which test covers which part of the specification is listed in
//! `SPEC_MAP.md` next to this file.

#[allow(dead_code)]
mod harness;

#[allow(dead_code)]
#[path = "../../src/packet/testutil.rs"]
mod frames;

mod actions;
mod cache_and_snapshots;
mod counters;
mod errors;
mod flow_mods;
mod groups;
mod instructions;
mod match_fields;
mod meters;
mod timeouts;

mod smoke {
    use super::frames;
    use super::harness::*;

    #[test]
    fn a_flow_forwards_and_no_flow_drops() {
        let mut b = Bridge::new(3);
        assert!(b.send(1, &frames::tcp4()).is_empty(), "no table-miss: drop");
        b.add("priority=10,in_port=1,actions=output:2");
        assert_eq!(b.ports(1, &frames::tcp4()), vec![2]);
    }
}
