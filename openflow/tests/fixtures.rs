//! Byte-exact fixtures: real OpenFlow 1.3 messages captured from Open vSwitch
//! 3.1 (`ovs-vswitchd`, userspace datapath) and `ovs-ofctl` by
//! `scripts/capture-fixtures.sh` (see tests/fixtures/README.md).
//!
//! Every `.hex` file under tests/fixtures/ (recursively) must start with a
//! `# captured: ...` line, decode with [`Message::decode`] and re-encode to
//! exactly the captured bytes; the file name says which message type (and
//! multipart type, error code, reason, ...) it must be. A file the table
//! below does not know fails the test, so a new fixture needs an entry.

use openflow::error::OfError;
use openflow::message::{msg_type, Body, Message};
use openflow::messages::ErrorMsg;
use openflow::multipart::{mp_type, MultipartReplyBody, MORE};
use openflow::types::port_no;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One fixture file: its path relative to tests/fixtures and its messages.
struct Fixture {
    rel: String,
    msgs: Vec<Vec<u8>>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn hex_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            hex_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "hex") {
            out.push(p);
        }
    }
}

fn unhex(s: &str, rel: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "{rel}: odd number of hex digits");
    let digit = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("{rel}: {:?} is not a lowercase hex digit", c as char),
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect()
}

/// Reads a fixture: comment lines start with `#`, the rest is hex (wrapped
/// or not) of one message or, in dump_flows.hex, several back to back.
fn load(path: &Path) -> Fixture {
    let rel = path
        .strip_prefix(fixtures_dir())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/");
    let text = fs::read_to_string(path).unwrap();
    assert!(
        text.starts_with("# captured: "),
        "{rel}: the first line must be `# captured: <how>`"
    );
    let hex: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
        .collect();
    let bytes = unhex(&hex, &rel);
    let mut msgs = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        assert!(
            rest.len() >= 8,
            "{rel}: {} stray bytes at the end",
            rest.len()
        );
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        assert!(
            len >= 8 && len <= rest.len(),
            "{rel}: message length {len} does not fit the {} bytes left",
            rest.len()
        );
        msgs.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    assert!(!msgs.is_empty(), "{rel}: no message");
    Fixture { rel, msgs }
}

fn all_fixtures() -> Vec<Fixture> {
    let mut paths = Vec::new();
    hex_files(&fixtures_dir(), &mut paths);
    paths.sort();
    paths.iter().map(|p| load(p)).collect()
}

/// What a fixture's name says it holds.
#[derive(Debug)]
enum Expect {
    /// A message of this `ofp_type`.
    Type(u8),
    /// A multipart request of this type.
    MpRequest(u16),
    /// A multipart reply of this type.
    MpReply(u16),
    /// An OFPT_ERROR with this type and code.
    Error(OfError),
}

fn expectation(rel: &str) -> Option<Expect> {
    use msg_type as t;
    use Expect::*;
    if rel.starts_with("flows/flow_mod/") {
        return Some(Type(t::FLOW_MOD));
    }
    if rel == "flows/dump_flows.hex" {
        return Some(MpReply(mp_type::FLOW));
    }
    let stem = rel.strip_suffix(".hex")?;
    // table_features_reply.0 .. .N: the parts of one multipart reply
    let stem = match stem.rsplit_once('.') {
        Some((s, n)) if n.bytes().all(|b| b.is_ascii_digit()) => s,
        _ => stem,
    };
    Some(match stem {
        "hello" | "ofctl_hello" => Type(t::HELLO),
        "echo_request" => Type(t::ECHO_REQUEST),
        "echo_reply" => Type(t::ECHO_REPLY),
        "features_reply" => Type(t::FEATURES_REPLY),
        "get_config_request" => Type(t::GET_CONFIG_REQUEST),
        "get_config_reply" => Type(t::GET_CONFIG_REPLY),
        "set_config" => Type(t::SET_CONFIG),
        "packet_in_no_match" | "packet_in_action" => Type(t::PACKET_IN),
        "flow_removed_hard_timeout" | "flow_removed_idle_timeout" | "flow_removed_delete" => {
            Type(t::FLOW_REMOVED)
        }
        "port_status_add" | "port_status_modify" | "port_status_delete" => Type(t::PORT_STATUS),
        "packet_out" => Type(t::PACKET_OUT),
        "flow_mod_add" | "flow_mod_delete" => Type(t::FLOW_MOD),
        "group_mod_all" | "group_mod_select" | "group_mod_indirect" | "group_mod_ff" => {
            Type(t::GROUP_MOD)
        }
        "port_mod" => Type(t::PORT_MOD),
        "barrier_request" => Type(t::BARRIER_REQUEST),
        "barrier_reply" => Type(t::BARRIER_REPLY),
        "queue_get_config_request" => Type(t::QUEUE_GET_CONFIG_REQUEST),
        "queue_get_config_reply" => Type(t::QUEUE_GET_CONFIG_REPLY),
        "role_reply" | "role_reply_master" => Type(t::ROLE_REPLY),
        "get_async_reply" => Type(t::GET_ASYNC_REPLY),
        "meter_mod_kbps" | "meter_mod_pktps_burst" => Type(t::METER_MOD),

        "desc_request" => MpRequest(mp_type::DESC),
        "flow_stats_request" => MpRequest(mp_type::FLOW),
        "aggregate_request" => MpRequest(mp_type::AGGREGATE),
        "table_stats_request" => MpRequest(mp_type::TABLE),
        "port_stats_request" => MpRequest(mp_type::PORT_STATS),
        "queue_stats_request" => MpRequest(mp_type::QUEUE),
        "group_stats_request" => MpRequest(mp_type::GROUP),
        "group_desc_request" => MpRequest(mp_type::GROUP_DESC),
        "group_features_request" => MpRequest(mp_type::GROUP_FEATURES),
        "meter_stats_request" => MpRequest(mp_type::METER),
        "meter_config_request" => MpRequest(mp_type::METER_CONFIG),
        "meter_features_request" => MpRequest(mp_type::METER_FEATURES),
        "table_features_request" => MpRequest(mp_type::TABLE_FEATURES),
        "port_desc_request" => MpRequest(mp_type::PORT_DESC),

        "desc_reply" => MpReply(mp_type::DESC),
        "flow_stats_reply" => MpReply(mp_type::FLOW),
        "aggregate_reply" => MpReply(mp_type::AGGREGATE),
        "table_stats_reply" => MpReply(mp_type::TABLE),
        "port_stats_reply" => MpReply(mp_type::PORT_STATS),
        "queue_stats_reply" => MpReply(mp_type::QUEUE),
        "group_stats_reply" => MpReply(mp_type::GROUP),
        "group_desc_reply" => MpReply(mp_type::GROUP_DESC),
        "group_features_reply" => MpReply(mp_type::GROUP_FEATURES),
        "meter_stats_reply" => MpReply(mp_type::METER),
        "meter_config_reply" => MpReply(mp_type::METER_CONFIG),
        "meter_features_reply" => MpReply(mp_type::METER_FEATURES),
        "table_features_reply" => MpReply(mp_type::TABLE_FEATURES),
        "port_desc_reply" => MpReply(mp_type::PORT_DESC),

        // the exact errors Open vSwitch 3.1 answers with
        "error_bad_type" => Error(OfError::BRC_BAD_TYPE),
        "error_bad_multipart" => Error(OfError::BRC_BAD_MULTIPART),
        "error_bad_len" => Error(OfError::BRC_BAD_LEN),
        "error_flow_mod_bad_table" => Error(OfError::FMFC_BAD_TABLE_ID),
        "error_flow_mod_bad_out_port" => Error(OfError::BAC_BAD_OUT_PORT),
        "error_flow_mod_bad_goto_table" => Error(OfError::BIC_BAD_TABLE_ID),
        "error_flow_mod_unknown_group" => Error(OfError::BAC_BAD_OUT_GROUP),
        "error_group_mod_bad_type" => Error(OfError::GMFC_BAD_TYPE),
        "error_group_exists" => Error(OfError::GMFC_GROUP_EXISTS),
        "error_meter_mod_invalid_meter" => Error(OfError::MMFC_INVALID_METER),
        _ => return None,
    })
}

fn check_expectation(rel: &str, m: &Message, e: &Expect) {
    let t = m.body.msg_type();
    let name = msg_type::name(t);
    match e {
        Expect::Type(want) => assert_eq!(
            t,
            *want,
            "{rel}: is {name}, expected {}",
            msg_type::name(*want)
        ),
        Expect::MpRequest(want) => match &m.body {
            Body::MultipartRequest(r) => assert_eq!(r.mp_type(), *want, "{rel}: multipart type"),
            _ => panic!("{rel}: is {name}, expected a multipart request"),
        },
        Expect::MpReply(want) => match &m.body {
            Body::MultipartReply(r) => assert_eq!(r.mp_type(), *want, "{rel}: multipart type"),
            _ => panic!("{rel}: is {name}, expected a multipart reply"),
        },
        Expect::Error(want) => match &m.body {
            Body::Error(ErrorMsg::Standard { error, data }) => {
                assert_eq!(error, want, "{rel}: error type/code");
                // OVS echoes (the start of) the offending request
                assert!(data.len() >= 8, "{rel}: error data too short");
            }
            _ => panic!("{rel}: is {name} {:?}, expected an error", m.body),
        },
    }
}

/// The heart of it: decode, re-encode, compare bytes; check the name's type.
#[test]
fn every_fixture_round_trips_byte_exact() {
    let fixtures = all_fixtures();
    let mut failures = Vec::new();
    for f in &fixtures {
        let Some(expect) = expectation(&f.rel) else {
            failures.push(format!(
                "{}: unknown fixture name, add it to expectation()",
                f.rel
            ));
            continue;
        };
        if f.rel != "flows/dump_flows.hex" && f.msgs.len() != 1 {
            failures.push(format!(
                "{}: {} messages, expected one",
                f.rel,
                f.msgs.len()
            ));
        }
        for (i, raw) in f.msgs.iter().enumerate() {
            let m = match Message::decode(raw) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{} #{i}: decode failed: {e:?}", f.rel));
                    continue;
                }
            };
            let again = m.to_bytes();
            if &again != raw {
                let at = again
                    .iter()
                    .zip(raw.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(again.len().min(raw.len()));
                failures.push(format!(
                    "{} #{i}: re-encoding differs at byte {at} (captured {} bytes, re-encoded {})\n  captured:   {}\n  re-encoded: {}",
                    f.rel,
                    raw.len(),
                    again.len(),
                    hex_around(raw, at),
                    hex_around(&again, at)
                ));
                continue;
            }
            assert_eq!(Message::decode(&again).as_ref(), Ok(&m), "{}", f.rel);
            check_expectation(&f.rel, &m, &expect);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixture files failed:\n{}",
        failures.len(),
        fixtures.len(),
        failures.join("\n")
    );
}

fn hex_around(b: &[u8], at: usize) -> String {
    let from = at.saturating_sub(8);
    let to = (at + 24).min(b.len());
    let h: String = b[from..to].iter().map(|x| format!("{x:02x}")).collect();
    format!("[{from}..{to}] {h}")
}

/// A lost or emptied directory must not pass silently.
#[test]
fn fixture_counts() {
    let fixtures = all_fixtures();
    let (flow_mods, others): (Vec<_>, Vec<_>) = fixtures
        .iter()
        .partition(|f| f.rel.starts_with("flows/flow_mod/"));
    assert!(
        others.len() >= 25,
        "only {} fixture files outside flows/flow_mod",
        others.len()
    );
    let kinds: BTreeSet<u8> = others.iter().map(|f| f.msgs[0][1]).collect();
    assert!(kinds.len() >= 20, "only {} message types", kinds.len());

    // flows/flow_mod/NNN.hex: one per line of flows.txt, numbered from 1
    let flows = fs::read_to_string(fixtures_dir().join("flows/flows.txt")).unwrap();
    let n = flows.lines().count();
    assert!(n >= 40, "flows.txt has only {n} flows");
    let names: BTreeSet<String> = flow_mods.iter().map(|f| f.rel.clone()).collect();
    let want: BTreeSet<String> = (1..=n)
        .map(|i| format!("flows/flow_mod/{i:03}.hex"))
        .collect();
    assert_eq!(names, want, "flow_mod files and flows.txt lines differ");
}

fn fixture(rel: &str) -> Vec<Message> {
    load(&fixtures_dir().join(rel))
        .msgs
        .iter()
        .map(|b| Message::decode(b).unwrap_or_else(|e| panic!("{rel}: {e:?}")))
        .collect()
}

fn one(rel: &str) -> Body {
    let mut v = fixture(rel);
    assert_eq!(v.len(), 1, "{rel}");
    v.remove(0).body
}

/// The parts of the TABLE_FEATURES reply: all but the last say REPLY_MORE,
/// together they describe each of OVS's tables once.
#[test]
fn table_features_parts() {
    let mut parts = Vec::new();
    for i in 0.. {
        let rel = format!("table_features_reply.{i}.hex");
        if !fixtures_dir().join(&rel).exists() {
            break;
        }
        parts.push(one(&rel));
    }
    assert!(parts.len() >= 2, "expected a reply in several parts");
    let mut tables = Vec::new();
    let last = parts.len() - 1;
    for (i, p) in parts.iter().enumerate() {
        let Body::MultipartReply(r) = p else {
            panic!("part {i} is not a multipart reply")
        };
        assert_eq!(r.flags & MORE != 0, i != last, "REPLY_MORE of part {i}");
        let MultipartReplyBody::TableFeatures(v) = &r.body else {
            panic!("part {i}")
        };
        tables.extend(v.iter().map(|t| t.table_id));
    }
    let want: Vec<u8> = (0..tables.len() as u8).collect();
    assert_eq!(tables, want, "table ids over all parts");
}

#[test]
fn async_messages_carry_what_was_done() {
    for (rel, reason) in [("packet_in_no_match.hex", 0), ("packet_in_action.hex", 1)] {
        let Body::PacketIn(p) = one(rel) else {
            panic!("{rel}")
        };
        assert_eq!(p.reason, reason, "{rel}");
    }
    let Body::PacketIn(p) = one("packet_in_action.hex") else {
        unreachable!()
    };
    // OVS buffers no packets, so despite CONTROLLER:64 it sends the whole
    // frame (an ICMP echo of ping: 98 bytes) with buffer_id NO_BUFFER
    assert_eq!(p.buffer_id, openflow::types::NO_BUFFER);
    assert_eq!(p.data.len(), 98);
    assert_eq!(usize::from(p.total_len), p.data.len());
    for (rel, reason) in [
        ("flow_removed_idle_timeout.hex", 0),
        ("flow_removed_hard_timeout.hex", 1),
        ("flow_removed_delete.hex", 2),
    ] {
        let Body::FlowRemoved(f) = one(rel) else {
            panic!("{rel}")
        };
        assert_eq!(f.reason, reason, "{rel}");
    }
    for (rel, reason) in [
        ("port_status_add.hex", 0),
        ("port_status_delete.hex", 1),
        ("port_status_modify.hex", 2),
    ] {
        let Body::PortStatus(s) = one(rel) else {
            panic!("{rel}")
        };
        assert_eq!(s.reason, reason, "{rel}");
        assert_eq!(s.desc.port_no, 3, "{rel}");
    }
    let Body::MultipartReply(r) = one("port_desc_reply.hex") else {
        panic!("port_desc_reply")
    };
    let MultipartReplyBody::PortDesc(ports) = r.body else {
        panic!("port_desc_reply")
    };
    let nos: BTreeSet<u32> = ports.iter().map(|p| p.port_no).collect();
    assert_eq!(nos, BTreeSet::from([1, 2, port_no::LOCAL]));
}

/// dump_flows.hex and dump_flows.txt come from the same ovs-ofctl call: one
/// printed line per flow entry, after the header line.
#[test]
fn dump_flows_matches_its_text() {
    let text = fs::read_to_string(fixtures_dir().join("flows/dump_flows.txt")).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("OFPST_FLOW reply (OF1.3)"),
        "dump_flows.txt header"
    );
    let printed = lines.count();
    let msgs = fixture("flows/dump_flows.hex");
    let last = msgs.len() - 1;
    let mut entries = 0;
    for (i, m) in msgs.iter().enumerate() {
        let Body::MultipartReply(r) = &m.body else {
            panic!("dump_flows #{i}")
        };
        assert_eq!(r.flags & MORE != 0, i != last, "REPLY_MORE of #{i}");
        let MultipartReplyBody::Flow(v) = &r.body else {
            panic!("dump_flows #{i}")
        };
        entries += v.len();
    }
    assert_eq!(entries, printed);
    let flows = fs::read_to_string(fixtures_dir().join("flows/flows.txt")).unwrap();
    assert!(
        entries >= flows.lines().count(),
        "every flow of flows.txt is installed"
    );
}

fn raw_parts_of_actions(actions: &[openflow::Action], raw: &mut Vec<&'static str>) {
    use openflow::{Action, Oxm};
    for a in actions {
        match a {
            Action::Experimenter { .. } => raw.push("experimenter action"),
            Action::SetField(Oxm::Other(_)) => raw.push("non-basic set_field"),
            _ => {}
        }
    }
}

/// The FLOW_MODs ovs-ofctl sends decode into typed fields, actions and
/// instructions: only what OpenFlow 1.3 has no standard form for stays raw:
/// `controller(reason=...)` (a Nicira experimenter action) and `tcp_flags`
/// (an ONF experimenter OXM in 1.3). OVS sends tun_id as the basic TUNNEL_ID.
#[test]
fn flow_mods_decode_into_typed_parts() {
    use openflow::{Instruction, Oxm};
    let flows = fs::read_to_string(fixtures_dir().join("flows/flows.txt")).unwrap();
    for (i, line) in flows.lines().enumerate() {
        let rel = format!("flows/flow_mod/{:03}.hex", i + 1);
        let Body::FlowMod(fm) = one(&rel) else {
            panic!("{rel}: not a FLOW_MOD")
        };
        let mut raw = Vec::new();
        for f in &fm.match_.fields {
            if let Oxm::Other(_) = f {
                raw.push("non-basic match field");
            }
        }
        for ins in &fm.instructions {
            match ins {
                Instruction::ApplyActions(a) | Instruction::WriteActions(a) => {
                    raw_parts_of_actions(a, &mut raw)
                }
                Instruction::Experimenter { .. } => raw.push("experimenter instruction"),
                _ => {}
            }
        }
        let expected_raw = line.contains("controller(") || line.contains("tcp_flags");
        assert_eq!(
            !raw.is_empty(),
            expected_raw,
            "{rel} ({line}): raw parts {raw:?}"
        );
        // the flow's table and priority made it through
        let table: u8 = line
            .strip_prefix("table=")
            .and_then(|s| s.split(',').next())
            .map_or(0, |t| t.parse().unwrap());
        assert_eq!(fm.table_id, table, "{rel}");
        let prio = line.split("priority=").nth(1).unwrap().split(',').next();
        assert_eq!(fm.priority.to_string(), prio.unwrap(), "{rel}");
    }
}
