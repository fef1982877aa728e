//! Property tests: every message the crate models survives
//! `decode(encode(m)) == m`, its encoding has the length its header states
//! and the spec's structure layouts give, and re-encoding the decoded value
//! reproduces the same bytes.
//!
//! The generators (tests/common/strategies.rs) produce values in the wire
//! format's canonical form; its module doc lists the caveats (padded
//! experimenter payloads, NUL-terminated fixed-size strings, raw OXMs, ...).
//! `every_type_is_generated` checks that all 30 `ofp_type`s, all 15
//! multipart types and every OXM field, action, instruction and table
//! feature property kind come out of the generators.

mod common;

use common::layout;
use common::strategies::*;
use openflow::error::OfError;
use openflow::message::{msg_type, Body, Message};
use openflow::messages::{ErrorMsg, HelloElement, QueueProperty};
use openflow::meter::MeterBand;
use openflow::multipart::{MultipartReply, MultipartRequest};
use openflow::oxm::{Match, Oxm, OxmField};
use openflow::table_features::TableFeatureProp;
use openflow::wire::Reader;
use openflow::{Action, Instruction};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeSet;
use std::fmt::Debug;

/// Cases for the test over the union of all message types.
const CASES_ANY: u32 = 4096;
/// Cases for each single message type and each multipart type.
const CASES_PER_TYPE: u32 = 256;
/// Cases for the component tests (OXM, match, action, ...).
const CASES_PART: u32 = 1024;

/// The full round trip of one message, with a readable failure.
fn check_message(m: &Message) -> Result<(), TestCaseError> {
    let b = common::encode(m);
    prop_assert!(b.len() <= 65535, "generator made a message over 64 KiB");
    prop_assert_eq!(
        usize::from(layout::be16(&b, 2)),
        b.len(),
        "header length differs from the encoded length"
    );
    prop_assert_eq!(
        b.len(),
        layout::message_size(m),
        "encoded length differs from the spec layout for {}",
        msg_type::name(m.body.msg_type())
    );
    if let Err(e) = layout::check_offsets(m, &b) {
        return Err(TestCaseError::fail(e));
    }
    let back = match Message::decode(&b) {
        Ok(back) => back,
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "{} did not decode: {e}\nvalue: {m:?}\nbytes: {b:02x?}",
                msg_type::name(m.body.msg_type())
            )))
        }
    };
    prop_assert_eq!(&back, m, "decode(encode(m)) != m; bytes: {:02x?}", b);
    prop_assert_eq!(common::encode(&back), b, "re-encoding changed the bytes");
    Ok(())
}

fn run<T: Debug>(
    cases: u32,
    s: impl Strategy<Value = T>,
    f: impl Fn(T) -> Result<(), TestCaseError>,
) {
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    if let Err(e) = runner.run(&s, f) {
        panic!("{e}");
    }
}

proptest! {
    #![proptest_config(Config { cases: CASES_ANY, ..Config::default() })]

    #[test]
    fn any_message_roundtrips(m in message()) {
        check_message(&m)?;
    }
}

#[test]
fn each_message_type_roundtrips() {
    for t in 0..30u8 {
        run(CASES_PER_TYPE, message_of_type(t), |m| {
            prop_assert_eq!(m.body.msg_type(), t);
            check_message(&m)
        });
    }
}

#[test]
fn each_multipart_request_roundtrips() {
    for s in mp_request_strategies() {
        run(
            CASES_PER_TYPE,
            (any::<u32>(), any::<u16>(), s),
            |(xid, flags, body)| {
                check_message(&Message::new(
                    xid,
                    Body::MultipartRequest(MultipartRequest { flags, body }),
                ))
            },
        );
    }
}

#[test]
fn each_multipart_reply_roundtrips() {
    for s in mp_reply_strategies() {
        run(
            CASES_PER_TYPE,
            (any::<u32>(), any::<u16>(), s),
            |(xid, flags, body)| {
                check_message(&Message::new(
                    xid,
                    Body::MultipartReply(MultipartReply { flags, body }),
                ))
            },
        );
    }
}

proptest! {
    #![proptest_config(Config { cases: CASES_PART, ..Config::default() })]

    /// One OXM alone, as the only field of a match.
    #[test]
    fn oxm_roundtrips(o in oxm()) {
        let mut b = bytes::BytesMut::new();
        o.encode(&mut b);
        prop_assert_eq!(b.len(), layout::oxm_size(&o));
        prop_assert_eq!(b.len(), o.wire_len());
        prop_assert_eq!(usize::from(b[3]) + 4, b.len(), "oxm_length");
        let mut r = Reader::new(&b, OfError::BMC_BAD_LEN);
        prop_assert_eq!(Oxm::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?, o);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn match_roundtrips(m in match_()) {
        let mut b = bytes::BytesMut::new();
        m.encode(&mut b);
        prop_assert_eq!(b.len(), layout::match_size(&m));
        prop_assert_eq!(b.len(), m.wire_len());
        prop_assert_eq!(usize::from(layout::be16(&b, 2)), layout::match_unpadded(&m));
        let mut r = Reader::new(&b, OfError::BMC_BAD_LEN);
        prop_assert_eq!(Match::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?, m);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn action_roundtrips(a in action()) {
        let mut b = bytes::BytesMut::new();
        a.encode(&mut b);
        prop_assert_eq!(b.len(), layout::action_size(&a));
        prop_assert_eq!(b.len(), a.wire_len());
        prop_assert_eq!(usize::from(layout::be16(&b, 2)), b.len(), "action len field");
        prop_assert_eq!(b.len() % 8, 0);
        let mut r = Reader::new(&b, OfError::BAC_BAD_LEN);
        prop_assert_eq!(Action::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?, a);
        prop_assert!(r.is_empty());
    }

    #[test]
    fn instruction_roundtrips(i in instruction()) {
        let mut b = bytes::BytesMut::new();
        i.encode(&mut b);
        prop_assert_eq!(b.len(), layout::instruction_size(&i));
        prop_assert_eq!(b.len(), i.wire_len());
        prop_assert_eq!(usize::from(layout::be16(&b, 2)), b.len(), "instruction len field");
        prop_assert_eq!(b.len() % 8, 0);
        let mut r = Reader::new(&b, OfError::BIC_BAD_LEN);
        prop_assert_eq!(
            Instruction::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?,
            i
        );
        prop_assert!(r.is_empty());
    }

    #[test]
    fn table_features_roundtrip(t in table_features()) {
        let mut b = bytes::BytesMut::new();
        t.encode(&mut b);
        prop_assert_eq!(b.len(), layout::table_features_size(&t));
        prop_assert_eq!(b.len(), t.wire_len());
        prop_assert_eq!(usize::from(layout::be16(&b, 0)), b.len(), "table features length");
        let mut r = Reader::new(&b, OfError::TFFC_BAD_LEN);
        prop_assert_eq!(
            openflow::TableFeatures::decode(&mut r).map_err(|e| TestCaseError::fail(e.to_string()))?,
            t
        );
        prop_assert!(r.is_empty());
    }

    /// A stream of messages cut into arbitrary chunks comes out of the
    /// framer as the same messages.
    #[test]
    fn framer_reassembles_a_stream(
        msgs in proptest::collection::vec(message(), 1..6),
        cuts in proptest::collection::vec(1usize..200, 1..40),
    ) {
        let encoded: Vec<Vec<u8>> = msgs.iter().map(common::encode).collect();
        let stream = encoded.concat();
        let mut f = openflow::Framer::new();
        let mut out = Vec::new();
        let mut pos = 0;
        let mut i = 0;
        while pos < stream.len() {
            let n = cuts[i % cuts.len()].min(stream.len() - pos);
            i += 1;
            f.push(&stream[pos..pos + n]);
            pos += n;
            while let Some(m) = f.next_message().map_err(|e| TestCaseError::fail(e.to_string()))? {
                out.push(m.to_vec());
            }
        }
        prop_assert_eq!(f.pending(), 0);
        prop_assert_eq!(&out, &encoded);
        for (b, m) in out.iter().zip(&msgs) {
            prop_assert_eq!(&Message::decode(b).map_err(|e| TestCaseError::fail(e.to_string()))?, m);
        }
    }
}

/// Draws `n` values from a strategy.
fn sample<T: Debug>(runner: &mut TestRunner, s: &impl Strategy<Value = T>, n: usize) -> Vec<T> {
    (0..n)
        .map(|_| s.new_tree(runner).expect("strategy").current())
        .collect()
}

#[test]
fn every_type_is_generated() {
    let mut runner = TestRunner::deterministic();

    // all 30 ofp_types, each strategy yielding exactly its own type
    let mut types = BTreeSet::new();
    for (i, s) in body_strategies().iter().enumerate() {
        for b in sample(&mut runner, s, 8) {
            assert_eq!(usize::from(b.msg_type()), i, "strategy {i} made {b:?}");
            types.insert(b.msg_type());
        }
    }
    assert_eq!(types, (0..30).collect::<BTreeSet<u8>>());
    // and the union over them reaches every type
    let seen: BTreeSet<u8> = sample(&mut runner, &message(), 3000)
        .iter()
        .map(|m| m.body.msg_type())
        .collect();
    assert_eq!(
        seen,
        (0..30).collect::<BTreeSet<u8>>(),
        "message() misses types"
    );
    println!(
        "message types covered: {:?}",
        seen.iter().map(|t| msg_type::name(*t)).collect::<Vec<_>>()
    );

    // all 15 multipart types, request and reply side
    let all_mp: BTreeSet<u16> = (0..=13).chain([0xffff]).collect();
    let req: BTreeSet<u16> = mp_request_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|body| MultipartRequest { flags: 0, body }.mp_type())
        .collect();
    assert_eq!(req, all_mp, "multipart request types");
    let rep: BTreeSet<u16> = mp_reply_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|body| MultipartReply { flags: 0, body }.mp_type())
        .collect();
    assert_eq!(rep, all_mp, "multipart reply types");
    let union: BTreeSet<u16> = sample(&mut runner, &mp_request(), 1500)
        .iter()
        .map(|m| m.mp_type())
        .chain(
            sample(&mut runner, &mp_reply(), 1500)
                .iter()
                .map(|m| m.mp_type()),
        )
        .collect();
    assert_eq!(union, all_mp, "mp_request()/mp_reply() miss types");

    // every OXM field, with and without a mask where maskable, and raw
    // fields of the basic (unknown id), experimenter and other classes
    let mut fields = BTreeSet::new();
    let mut masked = BTreeSet::new();
    let mut unmasked = BTreeSet::new();
    let mut raw_classes = BTreeSet::new();
    for s in oxm_strategies() {
        for o in sample(&mut runner, &s, 64) {
            match (o.field(), &o) {
                (Some(f), _) => {
                    fields.insert(f);
                    if o.has_mask() {
                        masked.insert(f);
                    } else {
                        unmasked.insert(f);
                    }
                }
                (None, Oxm::Other(r)) => {
                    raw_classes.insert(match r.class {
                        0x8000 => "basic",
                        0xffff => "experimenter",
                        0 | 1 => "nxm",
                        _ => "other",
                    });
                }
                _ => unreachable!(),
            }
        }
    }
    assert_eq!(fields.len(), 40, "OXM fields");
    assert_eq!(unmasked.len(), 40, "OXM fields without mask");
    let maskable: BTreeSet<OxmField> = OxmField::ALL
        .iter()
        .copied()
        .filter(|f| f.maskable())
        .collect();
    assert_eq!(masked, maskable, "masked OXM fields");
    assert_eq!(raw_classes.len(), 4, "raw OXM classes: {raw_classes:?}");

    // every action type, every instruction type
    let acts: BTreeSet<u16> = action_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|a| a.action_type())
        .collect();
    let want: BTreeSet<u16> = openflow::action::action_type::ALL
        .iter()
        .copied()
        .chain([0xffff])
        .collect();
    assert_eq!(acts, want, "action types");
    let ins: BTreeSet<u16> = instruction_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|i| i.instruction_type())
        .collect();
    let want: BTreeSet<u16> = openflow::instruction::instruction_type::ALL
        .iter()
        .copied()
        .chain([0xffff])
        .collect();
    assert_eq!(ins, want, "instruction types");

    // every table feature property type, and unknown ones
    let mut props = BTreeSet::new();
    let mut unknown = false;
    for s in table_feature_prop_strategies() {
        for p in sample(&mut runner, &s, 8) {
            if let TableFeatureProp::Unknown { .. } = p {
                unknown = true;
            } else {
                props.insert(p.prop_type());
            }
        }
    }
    let want: BTreeSet<u16> = (0..=8)
        .chain([10])
        .chain(12..=15)
        .chain([0xfffe, 0xffff])
        .collect();
    assert_eq!(props, want, "table feature property types");
    assert!(unknown, "unknown table feature property");

    // hello elements, error kinds, meter bands, queue properties
    let hello: BTreeSet<&str> = hello_element_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|e| match e {
            HelloElement::VersionBitmap(_) => "bitmap",
            HelloElement::Unknown { .. } => "unknown",
        })
        .collect();
    assert_eq!(hello.len(), 2);
    let errors: BTreeSet<&str> = error_msg_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|e| match e {
            ErrorMsg::Standard { .. } => "standard",
            ErrorMsg::Experimenter { .. } => "experimenter",
        })
        .collect();
    assert_eq!(errors.len(), 2);
    let bands: BTreeSet<u16> = meter_band_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|b: MeterBand| b.band_type())
        .collect();
    assert_eq!(bands, [1, 2, 0xffff].into_iter().collect());
    let qprops: BTreeSet<&str> = queue_property_strategies()
        .iter()
        .flat_map(|s| sample(&mut runner, s, 4))
        .map(|p| match p {
            QueueProperty::MinRate(_) => "min",
            QueueProperty::MaxRate(_) => "max",
            QueueProperty::Experimenter { .. } => "experimenter",
        })
        .collect();
    assert_eq!(qprops.len(), 3);
}

/// A few encodings checked byte for byte against the spec's layouts.
#[test]
fn known_encodings() {
    use openflow::messages::*;
    let cases: Vec<(Message, &str)> = vec![
        (
            Message::new(0x11, Body::FeaturesRequest),
            "04050008 00000011",
        ),
        (Message::new(1, Body::BarrierReply), "04150008 00000001"),
        (
            Message::new(
                2,
                Body::SetConfig(SwitchConfig {
                    flags: 0,
                    miss_send_len: 0xffff,
                }),
            ),
            "0409000c 00000002 0000ffff",
        ),
        (
            Message::new(
                3,
                Body::RoleRequest(RoleMsg {
                    role: role::MASTER,
                    generation_id: 7,
                }),
            ),
            "04180018 00000003 00000002 00000000 0000000000000007",
        ),
        (
            Message::new(4, Body::QueueGetConfigRequest { port: 1 }),
            "04160010 00000004 00000001 00000000",
        ),
        (
            Message::new(
                5,
                Body::MultipartRequest(MultipartRequest::new(
                    openflow::multipart::MultipartRequestBody::PortDesc,
                )),
            ),
            "04120010 00000005 000d0000 00000000",
        ),
        (
            Message::new(
                6,
                Body::Error(ErrorMsg::Standard {
                    error: OfError::BRC_BAD_TYPE,
                    data: vec![4, 99, 0, 8],
                }),
            ),
            "04010010 00000006 00010001 04630008",
        ),
        (
            Message::new(
                7,
                Body::FlowMod(FlowMod {
                    match_: Match::new().with(Oxm::InPort(1)),
                    instructions: vec![Instruction::ApplyActions(vec![Action::output(2)])],
                    ..FlowMod::default()
                }),
            ),
            "040e0058 00000007 0000000000000000 0000000000000000 00 00 0000 0000 8000 \
             ffffffff ffffffff ffffffff 0000 0000 \
             0001000c 80000004 00000001 00000000 \
             00040018 00000000 00000010 00000002 0000 000000000000",
        ),
    ];
    for (m, hex) in cases {
        let want: Vec<u8> = hex
            .split_whitespace()
            .collect::<String>()
            .as_bytes()
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect();
        assert_eq!(common::encode(&m), want, "{m:?}");
        assert_eq!(Message::decode(&want).unwrap(), m);
    }
}
