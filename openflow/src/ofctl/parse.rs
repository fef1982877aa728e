//! Parsing the text `ovs-ofctl -O OpenFlow13` accepts for `add-flow`,
//! `mod-flows`, `del-flows`, `add-group`/`mod-group`/`del-groups` and
//! `add-meter`/`mod-meter`/`del-meter` into the message Open vSwitch (3.1)
//! sends for it, byte for byte.
//!
//! Entry points: [`parse_flow_mod`], [`parse_match`], [`parse_actions`],
//! [`parse_instructions`], [`parse_group_mod`] and [`parse_meter_mod`]. Every
//! failure is a [`ParseError`] whose one-line message names the problem and
//! the offending token. No input panics.
//!
//! Why it is built the way it is:
//!
//! - OVS does not turn text into OXMs one field at a time. It fills a
//!   `struct match` (flow values plus wildcard masks) in which several names
//!   share storage (`tp_src` is also `udp_src` and `icmp_type`; `dl_vlan`,
//!   `dl_vlan_pcp`, `vlan_vid` and `vlan_tci` are one 16-bit TCI; `nw_tos`,
//!   `ip_dscp` and `nw_ecn` are one TOS byte), and then writes OXMs in one
//!   fixed order (`nx_put_raw`). `FlowState` is that structure for the
//!   fields supported here and `FlowState::to_match` is that order, so a
//!   flow whose fields were written in any order encodes as OVS encodes it.
//! - Actions go through an intermediate list (`Act`, OVS's "ofpacts")
//!   because OVS picks the OpenFlow 1.3 encoding of some actions only after
//!   checking them against the match: `mod_vlan_vid` pushes a tag only when
//!   the match has none, `mod_tp_src` becomes a TCP, UDP or SCTP set_field by
//!   the match's protocol, a masked `set_field` becomes Nicira `reg_load`s.
//! - Where OVS quietly does something surprising with a bad input (drops a
//!   match field whose prerequisite is missing, truncates `dl_vlan=5000` to
//!   904, sends a `set_field` it cannot decode itself, refuses with only "no
//!   usable protocol"), this parser returns an error that says what to add or
//!   change instead. `tests/ofctl_parse.rs` lists such inputs (`BAD`).
//!
//! Accepted beyond OVS (no OVS bytes to compare; encoded per the spec): the
//! OpenFlow names OVS lacks (`ipv4_src`, `ipv4_dst`, `icmpv4_type`,
//! `icmpv4_code`, `ipv6_flabel`, `ipv6_nd_target`, `ipv6_nd_sll`,
//! `ipv6_nd_tll`), the fields `in_phy_port`, `pbb_isid` and `ipv6_exthdr`,
//! and the actions `copy_ttl_in` and `copy_ttl_out`.
//!
//! Not supported (an error, never a wrong message): Nicira-only actions
//! (`resubmit`, `learn`, `ct`, `move`, `load`, `note`, `output(port=..,
//! max_len=..)`, `controller(userdata=..|pause|meter_id=..)`, ...), NXM-only
//! match fields other than `nw_ttl`, `mpls_ttl`, `nw_frag`, `tcp_flags` and
//! `reg0`..`reg15` (`ct_*`, `tun_src`, `pkt_mark`, `xreg*`, ...), subfield
//! matches (`reg0[0..3]=1`), port names from a switch's port map, and
//! OpenFlow 1.5 group properties (`selection_method`, `bucket_id`). Table
//! names (`table=eth_src`, `goto_table:flood`) parse where the caller has
//! the switch's table names ([`parse_flow_mod_with`]).

use crate::action::Action;
use crate::group::{self, Bucket, GroupMod};
use crate::instruction::Instruction;
use crate::messages::{flow_mod_command, flow_mod_flags, FlowMod};
use crate::meter::{self, MeterBand, MeterMod};
use crate::ofctl::names::{NameMap, Names};
use crate::oxm::{Match, Oxm, RawOxm, OFPXMC_EXPERIMENTER, OFPXMC_NXM_0, OFPXMC_NXM_1, U24};
use crate::types::{group_no, meter_no, port_no, MacAddr};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Why a text could not be parsed: one line naming the problem and the
/// offending token, e.g. `unknown field 'foo'`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    /// A table was named (not numbered) and the name is not in the table
    /// map given (or none was): a caller that has not asked the switch for
    /// its table names yet may do so and parse again.
    unknown_table: bool,
    /// The same for a port name.
    unknown_port: bool,
}

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
            unknown_table: false,
            unknown_port: false,
        }
    }

    /// `unknown table "NAME"`, as ovs-ofctl words it.
    fn unknown_table(name: &str) -> Self {
        ParseError {
            message: format!("unknown table \"{name}\""),
            unknown_table: true,
            unknown_port: false,
        }
    }

    /// `unknown port "NAME" in WHAT`: a port named, not numbered, and not
    /// in the port map given (or none was).
    fn unknown_port(name: &str, what: &str) -> Self {
        ParseError {
            message: format!("unknown port \"{name}\" in {what}"),
            unknown_table: false,
            unknown_port: true,
        }
    }

    /// Whether parsing failed on a table name the map did not have.
    pub fn is_unknown_table(&self) -> bool {
        self.unknown_table
    }

    /// Whether parsing failed on a port or table name the maps did not
    /// have: a caller that has not asked the switch for its names may do
    /// so and parse again.
    pub fn is_unknown_name(&self) -> bool {
        self.unknown_table || self.unknown_port
    }
}

type Result<T> = std::result::Result<T, ParseError>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(ParseError::new(message))
}

/// Nicira's experimenter id (NX actions and NXM fields).
const NX_VENDOR_ID: u32 = 0x0000_2320;
/// The ONF experimenter id, used by the OpenFlow 1.3 `tcp_flags` OXM.
const ONF_VENDOR_ID: u32 = 0x4f4e_4600;
/// OpenFlow 1.0-style port numbers OVS uses inside, and their 1.1+ offset.
const OFPP_MAX16: u32 = 0xff00;
const OFPP11_OFFSET: u32 = 0xffff_0000;
const OFPP_CONTROLLER16: u16 = 0xfffd;
const OFPP_ANY16: u16 = 0xffff;

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// Parses a flow as `ovs-ofctl -O OpenFlow13 add-flow` (`command` ADD),
/// `mod-flows` (MODIFY), `mod-flows --strict` (MODIFY_STRICT), `del-flows`
/// (DELETE) or `del-flows --strict` (DELETE_STRICT) does, into the FLOW_MOD
/// it sends.
///
/// As in OVS: ADD and MODIFY need `actions=`; DELETE takes none. `cookie=V`
/// sets the cookie of an ADD; MODIFY and DELETE match with `cookie=V/M`
/// (a MODIFY's plain `cookie=V` is dropped in OpenFlow 1.3, exactly as OVS
/// drops it). `out_port=`/`out_group=` only filter deletes; `priority=` only
/// applies to the strict deletes. ADD and MODIFY default to table 0, DELETE
/// to all tables.
pub fn parse_flow_mod(text: &str, command: u8) -> Result<FlowMod> {
    parse_flow_mod_with(text, command, None)
}

/// [`parse_flow_mod`] where tables may also be given by the names in
/// `tables` (`table=eth_src`, `goto_table:"eth_dst"`), as ovs-ofctl takes
/// them from the switch's TABLE_FEATURES. A name that is not in `tables`
/// (or any name, without `tables`) fails with `unknown table "NAME"` and
/// [`ParseError::is_unknown_table`].
pub fn parse_flow_mod_with(text: &str, command: u8, names: Option<&Names>) -> Result<FlowMod> {
    FlowModParser::new(command, names)?.parse(text)
}

/// Parses the match part of a flow (fields and protocol shorthands such as
/// `tcp`, no flow-mod keywords) into the OXMs OVS would encode, in OVS's
/// order, after checking every field's prerequisites.
pub fn parse_match(text: &str) -> Result<Match> {
    let mut state = FlowState::default();
    for (key, value) in KeyValues::new(text) {
        if !state.parse_pair(key, value)? {
            return fail(format!("unknown field '{key}'"));
        }
    }
    state.check_prereqs()?;
    Ok(state.to_match())
}

/// Parses an action list with no match to check it against, as OVS does for
/// group buckets: `mod_vlan_vid` always pushes a tag first and `set_field`
/// prerequisites are not checked. Instructions (`meter`, `goto_table`, ...)
/// are allowed; the result is the instruction list (the actions inside one
/// APPLY_ACTIONS). `mod_tp_src`/`mod_tp_dst` need a match to pick TCP, UDP or
/// SCTP and are refused here.
pub fn parse_actions(text: &str) -> Result<Vec<Instruction>> {
    let acts = parse_act_list(text, true, 0, None)?;
    encode_instructions(&acts)
}

/// Parses `text` as the `actions=` of a flow whose match is `m`, with the
/// checks OVS makes against the match (e.g. `strip_vlan` needs a VLAN,
/// `set_field:1.2.3.4->ip_src` needs `ip`).
pub fn parse_instructions(text: &str, m: &Match) -> Result<Vec<Instruction>> {
    let mut acts = parse_act_list(text, true, 0, None)?;
    let mut ctx = Ctx::from_match(m);
    check_acts(&mut acts, &mut ctx, None, true)?;
    encode_instructions(&acts)
}

/// Parses a group as `ovs-ofctl -O OpenFlow13 add-group` (`command` ADD),
/// `mod-group` (MODIFY) or `del-groups` (DELETE) does, e.g.
/// `group_id=1,type=select,bucket=weight:10,actions=output:1,bucket=output:2`.
/// An empty DELETE deletes all groups.
pub fn parse_group_mod(text: &str, command: u16) -> Result<GroupMod> {
    group_mod(text, command, None)
}

/// [`parse_group_mod`] where buckets may name the switch's ports
/// (`watch_port:p1`, `output:p2`), as ovs-ofctl takes them; a name not in
/// `names` fails marked ([`ParseError::is_unknown_name`]).
pub fn parse_group_mod_with(text: &str, command: u16, names: Option<&Names>) -> Result<GroupMod> {
    group_mod(text, command, names)
}

/// Parses a meter as `ovs-ofctl -O OpenFlow13 add-meter` (`command` ADD),
/// `mod-meter` (MODIFY) or `del-meter` (DELETE) does, e.g.
/// `meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100`.
/// An empty DELETE (`del-meters`) deletes all meters.
pub fn parse_meter_mod(text: &str, command: u16) -> Result<MeterMod> {
    meter_mod(text, command)
}

// ---------------------------------------------------------------------------
// Lexing: key-value pairs and C-style numbers
// ---------------------------------------------------------------------------

const PAIR_SEPS: &[u8] = b", \t\r\n";

/// Splits `key=value`, `key:value`, `key(value)` and bare `key` items the way
/// OVS's `ofputil_parse_key_value` does: commas and white space separate
/// items, parentheses nest, and `(x)->y` stays one value.
struct KeyValues<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> KeyValues<'a> {
    fn new(s: &'a str) -> Self {
        KeyValues { s, pos: 0 }
    }
}

/// Length of a value up to one of `delims`, skipping balanced parentheses.
fn value_len(s: &[u8], delims: &[u8]) -> usize {
    let mut n = 0;
    while let Some(&c) = s.get(n) {
        if delims.contains(&c) {
            break;
        }
        if c != b'(' {
            n += 1;
            continue;
        }
        let mut level = 0i32;
        loop {
            match s.get(n) {
                None => return n,
                Some(b'(') => level += 1,
                Some(b')') => level -= 1,
                Some(_) => {}
            }
            n += 1;
            if level <= 0 {
                break;
            }
        }
    }
    n
}

impl<'a> Iterator for KeyValues<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        while b.get(self.pos).is_some_and(|c| PAIR_SEPS.contains(c)) {
            self.pos += 1;
        }
        if self.pos >= b.len() {
            return None;
        }
        let kstart = self.pos;
        let klen = b[kstart..]
            .iter()
            .position(|c| b":=(, \t\r\n".contains(c))
            .unwrap_or(b.len() - kstart);
        let kend = kstart + klen;
        let key = self.s.get(kstart..kend)?;
        let delim = b.get(kend).copied();
        self.pos = kend + usize::from(delim.is_some());
        let delims: &[u8] = match delim {
            Some(b':' | b'=') => PAIR_SEPS,
            Some(b'(') => b")",
            _ => return Some((key, "")),
        };
        let vstart = self.pos;
        let rest = b.get(vstart..).unwrap_or_default();
        let mut vlen = value_len(rest, delims);
        if delim == Some(b'(') && rest.get(vlen..vlen + 3) == Some(b")->".as_slice()) {
            vlen += value_len(rest.get(vlen..).unwrap_or_default(), PAIR_SEPS);
        }
        let vend = vstart + vlen;
        self.pos = vend + usize::from(vend < b.len());
        Some((key, self.s.get(vstart..vend)?))
    }
}

/// C's `strtoull(s, &end, 0)`: optional white space and sign, then hex
/// (`0x`), octal (leading `0`) or decimal digits. Returns the value (negative
/// numbers wrap, overflow saturates), the unparsed rest and whether it
/// overflowed; `None` if there are no digits at all.
fn strtoull(s: &str) -> Option<(u64, &str, bool)> {
    let (neg, mag, rest, overflow) = strtoull_parts(s)?;
    let v = if overflow {
        u64::MAX
    } else if neg {
        mag.wrapping_neg()
    } else {
        mag
    };
    Some((v, rest, overflow))
}

/// The parts of a C integer: sign, magnitude, rest, overflow.
fn strtoull_parts(s: &str) -> Option<(bool, u64, &str, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
        i += 1;
    }
    let neg = b.get(i) == Some(&b'-');
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let hex = b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
    let (radix, start) = match (hex, b.get(i)) {
        (true, _) => (16, i + 2),
        (false, Some(b'0')) => (8, i),
        _ => (10, i),
    };
    let mut j = start;
    let mut mag: u64 = 0;
    let mut overflow = false;
    while let Some(d) = b.get(j).and_then(|&c| char::from(c).to_digit(radix)) {
        match mag
            .checked_mul(u64::from(radix))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(x) => mag = x,
            None => overflow = true,
        }
        j += 1;
    }
    if j == start {
        return None;
    }
    Some((neg, mag, s.get(j..)?, overflow))
}

/// OVS `str_to_int(s, 0, ..)` limited to `0..=max`: the whole string must be
/// one C integer. Used for priorities, timeouts and small action arguments.
fn c_uint(s: &str, max: u64) -> Option<u64> {
    let (neg, mag, rest, overflow) = strtoull_parts(s)?;
    if !rest.is_empty() || overflow || (neg && mag != 0) || mag > max {
        return None;
    }
    Some(mag)
}

/// Parses a whole-string unsigned integer for `what`, with a range error
/// that names the range.
fn uint_arg(s: &str, what: &str, max: u64) -> Result<u64> {
    match c_uint(s, u64::MAX) {
        Some(v) if v <= max => Ok(v),
        Some(_) => fail(format!("{what} {s} out of range 0..{max}")),
        None => fail(format!("bad {what} '{s}': expected a number")),
    }
}

/// OVS `str_to_u64`: `strtoull` over the whole string, so `-1` is all ones.
fn u64_arg(s: &str, what: &str) -> Result<u64> {
    match strtoull(s) {
        Some((v, "", false)) => Ok(v),
        Some((_, "", true)) => fail(format!("{what} {s} out of range for 64 bits")),
        _ => fail(format!("bad {what} '{s}': expected a number")),
    }
}

/// A plain decimal number (OVS `str_to_uint(s, 10, ..)`), as used for port,
/// table and group numbers.
fn decimal_u32(s: &str) -> Option<u32> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u32>().ok()
}

/// Why an integer field value did not parse.
enum IntError {
    Syntax,
    Range,
}

/// OVS `parse_int_string` for a field `width` bytes wide: `0x` hex of any
/// length that fits, otherwise a C integer. Returns the value and the rest.
fn int_prefix(s: &str, width: usize) -> std::result::Result<(u128, &str), IntError> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        let b = hex.as_bytes();
        let mut v: u128 = 0;
        let mut digits = 0usize;
        let mut i = 0;
        while let Some(d) = b.get(i).and_then(|&c| char::from(c).to_digit(16)) {
            if d != 0 || digits > 0 {
                digits += 1;
                if digits.div_ceil(2) > width {
                    return Err(IntError::Range);
                }
                v = (v << 4) | u128::from(d);
            }
            i += 1;
        }
        return Ok((v, hex.get(i..).ok_or(IntError::Syntax)?));
    }
    let (v, rest, overflow) = strtoull(s).ok_or(IntError::Syntax)?;
    if overflow || (width < 8 && v >> (8 * width) != 0) {
        return Err(IntError::Range);
    }
    Ok((u128::from(v), rest))
}

/// All ones in the low `bits` bits.
fn ones(bits: u32) -> u128 {
    if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

// ---------------------------------------------------------------------------
// Addresses and ports
// ---------------------------------------------------------------------------

/// `xx:xx:xx:xx:xx:xx` with one or two hex digits per byte.
fn parse_mac(s: &str) -> Option<u64> {
    let mut v: u64 = 0;
    let mut n = 0;
    for part in s.split(':') {
        if part.is_empty() || part.len() > 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        v = (v << 8) | u64::from_str_radix(part, 16).ok()?;
        n += 1;
    }
    (n == 6).then_some(v)
}

/// A dotted quad with decimal parts 0..=255.
fn parse_ipv4(s: &str) -> Option<u32> {
    let mut v: u32 = 0;
    let mut n = 0;
    for part in s.split('.') {
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        v = (v << 8) | u32::from(part.parse::<u8>().ok()?);
        n += 1;
    }
    (n == 4).then_some(v)
}

/// `IP`, `IP/prefix` or `IP/mask` (OVS `ip_parse_masked`).
fn parse_ipv4_masked(s: &str, field: &str) -> Result<(u32, u32)> {
    let bad = || fail(format!("bad IPv4 address '{s}' in {field}"));
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let Some(ip) = parse_ipv4(addr) else {
        return bad();
    };
    let mask = match mask {
        None => u32::MAX,
        Some(m) => match parse_ipv4(m) {
            Some(m) => m,
            None => match m.parse::<i64>() {
                Ok(p @ 0..=32) => prefix_mask32(p as u32),
                Ok(_) => return fail(format!("prefix length in '{s}' out of range 0..32")),
                Err(_) => return bad(),
            },
        },
    };
    Ok((ip, mask))
}

fn prefix_mask32(bits: u32) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    }
}

fn parse_ipv6(s: &str) -> Option<u128> {
    if s.is_empty()
        || s.len() > 46
        || !s
            .bytes()
            .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
    {
        return None;
    }
    s.parse::<Ipv6Addr>().ok().map(u128::from)
}

/// `IPv6`, `IPv6/prefix` or `IPv6/mask` (OVS `ipv6_parse_masked`).
fn parse_ipv6_masked(s: &str, field: &str) -> Result<(u128, u128)> {
    let bad = || fail(format!("bad IPv6 address '{s}' in {field}"));
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let Some(ip) = parse_ipv6(addr) else {
        return bad();
    };
    let mask = match mask {
        None => u128::MAX,
        Some(m) => match m.parse::<i64>() {
            Ok(p @ 0..=128) => {
                if p == 0 {
                    0
                } else {
                    u128::MAX << (128 - p)
                }
            }
            Ok(_) => return fail(format!("prefix length in '{s}' out of range 0..128")),
            Err(_) => match parse_ipv6(m) {
                Some(m) => m,
                None => return bad(),
            },
        },
    };
    Ok((ip, mask))
}

/// The reserved port names OVS accepts (any case), as 16-bit port numbers.
const PORT_NAMES: &[(&str, u16)] = &[
    ("IN_PORT", 0xfff8),
    ("TABLE", 0xfff9),
    ("NORMAL", 0xfffa),
    ("FLOOD", 0xfffb),
    ("ALL", 0xfffc),
    ("CONTROLLER", 0xfffd),
    ("LOCAL", 0xfffe),
    ("ANY", 0xffff),
    ("UNSET", 0xfff7),
    ("NONE", 0xffff),
];

/// A port as OVS's `ofputil_port_from_string`: a decimal number below 65536,
/// a 32-bit OpenFlow 1.1 reserved number (0xffffff00 and up) or a reserved
/// name. The result is OVS's internal 16-bit port number.
fn parse_port(s: &str) -> Option<u16> {
    if s.starts_with('-') {
        return None;
    }
    if let Some(n) = decimal_u32(s) {
        return match n {
            0..=0xffff => u16::try_from(n).ok(),
            0xffff_ff00.. => u16::try_from(n - OFPP11_OFFSET).ok(),
            _ => None,
        };
    }
    PORT_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(s))
        .map(|&(_, p)| p)
}

/// OVS `ofputil_port_to_ofp11`: reserved 16-bit ports map to 0xffffffxx.
fn port_to_ofp11(p: u16) -> u32 {
    let p = u32::from(p);
    if p < OFPP_MAX16 {
        p
    } else {
        p + OFPP11_OFFSET
    }
}

/// A port argument: a number or reserved name ([`parse_port`]), or the
/// name of one of the switch's ports in `ports` (OVS's 16-bit numbers).
/// A name not in `ports` (or any name, without `ports`) is marked as such
/// ([`ParseError::is_unknown_name`]).
fn port_arg(s: &str, what: &str, ports: Option<&NameMap>) -> Result<u16> {
    if let Some(p) = parse_port(s) {
        return Ok(p);
    }
    if let Some(p) = ports
        .and_then(|m| m.lookup(s))
        .and_then(|n| u16::try_from(n).ok())
    {
        return Ok(p);
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
        return fail(format!("bad port '{s}' in {what}"));
    }
    Err(ParseError::unknown_port(s, what))
}

/// OVS `ofpact_check_output_port`: reserved ports that make sense as an
/// output, or a physical port.
fn valid_output_port(p: u16) -> bool {
    matches!(p, 0xfff8..=0xfffe) || u32::from(p) < OFPP_MAX16
}

// ---------------------------------------------------------------------------
// Match fields
// ---------------------------------------------------------------------------

/// A match field as OVS stores it; names map here through [`FIELDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fid {
    InPort,
    InPhyPort,
    EthSrc,
    EthDst,
    EthType,
    VlanTci,
    DlVlan,
    VlanVid,
    VlanPcp,
    MplsLabel,
    MplsTc,
    MplsBos,
    MplsTtl,
    Ipv4Src,
    Ipv4Dst,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    IpProto,
    NwTos,
    IpDscp,
    IpEcn,
    IpTtl,
    IpFrag,
    ArpOp,
    ArpSpa,
    ArpTpa,
    ArpSha,
    ArpTha,
    TcpSrc,
    TcpDst,
    TcpFlags,
    UdpSrc,
    UdpDst,
    SctpSrc,
    SctpDst,
    Icmp4Type,
    Icmp4Code,
    Icmp6Type,
    Icmp6Code,
    NdTarget,
    NdSll,
    NdTll,
    TunId,
    Metadata,
    Reg(u8),
    PbbIsid,
    Ipv6Exthdr,
}

/// What a field needs elsewhere in the match (OVS `mf_prereqs`, with the
/// shared-storage aliases `tp_src` and `icmp_type` accepting every protocol
/// OVS encodes them for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pre {
    None,
    /// Any Ethernet packet: no requirement on the rest of the match.
    Eth,
    Vlan,
    Mpls,
    Ipv4,
    /// `nw_src`/`nw_dst`: IPv4, or ARP where they are the SPA/TPA.
    Ipv4Arp,
    Ipv6,
    IpAny,
    /// `nw_proto`: IP, or ARP where it is the opcode.
    IpArp,
    Arp,
    Tcp,
    Udp,
    Sctp,
    /// `tp_src`/`tp_dst`: TCP, UDP, SCTP, ICMP or ICMPv6.
    L4,
    Icmp4,
    Icmp6,
    /// `icmp_type`/`icmp_code`: ICMP or ICMPv6.
    IcmpAny,
    Nd,
    NdSolicit,
    NdAdvert,
    InPort,
    Pbb,
}

impl Pre {
    /// What is missing, and a fix, for an error message.
    fn explain(self) -> (&'static str, &'static str) {
        match self {
            Pre::None | Pre::Eth => ("nothing", ""),
            Pre::Vlan => ("a VLAN tag", "dl_vlan=N,"),
            Pre::Mpls => ("mpls", "mpls,"),
            Pre::Ipv4 => ("ip", "ip,"),
            Pre::Ipv4Arp => ("ip or arp", "ip,"),
            Pre::IpArp => ("ip, ipv6 or arp", "ip,"),
            Pre::Ipv6 => ("ipv6", "ipv6,"),
            Pre::IpAny => ("ip or ipv6", "ip,"),
            Pre::Arp => ("arp or rarp", "arp,"),
            Pre::Tcp => ("tcp", "tcp,"),
            Pre::Udp => ("udp", "udp,"),
            Pre::Sctp => ("sctp", "sctp,"),
            Pre::L4 => ("tcp, udp or sctp", "tcp,"),
            Pre::Icmp4 => ("icmp", "icmp,"),
            Pre::Icmp6 => ("icmp6", "icmp6,"),
            Pre::IcmpAny => ("icmp or icmp6", "icmp,"),
            Pre::Nd => (
                "icmp6 with icmp_type 135 or 136 and icmp_code 0",
                "icmp6,icmp_type=135,",
            ),
            Pre::NdSolicit => (
                "icmp6 with icmp_type 135 and icmp_code 0",
                "icmp6,icmp_type=135,",
            ),
            Pre::NdAdvert => (
                "icmp6 with icmp_type 136 and icmp_code 0",
                "icmp6,icmp_type=136,",
            ),
            Pre::InPort => ("in_port", "in_port=N,"),
            Pre::Pbb => ("dl_type=0x88e7", "dl_type=0x88e7,"),
        }
    }
}

struct FieldDef {
    name: &'static str,
    fid: Fid,
    pre: Pre,
    /// Whether `set_field` may write it (OVS `mf->writable`, minus the
    /// fields OVS cannot encode in an OpenFlow 1.3 set_field).
    settable: bool,
}

const fn fd(name: &'static str, fid: Fid, pre: Pre, settable: bool) -> FieldDef {
    FieldDef {
        name,
        fid,
        pre,
        settable,
    }
}

/// Every field name accepted: OVS's names and aliases, then the OpenFlow
/// spec names OVS does not know (`ipv4_src`, `icmpv4_type`, `ipv6_flabel`,
/// `ipv6_nd_*`, `in_phy_port`, `pbb_isid`, `ipv6_exthdr`), accepted here as
/// extensions.
const FIELDS: &[FieldDef] = &[
    fd("in_port", Fid::InPort, Pre::None, true),
    fd("in_port_oxm", Fid::InPort, Pre::None, false),
    fd("in_phy_port", Fid::InPhyPort, Pre::InPort, false),
    fd("eth_src", Fid::EthSrc, Pre::Eth, true),
    fd("dl_src", Fid::EthSrc, Pre::Eth, true),
    fd("eth_dst", Fid::EthDst, Pre::Eth, true),
    fd("dl_dst", Fid::EthDst, Pre::Eth, true),
    fd("eth_type", Fid::EthType, Pre::Eth, false),
    fd("dl_type", Fid::EthType, Pre::Eth, false),
    fd("vlan_tci", Fid::VlanTci, Pre::Eth, true),
    fd("dl_vlan", Fid::DlVlan, Pre::Eth, false),
    fd("vlan_vid", Fid::VlanVid, Pre::Eth, true),
    fd("dl_vlan_pcp", Fid::VlanPcp, Pre::Eth, false),
    fd("vlan_pcp", Fid::VlanPcp, Pre::Vlan, true),
    fd("mpls_label", Fid::MplsLabel, Pre::Mpls, true),
    fd("mpls_tc", Fid::MplsTc, Pre::Mpls, true),
    fd("mpls_bos", Fid::MplsBos, Pre::Mpls, false),
    fd("mpls_ttl", Fid::MplsTtl, Pre::Mpls, true),
    fd("ip_src", Fid::Ipv4Src, Pre::Ipv4Arp, true),
    fd("nw_src", Fid::Ipv4Src, Pre::Ipv4Arp, true),
    fd("ipv4_src", Fid::Ipv4Src, Pre::Ipv4, true),
    fd("ip_dst", Fid::Ipv4Dst, Pre::Ipv4Arp, true),
    fd("nw_dst", Fid::Ipv4Dst, Pre::Ipv4Arp, true),
    fd("ipv4_dst", Fid::Ipv4Dst, Pre::Ipv4, true),
    fd("ipv6_src", Fid::Ipv6Src, Pre::Ipv6, true),
    fd("ipv6_dst", Fid::Ipv6Dst, Pre::Ipv6, true),
    fd("ipv6_label", Fid::Ipv6Label, Pre::Ipv6, true),
    fd("ipv6_flabel", Fid::Ipv6Label, Pre::Ipv6, true),
    fd("nw_proto", Fid::IpProto, Pre::IpArp, false),
    fd("ip_proto", Fid::IpProto, Pre::IpArp, false),
    fd("nw_tos", Fid::NwTos, Pre::IpAny, true),
    fd("ip_dscp", Fid::IpDscp, Pre::IpAny, true),
    fd("nw_ecn", Fid::IpEcn, Pre::IpAny, true),
    fd("ip_ecn", Fid::IpEcn, Pre::IpAny, true),
    fd("nw_ttl", Fid::IpTtl, Pre::IpAny, true),
    fd("ip_frag", Fid::IpFrag, Pre::IpAny, false),
    fd("nw_frag", Fid::IpFrag, Pre::IpAny, false),
    fd("arp_op", Fid::ArpOp, Pre::Arp, true),
    fd("arp_spa", Fid::ArpSpa, Pre::Arp, true),
    fd("arp_tpa", Fid::ArpTpa, Pre::Arp, true),
    fd("arp_sha", Fid::ArpSha, Pre::Arp, true),
    fd("arp_tha", Fid::ArpTha, Pre::Arp, true),
    fd("tcp_src", Fid::TcpSrc, Pre::Tcp, true),
    fd("tp_src", Fid::TcpSrc, Pre::L4, false),
    fd("tcp_dst", Fid::TcpDst, Pre::Tcp, true),
    fd("tp_dst", Fid::TcpDst, Pre::L4, false),
    fd("tcp_flags", Fid::TcpFlags, Pre::Tcp, false),
    fd("udp_src", Fid::UdpSrc, Pre::Udp, true),
    fd("udp_dst", Fid::UdpDst, Pre::Udp, true),
    fd("sctp_src", Fid::SctpSrc, Pre::Sctp, true),
    fd("sctp_dst", Fid::SctpDst, Pre::Sctp, true),
    fd("icmp_type", Fid::Icmp4Type, Pre::IcmpAny, true),
    fd("icmp_code", Fid::Icmp4Code, Pre::IcmpAny, true),
    fd("icmpv4_type", Fid::Icmp4Type, Pre::Icmp4, true),
    fd("icmpv4_code", Fid::Icmp4Code, Pre::Icmp4, true),
    fd("icmpv6_type", Fid::Icmp6Type, Pre::Icmp6, true),
    fd("icmpv6_code", Fid::Icmp6Code, Pre::Icmp6, true),
    fd("nd_target", Fid::NdTarget, Pre::Nd, true),
    fd("ipv6_nd_target", Fid::NdTarget, Pre::Nd, true),
    fd("nd_sll", Fid::NdSll, Pre::NdSolicit, true),
    fd("ipv6_nd_sll", Fid::NdSll, Pre::NdSolicit, true),
    fd("nd_tll", Fid::NdTll, Pre::NdAdvert, true),
    fd("ipv6_nd_tll", Fid::NdTll, Pre::NdAdvert, true),
    fd("tun_id", Fid::TunId, Pre::None, true),
    fd("tunnel_id", Fid::TunId, Pre::None, true),
    fd("metadata", Fid::Metadata, Pre::None, true),
    fd("pbb_isid", Fid::PbbIsid, Pre::Pbb, false),
    fd("ipv6_exthdr", Fid::Ipv6Exthdr, Pre::Ipv6, false),
];

/// Looks a field name up (`reg0`..`reg15` included).
fn field_by_name(name: &str) -> Option<FieldDef> {
    if let Some(n) = name.strip_prefix("reg") {
        if let Some(i) = decimal_u32(n).filter(|&i| i < 16 && !n.starts_with('+')) {
            let i = u8::try_from(i).ok()?;
            return Some(fd("reg", Fid::Reg(i), Pre::None, true));
        }
    }
    FIELDS
        .iter()
        .find(|f| f.name == name)
        .map(|f| fd(f.name, f.fid, f.pre, f.settable))
}

/// How a field's value is written.
#[derive(Clone, Copy)]
enum Syntax {
    /// An integer `bytes` wide, optionally `/mask` if `maskable`, whose value
    /// must not exceed `max`.
    Int {
        bytes: usize,
        maskable: bool,
        max: u128,
    },
    Mac,
    Ipv4,
    Ipv6,
    Port,
    Frag,
    TcpFlags,
}

const fn int(bytes: usize, maskable: bool, max: u128) -> Syntax {
    Syntax::Int {
        bytes,
        maskable,
        max,
    }
}

impl Fid {
    fn syntax(self) -> Syntax {
        use Fid::*;
        match self {
            InPort | InPhyPort => Syntax::Port,
            EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => Syntax::Mac,
            Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa => Syntax::Ipv4,
            Ipv6Src | Ipv6Dst | NdTarget => Syntax::Ipv6,
            IpFrag => Syntax::Frag,
            TcpFlags => Syntax::TcpFlags,
            EthType => int(2, false, 0xffff),
            VlanTci => int(2, true, 0xffff),
            DlVlan => int(2, false, 0xffff),
            VlanVid => int(2, true, 0x1fff),
            VlanPcp | MplsTc => int(1, false, 7),
            MplsLabel => int(4, false, 0xf_ffff),
            MplsBos => int(1, false, 1),
            MplsTtl | IpTtl | IpProto | Icmp4Type | Icmp4Code | Icmp6Type | Icmp6Code => {
                int(1, false, 0xff)
            }
            Ipv6Label => int(4, true, 0xf_ffff),
            NwTos => int(1, false, 0xfc),
            IpDscp => int(1, false, 63),
            IpEcn => int(1, false, 3),
            ArpOp => int(2, false, 0xff),
            TcpSrc | TcpDst | UdpSrc | UdpDst | SctpSrc | SctpDst => int(2, true, 0xffff),
            TunId | Metadata => int(8, true, u128::from(u64::MAX)),
            Reg(_) => int(4, true, 0xffff_ffff),
            PbbIsid => int(3, true, 0xff_ffff),
            Ipv6Exthdr => int(2, true, 0x1ff),
        }
    }

    /// Width of the value in bits, for "all ones" masks.
    fn bits(self) -> u32 {
        match self.syntax() {
            Syntax::Int { bytes, .. } => 8 * bytes as u32,
            Syntax::Mac => 48,
            Syntax::Ipv4 => 32,
            Syntax::Ipv6 => 128,
            Syntax::Port => 16,
            Syntax::Frag => 8,
            Syntax::TcpFlags => 16,
        }
    }

    /// Whether OVS's field has a prerequisite at all (`mf->prereqs !=
    /// MFP_NONE`): such a field implies an Ethernet packet type.
    fn implies_ethernet(self) -> bool {
        !matches!(
            self,
            Fid::InPort | Fid::InPhyPort | Fid::TunId | Fid::Metadata | Fid::Reg(_)
        )
    }
}

/// A value and its mask, wide enough for any field.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Vm {
    v: u128,
    m: u128,
}

impl Vm {
    fn exact(v: u128, bits: u32) -> Vm {
        Vm { v, m: ones(bits) }
    }

    fn masked(v: u128, m: u128) -> Vm {
        Vm { v: v & m, m }
    }

    /// `None` when wildcarded, `Some((v, None))` when exact in `bits`,
    /// otherwise value and mask (OVS `nxm_put`).
    fn put(self, bits: u32) -> Option<(u128, Option<u128>)> {
        if self.m == 0 {
            None
        } else if self.m == ones(bits) {
            Some((self.v, None))
        } else {
            Some((self.v, Some(self.m)))
        }
    }
}

/// Parses the value text of field `name` into value and mask.
fn parse_field_value(f: &FieldDef, text: &str, ports: Option<&NameMap>) -> Result<Vm> {
    let name = f.name;
    let bits = f.fid.bits();
    let text = if text.is_empty() { "0/0" } else { text };
    if text == "*" {
        return Ok(Vm::default());
    }
    match f.fid.syntax() {
        Syntax::Int {
            bytes,
            maskable,
            max,
        } => parse_int_value(f, text, bytes, maskable, max),
        Syntax::Mac => {
            let (v, m) = match text.split_once('/') {
                Some((v, m)) => (parse_mac(v), parse_mac(m)),
                None => (parse_mac(text), Some(u64::MAX)),
            };
            match (v, m) {
                (Some(v), Some(m)) => Ok(Vm::masked(u128::from(v), u128::from(m) & ones(48))),
                _ => fail(format!("bad Ethernet address '{text}' in {name}")),
            }
        }
        Syntax::Ipv4 => {
            let (v, m) = parse_ipv4_masked(text, name)?;
            Ok(Vm::masked(u128::from(v), u128::from(m)))
        }
        Syntax::Ipv6 => {
            let (v, m) = parse_ipv6_masked(text, name)?;
            Ok(Vm::masked(v, m))
        }
        Syntax::Port => {
            let p = port_arg(text, name, ports)?;
            Ok(Vm::exact(u128::from(p), bits))
        }
        Syntax::Frag => parse_frag(text),
        Syntax::TcpFlags => parse_tcp_flags(text),
    }
}

fn parse_int_value(
    f: &FieldDef,
    text: &str,
    bytes: usize,
    maskable: bool,
    max: u128,
) -> Result<Vm> {
    let name = f.name;
    let too_big = || fail(format!("{name} value '{text}' too large for {bytes} bytes"));
    let (v, rest) = match int_prefix(text, bytes) {
        Ok(x) => x,
        Err(IntError::Range) => return too_big(),
        Err(IntError::Syntax) => return fail(format!("bad {name} value '{text}'")),
    };
    let all = ones(8 * bytes as u32);
    let m = if rest.is_empty() {
        all
    } else if let Some(mask) = rest.strip_prefix('/') {
        match int_prefix(mask, bytes) {
            Ok((m, "")) => m,
            Ok(_) | Err(IntError::Syntax) => return fail(format!("bad {name} mask '{mask}'")),
            Err(IntError::Range) => return too_big(),
        }
    } else {
        return fail(format!("bad {name} value '{text}'"));
    };
    if !maskable && m != 0 && m != all {
        return fail(format!("{name} does not take a mask: '{text}'"));
    }
    if m != 0 {
        check_int_range(f.fid, name, v, max)?;
    }
    Ok(Vm { v, m })
}

/// The range check OVS leaves out (it truncates silently).
fn check_int_range(fid: Fid, name: &str, v: u128, max: u128) -> Result<()> {
    match fid {
        Fid::DlVlan if v == 0xffff => Ok(()),
        Fid::DlVlan if v > 0xfff => fail(format!(
            "{name} {v} out of range 0..4095 (or 0xffff for no VLAN)"
        )),
        Fid::NwTos if v & 3 != 0 => fail(format!(
            "{name} {v} has ECN bits set: use a multiple of 4 (or ip_dscp={})",
            v >> 2
        )),
        _ if v > max => fail(format!("{name} {v} out of range 0..{max}")),
        _ => Ok(()),
    }
}

/// `ip_frag` names (OVS `all_frags`), as value and mask of the 2 frag bits
/// with the upper mask bits forced on as OVS does.
fn parse_frag(text: &str) -> Result<Vm> {
    const ANY: u128 = 1;
    const LATER: u128 = 2;
    let (v, m) = match text.to_ascii_lowercase().as_str() {
        "no" => (0, ANY | LATER),
        "first" => (ANY, ANY | LATER),
        "later" => (ANY | LATER, ANY | LATER),
        "yes" => (ANY, ANY),
        "not_later" => (0, LATER),
        _ => {
            return fail(format!(
                "bad ip_frag '{text}': expected no, yes, first, later or not_later"
            ))
        }
    };
    Ok(Vm { v, m: m | 0xfc })
}

const TCP_FLAG_NAMES: &[(&str, u16)] = &[
    ("fin", 0x001),
    ("syn", 0x002),
    ("rst", 0x004),
    ("psh", 0x008),
    ("ack", 0x010),
    ("urg", 0x020),
    ("ece", 0x040),
    ("cwr", 0x080),
    ("ns", 0x100),
    ("[200]", 0x200),
    ("[400]", 0x400),
    ("[800]", 0x800),
];

/// `tcp_flags`: `V/M` numbers, `+syn-ack` (named, masked) or `syn|ack`
/// (named, exact), as OVS `parse_flags`.
fn parse_tcp_flags(text: &str) -> Result<Vm> {
    let bad = || fail(format!("bad tcp_flags '{text}'"));
    if text.starts_with('+') || text.starts_with('-') {
        let (mut v, mut m) = (0u16, 0u16);
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            let set = c == '+';
            if c != '+' && c != '-' {
                return bad();
            }
            rest = &rest[1..];
            let Some(&(name, bit)) = TCP_FLAG_NAMES.iter().find(|(n, _)| {
                rest.starts_with(n)
                    && matches!(rest.as_bytes().get(n.len()), None | Some(b'+' | b'-'))
            }) else {
                return bad();
            };
            if m & bit != 0 {
                return fail(format!("tcp_flags '{text}' names {name} twice"));
            }
            m |= bit;
            if set {
                v |= bit;
            }
            rest = &rest[name.len()..];
        }
        return Ok(Vm::masked(u128::from(v), u128::from(m)));
    }
    if let Some((v, m)) = text.split_once('/') {
        let (Some(v), Some(m)) = (c_uint(v, 0xfff), c_uint(m, 0xfff)) else {
            return bad();
        };
        return Ok(Vm::masked(u128::from(v), u128::from(m)));
    }
    let mut v = 0u64;
    for part in text.split('|') {
        match TCP_FLAG_NAMES.iter().find(|(n, _)| *n == part) {
            Some(&(_, bit)) => v |= u64::from(bit),
            None => {
                v |= c_uint(part, 0xfff)
                    .ok_or_else(|| ParseError::new(format!("bad tcp_flags '{text}'")))?
            }
        }
    }
    Ok(Vm::exact(u128::from(v), 16))
}

// ---------------------------------------------------------------------------
// The flow: OVS's `struct match` for the supported fields
// ---------------------------------------------------------------------------

const ETH_TYPE_IP: u128 = 0x0800;
const ETH_TYPE_IPV6: u128 = 0x86dd;
const ETH_TYPE_ARP: u128 = 0x0806;
const ETH_TYPE_RARP: u128 = 0x8035;
const ETH_TYPE_MPLS: u128 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u128 = 0x8848;
const ETH_TYPE_PBB: u128 = 0x88e7;

const VLAN_VID_MASK: u128 = 0x0fff;
const VLAN_CFI: u128 = 0x1000;
const VLAN_PCP_MASK: u128 = 0xe000;
const MPLS_LABEL_MASK: u128 = 0xffff_f000;
const MPLS_TC_MASK: u128 = 0x0000_0e00;
const MPLS_BOS_MASK: u128 = 0x0000_0100;
const MPLS_TTL_MASK: u128 = 0x0000_00ff;
const IP_DSCP_MASK: u128 = 0xfc;
const IP_ECN_MASK: u128 = 0x03;

/// The protocol shorthands (OVS `ofp_parse_protocol`): ethertype and IP
/// protocol.
const PROTOCOLS: &[(&str, u16, u8)] = &[
    ("ip", 0x0800, 0),
    ("ipv4", 0x0800, 0),
    ("ip4", 0x0800, 0),
    ("arp", 0x0806, 0),
    ("icmp", 0x0800, 1),
    ("tcp", 0x0800, 6),
    ("udp", 0x0800, 17),
    ("sctp", 0x0800, 132),
    ("ipv6", 0x86dd, 0),
    ("ip6", 0x86dd, 0),
    ("icmp6", 0x86dd, 58),
    ("tcp6", 0x86dd, 6),
    ("udp6", 0x86dd, 17),
    ("sctp6", 0x86dd, 132),
    ("rarp", 0x8035, 0),
    ("mpls", 0x8847, 0),
    ("mplsm", 0x8848, 0),
];

/// The flow values and masks OVS keeps for a match (its `struct match`),
/// for the fields supported here. Several field names share one slot,
/// exactly as in OVS.
#[derive(Clone, Debug, Default)]
struct FlowState<'a> {
    /// The switch's port names, where a match may name a port (`in_port=p1`).
    ports: Option<&'a NameMap>,
    /// Matches only Ethernet packets (OVS's default packet type was set by
    /// a protocol keyword, `eth`, or a field with a prerequisite).
    eth_packet: bool,
    in_port: Vm,
    in_phy_port: Vm,
    dl_src: Vm,
    dl_dst: Vm,
    dl_type: Vm,
    tci: Vm,
    mpls: Vm,
    nw_src: Vm,
    nw_dst: Vm,
    ipv6_src: Vm,
    ipv6_dst: Vm,
    ipv6_label: Vm,
    nw_proto: Vm,
    nw_tos: Vm,
    nw_ttl: Vm,
    nw_frag: Vm,
    tp_src: Vm,
    tp_dst: Vm,
    tcp_flags: Vm,
    arp_sha: Vm,
    arp_tha: Vm,
    nd_target: Vm,
    tun_id: Vm,
    metadata: Vm,
    regs: [Vm; 16],
    pbb_isid: Vm,
    ipv6_exthdr: Vm,
    /// Fields set to something other than a wildcard, with the name used,
    /// for the prerequisite check at the end.
    mentioned: Vec<(&'static str, Pre)>,
}

impl FlowState<'_> {
    /// The slot a plain (non-shared-bits) field lives in.
    fn slot(&mut self, fid: Fid) -> Option<&mut Vm> {
        use Fid::*;
        Some(match fid {
            InPort => &mut self.in_port,
            InPhyPort => &mut self.in_phy_port,
            EthSrc => &mut self.dl_src,
            EthDst => &mut self.dl_dst,
            EthType => &mut self.dl_type,
            VlanTci => &mut self.tci,
            Ipv4Src | ArpSpa => &mut self.nw_src,
            Ipv4Dst | ArpTpa => &mut self.nw_dst,
            Ipv6Src => &mut self.ipv6_src,
            Ipv6Dst => &mut self.ipv6_dst,
            Ipv6Label => &mut self.ipv6_label,
            IpProto | ArpOp => &mut self.nw_proto,
            IpTtl => &mut self.nw_ttl,
            IpFrag => &mut self.nw_frag,
            TcpSrc | UdpSrc | SctpSrc | Icmp4Type | Icmp6Type => &mut self.tp_src,
            TcpDst | UdpDst | SctpDst | Icmp4Code | Icmp6Code => &mut self.tp_dst,
            TcpFlags => &mut self.tcp_flags,
            ArpSha | NdSll => &mut self.arp_sha,
            ArpTha | NdTll => &mut self.arp_tha,
            NdTarget => &mut self.nd_target,
            TunId => &mut self.tun_id,
            Metadata => &mut self.metadata,
            Reg(i) => self.regs.get_mut(usize::from(i))?,
            PbbIsid => &mut self.pbb_isid,
            Ipv6Exthdr => &mut self.ipv6_exthdr,
            DlVlan | VlanVid | VlanPcp | MplsLabel | MplsTc | MplsBos | MplsTtl | NwTos
            | IpDscp | IpEcn => return None,
        })
    }

    /// Handles one `key=value` of a match; `false` if `key` is not a match
    /// field or protocol shorthand.
    fn parse_pair(&mut self, key: &str, value: &str) -> Result<bool> {
        if let Some(&(_, dl_type, proto)) = PROTOCOLS.iter().find(|(n, _, _)| *n == key) {
            self.dl_type = Vm::exact(u128::from(dl_type), 16);
            if proto != 0 {
                self.nw_proto = Vm::exact(u128::from(proto), 8);
            }
            self.eth_packet = true;
            return Ok(true);
        }
        if key == "eth" {
            self.eth_packet = true;
            return Ok(true);
        }
        if key.contains('[') {
            return fail(format!("subfield match '{key}' is not supported"));
        }
        let Some(f) = field_by_name(key) else {
            return Ok(false);
        };
        let vm = parse_field_value(&f, value, self.ports)?;
        self.set(f.fid, vm);
        if f.fid.implies_ethernet() {
            self.eth_packet = true;
        }
        if vm.m != 0 && f.pre != Pre::None && f.pre != Pre::Eth {
            let name = FIELDS
                .iter()
                .find(|d| d.name == key)
                .map_or("reg", |d| d.name);
            self.mentioned.push((name, f.pre));
        }
        Ok(true)
    }

    /// OVS `mf_set`: exact, wildcard or masked, per field.
    fn set(&mut self, fid: Fid, vm: Vm) {
        let all = ones(fid.bits());
        if vm.m == 0 {
            self.set_wild(fid);
        } else if vm.m == all {
            self.set_value(fid, vm.v);
        } else {
            self.set_masked(fid, vm);
        }
    }

    fn set_value(&mut self, fid: Fid, v: u128) {
        let bits = fid.bits();
        match fid {
            Fid::DlVlan => {
                if v == 0xffff {
                    self.tci = Vm { v: 0, m: 0xffff };
                } else {
                    self.tci.v = (self.tci.v & !VLAN_VID_MASK) | VLAN_CFI | (v & VLAN_VID_MASK);
                    self.tci.m |= VLAN_VID_MASK | VLAN_CFI;
                }
            }
            Fid::VlanVid => self.set_vlan_vid_masked(v, VLAN_VID_MASK | VLAN_CFI),
            Fid::VlanPcp => {
                self.tci.v = (self.tci.v & !VLAN_PCP_MASK) | ((v & 7) << 13) | VLAN_CFI;
                self.tci.m |= VLAN_CFI | VLAN_PCP_MASK;
            }
            Fid::MplsLabel => self.set_mpls_bits(MPLS_LABEL_MASK, (v & 0xf_ffff) << 12),
            Fid::MplsTc => self.set_mpls_bits(MPLS_TC_MASK, (v & 7) << 9),
            Fid::MplsBos => self.set_mpls_bits(MPLS_BOS_MASK, (v & 1) << 8),
            Fid::MplsTtl => self.set_mpls_bits(MPLS_TTL_MASK, v & 0xff),
            Fid::NwTos => self.set_tos_bits(IP_DSCP_MASK, v),
            Fid::IpDscp => self.set_tos_bits(IP_DSCP_MASK, v << 2),
            Fid::IpEcn => self.set_tos_bits(IP_ECN_MASK, v),
            Fid::IpFrag => {
                self.nw_frag.v = v;
                self.nw_frag.m |= 3;
            }
            Fid::ArpOp => self.nw_proto = Vm::exact(v & 0xff, 8),
            Fid::Ipv6Label => self.ipv6_label = Vm::exact(v, 32),
            _ => {
                if let Some(slot) = self.slot(fid) {
                    *slot = Vm::exact(v, bits);
                }
            }
        }
    }

    fn set_masked(&mut self, fid: Fid, vm: Vm) {
        match fid {
            Fid::VlanVid => self.set_vlan_vid_masked(vm.v, vm.m),
            Fid::Ipv6Label if vm.m & 0xf_ffff == 0xf_ffff => self.set_value(fid, vm.v),
            _ => {
                if let Some(slot) = self.slot(fid) {
                    *slot = Vm::masked(vm.v, vm.m);
                }
            }
        }
    }

    fn set_wild(&mut self, fid: Fid) {
        match fid {
            Fid::DlVlan | Fid::VlanVid => {
                if self.tci.m & VLAN_PCP_MASK != 0 {
                    self.tci.m &= !VLAN_VID_MASK;
                    self.tci.v &= !VLAN_VID_MASK;
                } else {
                    self.tci = Vm::default();
                }
            }
            Fid::VlanPcp => {
                if self.tci.m & VLAN_VID_MASK != 0 {
                    self.tci.m &= !VLAN_PCP_MASK;
                    self.tci.v &= !VLAN_PCP_MASK;
                } else {
                    self.tci = Vm::default();
                }
            }
            Fid::MplsLabel => self.clear_bits(Fid::MplsLabel, MPLS_LABEL_MASK),
            Fid::MplsTc => self.clear_bits(Fid::MplsTc, MPLS_TC_MASK),
            Fid::MplsBos => self.clear_bits(Fid::MplsBos, MPLS_BOS_MASK),
            Fid::MplsTtl => self.clear_bits(Fid::MplsTtl, MPLS_TTL_MASK),
            Fid::NwTos | Fid::IpDscp => self.clear_bits(Fid::NwTos, IP_DSCP_MASK),
            Fid::IpEcn => self.clear_bits(Fid::NwTos, IP_ECN_MASK),
            Fid::IpFrag => {
                self.nw_frag.v &= !3;
                self.nw_frag.m &= !3;
            }
            _ => {
                if let Some(slot) = self.slot(fid) {
                    *slot = Vm::default();
                }
            }
        }
    }

    fn clear_bits(&mut self, fid: Fid, bits: u128) {
        let slot = match fid {
            Fid::NwTos => &mut self.nw_tos,
            _ => &mut self.mpls,
        };
        slot.v &= !bits;
        slot.m &= !bits;
    }

    fn set_vlan_vid_masked(&mut self, vid: u128, mask: u128) {
        let mask = mask & (VLAN_VID_MASK | VLAN_CFI);
        self.tci.v = (self.tci.v & !(VLAN_VID_MASK | VLAN_CFI)) | (vid & mask);
        self.tci.m = mask | (self.tci.m & VLAN_PCP_MASK);
    }

    fn set_mpls_bits(&mut self, mask: u128, bits: u128) {
        self.mpls.m |= mask;
        self.mpls.v = (self.mpls.v & !mask) | bits;
    }

    fn set_tos_bits(&mut self, mask: u128, v: u128) {
        self.nw_tos.m |= mask;
        self.nw_tos.v = (self.nw_tos.v & !mask) | (v & mask);
    }

    /// The protocol facts actions and prerequisites look at.
    fn ctx(&self) -> Ctx {
        Ctx {
            dl_type: self.dl_type.v as u16,
            nw_proto: self.nw_proto.v as u8,
            vlans: [self.tci.v & VLAN_CFI != 0, false],
            tp_src: self.tp_src.v as u16,
            tp_dst: self.tp_dst.v as u16,
            in_port: self.in_port.m != 0,
            frag_later: self.nw_frag.v & 2 != 0,
        }
    }

    /// Every field given must have its prerequisites in the final match
    /// (OVS would silently leave the field out of the message instead).
    fn check_prereqs(&self) -> Result<()> {
        let ctx = self.ctx();
        for &(name, pre) in &self.mentioned {
            if !ctx.satisfies(pre) {
                let (what, fix) = pre.explain();
                return fail(format!("{name} needs {what}: add '{fix}'"));
            }
        }
        Ok(())
    }

    /// The OXMs OVS encodes for this match, in `nx_put_raw`'s order.
    fn to_match(&self) -> Match {
        let mut e = Emit::default();
        if let Some((p, _)) = self.in_port.put(16) {
            e.push(Oxm::InPort(port_to_ofp11(p as u16)), false);
        }
        if let Some((p, _)) = self.in_phy_port.put(16) {
            e.push(Oxm::InPhyPort(port_to_ofp11(p as u16)), false);
        }
        if let Some((v, m)) = self.dl_src.put(48) {
            e.push(Oxm::EthSrc(mac(v), m.map(mac)), true);
        }
        if let Some((v, m)) = self.dl_dst.put(48) {
            e.push(Oxm::EthDst(mac(v), m.map(mac)), true);
        }
        if self.dl_type.m != 0 {
            let t = self.dl_type.v as u16;
            e.push(Oxm::EthType(t), true);
        }
        self.put_vlan(&mut e);
        let dl_type = self.dl_type.v;
        if dl_type == ETH_TYPE_MPLS || dl_type == ETH_TYPE_MPLS_MCAST {
            self.put_mpls(&mut e);
        }
        if dl_type == ETH_TYPE_PBB {
            if let Some((v, m)) = self.pbb_isid.put(24) {
                e.push(Oxm::PbbIsid(U24(v as u32), m.map(|m| U24(m as u32))), true);
            }
        }
        if dl_type == ETH_TYPE_IP || dl_type == ETH_TYPE_IPV6 {
            self.put_ip(&mut e);
        } else if dl_type == ETH_TYPE_ARP || dl_type == ETH_TYPE_RARP {
            self.put_arp(&mut e);
        }
        if let Some((v, m)) = self.tun_id.put(64) {
            e.push(Oxm::TunnelId(v as u64, m.map(|m| m as u64)), false);
        }
        for (i, r) in (0u8..).zip(self.regs.iter()) {
            if let Some((v, m)) = r.put(32) {
                e.push(nxm(OFPXMC_NXM_1, i, v, m, 4), false);
            }
        }
        if let Some((v, m)) = self.metadata.put(64) {
            e.push(Oxm::Metadata(v as u64, m.map(|m| m as u64)), false);
        }
        if self.eth_packet && !e.eth {
            // OXM_OF_PACKET_TYPE (OpenFlow 1.5) = Ethernet, which OVS puts
            // first when nothing else in the match implies Ethernet.
            e.fields.insert(0, nxm(0x8000, 44, 0, None, 4));
        }
        Match { fields: e.fields }
    }

    fn put_vlan(&self, e: &mut Emit) {
        let vid = self.tci.v & (VLAN_VID_MASK | VLAN_CFI);
        let mask = self.tci.m & (VLAN_VID_MASK | VLAN_CFI);
        if mask == VLAN_VID_MASK | VLAN_CFI {
            e.push(Oxm::VlanVid(vid as u16, None), true);
        } else if mask != 0 {
            e.push(Oxm::VlanVid(vid as u16, Some(mask as u16)), true);
        }
        if vid != 0 && self.tci.m & VLAN_PCP_MASK != 0 {
            e.push(Oxm::VlanPcp((self.tci.v >> 13) as u8 & 7), true);
        }
    }

    fn put_mpls(&self, e: &mut Emit) {
        let (v, m) = (self.mpls.v, self.mpls.m);
        if m & MPLS_TC_MASK != 0 {
            e.push(Oxm::MplsTc(((v >> 9) & 7) as u8), true);
        }
        if m & MPLS_BOS_MASK != 0 {
            e.push(Oxm::MplsBos(((v >> 8) & 1) as u8), true);
        }
        if m & MPLS_TTL_MASK != 0 {
            e.push(nxm(OFPXMC_NXM_1, 30, v & 0xff, None, 1), true);
        }
        if m & MPLS_LABEL_MASK != 0 {
            e.push(Oxm::MplsLabel(((v >> 12) & 0xf_ffff) as u32), true);
        }
    }

    fn put_arp(&self, e: &mut Emit) {
        if self.nw_proto.m != 0 {
            e.push(Oxm::ArpOp(self.nw_proto.v as u16), true);
        }
        if let Some((v, m)) = self.nw_src.put(32) {
            e.push(Oxm::ArpSpa(ipv4(v), m.map(ipv4)), true);
        }
        if let Some((v, m)) = self.nw_dst.put(32) {
            e.push(Oxm::ArpTpa(ipv4(v), m.map(ipv4)), true);
        }
        if let Some((v, m)) = self.arp_sha.put(48) {
            e.push(Oxm::ArpSha(mac(v), m.map(mac)), true);
        }
        if let Some((v, m)) = self.arp_tha.put(48) {
            e.push(Oxm::ArpTha(mac(v), m.map(mac)), true);
        }
    }

    /// OVS `nxm_put_ip`.
    fn put_ip(&self, e: &mut Emit) {
        if self.dl_type.v == ETH_TYPE_IP {
            if let Some((v, m)) = self.nw_src.put(32) {
                e.push(Oxm::Ipv4Src(ipv4(v), m.map(ipv4)), true);
            }
            if let Some((v, m)) = self.nw_dst.put(32) {
                e.push(Oxm::Ipv4Dst(ipv4(v), m.map(ipv4)), true);
            }
        } else {
            if let Some((v, m)) = self.ipv6_src.put(128) {
                e.push(Oxm::Ipv6Src(Ipv6Addr::from(v), m.map(Ipv6Addr::from)), true);
            }
            if let Some((v, m)) = self.ipv6_dst.put(128) {
                e.push(Oxm::Ipv6Dst(Ipv6Addr::from(v), m.map(Ipv6Addr::from)), true);
            }
        }
        let frag = Vm {
            v: self.nw_frag.v & 3,
            m: if self.nw_frag.m & 3 == 3 {
                0xff
            } else {
                self.nw_frag.m & 3
            },
        };
        if let Some((v, m)) = frag.put(8) {
            e.push(nxm(OFPXMC_NXM_1, 26, v, m, 1), true);
        }
        if self.nw_tos.m & IP_DSCP_MASK != 0 {
            e.push(Oxm::IpDscp((self.nw_tos.v >> 2) as u8), true);
        }
        if self.nw_tos.m & IP_ECN_MASK != 0 {
            e.push(Oxm::IpEcn((self.nw_tos.v & IP_ECN_MASK) as u8), true);
        }
        if self.nw_ttl.m != 0 {
            e.push(nxm(OFPXMC_NXM_1, 29, self.nw_ttl.v, None, 1), true);
        }
        if let Some((v, m)) = self.ipv6_label.put(32) {
            e.push(Oxm::Ipv6Flabel(v as u32, m.map(|m| m as u32)), true);
        }
        if let Some((v, m)) = self.ipv6_exthdr.put(16) {
            e.push(Oxm::Ipv6Exthdr(v as u16, m.map(|m| m as u16)), true);
        }
        if self.nw_proto.m != 0 {
            e.push(Oxm::IpProto(self.nw_proto.v as u8), true);
            self.put_l4(e);
        }
    }

    fn put_l4(&self, e: &mut Emit) {
        let ports =
            |e: &mut Emit, src: fn(u16, Option<u16>) -> Oxm, dst: fn(u16, Option<u16>) -> Oxm| {
                if let Some((v, m)) = self.tp_src.put(16) {
                    e.push(src(v as u16, m.map(|m| m as u16)), true);
                }
                if let Some((v, m)) = self.tp_dst.put(16) {
                    e.push(dst(v as u16, m.map(|m| m as u16)), true);
                }
            };
        let ctx = self.ctx();
        match self.nw_proto.v {
            6 => {
                ports(e, Oxm::TcpSrc, Oxm::TcpDst);
                if let Some((v, m)) = self.tcp_flags.put(16) {
                    let mut body = ONF_VENDOR_ID.to_be_bytes().to_vec();
                    body.extend_from_slice(&(v as u16).to_be_bytes());
                    if let Some(m) = m {
                        body.extend_from_slice(&(m as u16).to_be_bytes());
                    }
                    e.push(
                        Oxm::Other(RawOxm {
                            class: OFPXMC_EXPERIMENTER,
                            field: 42,
                            hasmask: m.is_some(),
                            body,
                        }),
                        true,
                    );
                }
            }
            17 => ports(e, Oxm::UdpSrc, Oxm::UdpDst),
            132 => ports(e, Oxm::SctpSrc, Oxm::SctpDst),
            _ if ctx.satisfies(Pre::Icmp4) => {
                if self.tp_src.m != 0 {
                    e.push(Oxm::Icmpv4Type(self.tp_src.v as u8), true);
                }
                if self.tp_dst.m != 0 {
                    e.push(Oxm::Icmpv4Code(self.tp_dst.v as u8), true);
                }
            }
            _ if ctx.satisfies(Pre::Icmp6) => {
                if self.tp_src.m != 0 {
                    e.push(Oxm::Icmpv6Type(self.tp_src.v as u8), true);
                }
                if self.tp_dst.m != 0 {
                    e.push(Oxm::Icmpv6Code(self.tp_dst.v as u8), true);
                }
                self.put_nd(e, ctx);
            }
            _ => {}
        }
    }

    fn put_nd(&self, e: &mut Emit, ctx: Ctx) {
        if !ctx.satisfies(Pre::Nd) {
            return;
        }
        if let Some((v, m)) = self.nd_target.put(128) {
            e.push(
                Oxm::Ipv6NdTarget(Ipv6Addr::from(v), m.map(Ipv6Addr::from)),
                true,
            );
        }
        if ctx.tp_src == 135 {
            if let Some((v, m)) = self.arp_sha.put(48) {
                e.push(Oxm::Ipv6NdSll(mac(v), m.map(mac)), true);
            }
        }
        if ctx.tp_src == 136 {
            if let Some((v, m)) = self.arp_tha.put(48) {
                e.push(Oxm::Ipv6NdTll(mac(v), m.map(mac)), true);
            }
        }
    }
}

/// Collects OXMs and whether any of them implies an Ethernet packet.
#[derive(Default)]
struct Emit {
    fields: Vec<Oxm>,
    eth: bool,
}

impl Emit {
    fn push(&mut self, o: Oxm, implies_eth: bool) {
        self.eth |= implies_eth;
        self.fields.push(o);
    }
}

fn mac(v: u128) -> MacAddr {
    MacAddr::from_u64(v as u64)
}

fn ipv4(v: u128) -> Ipv4Addr {
    Ipv4Addr::from(v as u32)
}

/// A field of another class (NXM, or the OpenFlow 1.5 packet type) as raw
/// bytes: `width`-byte value and optional mask.
fn nxm(class: u16, field: u8, v: u128, m: Option<u128>, width: usize) -> Oxm {
    let be = |x: u128| x.to_be_bytes()[16 - width..].to_vec();
    let mut body = be(v);
    if let Some(m) = m {
        body.extend(be(m));
    }
    Oxm::Other(RawOxm {
        class,
        field,
        hasmask: m.is_some(),
        body,
    })
}

// ---------------------------------------------------------------------------
// Protocol context shared by prerequisites and action checks
// ---------------------------------------------------------------------------

/// The parts of a flow that prerequisites and OVS's action checks read:
/// what the packet is at this point of the action list.
#[derive(Clone, Copy, Debug, Default)]
struct Ctx {
    dl_type: u16,
    nw_proto: u8,
    /// Whether the outer and second VLAN tags are present.
    vlans: [bool; 2],
    tp_src: u16,
    tp_dst: u16,
    in_port: bool,
    /// Matches only later IP fragments (no L4 header to rewrite).
    frag_later: bool,
}

impl Ctx {
    /// Reads the facts back from OXMs (for [`parse_instructions`]).
    fn from_match(m: &Match) -> Ctx {
        let mut c = Ctx::default();
        for f in &m.fields {
            match f {
                Oxm::InPort(_) => c.in_port = true,
                Oxm::EthType(t) => c.dl_type = *t,
                Oxm::IpProto(p) => c.nw_proto = *p,
                Oxm::ArpOp(op) => c.nw_proto = *op as u8,
                Oxm::VlanVid(v, m) => c.vlans[0] = v & m.unwrap_or(0x1fff) & 0x1000 != 0,
                Oxm::TcpSrc(v, m) | Oxm::UdpSrc(v, m) | Oxm::SctpSrc(v, m) => {
                    c.tp_src = v & m.unwrap_or(0xffff)
                }
                Oxm::TcpDst(v, m) | Oxm::UdpDst(v, m) | Oxm::SctpDst(v, m) => {
                    c.tp_dst = v & m.unwrap_or(0xffff)
                }
                Oxm::Icmpv4Type(t) | Oxm::Icmpv6Type(t) => c.tp_src = u16::from(*t),
                Oxm::Icmpv4Code(t) | Oxm::Icmpv6Code(t) => c.tp_dst = u16::from(*t),
                Oxm::Other(r) if r.class == OFPXMC_NXM_1 && r.field == 26 => {
                    let v = r.body.first().copied().unwrap_or(0);
                    let m = if r.hasmask {
                        r.body.get(1).copied().unwrap_or(0)
                    } else {
                        0xff
                    };
                    c.frag_later = v & m & 2 != 0;
                }
                _ => {}
            }
        }
        c
    }

    fn is_ip(&self) -> bool {
        self.dl_type == 0x0800 || self.dl_type == 0x86dd
    }

    fn is_mpls(&self) -> bool {
        self.dl_type == 0x8847 || self.dl_type == 0x8848
    }

    fn is_nd(&self) -> bool {
        self.satisfies(Pre::Icmp6) && self.tp_dst == 0 && matches!(self.tp_src, 135 | 136)
    }

    /// OVS `mf_are_prereqs_ok` for `pre`.
    fn satisfies(&self, pre: Pre) -> bool {
        let proto = |p: u8| self.is_ip() && self.nw_proto == p;
        match pre {
            Pre::None | Pre::Eth => true,
            Pre::Vlan => self.vlans[0],
            Pre::Mpls => self.is_mpls(),
            Pre::Ipv4 => self.dl_type == 0x0800,
            Pre::Ipv4Arp => self.dl_type == 0x0800 || self.satisfies(Pre::Arp),
            Pre::IpArp => self.is_ip() || self.satisfies(Pre::Arp),
            Pre::Ipv6 => self.dl_type == 0x86dd,
            Pre::IpAny => self.is_ip(),
            Pre::Arp => self.dl_type == 0x0806 || self.dl_type == 0x8035,
            Pre::Tcp => proto(6),
            Pre::Udp => proto(17),
            Pre::Sctp => proto(132),
            Pre::Icmp4 => self.dl_type == 0x0800 && self.nw_proto == 1,
            Pre::Icmp6 => self.dl_type == 0x86dd && self.nw_proto == 58,
            Pre::IcmpAny => self.satisfies(Pre::Icmp4) || self.satisfies(Pre::Icmp6),
            Pre::L4 => proto(6) || proto(17) || proto(132) || self.satisfies(Pre::IcmpAny),
            Pre::Nd => self.is_nd(),
            Pre::NdSolicit => self.is_nd() && self.tp_src == 135,
            Pre::NdAdvert => self.is_nd() && self.tp_src == 136,
            Pre::InPort => self.in_port,
            Pre::Pbb => u128::from(self.dl_type) == ETH_TYPE_PBB,
        }
    }
}

// ---------------------------------------------------------------------------
// Flow mods
// ---------------------------------------------------------------------------

/// Which keywords a flow-mod command takes (OVS `parse_ofp_str__`'s
/// `F_*` bits).
struct FlowModParser<'a> {
    command: u8,
    /// Port and table names the text may use, if known.
    names: Option<&'a Names>,
    actions: bool,
    timeouts: bool,
    priority: bool,
    flags: bool,
    out_port: bool,
}

impl<'a> FlowModParser<'a> {
    fn new(command: u8, names: Option<&'a Names>) -> Result<Self> {
        use flow_mod_command::*;
        let (actions, timeouts, priority, flags, out_port) = match command {
            ADD | MODIFY | MODIFY_STRICT => (true, true, true, true, false),
            DELETE => (false, false, false, false, true),
            DELETE_STRICT => (false, false, true, false, true),
            _ => return fail(format!("unknown flow_mod command {command}")),
        };
        Ok(FlowModParser {
            command,
            names,
            actions,
            timeouts,
            priority,
            flags,
            out_port,
        })
    }

    fn command_name(&self) -> &'static str {
        match self.command {
            flow_mod_command::ADD => "add-flow",
            flow_mod_command::MODIFY | flow_mod_command::MODIFY_STRICT => "mod-flows",
            _ => "del-flows",
        }
    }

    fn parse(&self, text: &str) -> Result<FlowMod> {
        let (match_text, act_text) = if self.actions {
            split_actions(text)?
        } else {
            (text, "")
        };
        let mut fm = FlowMod {
            command: self.command,
            table_id: 0xff,
            ..FlowMod::default()
        };
        let mut state = FlowState {
            ports: self.names.map(|n| &n.ports),
            ..FlowState::default()
        };
        let mut table_given = false;
        for (key, value) in KeyValues::new(match_text) {
            if state.parse_pair(key, value)? {
                continue;
            }
            table_given |= self.parse_keyword(&mut fm, key, value)?;
        }
        state.check_prereqs()?;
        // OVS keeps 255 for "not given"; only deletes send it.
        let table = (table_given && fm.table_id != 0xff).then_some(fm.table_id);
        if table.is_none() && self.actions {
            fm.table_id = 0;
        }
        fm.match_ = state.to_match();
        if self.actions {
            let mut acts = parse_act_list(act_text, true, 0, self.names)?;
            let mut ctx = state.ctx();
            check_acts(&mut acts, &mut ctx, table, true)?;
            fm.instructions = encode_instructions(&acts)?;
        }
        Ok(fm)
    }

    /// A flow-mod keyword (not a match field). Returns whether it was
    /// `table=`.
    fn parse_keyword(&self, fm: &mut FlowMod, key: &str, value: &str) -> Result<bool> {
        let not_here = || {
            fail(format!(
                "'{key}' is not allowed with {}{}",
                self.command_name(),
                if key == "priority" {
                    " (use --strict)"
                } else {
                    ""
                }
            ))
        };
        let flag = match key {
            "send_flow_rem" => Some(flow_mod_flags::SEND_FLOW_REM),
            "check_overlap" => Some(flow_mod_flags::CHECK_OVERLAP),
            "reset_counts" => Some(flow_mod_flags::RESET_COUNTS),
            "no_packet_counts" => Some(flow_mod_flags::NO_PKT_COUNTS),
            "no_byte_counts" => Some(flow_mod_flags::NO_BYT_COUNTS),
            _ => None,
        };
        if let Some(flag) = flag {
            if !self.flags {
                return not_here();
            }
            fm.flags |= flag;
            return Ok(false);
        }
        match key {
            "no_readonly_table" | "allow_hidden_fields" => return Ok(false),
            "actions" | "action" => {
                return fail(format!("{} takes no actions", self.command_name()))
            }
            _ => {}
        }
        let known = [
            "table",
            "out_port",
            "out_group",
            "priority",
            "idle_timeout",
            "hard_timeout",
            "importance",
            "cookie",
            "duration",
            "n_packets",
            "n_bytes",
            "idle_age",
            "hard_age",
        ];
        if !known.contains(&key) {
            return fail(format!("unknown field '{key}'"));
        }
        if value.is_empty() {
            return fail(format!("field {key} missing value"));
        }
        match key {
            "table" => {
                fm.table_id = match decimal_u32(value) {
                    Some(t) => u8::try_from(t).map_err(|_| {
                        ParseError::new(format!("table {value} out of range 0..255"))
                    })?,
                    None => table_by_name(value, self.names.map(|n| &n.tables))?,
                };
                return Ok(true);
            }
            "out_port" if self.out_port => {
                fm.out_port = port_to_ofp11(port_arg(value, key, self.names.map(|n| &n.ports))?)
            }
            "out_group" if self.out_port => fm.out_group = parse_group_id(value, key)?,
            "priority" if self.priority => fm.priority = uint_arg(value, key, 0xffff)? as u16,
            "idle_timeout" if self.timeouts => {
                fm.idle_timeout = uint_arg(value, key, 0xffff)? as u16
            }
            "hard_timeout" if self.timeouts => {
                fm.hard_timeout = uint_arg(value, key, 0xffff)? as u16
            }
            "importance" if self.command == flow_mod_command::ADD => {
                // OpenFlow 1.4+; OVS drops it when encoding 1.3.
                uint_arg(value, key, 0xffff)?;
            }
            "cookie" => self.parse_cookie(fm, value)?,
            "duration" | "n_packets" | "n_bytes" | "idle_age" | "hard_age" => {}
            _ => return not_here(),
        }
        Ok(false)
    }

    /// `cookie=V` sets an ADD's cookie; `cookie=V/M` matches for MODIFY and
    /// DELETE. OVS keeps a MODIFY's new cookie in a field OpenFlow 1.3 has no
    /// room for, so it is checked and then dropped, as OVS does.
    fn parse_cookie(&self, fm: &mut FlowMod, value: &str) -> Result<()> {
        use flow_mod_command::*;
        match value.split_once('/') {
            Some((v, m)) => {
                if self.command == ADD {
                    return fail(format!(
                        "add-flow cannot use a cookie mask: 'cookie={value}'"
                    ));
                }
                let v = u64_arg(v, "cookie")?;
                let m = u64_arg(m, "cookie mask")?;
                fm.cookie = v & m;
                fm.cookie_mask = m;
            }
            None => {
                let v = u64_arg(value, "cookie")?;
                match self.command {
                    ADD => fm.cookie = v,
                    MODIFY | MODIFY_STRICT => {}
                    _ => {
                        return fail(format!(
                            "del-flows cannot set a cookie: to match one use 'cookie={value}/-1'"
                        ))
                    }
                }
            }
        }
        Ok(())
    }
}

/// Splits a flow at its actions the way OVS's `ofp_extract_actions` does:
/// at the first `action`, then after the next `=`.
fn split_actions(text: &str) -> Result<(&str, &str)> {
    let Some(at) = text.find("action") else {
        return fail("must specify an action: add 'actions=...' (actions=drop to drop)");
    };
    let after = &text[at..];
    let Some(eq) = after.find('=') else {
        return fail("must specify an action: add 'actions=...' (actions=drop to drop)");
    };
    Ok((&text[..at], &after[eq + 1..]))
}

fn parse_group_id(value: &str, what: &str) -> Result<u32> {
    if value.eq_ignore_ascii_case("any") {
        Ok(group_no::ANY)
    } else if value.eq_ignore_ascii_case("all") {
        Ok(group_no::ALL)
    } else {
        decimal_u32(value).ok_or_else(|| ParseError::new(format!("bad group '{value}' in {what}")))
    }
}

// ---------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------

/// One action or instruction as OVS holds it before encoding ("ofpact").
#[derive(Clone, Debug)]
enum Act {
    Output {
        port: u16,
        max_len: u16,
    },
    /// NXAST_CONTROLLER: `controller(reason=..,id=..)`.
    NxController {
        max_len: u16,
        id: u16,
        reason: u8,
    },
    Group(u32),
    Enqueue {
        port: u16,
        queue: u32,
    },
    SetVlanVid {
        vid: u16,
        push: bool,
        had_vlan: bool,
    },
    SetVlanPcp {
        pcp: u8,
        push: bool,
        had_vlan: bool,
    },
    StripVlan,
    PushVlan(u16),
    SetEthSrc(u64),
    SetEthDst(u64),
    SetIpv4Src(u32),
    SetIpv4Dst(u32),
    SetDscp(u8),
    SetEcn(u8),
    SetIpTtl(u8),
    /// `mod_tp_src`/`mod_tp_dst`; `proto` is filled in by the check.
    SetL4 {
        dst: bool,
        port: u16,
        proto: Option<u8>,
    },
    DecTtl(Vec<u16>),
    SetMplsLabel(u32),
    SetMplsTc(u8),
    SetMplsTtl(u8),
    DecMplsTtl,
    PushMpls(u16),
    PopMpls(u16),
    SetTunnel(u64),
    SetQueue(u32),
    PopQueue,
    /// `copy_ttl_in`/`copy_ttl_out`: OpenFlow actions OVS does not parse,
    /// accepted here as an extension.
    CopyTtlIn,
    CopyTtlOut,
    SetField {
        name: &'static str,
        fid: Fid,
        vm: Vm,
    },
    Meter(u32),
    ClearActions,
    WriteActions(Vec<Act>),
    WriteMetadata {
        v: u64,
        m: u64,
    },
    GotoTable(u8),
}

/// OVS's instruction ranks (`ovs_instruction_type`): text must list them in
/// this order.
const INST_NAMES: [&str; 6] = [
    "meter",
    "apply_actions",
    "clear_actions",
    "write_actions",
    "write_metadata",
    "goto_table",
];

impl Act {
    fn rank(&self) -> usize {
        match self {
            Act::Meter(_) => 0,
            Act::ClearActions => 2,
            Act::WriteActions(_) => 3,
            Act::WriteMetadata { .. } => 4,
            Act::GotoTable(_) => 5,
            _ => 1,
        }
    }
}

/// OVS nests `write_actions(...)` at most this deep.
const MAX_DEPTH: usize = 100;

/// Parses a comma-separated action list (OVS `ofpacts_parse__`).
fn parse_act_list(
    text: &str,
    allow_instructions: bool,
    depth: usize,
    names: Option<&Names>,
) -> Result<Vec<Act>> {
    if depth >= MAX_DEPTH {
        return fail("actions nested too deeply");
    }
    let mut acts = Vec::new();
    let mut drop = false;
    for (key, value) in KeyValues::new(text) {
        let lower = key.to_ascii_lowercase();
        if lower == "drop" {
            drop = true;
            continue;
        }
        acts.push(parse_act(&lower, key, value, depth, names)?);
    }
    if drop && !acts.is_empty() {
        return fail("'drop' must not be combined with other actions");
    }
    verify_order(&acts, allow_instructions)?;
    Ok(acts)
}

/// OVS `ofpacts_verify`: instructions in the order OpenFlow 1.1+ encodes
/// them, each at most once, and none inside `write_actions`.
fn verify_order(acts: &[Act], allow_instructions: bool) -> Result<()> {
    let mut prev = 0usize;
    for (i, a) in acts.iter().enumerate() {
        let next = a.rank();
        if i > 0 && (if prev == 1 { next < prev } else { next <= prev }) {
            return if next == prev {
                fail(format!("duplicate {} instruction", INST_NAMES[next]))
            } else {
                fail(format!(
                    "{} must come before {} (OpenFlow instruction order: meter, actions, \
                     clear_actions, write_actions, write_metadata, goto_table)",
                    INST_NAMES[next], INST_NAMES[prev]
                ))
            };
        }
        if !allow_instructions && next != 1 {
            return fail(format!(
                "{} is an instruction, not allowed here (only actions)",
                INST_NAMES[next]
            ));
        }
        prev = next;
    }
    Ok(())
}

/// A table given by name (text that is not a decimal number), looked up in
/// `tables` bare or JSON-quoted as OVS's `ofputil_table_from_string` does.
fn table_by_name(text: &str, tables: Option<&NameMap>) -> Result<u8> {
    tables
        .and_then(|t| t.lookup(text))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| ParseError::unknown_table(text))
}

/// Parses one action `key` (lower-cased in `lower`) with argument `arg`.
fn parse_act(
    lower: &str,
    key: &str,
    arg: &str,
    depth: usize,
    names: Option<&Names>,
) -> Result<Act> {
    let ports = names.map(|n| &n.ports);
    let tables = names.map(|n| &n.tables);
    let u8_arg = |what: &str| uint_arg(arg, what, 0xff).map(|v| v as u8);
    let u16_arg = |what: &str| uint_arg(arg, what, 0xffff).map(|v| v as u16);
    let u32_arg = |what: &str| -> Result<u32> {
        if arg.is_empty() {
            return fail(format!("{key} needs a numeric argument"));
        }
        uint_arg(arg, what, u64::from(u32::MAX)).map(|v| v as u32)
    };
    Ok(match lower {
        "output" => parse_output(arg, ports)?,
        "controller" => parse_controller(arg)?,
        "group" => Act::Group(u32_arg("group")?),
        "enqueue" => parse_enqueue(arg, ports)?,
        "mod_vlan_vid" | "set_vlan_vid" => {
            let vid = u16_arg("VLAN VID")?;
            if vid > 0xfff {
                return fail(format!("VLAN VID {vid} out of range 0..4095 in {key}"));
            }
            Act::SetVlanVid {
                vid,
                push: lower == "mod_vlan_vid",
                had_vlan: false,
            }
        }
        "mod_vlan_pcp" | "set_vlan_pcp" => {
            let pcp = u8_arg("VLAN PCP")?;
            if pcp > 7 {
                return fail(format!("VLAN PCP {pcp} out of range 0..7 in {key}"));
            }
            Act::SetVlanPcp {
                pcp,
                push: lower == "mod_vlan_pcp",
                had_vlan: false,
            }
        }
        "strip_vlan" | "pop_vlan" => Act::StripVlan,
        "push_vlan" => {
            let t = u16_arg("push_vlan ethertype")?;
            if t != 0x8100 && t != 0x88a8 {
                return fail(format!(
                    "push_vlan:{arg}: ethertype must be 0x8100 or 0x88a8"
                ));
            }
            Act::PushVlan(t)
        }
        "mod_dl_src" | "mod_dl_dst" => {
            let m = parse_mac(arg)
                .ok_or_else(|| ParseError::new(format!("bad Ethernet address '{arg}' in {key}")))?;
            if lower == "mod_dl_src" {
                Act::SetEthSrc(m)
            } else {
                Act::SetEthDst(m)
            }
        }
        "mod_nw_src" | "mod_nw_dst" => {
            let ip = parse_ipv4(arg)
                .ok_or_else(|| ParseError::new(format!("bad IPv4 address '{arg}' in {key}")))?;
            if lower == "mod_nw_src" {
                Act::SetIpv4Src(ip)
            } else {
                Act::SetIpv4Dst(ip)
            }
        }
        "mod_nw_tos" => {
            let tos = u8_arg("TOS")?;
            if tos & 3 != 0 {
                return fail(format!(
                    "mod_nw_tos:{tos} has ECN bits set: use a multiple of 4"
                ));
            }
            Act::SetDscp(tos)
        }
        "mod_nw_ecn" => {
            let ecn = u8_arg("ECN")?;
            if ecn > 3 {
                return fail(format!("ECN {ecn} out of range 0..3 in mod_nw_ecn"));
            }
            Act::SetEcn(ecn)
        }
        "mod_nw_ttl" | "set_nw_ttl" => Act::SetIpTtl(u8_arg("TTL")?),
        "mod_tp_src" | "mod_tp_dst" => Act::SetL4 {
            dst: lower == "mod_tp_dst",
            port: u16_arg(if lower == "mod_tp_src" {
                "source port"
            } else {
                "destination port"
            })?,
            proto: None,
        },
        "dec_ttl" => parse_dec_ttl(arg)?,
        "set_mpls_label" => {
            let l = u32_arg("MPLS label")?;
            if l > 0xf_ffff {
                return fail(format!("MPLS label {l} out of range 0..1048575"));
            }
            Act::SetMplsLabel(l)
        }
        "set_mpls_tc" => {
            let tc = u8_arg("MPLS TC")?;
            if tc > 7 {
                return fail(format!("MPLS TC {tc} out of range 0..7"));
            }
            Act::SetMplsTc(tc)
        }
        "set_mpls_ttl" => Act::SetMplsTtl(u8_arg("MPLS TTL")?),
        "dec_mpls_ttl" => Act::DecMplsTtl,
        "push_mpls" => Act::PushMpls(u16_arg("push_mpls ethertype")?),
        "pop_mpls" => Act::PopMpls(u16_arg("pop_mpls ethertype")?),
        "set_tunnel" | "set_tunnel64" => Act::SetTunnel(u64_arg(arg, key)?),
        "set_queue" => Act::SetQueue(u32_arg("queue")?),
        "pop_queue" => Act::PopQueue,
        "copy_ttl_in" => Act::CopyTtlIn,
        "copy_ttl_out" => Act::CopyTtlOut,
        "set_field" => parse_set_field(arg)?,
        "meter" => Act::Meter(u32_arg("meter")?),
        "clear_actions" => Act::ClearActions,
        "write_actions" => Act::WriteActions(parse_act_list(arg, false, depth + 1, names)?),
        "write_metadata" => parse_write_metadata(arg)?,
        "goto_table" => match decimal_u32(arg).map(u8::try_from) {
            Some(Ok(t)) => Act::GotoTable(t),
            Some(Err(_)) => return fail(format!("table {arg} out of range 0..255 in goto_table")),
            None => Act::GotoTable(table_by_name(arg, tables)?),
        },
        "apply_actions" => {
            return fail("apply_actions is the default instruction: list the actions directly")
        }
        "load" | "move" | "resubmit" | "learn" | "ct" | "ct_clear" | "nat" | "note" | "exit"
        | "bundle" | "bundle_load" | "multipath" | "output_reg" | "output_trunc" | "sample"
        | "clone" | "conjunction" | "fin_timeout" | "push" | "pop" | "encap" | "decap"
        | "dec_nsh_ttl" | "delete_field" | "check_pkt_larger" | "debug_recirc" | "debug_slow"
        | "set_mpls_label_ttl" | "unroll_xlate" => {
            return fail(format!(
                "action '{key}' is an Open vSwitch extension that is not supported"
            ))
        }
        // A bare port number or name outputs there (`actions=2`, `actions=p2`).
        _ if arg.is_empty() => match port_arg(key, "actions", ports) {
            Ok(port) => output_act(port),
            Err(e) if e.is_unknown_name() && ports.is_none() => {
                // Perhaps a port's name: marked so, in ovs-ofctl's words.
                return Err(ParseError {
                    message: format!("unknown action '{key}'"),
                    ..e
                });
            }
            Err(_) => return fail(format!("unknown action '{key}'")),
        },
        _ => return fail(format!("unknown action '{key}'")),
    })
}

fn output_act(port: u16) -> Act {
    Act::Output {
        port,
        max_len: if port == OFPP_CONTROLLER16 { 0xffff } else { 0 },
    }
}

fn parse_output(arg: &str, ports: Option<&NameMap>) -> Result<Act> {
    if arg.contains("port") && arg.contains("max_len") {
        return fail(format!(
            "output({arg}) (output_trunc) is an Open vSwitch extension that is not supported"
        ));
    }
    port_arg(arg, "output", ports).map(output_act)
}

/// `controller`, `controller:LEN` or `controller(key=value,...)`.
fn parse_controller(arg: &str) -> Result<Act> {
    let mut max_len = 0xffffu16;
    let mut reason = 1u8; // OFPR_ACTION
    let mut id = 0u16;
    if !arg.is_empty() && arg.bytes().all(|c| c.is_ascii_digit()) {
        max_len = uint_arg(arg, "controller max_len", 0xffff)? as u16;
    } else {
        for (k, v) in KeyValues::new(arg) {
            match k {
                "max_len" => max_len = uint_arg(v, "controller max_len", 0xffff)? as u16,
                "id" => id = uint_arg(v, "controller id", 0xffff)? as u16,
                "reason" => {
                    const REASONS: [&str; 6] = [
                        "no_match",
                        "action",
                        "invalid_ttl",
                        "action_set",
                        "group",
                        "packet_out",
                    ];
                    reason = REASONS
                        .iter()
                        .position(|r| r.eq_ignore_ascii_case(v))
                        .and_then(|i| u8::try_from(i).ok())
                        .ok_or_else(|| {
                            ParseError::new(format!("unknown controller reason '{v}'"))
                        })?;
                }
                "userdata" | "pause" | "meter_id" => {
                    return fail(format!(
                        "controller({k}) is an Open vSwitch extension that is not supported"
                    ))
                }
                _ => return fail(format!("unknown key '{k}' in controller action")),
            }
        }
    }
    Ok(if reason == 1 && id == 0 {
        Act::Output {
            port: OFPP_CONTROLLER16,
            max_len,
        }
    } else {
        Act::NxController {
            max_len,
            id,
            reason,
        }
    })
}

/// `enqueue:PORT:QUEUE` or `enqueue(PORT,QUEUE)`.
fn parse_enqueue(arg: &str, ports: Option<&NameMap>) -> Result<Act> {
    let syntax = || fail("enqueue syntax is 'enqueue:PORT:QUEUE' or 'enqueue(PORT,QUEUE)'");
    let Some(split) = arg.find([':', 'q', ',']) else {
        return syntax();
    };
    let (port, queue) = (&arg[..split], &arg[split + 1..]);
    if port.is_empty() || queue.is_empty() {
        return syntax();
    }
    let port = port_arg(port, "enqueue", ports)?;
    let queue = uint_arg(queue, "enqueue queue", u64::from(u32::MAX))? as u32;
    Ok(Act::Enqueue { port, queue })
}

/// `dec_ttl` or `dec_ttl(id,...)` (Nicira's controller-id form).
fn parse_dec_ttl(arg: &str) -> Result<Act> {
    let mut ids = Vec::new();
    for id in arg.split([',', ' ']).filter(|s| !s.is_empty()) {
        ids.push(uint_arg(id, "dec_ttl controller id", 0xffff)? as u16);
    }
    if ids.len() > 1000 {
        return fail("dec_ttl lists too many controller ids");
    }
    Ok(Act::DecTtl(ids))
}

fn parse_write_metadata(arg: &str) -> Result<Act> {
    let (v, m) = match arg.split_once('/') {
        Some((v, m)) => (v, u64_arg(m, "write_metadata mask")?),
        None => (arg, u64::MAX),
    };
    let v = u64_arg(v, "write_metadata")?;
    Ok(Act::WriteMetadata { v, m })
}

/// `set_field:VALUE[/MASK]->FIELD`.
fn parse_set_field(arg: &str) -> Result<Act> {
    let Some((value, name)) = arg.split_once("->") else {
        return fail(format!("set_field:{arg} is missing '->FIELD'"));
    };
    if name.is_empty() {
        return fail(format!(
            "set_field:{arg} is missing the field name after '->'"
        ));
    }
    let Some(f) = field_by_name(name) else {
        return fail(format!("unknown field '{name}' in set_field"));
    };
    if !f.settable {
        return fail(format!("set_field cannot write {name}"));
    }
    if value.is_empty() {
        return fail(format!("set_field:{arg} is missing a value"));
    }
    let vm = parse_field_value(&f, value, None)?;
    if f.fid == Fid::VlanVid && vm.v & VLAN_CFI == 0 {
        return fail(format!(
            "set_field:{value}->vlan_vid lacks OFPVID_PRESENT: use {:#x} (or mod_vlan_vid:{})",
            vm.v | VLAN_CFI,
            vm.v & VLAN_VID_MASK
        ));
    }
    let name = FIELDS
        .iter()
        .find(|d| d.name == name)
        .map_or("reg", |d| d.name);
    Ok(Act::SetField {
        name,
        fid: f.fid,
        vm,
    })
}

// ---------------------------------------------------------------------------
// Checking actions against the match (OVS `ofpacts_check`)
// ---------------------------------------------------------------------------

/// Walks the actions as OVS's `ofpacts_check` does, tracking what the packet
/// is after each one. With `strict`, an action that does not fit (which OVS
/// only permits in OpenFlow 1.0) is an error; inside `write_actions` OVS
/// does not check that, and nor does this.
fn check_acts(acts: &mut [Act], ctx: &mut Ctx, table: Option<u8>, strict: bool) -> Result<()> {
    for a in acts.iter_mut() {
        check_act(a, ctx, table, strict)?;
    }
    Ok(())
}

fn inconsistent(strict: bool, msg: String) -> Result<()> {
    if strict {
        Err(ParseError::new(msg))
    } else {
        Ok(())
    }
}

fn check_act(a: &mut Act, ctx: &mut Ctx, table: Option<u8>, strict: bool) -> Result<()> {
    let name = act_name(a);
    match a {
        Act::Output { port, .. } if !valid_output_port(*port) => {
            return fail(format!("cannot output to port {}", port_name(*port)));
        }
        Act::Enqueue { port, .. } if !enqueue_port_ok(*port) => {
            return fail(format!("cannot enqueue on port {}", port_name(*port)));
        }
        Act::SetVlanVid { push, had_vlan, .. } | Act::SetVlanPcp { push, had_vlan, .. } => {
            *had_vlan = ctx.vlans[0];
            if !*had_vlan && !*push {
                let msg = format!(
                    "{name} needs a VLAN tag: match one, push_vlan first, or use mod_vlan_*"
                );
                inconsistent(strict, msg)?;
            }
            ctx.vlans[0] = true;
        }
        Act::StripVlan => {
            if !ctx.vlans[0] {
                let msg =
                    "strip_vlan needs a VLAN tag: match one (e.g. dl_vlan=N) or push_vlan first";
                inconsistent(strict, msg.into())?;
            }
            ctx.vlans = [ctx.vlans[1], false];
        }
        Act::PushVlan(_) if ctx.vlans[1] => {
            return fail("push_vlan: the packet already has two VLAN tags");
        }
        Act::PushVlan(_) => ctx.vlans = [true, ctx.vlans[0]],
        Act::SetIpv4Src(_) | Act::SetIpv4Dst(_) if ctx.dl_type != 0x0800 => {
            inconsistent(strict, format!("{name} needs an IPv4 match: add 'ip,'"))?;
        }
        Act::SetDscp(_) | Act::SetEcn(_) | Act::SetIpTtl(_) | Act::DecTtl(_) if !ctx.is_ip() => {
            inconsistent(strict, format!("{name} needs ip or ipv6: add 'ip,'"))?;
        }
        Act::SetL4 { proto, .. } => {
            let p = ctx.nw_proto;
            if !ctx.is_ip() || ctx.frag_later || !matches!(p, 6 | 17 | 132) {
                inconsistent(strict, format!("{name} needs tcp, udp or sctp: add 'tcp,'"))?;
            }
            *proto = Some(p);
        }
        Act::SetMplsLabel(_) | Act::SetMplsTc(_) | Act::SetMplsTtl(_) | Act::DecMplsTtl
            if !ctx.is_mpls() =>
        {
            inconsistent(
                strict,
                format!("{name} needs mpls: add 'mpls,' or push_mpls first"),
            )?;
        }
        Act::PushMpls(t) => {
            ctx.dl_type = *t;
            ctx.nw_proto = 0;
        }
        Act::PopMpls(t) => {
            if !ctx.is_mpls() {
                let msg = "pop_mpls needs mpls: add 'mpls,' or push_mpls first";
                inconsistent(strict, msg.into())?;
            }
            ctx.dl_type = *t;
        }
        Act::SetField {
            name: field,
            fid,
            vm,
        } => check_set_field(field, *fid, *vm, ctx)?,
        Act::WriteActions(inner) => {
            let mut copy = *ctx;
            check_acts(inner, &mut copy, table, false)?;
        }
        Act::GotoTable(t) if table.is_some_and(|cur| *t <= cur) => {
            let cur = table.unwrap_or_default();
            return fail(format!(
                "goto_table:{t} must go to a later table than table={cur}"
            ));
        }
        Act::Meter(m) if *m == 0 || *m > meter_no::MAX => {
            return fail(format!("meter {m} out of range 1..{}", meter_no::MAX));
        }
        _ => {}
    }
    Ok(())
}

fn enqueue_port_ok(p: u16) -> bool {
    u32::from(p) < OFPP_MAX16 || p == 0xfff8 || p == 0xfffe
}

fn port_name(p: u16) -> String {
    port_no::reserved_name(port_to_ofp11(p)).map_or_else(|| p.to_string(), str::to_string)
}

fn act_name(a: &Act) -> &'static str {
    match a {
        Act::SetIpv4Src(_) => "mod_nw_src",
        Act::SetIpv4Dst(_) => "mod_nw_dst",
        Act::SetDscp(_) => "mod_nw_tos",
        Act::SetEcn(_) => "mod_nw_ecn",
        Act::SetIpTtl(_) => "mod_nw_ttl",
        Act::DecTtl(_) => "dec_ttl",
        Act::SetL4 { dst: false, .. } => "mod_tp_src",
        Act::SetL4 { dst: true, .. } => "mod_tp_dst",
        Act::SetMplsLabel(_) => "set_mpls_label",
        Act::SetMplsTc(_) => "set_mpls_tc",
        Act::SetMplsTtl(_) => "set_mpls_ttl",
        Act::DecMplsTtl => "dec_mpls_ttl",
        Act::SetVlanVid { .. } => "set_vlan_vid",
        Act::SetVlanPcp { .. } => "set_vlan_pcp",
        _ => "action",
    }
}

/// OVS `check_SET_FIELD`: the field's prerequisites must hold at this point
/// of the action list, and vlan_vid needs a tag to write into.
fn check_set_field(name: &str, fid: Fid, vm: Vm, ctx: &mut Ctx) -> Result<()> {
    let pre = FIELDS
        .iter()
        .find(|d| d.name == name)
        .map_or(Pre::None, |d| d.pre);
    // Written, the shared-storage names are the plain OVS fields: `icmp_type`
    // is ICMPv4's and `nw_src` IPv4's.
    let pre = match pre {
        Pre::IcmpAny => Pre::Icmp4,
        Pre::Ipv4Arp => Pre::Ipv4,
        Pre::IpArp => Pre::IpAny,
        p => p,
    };
    if !ctx.satisfies(pre) || (fid == Fid::VlanVid && !ctx.vlans[0]) {
        let (what, fix) = if fid == Fid::VlanVid {
            ("a VLAN tag", "dl_vlan=N, (or push_vlan first)")
        } else {
            pre.explain()
        };
        return fail(format!("set_field {name} needs {what}: add '{fix}'"));
    }
    if ctx.frag_later && matches!(pre, Pre::Tcp | Pre::Udp | Pre::Sctp) {
        return fail(format!(
            "set_field {name} cannot apply to later fragments (nw_frag=later)"
        ));
    }
    if fid == Fid::VlanTci {
        ctx.vlans[0] = vm.v & VLAN_CFI != 0;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Encoding to OpenFlow 1.3 instructions and actions
// ---------------------------------------------------------------------------

/// Groups consecutive actions into one APPLY_ACTIONS, instructions as they
/// come (OVS `ofpacts_put_openflow_instructions`).
fn encode_instructions(acts: &[Act]) -> Result<Vec<Instruction>> {
    let mut out = Vec::new();
    let mut apply: Option<Vec<Action>> = None;
    for a in acts {
        let inst = match a {
            Act::Meter(m) => Instruction::Meter(*m),
            Act::ClearActions => Instruction::ClearActions,
            Act::WriteActions(inner) => {
                let list = encode_actions(inner)?;
                if list.is_empty() {
                    // OVS leaves an empty write_actions out.
                    continue;
                }
                Instruction::WriteActions(list)
            }
            Act::WriteMetadata { v, m } => Instruction::WriteMetadata {
                metadata: *v,
                mask: *m,
            },
            Act::GotoTable(t) => Instruction::GotoTable(*t),
            _ => {
                encode_action(a, apply.get_or_insert_with(Vec::new))?;
                continue;
            }
        };
        push_apply(&mut out, apply.take());
        out.push(inst);
    }
    push_apply(&mut out, apply.take());
    Ok(out)
}

/// Adds an APPLY_ACTIONS unless it came out empty (a set_field with a zero
/// mask encodes to nothing), which OVS leaves out.
fn push_apply(out: &mut Vec<Instruction>, list: Option<Vec<Action>>) {
    if let Some(list) = list.filter(|l| !l.is_empty()) {
        out.push(Instruction::ApplyActions(list));
    }
}

fn encode_actions(acts: &[Act]) -> Result<Vec<Action>> {
    let mut out = Vec::new();
    for a in acts {
        encode_action(a, &mut out)?;
    }
    Ok(out)
}

/// An NX action: Nicira vendor id, then subtype and body.
fn nx_action(subtype: u16, body: &[u8]) -> Action {
    let mut data = subtype.to_be_bytes().to_vec();
    data.extend_from_slice(body);
    // NX actions are padded to 8 bytes as part of their body.
    let pad = (8 - data.len() % 8) % 8;
    data.resize(data.len() + pad, 0);
    Action::Experimenter {
        experimenter: NX_VENDOR_ID,
        data,
    }
}

const NXAST_REG_LOAD: u16 = 7;
const NXAST_POP_QUEUE: u16 = 5;
const NXAST_CONTROLLER: u16 = 20;
const NXAST_DEC_TTL_CNT_IDS: u16 = 21;

fn encode_action(a: &Act, out: &mut Vec<Action>) -> Result<()> {
    let sf = |o: Oxm| Action::SetField(o);
    match a {
        Act::Output { port, max_len } => out.push(Action::Output {
            port: port_to_ofp11(*port),
            max_len: *max_len,
        }),
        Act::NxController {
            max_len,
            id,
            reason,
        } => {
            let mut b = max_len.to_be_bytes().to_vec();
            b.extend_from_slice(&id.to_be_bytes());
            b.extend_from_slice(&[*reason, 0]);
            out.push(nx_action(NXAST_CONTROLLER, &b));
        }
        Act::Group(g) => out.push(Action::Group(*g)),
        Act::Enqueue { port, queue } => {
            out.push(Action::SetQueue(*queue));
            out.push(Action::Output {
                port: port_to_ofp11(*port),
                max_len: 0xffff,
            });
            out.push(nx_action(NXAST_POP_QUEUE, &[]));
        }
        Act::SetVlanVid {
            vid,
            push,
            had_vlan,
        } => {
            if *push && !*had_vlan {
                out.push(Action::PushVlan(0x8100));
            }
            out.push(sf(Oxm::VlanVid(vid | 0x1000, None)));
        }
        Act::SetVlanPcp {
            pcp,
            push,
            had_vlan,
        } => {
            if *push && !*had_vlan {
                out.push(Action::PushVlan(0x8100));
            }
            out.push(sf(Oxm::VlanPcp(*pcp)));
        }
        Act::StripVlan => out.push(Action::PopVlan),
        Act::PushVlan(t) => out.push(Action::PushVlan(*t)),
        Act::SetEthSrc(m) => out.push(sf(Oxm::EthSrc(MacAddr::from_u64(*m), None))),
        Act::SetEthDst(m) => out.push(sf(Oxm::EthDst(MacAddr::from_u64(*m), None))),
        Act::SetIpv4Src(ip) => out.push(sf(Oxm::Ipv4Src(Ipv4Addr::from(*ip), None))),
        Act::SetIpv4Dst(ip) => out.push(sf(Oxm::Ipv4Dst(Ipv4Addr::from(*ip), None))),
        Act::SetDscp(tos) => out.push(sf(Oxm::IpDscp(tos >> 2))),
        Act::SetEcn(e) => out.push(sf(Oxm::IpEcn(*e))),
        Act::SetIpTtl(t) => out.push(Action::SetNwTtl(*t)),
        Act::SetL4 { dst, port, proto } => out.push(sf(l4_oxm(*dst, *port, *proto)?)),
        Act::DecTtl(ids) => {
            if ids.is_empty() {
                out.push(Action::DecNwTtl);
            } else {
                let n = u16::try_from(ids.len()).unwrap_or(u16::MAX);
                let mut b = n.to_be_bytes().to_vec();
                b.extend_from_slice(&[0; 4]);
                for id in ids {
                    b.extend_from_slice(&id.to_be_bytes());
                }
                out.push(nx_action(NXAST_DEC_TTL_CNT_IDS, &b));
            }
        }
        Act::SetMplsLabel(l) => out.push(sf(Oxm::MplsLabel(*l))),
        Act::SetMplsTc(tc) => out.push(sf(Oxm::MplsTc(*tc))),
        Act::SetMplsTtl(t) => out.push(Action::SetMplsTtl(*t)),
        Act::DecMplsTtl => out.push(Action::DecMplsTtl),
        Act::PushMpls(t) => out.push(Action::PushMpls(*t)),
        Act::PopMpls(t) => out.push(Action::PopMpls(*t)),
        Act::SetTunnel(v) => out.push(sf(Oxm::TunnelId(*v, None))),
        Act::SetQueue(q) => out.push(Action::SetQueue(*q)),
        Act::PopQueue => out.push(nx_action(NXAST_POP_QUEUE, &[])),
        Act::CopyTtlIn => out.push(Action::CopyTtlIn),
        Act::CopyTtlOut => out.push(Action::CopyTtlOut),
        Act::SetField { fid, vm, name } => encode_set_field(*fid, *vm, name, out)?,
        Act::Meter(_)
        | Act::ClearActions
        | Act::WriteActions(_)
        | Act::WriteMetadata { .. }
        | Act::GotoTable(_) => return fail("instructions are not allowed inside write_actions"),
    }
    Ok(())
}

/// `mod_tp_src`/`mod_tp_dst` become a set_field of the match's protocol.
fn l4_oxm(dst: bool, port: u16, proto: Option<u8>) -> Result<Oxm> {
    Ok(match (proto, dst) {
        (Some(6), false) => Oxm::TcpSrc(port, None),
        (Some(6), true) => Oxm::TcpDst(port, None),
        (Some(17), false) => Oxm::UdpSrc(port, None),
        (Some(17), true) => Oxm::UdpDst(port, None),
        (Some(132), false) => Oxm::SctpSrc(port, None),
        (Some(132), true) => Oxm::SctpDst(port, None),
        _ => {
            let name = if dst { "mod_tp_dst" } else { "mod_tp_src" };
            return fail(format!(
                "{name} needs a tcp, udp or sctp match to pick the field: use set_field:{port}->tcp_{}",
                if dst { "dst" } else { "src" }
            ));
        }
    })
}

/// The header a field has in NXM (`reg_load` destinations): class, field,
/// byte width; `None` for fields OVS addresses by their OXM header.
fn nxm_header(fid: Fid) -> (u32, usize) {
    use Fid::*;
    let (class, field, width): (u32, u32, usize) = match fid {
        InPort => (0, 0, 2),
        EthDst => (0, 1, 6),
        EthSrc => (0, 2, 6),
        VlanTci => (0, 4, 2),
        NwTos => (0, 5, 1),
        Ipv4Src => (0, 7, 4),
        Ipv4Dst => (0, 8, 4),
        TcpSrc => (0, 9, 2),
        TcpDst => (0, 10, 2),
        UdpSrc => (0, 11, 2),
        UdpDst => (0, 12, 2),
        Icmp4Type => (0, 13, 1),
        Icmp4Code => (0, 14, 1),
        ArpOp => (0, 15, 2),
        ArpSpa => (0, 16, 4),
        ArpTpa => (0, 17, 4),
        Reg(i) => (1, u32::from(i), 4),
        TunId => (1, 16, 8),
        ArpSha => (1, 17, 6),
        ArpTha => (1, 18, 6),
        Ipv6Src => (1, 19, 16),
        Ipv6Dst => (1, 20, 16),
        Icmp6Type => (1, 21, 1),
        Icmp6Code => (1, 22, 1),
        NdTarget => (1, 23, 16),
        NdSll => (1, 24, 6),
        NdTll => (1, 25, 6),
        Ipv6Label => (1, 27, 4),
        IpEcn => (1, 28, 1),
        IpTtl => (1, 29, 1),
        MplsTtl => (1, 30, 1),
        // No NXM header: OVS uses the OXM one.
        VlanVid => (0x8000, 6, 2),
        VlanPcp => (0x8000, 7, 1),
        MplsLabel => (0x8000, 34, 4),
        MplsTc => (0x8000, 35, 1),
        IpDscp => (0x8000, 8, 1),
        SctpSrc => (0x8000, 17, 2),
        SctpDst => (0x8000, 18, 2),
        Metadata => (0x8000, 2, 8),
        _ => (0x8000, 0, 0),
    };
    let len = width as u32;
    ((class << 16) | (field << 9) | len, width)
}

/// A set_field: exact ones as OFPAT_SET_FIELD (with the header OVS picks
/// for OpenFlow 1.3), masked ones as NXAST_REG_LOAD per run of mask bits,
/// as OVS encodes them.
fn encode_set_field(fid: Fid, vm: Vm, name: &str, out: &mut Vec<Action>) -> Result<()> {
    let bits = fid.bits();
    if vm.m == ones(bits) {
        out.push(Action::SetField(set_field_oxm(fid, vm.v, name)?));
        return Ok(());
    }
    let (header, width) = nxm_header(fid);
    if width == 0 {
        return fail(format!("set_field cannot write {name} with a mask"));
    }
    // OVS's field widths: vlan_vid is 12 bits, the flow label 20.
    let n_bits = match fid {
        Fid::VlanVid => 12,
        Fid::Ipv6Label => 20,
        _ => 8 * width as u32,
    };
    let mut start = 0u32;
    while start < n_bits {
        let Some(ofs) = (start..n_bits).find(|&b| vm.m >> b & 1 == 1) else {
            break;
        };
        let end = (ofs..n_bits.min(ofs + 64))
            .find(|&b| vm.m >> b & 1 == 0)
            .unwrap_or(n_bits.min(ofs + 64));
        let n = end - ofs;
        let value = (vm.v >> ofs) & ones(n);
        let ofs_nbits = u16::try_from((ofs << 6) | (n - 1)).unwrap_or(0);
        let mut b = ofs_nbits.to_be_bytes().to_vec();
        b.extend_from_slice(&header.to_be_bytes());
        b.extend_from_slice(&(value as u64).to_be_bytes());
        out.push(nx_action(NXAST_REG_LOAD, &b));
        start = end;
    }
    Ok(())
}

/// The OXM an exact set_field writes.
fn set_field_oxm(fid: Fid, v: u128, name: &str) -> Result<Oxm> {
    use Fid::*;
    Ok(match fid {
        EthSrc => Oxm::EthSrc(mac(v), None),
        EthDst => Oxm::EthDst(mac(v), None),
        VlanVid => Oxm::VlanVid(v as u16, None),
        VlanPcp => Oxm::VlanPcp(v as u8),
        MplsLabel => Oxm::MplsLabel(v as u32),
        MplsTc => Oxm::MplsTc(v as u8),
        Ipv4Src => Oxm::Ipv4Src(ipv4(v), None),
        Ipv4Dst => Oxm::Ipv4Dst(ipv4(v), None),
        Ipv6Src => Oxm::Ipv6Src(Ipv6Addr::from(v), None),
        Ipv6Dst => Oxm::Ipv6Dst(Ipv6Addr::from(v), None),
        Ipv6Label => Oxm::Ipv6Flabel(v as u32, None),
        IpDscp => Oxm::IpDscp(v as u8),
        IpEcn => Oxm::IpEcn(v as u8),
        ArpOp => Oxm::ArpOp(v as u16),
        ArpSpa => Oxm::ArpSpa(ipv4(v), None),
        ArpTpa => Oxm::ArpTpa(ipv4(v), None),
        ArpSha => Oxm::ArpSha(mac(v), None),
        ArpTha => Oxm::ArpTha(mac(v), None),
        TcpSrc => Oxm::TcpSrc(v as u16, None),
        TcpDst => Oxm::TcpDst(v as u16, None),
        UdpSrc => Oxm::UdpSrc(v as u16, None),
        UdpDst => Oxm::UdpDst(v as u16, None),
        SctpSrc => Oxm::SctpSrc(v as u16, None),
        SctpDst => Oxm::SctpDst(v as u16, None),
        Icmp4Type => Oxm::Icmpv4Type(v as u8),
        Icmp4Code => Oxm::Icmpv4Code(v as u8),
        Icmp6Type => Oxm::Icmpv6Type(v as u8),
        Icmp6Code => Oxm::Icmpv6Code(v as u8),
        NdTarget => Oxm::Ipv6NdTarget(Ipv6Addr::from(v), None),
        NdSll => Oxm::Ipv6NdSll(mac(v), None),
        NdTll => Oxm::Ipv6NdTll(mac(v), None),
        TunId => Oxm::TunnelId(v as u64, None),
        Metadata => Oxm::Metadata(v as u64, None),
        InPort => nxm(OFPXMC_NXM_0, 0, u128::from(v as u16), None, 2),
        VlanTci => nxm(OFPXMC_NXM_0, 4, v, None, 2),
        NwTos => nxm(OFPXMC_NXM_0, 5, v, None, 1),
        IpTtl => nxm(OFPXMC_NXM_1, 29, v, None, 1),
        MplsTtl => nxm(OFPXMC_NXM_1, 30, v, None, 1),
        Reg(i) => nxm(OFPXMC_NXM_1, i, v, None, 4),
        _ => return fail(format!("set_field cannot write {name}")),
    })
}

// ---------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------

fn group_mod(text: &str, command: u16, names: Option<&Names>) -> Result<GroupMod> {
    let buckets_allowed = match command {
        group::command::ADD | group::command::MODIFY => true,
        group::command::DELETE => false,
        _ => return fail(format!("unknown group_mod command {command}")),
    };
    let mut gm = GroupMod {
        command,
        group_type: group::group_type::ALL,
        group_id: group_no::ANY,
        buckets: Vec::new(),
    };
    if command == group::command::DELETE && text.is_empty() {
        gm.group_id = group_no::ALL;
        return Ok(gm);
    }
    let (head, buckets) = match text.find("bucket=") {
        Some(at) if !buckets_allowed => {
            return fail(format!("del-groups takes no buckets: '{}'", &text[at..]))
        }
        Some(at) => (&text[..at], Some(&text[at..])),
        None => (text, None),
    };
    let mut had_type = false;
    for (key, value) in KeyValues::new(head) {
        match key {
            "group_id" => {
                gm.group_id = if value == "all" {
                    group_no::ALL
                } else {
                    let id = uint_arg(value, "group_id", u64::from(u32::MAX))? as u32;
                    if id > group_no::MAX && id != group_no::ALL {
                        return fail(format!("group_id {id} out of range 0..{}", group_no::MAX));
                    }
                    id
                }
            }
            "type" if buckets_allowed => {
                gm.group_type = match value {
                    "all" => group::group_type::ALL,
                    "select" => group::group_type::SELECT,
                    "indirect" => group::group_type::INDIRECT,
                    "ff" | "fast_failover" => group::group_type::FF,
                    _ => return fail(format!("unknown group type '{value}'")),
                };
                had_type = true;
            }
            "selection_method" | "selection_method_param" | "fields" | "command_bucket_id" => {
                return fail(format!("'{key}' needs OpenFlow 1.5 and is not supported"))
            }
            _ => return fail(format!("unknown field '{key}' in group")),
        }
    }
    if gm.group_id == group_no::ANY {
        return fail("must specify a group_id");
    }
    if buckets_allowed && !had_type {
        return fail("must specify a type (all, select, indirect or ff)");
    }
    if let Some(mut rest) = buckets {
        loop {
            // `rest` starts at "bucket=".
            let body = &rest["bucket=".len()..];
            let (this, next) = match body.find("bucket=") {
                Some(at) => (&body[..at], Some(&body[at..])),
                None => (body, None),
            };
            let b = parse_bucket(this, gm.group_type, names)?;
            if gm.group_type != group::group_type::SELECT && b.weight != 0 {
                return fail("only select groups can have bucket weights");
            }
            gm.buckets.push(b);
            match next {
                Some(n) => rest = n,
                None => break,
            }
        }
    }
    if gm.group_type == group::group_type::INDIRECT && gm.buckets.len() > 1 {
        return fail("indirect groups can have at most one bucket");
    }
    Ok(gm)
}

/// One bucket (OVS `parse_bucket_str`): `weight`, `watch_port`,
/// `watch_group`, and actions either after `actions=` or as other items.
fn parse_bucket(text: &str, group_type: u8, names: Option<&Names>) -> Result<Bucket> {
    let mut b = Bucket::new(Vec::new());
    b.weight = u16::from(group_type == group::group_type::SELECT);
    let mut actions = String::new();
    for (key, value) in KeyValues::new(text) {
        match key.to_ascii_lowercase().as_str() {
            "weight" => b.weight = uint_arg(value, "weight", 0xffff)? as u16,
            "watch_port" => {
                let p = port_arg(value, "watch_port", names.map(|n| &n.ports))?;
                if u32::from(p) >= OFPP_MAX16 && p != OFPP_ANY16 && p != OFPP_CONTROLLER16 {
                    return fail(format!("bad watch_port '{value}'"));
                }
                b.watch_port = port_to_ofp11(p);
            }
            "watch_group" => {
                let g = uint_arg(value, "watch_group", u64::from(u32::MAX))? as u32;
                if g > group_no::MAX {
                    return fail(format!("watch_group {g} out of range 0..{}", group_no::MAX));
                }
                b.watch_group = g;
            }
            "bucket_id" => return fail("'bucket_id' needs OpenFlow 1.5 and is not supported"),
            "action" | "actions" => {
                actions.push_str(value);
                actions.push(',');
            }
            _ => {
                actions.push_str(key);
                actions.push('(');
                actions.push_str(value);
                actions.push_str("),");
            }
        }
    }
    if actions.is_empty() {
        return fail("bucket must specify actions");
    }
    if group_type == group::group_type::FF
        && b.watch_port == port_no::ANY
        && b.watch_group == group_no::ANY
    {
        return fail("fast failover bucket requires watch_port or watch_group");
    }
    let acts = parse_act_list(actions.trim_end_matches(','), false, 0, names)?;
    b.actions = encode_actions(&acts)?;
    Ok(b)
}

// ---------------------------------------------------------------------------
// Meters
// ---------------------------------------------------------------------------

/// Splits on any of the C `strtok` delimiters `seps`, skipping empties.
fn tokens<'a>(s: &'a str, seps: &'a [char]) -> impl Iterator<Item = &'a str> + 'a {
    s.split(seps).filter(|t| !t.is_empty())
}

fn meter_mod(text: &str, command: u16) -> Result<MeterMod> {
    let with_bands = match command {
        meter::command::ADD | meter::command::MODIFY => true,
        meter::command::DELETE => false,
        _ => return fail(format!("unknown meter_mod command {command}")),
    };
    let mut mm = MeterMod {
        command,
        flags: 0,
        meter_id: 0,
        bands: Vec::new(),
    };
    if !with_bands && text.is_empty() {
        mm.meter_id = meter_no::ALL;
        return Ok(mm);
    }
    let (head, bands) = if with_bands {
        let Some(at) = text.find("band") else {
            return fail("must specify bands: add 'band=type=drop,rate=N'");
        };
        let Some(eq) = text[at..].find('=') else {
            return fail("must specify bands: add 'band=type=drop,rate=N'");
        };
        (&text[..at], &text[at + eq + 1..])
    } else {
        (text, "")
    };
    let mut toks = tokens(head, &['=', ',', ' ', '\t', '\r', '\n']);
    while let Some(name) = toks.next() {
        let flag = match name {
            "kbps" => Some(meter::flags::KBPS),
            "pktps" => Some(meter::flags::PKTPS),
            "burst" => Some(meter::flags::BURST),
            "stats" => Some(meter::flags::STATS),
            _ => None,
        };
        if let (Some(f), true) = (flag, with_bands) {
            mm.flags |= f;
            continue;
        }
        let Some(value) = toks.next() else {
            return fail(format!("field {name} missing value"));
        };
        if name != "meter" {
            return fail(format!("unknown field '{name}' in meter"));
        }
        mm.meter_id = match value {
            "all" => meter_no::ALL,
            "controller" => meter_no::CONTROLLER,
            "slowpath" => meter_no::SLOWPATH,
            _ => {
                let id = uint_arg(value, "meter", u64::from(u32::MAX))? as u32;
                if id == 0 || id > meter_no::MAX {
                    return fail(format!("meter {id} out of range 1..{}", meter_no::MAX));
                }
                id
            }
        };
    }
    if mm.meter_id == 0 {
        return fail("must specify 'meter'");
    }
    if with_bands {
        // OVS only insists on some flag (`stats` alone passes, meaning kbps).
        if mm.flags == 0 {
            return fail("meter must specify either 'kbps' or 'pktps'");
        }
        mm.bands = parse_bands(bands, mm.flags & meter::flags::BURST != 0)?;
    } else {
        mm.flags = 0;
    }
    Ok(mm)
}

/// A band being parsed: type, rate, burst size, precedence level.
#[derive(Default)]
struct BandText {
    typ: u16,
    rate: u32,
    burst: u32,
    prec: u8,
}

fn parse_bands(text: &str, burst_flag: bool) -> Result<Vec<MeterBand>> {
    let mut bands: Vec<BandText> = Vec::new();
    let mut toks = tokens(text, &['=', ',', ' ', '\t', '\r', '\n']);
    while let Some(name) = toks.next() {
        let Some(value) = toks.next() else {
            return fail(format!("field {name} missing value"));
        };
        if name == "type" {
            let typ = match value {
                "drop" => meter::band_type::DROP,
                "dscp_remark" => meter::band_type::DSCP_REMARK,
                _ => return fail(format!("unknown band type '{value}'")),
            };
            bands.push(BandText {
                typ,
                ..BandText::default()
            });
            continue;
        }
        let Some(band) = bands.last_mut() else {
            return fail("band must start with 'type='");
        };
        match name {
            "rate" => band.rate = uint_arg(value, "rate", u64::from(u32::MAX))? as u32,
            "burst_size" => band.burst = uint_arg(value, "burst_size", u64::from(u32::MAX))? as u32,
            "prec_level" => band.prec = uint_arg(value, "prec_level", 0xff)? as u8,
            _ => return fail(format!("unknown field '{name}' in band")),
        }
    }
    if bands.is_empty() {
        return fail("meter must have bands");
    }
    bands.iter().map(|b| finish_band(b, burst_flag)).collect()
}

fn finish_band(b: &BandText, burst_flag: bool) -> Result<MeterBand> {
    if b.typ == meter::band_type::DSCP_REMARK && b.prec == 0 {
        return fail("dscp_remark band must have 'prec_level'");
    }
    if b.typ != meter::band_type::DSCP_REMARK && b.prec != 0 {
        return fail("only dscp_remark bands may have 'prec_level'");
    }
    if b.rate == 0 {
        return fail("band must have 'rate'");
    }
    if burst_flag && b.burst == 0 {
        return fail("band must have 'burst_size' when the 'burst' flag is set");
    }
    if !burst_flag && b.burst != 0 {
        return fail("band may have 'burst_size' only when the 'burst' flag is set");
    }
    Ok(if b.typ == meter::band_type::DROP {
        MeterBand::Drop {
            rate: b.rate,
            burst_size: b.burst,
        }
    } else {
        MeterBand::DscpRemark {
            rate: b.rate,
            burst_size: b.burst,
            prec_level: b.prec,
        }
    })
}
