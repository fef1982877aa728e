//! Decoding hostile input: `Message::decode` and `Framer` never panic, every
//! error names an OpenFlow error type a switch can send (1..=13), anything
//! that decodes re-encodes to a value that decodes the same, and a table of
//! malformed messages gets exactly the error code the spec (1.3.5, 7.4.4)
//! asks for.

mod common;

use common::strategies::message;
use openflow::error::OfError;
use openflow::message::Message;
use openflow::messages::*;
use openflow::{Body, FrameError, Framer};
use proptest::collection::vec;
use proptest::prelude::*;

/// Whether a decoded message holds a string that came from invalid UTF-8:
/// fixed-size strings decode lossily, so those cannot round-trip exactly.
fn lossy(m: &Message) -> bool {
    format!("{m:?}").contains('\u{fffd}')
}

/// Decodes `b`; on success checks the re-encoding, on failure the error.
fn check_decode(b: &[u8]) -> Result<(), TestCaseError> {
    match Message::decode(b) {
        Ok(m) => {
            let e = common::encode(&m);
            let back = Message::decode(&e).map_err(|err| {
                TestCaseError::fail(format!(
                    "decoded {m:?} from {b:02x?}, its encoding {e:02x?} does not decode: {err}"
                ))
            })?;
            if !lossy(&m) {
                prop_assert_eq!(
                    &back,
                    &m,
                    "decode(encode(decode(b))) != decode(b) for {:02x?}",
                    b
                );
            }
        }
        Err(err) => {
            prop_assert!(
                (1..=13).contains(&err.error.typ),
                "error {} (type {}) for {:02x?}",
                err,
                err.error.typ,
                b
            );
            prop_assert!(
                err.error.name().is_some(),
                "unnamed code {err} for {b:02x?}"
            );
        }
    }
    Ok(())
}

/// Arbitrary bytes behind a plausible header (version 4, a type near the
/// defined range, the right length), so decoding gets past the header.
fn with_header() -> impl Strategy<Value = Vec<u8>> {
    (0u8..=31, any::<u32>(), vec(any::<u8>(), 0..600)).prop_map(|(t, xid, body)| {
        let mut b = vec![4, t, 0, 0];
        b.extend(xid.to_be_bytes());
        b.extend(body);
        common::fix_len(&mut b);
        b
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    /// XOR a byte with a non-zero value.
    Flip(usize, u8),
    /// Cut the message at this point.
    Truncate(usize),
    /// Overwrite a big-endian u16 (most are length or type fields).
    SetU16(usize, u16),
    /// Add or subtract a little from a u16, as an off-by-some length would.
    NudgeU16(usize, i8),
    Insert(usize, u8),
    Remove(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u16>()).prop_map(|(i, v)| Mutation::SetU16(i, v)),
        (any::<usize>(), -16i8..=16).prop_map(|(i, d)| Mutation::NudgeU16(i, d)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
        any::<usize>().prop_map(Mutation::Remove),
    ]
}

fn apply(b: &mut Vec<u8>, m: &Mutation) {
    if b.is_empty() {
        return;
    }
    let n = b.len();
    match *m {
        Mutation::Flip(i, x) => b[i % n] ^= x,
        Mutation::Truncate(i) => b.truncate(i % n),
        Mutation::SetU16(i, v) if n >= 2 => {
            let i = i % (n - 1);
            b[i..i + 2].copy_from_slice(&v.to_be_bytes());
        }
        Mutation::NudgeU16(i, d) if n >= 2 => {
            let i = i % (n - 1);
            let v = u16::from_be_bytes([b[i], b[i + 1]]).wrapping_add_signed(i16::from(d));
            b[i..i + 2].copy_from_slice(&v.to_be_bytes());
        }
        Mutation::Insert(i, v) => b.insert(i % (n + 1), v),
        Mutation::Remove(i) => {
            b.remove(i % n);
        }
        _ => {}
    }
}

/// A valid message with one to four mutations; usually the header length
/// is fixed up afterwards so the damage is seen by the body decoders.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (message(), vec(mutation(), 1..5), 0u8..4).prop_map(|(m, muts, fix)| {
        let mut b = common::encode(&m);
        for mu in &muts {
            apply(&mut b, mu);
        }
        if fix != 0 && b.len() >= 8 {
            common::fix_len(&mut b);
        }
        b
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8192, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(b in vec(any::<u8>(), 0..300)) {
        check_decode(&b)?;
    }

    #[test]
    fn arbitrary_bodies(b in with_header()) {
        check_decode(&b)?;
    }

    #[test]
    fn mutated_messages(b in mutated()) {
        check_decode(&b)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// The framer fed arbitrary chunks of arbitrary bytes (some of them valid
    /// messages) never panics, yields only whole messages of the length in
    /// their header and within the limit, and loses no bytes.
    #[test]
    fn framer_arbitrary_chunks(
        parts in vec(prop_oneof![
            vec(any::<u8>(), 0..80),
            message().prop_map(|m| common::encode(&m)),
        ], 0..8),
        chunk in 1usize..100,
        limit in prop_oneof![Just(65535usize), 0usize..200_000],
    ) {
        let stream = parts.concat();
        let mut f = Framer::with_limit(limit);
        let eff_limit = limit.clamp(8, 65535);
        let mut consumed = 0usize;
        let mut pushed = 0usize;
        'outer: for c in stream.chunks(chunk) {
            f.push(c);
            pushed += c.len();
            loop {
                match f.next_message() {
                    Ok(Some(m)) => {
                        prop_assert!(m.len() >= 8 && m.len() <= eff_limit);
                        prop_assert_eq!(usize::from(u16::from_be_bytes([m[2], m[3]])), m.len());
                        prop_assert_eq!(&m[..], &stream[consumed..consumed + m.len()]);
                        consumed += m.len();
                        check_decode(&m)?;
                    }
                    Ok(None) => break,
                    Err(FrameError::TooShort(n)) => {
                        prop_assert!(n < 8);
                        break 'outer;
                    }
                    Err(FrameError::TooLong { len, limit }) => {
                        prop_assert!(len > limit);
                        prop_assert_eq!(limit, eff_limit);
                        break 'outer;
                    }
                }
            }
        }
        prop_assert_eq!(consumed + f.pending(), pushed);
    }
}

// ------------------------------------------------------------------ table

/// Hex to bytes; whitespace is ignored.
fn h(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    assert!(s.len().is_multiple_of(2), "odd hex {s}");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A version 1.3 message of type `t` with this body (hex) and a correct
/// header length.
fn msg(t: u8, body: &str) -> Vec<u8> {
    let mut b = vec![4, t, 0, 0, 0, 0, 0, 0x2a];
    b.extend(h(body));
    common::fix_len(&mut b);
    b
}

/// The fixed part of a FLOW_MOD body (cookie ... pad), 40 bytes.
const FM: &str = "0000000000000000 0000000000000000 00 00 0000 0000 8000 \
                  ffffffff ffffffff ffffffff 0000 0000";
/// An `ofp_match` with IN_PORT=1, 16 bytes.
const IN_PORT_1: &str = "0001000c 80000004 00000001 00000000";

/// A FLOW_MOD with the IN_PORT=1 match and these instructions.
fn flow_mod(ins: &str) -> Vec<u8> {
    msg(14, &format!("{FM} {IN_PORT_1} {ins}"))
}

/// A FLOW_MOD with one APPLY_ACTIONS instruction around these actions.
fn apply_actions(acts: &str) -> Vec<u8> {
    let n = 8 + h(acts).len();
    flow_mod(&format!("0004{n:04x} 00000000 {acts}"))
}

/// A multipart message of this type (request 18, reply 19) and body.
fn mp(t: u8, mp_type: u16, body: &str) -> Vec<u8> {
    msg(t, &format!("{mp_type:04x}0000 00000000 {body}"))
}

/// A table-features body: the 64-byte header with `len`, then `props`.
fn table_features(len: u16, props: &str) -> String {
    format!(
        "{len:04x} 00 0000000000 {} {} 00000000 00000010 {props}",
        "00".repeat(32),
        "00".repeat(16)
    )
}

fn encode(body: Body) -> Vec<u8> {
    common::encode(&Message::new(0x2a, body))
}

fn cut(mut b: Vec<u8>, n: usize) -> Vec<u8> {
    b.truncate(b.len() - n);
    common::fix_len(&mut b);
    b
}

fn extend(mut b: Vec<u8>, n: usize) -> Vec<u8> {
    b.resize(b.len() + n, 0);
    common::fix_len(&mut b);
    b
}

fn malformed_cases() -> Vec<(String, Vec<u8>, OfError)> {
    let mut cases: Vec<(String, Vec<u8>, OfError)> = Vec::new();
    let mut case = |name: &str, b: Vec<u8>, e: OfError| cases.push((name.to_string(), b, e));

    // ---- header
    let mut fm = flow_mod("");
    fm[0] = 1;
    case("FLOW_MOD with version 0x01", fm, OfError::BRC_BAD_VERSION);
    case(
        "ECHO_REQUEST with version 0x05",
        h("05020008 00000001"),
        OfError::BRC_BAD_VERSION,
    );
    case(
        "type 30 (after METER_MOD)",
        h("041e0008 00000001"),
        OfError::BRC_BAD_TYPE,
    );
    case("type 0xff", h("04ff0008 00000001"), OfError::BRC_BAD_TYPE);
    case(
        "header length beyond buffer",
        h("04020010 00000001"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "header length short of buffer",
        h("04020008 00000001 0102"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "header length below 8",
        h("04020004 00000001"),
        OfError::BRC_BAD_LEN,
    );
    case("3 bytes", h("040200"), OfError::BRC_BAD_LEN);
    case("no bytes", vec![], OfError::BRC_BAD_LEN);

    // ---- fixed-size messages one byte short and one byte long
    let fixed: Vec<(&str, Body)> = vec![
        (
            "FEATURES_REPLY",
            Body::FeaturesReply(SwitchFeatures::default()),
        ),
        (
            "GET_CONFIG_REPLY",
            Body::GetConfigReply(SwitchConfig::default()),
        ),
        ("SET_CONFIG", Body::SetConfig(SwitchConfig::default())),
        (
            "PORT_STATUS",
            Body::PortStatus(openflow::PortStatus {
                reason: 0,
                desc: openflow::Port::default(),
            }),
        ),
        ("PORT_MOD", Body::PortMod(openflow::PortMod::default())),
        (
            "TABLE_MOD",
            Body::TableMod(TableMod {
                table_id: 0,
                config: 0,
            }),
        ),
        (
            "QUEUE_GET_CONFIG_REQUEST",
            Body::QueueGetConfigRequest { port: 1 },
        ),
        (
            "ROLE_REQUEST",
            Body::RoleRequest(RoleMsg {
                role: 2,
                generation_id: 0,
            }),
        ),
        (
            "ROLE_REPLY",
            Body::RoleReply(RoleMsg {
                role: 2,
                generation_id: 0,
            }),
        ),
        (
            "GET_ASYNC_REPLY",
            Body::GetAsyncReply(AsyncConfig::default()),
        ),
        ("SET_ASYNC", Body::SetAsync(AsyncConfig::default())),
    ];
    for (name, body) in &fixed {
        let b = encode(body.clone());
        case(
            &format!("{name} one byte short"),
            cut(b.clone(), 1),
            OfError::BRC_BAD_LEN,
        );
        case(
            &format!("{name} one byte long"),
            extend(b, 1),
            OfError::BRC_BAD_LEN,
        );
    }
    for (name, body) in [
        ("FEATURES_REQUEST", Body::FeaturesRequest),
        ("GET_CONFIG_REQUEST", Body::GetConfigRequest),
        ("BARRIER_REQUEST", Body::BarrierRequest),
        ("BARRIER_REPLY", Body::BarrierReply),
        ("GET_ASYNC_REQUEST", Body::GetAsyncRequest),
    ] {
        case(
            &format!("{name} with a body"),
            extend(encode(body), 4),
            OfError::BRC_BAD_LEN,
        );
    }
    // ---- variable-size messages shorter than their fixed part
    case("ERROR of 11 bytes", msg(1, "0001 00"), OfError::BRC_BAD_LEN);
    case(
        "EXPERIMENTER of 15 bytes",
        msg(4, "00002320 000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "PACKET_IN cut before the match",
        msg(10, "ffffffff 0040 00 00 00000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "FLOW_REMOVED cut before the match",
        msg(11, &"00".repeat(39)),
        OfError::BRC_BAD_LEN,
    );
    case(
        "PACKET_OUT of 23 bytes",
        msg(13, "ffffffff fffffffd 0000 0000000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "FLOW_MOD cut before the match",
        msg(14, &"00".repeat(39)),
        OfError::BRC_BAD_LEN,
    );
    case(
        "GROUP_MOD of 15 bytes",
        msg(15, "0000 00 00 000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "METER_MOD of 15 bytes",
        msg(29, "0000 0001 000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "MULTIPART_REQUEST of 15 bytes",
        msg(18, "000d 0000 000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "MULTIPART_REPLY of 15 bytes",
        msg(19, "000d 0000 000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "QUEUE_GET_CONFIG_REPLY of 12 bytes",
        msg(23, "00000001"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "PACKET_IN without the 2 pad bytes",
        msg(
            10,
            &format!("ffffffff 0040 00 00 0000000000000000 {IN_PORT_1}"),
        ),
        OfError::BRC_BAD_LEN,
    );
    case(
        "PACKET_OUT actions_len beyond the message",
        msg(13, "ffffffff fffffffd 0010 000000000000 00000010 fffffffd"),
        OfError::BRC_BAD_LEN,
    );

    // ---- multipart
    case(
        "multipart request of type 14",
        mp(18, 14, ""),
        OfError::BRC_BAD_MULTIPART,
    );
    case(
        "multipart request of type 0x1234",
        mp(18, 0x1234, ""),
        OfError::BRC_BAD_MULTIPART,
    );
    case(
        "multipart reply of type 14",
        mp(19, 14, ""),
        OfError::BRC_BAD_MULTIPART,
    );
    case(
        "PORT_DESC request with a body",
        mp(18, 13, "00000000 00000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "PORT_STATS request of 4 body bytes",
        mp(18, 4, "00000001"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "FLOW request with a non-OXM match",
        mp(
            18,
            1,
            &format!(
                "ff000000 ffffffff ffffffff 00000000 {} 00000004 00000000",
                "00".repeat(16)
            ),
        ),
        OfError::BMC_BAD_TYPE,
    );
    case(
        "DESC reply cut short",
        mp(19, 0, &"00".repeat(1000)),
        OfError::BRC_BAD_LEN,
    );
    case(
        "FLOW reply entry of length 40",
        mp(19, 1, &format!("0028 {}", "00".repeat(38))),
        OfError::BRC_BAD_LEN,
    );
    case(
        "GROUP reply entry of length 20",
        mp(19, 6, &format!("0014 {}", "00".repeat(38))),
        OfError::BRC_BAD_LEN,
    );
    case(
        "GROUP_DESC reply with an 8-byte bucket",
        mp(19, 7, "0010 00 00 00000001 0008 0000 ffffffff"),
        OfError::GMFC_BAD_BUCKET,
    );
    case(
        "METER_CONFIG reply with band type 3",
        mp(
            19,
            10,
            "0018 0001 00000001 0003 0010 00000064 00000000 00000000",
        ),
        OfError::MMFC_BAD_BAND,
    );
    case(
        "TABLE_FEATURES length 32",
        mp(18, 12, &format!("0020 {}", "00".repeat(30))),
        OfError::TFFC_BAD_LEN,
    );
    case(
        "TABLE_FEATURES length beyond the message",
        mp(18, 12, &table_features(72, "")),
        OfError::TFFC_BAD_LEN,
    );
    case(
        "TABLE_FEATURES property of length 2",
        mp(18, 12, &table_features(72, "0000 0002 00000000")),
        OfError::TFFC_BAD_LEN,
    );
    case(
        "TABLE_FEATURES property beyond the table",
        mp(18, 12, &table_features(72, "0000 0010 00000000")),
        OfError::TFFC_BAD_LEN,
    );
    case(
        "TABLE_FEATURES instruction id of length 2",
        mp(18, 12, &table_features(72, "0000 0008 0001 0002")),
        OfError::TFFC_BAD_LEN,
    );
    case(
        "TABLE_FEATURES reply cut in a header",
        mp(19, 12, "0040 00"),
        OfError::TFFC_BAD_LEN,
    );

    // ---- match
    case(
        "match type 0 (OFPMT_STANDARD)",
        msg(14, &format!("{FM} 0000000c 80000004 00000001 00000000")),
        OfError::BMC_BAD_TYPE,
    );
    case(
        "PACKET_IN match type 2",
        msg(
            10,
            "ffffffff 0040 00 00 0000000000000000 00020004 00000000 0000",
        ),
        OfError::BMC_BAD_TYPE,
    );
    case(
        "match length 2",
        msg(14, &format!("{FM} 00010002 00000000")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "match length beyond the message",
        msg(14, &format!("{FM} 00010040 80000004 00000001 00000000")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "match padding missing",
        msg(14, &format!("{FM} 0001000c 80000004 00000001")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "IN_PORT of length 3",
        msg(14, &format!("{FM} 0001000b 80000003 000001 0000000000")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "IN_PORT with a mask",
        msg(14, &format!("{FM} 00010010 80000108 00000001 ffffffff")),
        OfError::BMC_BAD_MASK,
    );
    case(
        "masked ETH_DST of length 6",
        msg(14, &format!("{FM} 0001000e 80000706 010203040506 0000")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "experimenter OXM of length 2",
        msg(14, &format!("{FM} 0001000a ffff0002 abcd 000000000000")),
        OfError::BMC_BAD_LEN,
    );
    case(
        "OXM running past the match",
        msg(14, &format!("{FM} 0001000c 80000008 00000001 00000000")),
        OfError::BMC_BAD_LEN,
    );

    // ---- actions
    case(
        "action type 99",
        apply_actions("00630008 00000000"),
        OfError::BAC_BAD_TYPE,
    );
    case(
        "action type 1 (OF1.0 SET_VLAN_VID)",
        apply_actions("00010008 00000000"),
        OfError::BAC_BAD_TYPE,
    );
    case(
        "action of length 12",
        apply_actions("0000000c 00000001 00000000 00000000"),
        OfError::BAC_BAD_LEN,
    );
    case(
        "action of length 0",
        apply_actions("00000000 00000000"),
        OfError::BAC_BAD_LEN,
    );
    case(
        "OUTPUT of length 8",
        apply_actions("00000008 00000001"),
        OfError::BAC_BAD_LEN,
    );
    case(
        "POP_VLAN of length 16",
        apply_actions("00120010 00000000 00000000 00000000"),
        OfError::BAC_BAD_LEN,
    );
    case(
        "action running past its list",
        apply_actions("00000018 00000001 0000 000000000000"),
        OfError::BAC_BAD_LEN,
    );
    case(
        "SET_FIELD with a masked OXM",
        apply_actions("00190010 80000d04 10641fff 00000000"),
        OfError::BAC_BAD_SET_ARGUMENT,
    );
    case(
        "SET_FIELD with VLAN_VID of length 3",
        apply_actions("00190010 80000c03 10640000 00000000"),
        OfError::BAC_BAD_SET_LEN,
    );
    case(
        "PACKET_OUT with action type 99",
        msg(13, "ffffffff fffffffd 0008 000000000000 00630008 00000000"),
        OfError::BAC_BAD_TYPE,
    );

    // ---- instructions
    case(
        "instruction type 9",
        flow_mod("00090008 00000000"),
        OfError::BIC_UNKNOWN_INST,
    );
    case(
        "instruction of length 12",
        flow_mod("0001000c 01000000 00000000"),
        OfError::BIC_BAD_LEN,
    );
    case(
        "GOTO_TABLE of length 16",
        flow_mod("00010010 01000000 00000000 00000000"),
        OfError::BIC_BAD_LEN,
    );
    case(
        "WRITE_METADATA of length 16",
        flow_mod("00020010 00000000 00000000 00000001"),
        OfError::BIC_BAD_LEN,
    );
    case(
        "instruction running past the message",
        flow_mod("00040018 00000000"),
        OfError::BIC_BAD_LEN,
    );
    case(
        "4 bytes after the last instruction",
        flow_mod("00010008 01000000 00050008"),
        OfError::BIC_BAD_LEN,
    );

    // ---- groups
    let gm = "0000 00 00 00000001";
    case(
        "bucket of length 8",
        msg(15, &format!("{gm} 0008 0000 ffffffff")),
        OfError::GMFC_BAD_BUCKET,
    );
    case(
        "bucket of length 20",
        msg(
            15,
            &format!("{gm} 0014 0000 ffffffff ffffffff 00000000 00000000"),
        ),
        OfError::GMFC_BAD_BUCKET,
    );
    case(
        "bucket running past the message",
        msg(15, &format!("{gm} 0020 0000 ffffffff ffffffff 00000000")),
        OfError::GMFC_BAD_BUCKET,
    );
    case(
        "one byte after the last bucket",
        msg(15, &format!("{gm} 00")),
        OfError::GMFC_BAD_BUCKET,
    );
    case(
        "bucket with action type 99",
        msg(
            15,
            &format!("{gm} 0018 0000 ffffffff ffffffff 00000000 00630008 00000000"),
        ),
        OfError::BAC_BAD_TYPE,
    );

    // ---- meters
    let mm = "0000 0001 00000001";
    case(
        "meter band type 3",
        msg(29, &format!("{mm} 0003 0010 00000064 00000000 00000000")),
        OfError::MMFC_BAD_BAND,
    );
    case(
        "meter band of length 8",
        msg(29, &format!("{mm} 0001 0008 00000064")),
        OfError::MMFC_BAD_BAND,
    );
    case(
        "DROP band of length 24",
        msg(
            29,
            &format!("{mm} 0001 0018 00000064 00000000 00000000 00000000 00000000"),
        ),
        OfError::MMFC_BAD_BAND,
    );
    case(
        "meter band running past the message",
        msg(29, &format!("{mm} 0001 0020 00000064 00000000 00000000")),
        OfError::MMFC_BAD_BAND,
    );

    // ---- hello and queues
    case(
        "HELLO element of length 2",
        msg(0, "00010002 00000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "HELLO element running past the message",
        msg(0, "00010010 00000010"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "queue of length 8",
        msg(23, "00000001 00000000 00000001 00000001 0008 000000000000"),
        OfError::BRC_BAD_LEN,
    );
    case(
        "queue property of length 8",
        msg(
            23,
            "00000001 00000000 00000001 00000001 0018 000000000000 0001 0008 00000000",
        ),
        OfError::BRC_BAD_LEN,
    );
    cases
}

#[test]
fn malformed_messages_get_the_right_error() {
    let cases = malformed_cases();
    let mut failures = Vec::new();
    for (name, b, want) in &cases {
        match Message::decode(b) {
            Ok(m) => failures.push(format!("{name}: decoded as {m:?}, wanted {want}")),
            Err(e) if e.error != *want => failures.push(format!(
                "{name}: got {} ({}), wanted {want}",
                e.error, e.what
            )),
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 30, "only {} cases", cases.len());
    println!(
        "{} malformed messages, all with the expected error",
        cases.len()
    );
}

/// The base messages of the table decode: the errors come from the defect
/// each case adds, not from a broken base.
#[test]
fn table_bases_are_valid() {
    for b in [
        flow_mod(""),
        apply_actions("00000010 00000001 0000 000000000000"),
        flow_mod("00010008 01000000"),
        msg(15, "0000 00 00 00000001 0010 0000 ffffffff ffffffff 00000000"),
        msg(29, "0000 0001 00000001 0001 0010 00000064 00000000 00000000"),
        mp(18, 12, &table_features(64, "")),
        mp(18, 12, &table_features(72, "0000 0004 00000000")),
        mp(19, 7, "0018 00 00 00000001 0010 0000 ffffffff ffffffff 00000000"),
        msg(23, "00000001 00000000 00000001 00000001 0020 000000000000 0001 0010 00000000 0064 000000000000"),
        msg(10, &format!("ffffffff 0040 00 00 0000000000000000 {IN_PORT_1} 0000")),
        msg(0, "00010008 00000010"),
    ] {
        if let Err(e) = Message::decode(&b) {
            panic!("base {b:02x?} does not decode: {e}");
        }
    }
}
