//! Printing flow statistics as `ovs-ofctl -O OpenFlow13 dump-flows` does
//! (Open vSwitch 3.1), byte for byte.
//!
//! Entry points: [`flow_stats_line`] (one flow entry), [`match_to_string`],
//! [`actions_to_string`], [`format_duration`], and [`dump_flows`] (the whole
//! output for a sequence of OFPMP_FLOW replies).
//!
//! Why it is built the way it is:
//!
//! - OVS does not print OXMs one by one. It first decodes the match into its
//!   `struct match` (flow values plus wildcard masks), in which several OXMs
//!   share storage (`tcp_src`, `udp_src`, `sctp_src` and `icmp_type` are all
//!   `tp_src`; `vlan_vid` and `vlan_pcp` are one TCI; `ip_dscp` and `ip_ecn`
//!   are one TOS byte; `arp_op` is `nw_proto`), and then prints that
//!   structure in one fixed order with shorthands (`tcp`, `arp`, `ipv6`, ...)
//!   that absorb `dl_type` and `nw_proto` (`match_format()` in lib/match.c).
//!   `Flow` is that structure and `Flow::format` that order, so a match
//!   whose fields arrive in any order prints as OVS prints it. Values are
//!   stored masked, so `10.1.2.3/255.0.0.0` prints as `10.0.0.0/8`.
//! - Instructions are printed in OVS's canonical order whatever their order
//!   on the wire: meter, apply-actions (bare), clear_actions,
//!   write_actions(...), write_metadata, goto_table.
//! - Numbers follow the C formats OVS uses, including `%#x` printing zero as
//!   `0` (`write_metadata:0/0xff`, `metadata=0`).
//! - Where OVS itself cannot decode an entry (unknown flag bits, an output
//!   port outside the valid ranges, set_field of a read-only field, an
//!   experimenter action it does not know, ...), `ovs-ofctl` prints
//!   `***decode error: NAME***` and a hex dump instead of the remaining
//!   flows. [`ovs_decode_error`] says whether that happens and
//!   [`dump_flows`] reproduces it; [`flow_stats_line`] still prints its best
//!   rendering of such an entry.
//!
//! Supported beyond the OpenFlow basic class: the NXM fields `nw_ttl`,
//! `mpls_ttl`, `nw_frag`, `tcp_flags`, `reg0`..`reg15`, `pkt_mark`,
//! `tun_src`, `tun_dst` (and the NXM forms of the basic fields), the ONF
//! `tcp_flags` OXM, and the Nicira actions `controller(...)`, `resubmit`,
//! `set_tunnel`/`set_tunnel64`, `load` (reg_load), `pop_queue`, `note`,
//! `exit` and `dec_ttl(ids)`. OVS refuses matches with OXM fields it does
//! not know (`in_phy_port`, `pbb_isid`, `ipv6_exthdr`, unknown classes:
//! OFPBMC_BAD_FIELD) and fields whose prerequisites do not precede them
//! (OFPBMC_BAD_PREREQ); such fields are left out of the best-effort line.
//! Other Nicira fields and actions OVS knows (`ct`, `learn`, `move`, ...)
//! print here as raw hex where OVS would name them; this crate's parser
//! never produces them.
//!
//! Known approximation: for a set_field of a field OVS does not know, OVS
//! reports OFPBAC_BAD_SET_LEN or OFPBAC_BAD_SET_TYPE depending on what its
//! header hash table holds in the searched bucket; [`ovs_decode_error`]
//! gives BAD_SET_TYPE for experimenter OXMs and BAD_SET_LEN otherwise,
//! which matches the cases in the corpus but not every header.

use crate::action::Action;
use crate::instruction::Instruction;
use crate::message::{Body, Message};
use crate::multipart::{FlowStats, MultipartReply, MultipartReplyBody, MORE};
use crate::ofctl::names::Names;
use crate::oxm::{Match, Oxm};
use std::fmt::Write;

/// OVS's default priority, which `dump-flows` does not print.
const DEFAULT_PRIORITY: u16 = 0x8000;
/// Flow-mod flags OpenFlow 1.3 defines.
const FLAG_BITS: u16 = 0x1f;

const NX_VENDOR: u32 = 0x0000_2320;
const ONF_VENDOR: u32 = 0x4f4e_4600;

// ---------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------

/// One `dump-flows` line for one flow entry, with the leading space and
/// without a newline, e.g.
/// ` cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, priority=100,ip,nw_dst=10.0.0.0/8 actions=output:2`.
pub fn flow_stats_line(fs: &FlowStats) -> String {
    format!(" {}", flow_stats_text(fs, None, true))
}

/// One flow entry as `ofputil_flow_stats_format` prints it, without the
/// leading space ovs-ofctl puts before it: with `names`, ports and tables
/// that have a name print as that name (`in_port=h1`, `table="eth_src"`,
/// `goto_table:flood`, `output:h2`; reserved ports keep their own names,
/// `LOCAL`, `CONTROLLER`, ...); without `show_stats`, no duration and
/// counters, the cookie only when not zero, and the table only when not 0
/// or when it has a name (so with names every flow shows its table).
pub fn flow_stats_text(fs: &FlowStats, names: Option<&Names>, show_stats: bool) -> String {
    let mut s = String::with_capacity(160);
    if show_stats || fs.cookie != 0 {
        let _ = write!(s, "cookie={:#x}, ", fs.cookie);
    }
    if show_stats {
        let _ = write!(
            s,
            "duration={}, ",
            format_duration(fs.duration_sec, fs.duration_nsec)
        );
    }
    let table_name = names.and_then(|n| n.tables.name(u32::from(fs.table_id)));
    if show_stats || fs.table_id != 0 || table_name.is_some() {
        let _ = write!(s, "table={}, ", format_table(fs.table_id, names));
    }
    if show_stats {
        let _ = write!(
            s,
            "n_packets={}, n_bytes={}, ",
            counter(fs.packet_count),
            counter(fs.byte_count)
        );
    }
    if fs.idle_timeout != 0 {
        let _ = write!(s, "idle_timeout={}, ", fs.idle_timeout);
    }
    if fs.hard_timeout != 0 {
        let _ = write!(s, "hard_timeout={}, ", fs.hard_timeout);
    }
    for (bit, name) in [
        (1u16, "send_flow_rem "),
        (2, "check_overlap "),
        (4, "reset_counts "),
        (8, "no_packet_counts "),
        (16, "no_byte_counts "),
    ] {
        if fs.flags & bit != 0 {
            s.push_str(name);
        }
    }
    let m = format_match(&fs.match_, fs.priority, &mut Errors::default(), names);
    if !m.is_empty() {
        s.push_str(&m);
        s.push(' ');
    }
    s.push_str("actions=");
    s.push_str(&format_instructions(
        &fs.instructions,
        &mut Errors::default(),
        names,
    ));
    s
}

/// A table id, by name when `names` has one (`ofputil_format_table`).
fn format_table(table: u8, names: Option<&Names>) -> String {
    match names {
        Some(n) => n.tables.format(u32::from(table)),
        None => table.to_string(),
    }
}

/// A 16-bit (OVS-internal) port: reserved ports by their own name, others
/// by the name in `names` if any, else the number (`ofputil_format_port`).
fn format_port(p: u16, names: Option<&Names>) -> String {
    let plain = port16(p);
    match names {
        Some(n) if plain.starts_with(|c: char| c.is_ascii_digit()) => n.ports.format(u32::from(p)),
        _ => plain,
    }
}

/// A packet or byte count; OVS prints the all-ones "unknown" value as `?`.
fn counter(v: u64) -> String {
    if v == u64::MAX {
        "?".into()
    } else {
        v.to_string()
    }
}

/// The match as `dump-flows` prints it (without `priority=`), e.g.
/// `tcp,nw_src=10.0.0.0/8,tp_dst=80`; empty for a match-all.
pub fn match_to_string(m: &Match) -> String {
    format_match(m, DEFAULT_PRIORITY, &mut Errors::default(), None)
}

/// The match with its priority as ovs-ofctl's `cls_rule_format` prints
/// it: `priority=P` first unless it is the default, e.g.
/// `priority=10,ip,nw_dst=10.0.0.1`; empty for a match-all at the default
/// priority.
pub fn match_with_priority(m: &Match, priority: u16) -> String {
    format_match(m, priority, &mut Errors::default(), None)
}

/// What follows `actions=`: apply-actions bare, then `clear_actions`,
/// `write_actions(...)`, `write_metadata:V/M` and `goto_table:N` in OVS's
/// order, `meter:N` first; `drop` when there is nothing.
pub fn actions_to_string(instructions: &[Instruction]) -> String {
    format_instructions(instructions, &mut Errors::default(), None)
}

/// A flow duration as OVS prints it: `5s` without fraction, three decimals
/// when the fraction is whole milliseconds (`1.500s`), otherwise as many as
/// needed (`0.000000001s`).
pub fn format_duration(sec: u32, nsec: u32) -> String {
    let mut s = sec.to_string();
    if nsec > 0 {
        let msec = nsec / 1_000_000;
        if msec * 1_000_000 == nsec {
            let _ = write!(s, ".{msec:03}");
        } else {
            let frac = format!("{nsec:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
    }
    s.push('s');
    s
}

/// The OpenFlow error name (`OFPBAC_BAD_OUT_PORT`, ...) Open vSwitch 3.1
/// reports when it decodes this entry, or `None` when it prints the entry.
/// OVS refuses what this crate's decoder accepts in a few cases: flag bits
/// beyond OpenFlow 1.3's, output ports from 0xff00 to 0xfffffeff,
/// set_field of read-only or unknown fields, masked values with bits outside
/// their mask, duplicate fields or instructions, and actions it lacks
/// (`copy_ttl_in`, `push_pbb`, unknown experimenters, ...).
pub fn ovs_decode_error(fs: &FlowStats) -> Option<&'static str> {
    let mut e = Errors::default();
    format_match(&fs.match_, fs.priority, &mut e, None);
    if e.first.is_none() && fs.flags & !FLAG_BITS != 0 {
        e.set("OFPFMFC_BAD_FLAGS");
    }
    format_instructions(&fs.instructions, &mut e, None);
    e.first
}

/// The whole standard output of `ovs-ofctl -O OpenFlow13 dump-flows BRIDGE`
/// when it is redirected to a file or a pipe (the usual way to capture it):
/// for each reply message a header `OFPST_FLOW reply (OF1.3) (xid=0x2):`
/// (with ` flags=[more]` on all but the last part), then one line per flow
/// entry, each ending in a newline. Messages that are not flow-stats replies
/// are skipped.
///
/// With names shown (`--names`, or by default when its standard output is
/// a terminal), `--sort` or `--no-stats`, ovs-ofctl takes another path that
/// prints no header lines; [`dump_flows_lines`] gives that form.
pub fn dump_flows(replies: &[Message]) -> String {
    let mut out = String::new();
    for m in replies {
        let Body::MultipartReply(r) = &m.body else {
            continue;
        };
        let MultipartReplyBody::Flow(entries) = &r.body else {
            continue;
        };
        let mut s = format!(
            "OFPST_FLOW reply{} (xid={:#x}):",
            version_suffix(m.version),
            m.xid
        );
        // The flags count as printed body: a decode error then goes on a
        // line of its own.
        let header_len = s.len();
        s.push_str(&mp_flags(r));
        let mut error = None;
        for fs in entries {
            if let Some(e) = ovs_decode_error(fs) {
                error = Some(e);
                break;
            }
            s.push('\n');
            s.push_str(&flow_stats_line(fs));
        }
        match error {
            None => {
                while s.ends_with(' ') {
                    s.pop();
                }
            }
            Some(e) => {
                if s.len() > header_len {
                    while s.ends_with(' ') {
                        s.pop();
                    }
                    if !s.ends_with('\n') {
                        s.push('\n');
                    }
                } else {
                    s.push(' ');
                }
                let _ = writeln!(s, "***decode error: {e}***");
                s.push_str(&hex_dump(&m.to_bytes()));
            }
        }
        if !s.ends_with('\n') {
            s.push('\n');
        }
        out.push_str(&s);
    }
    out
}

/// The flow lines as `ovs-ofctl -O OpenFlow13 dump-flows BRIDGE` prints them
/// when it shows names (`--names`, or a terminal without `--no-names`) or
/// is given `--no-stats`: one line per entry of every flow-stats reply, a
/// space before each ([`flow_stats_text`]), no header. `names` are the
/// switch's port and table names when ovs-ofctl would show them.
pub fn dump_flows_lines(
    replies: &[MultipartReply],
    names: Option<&Names>,
    show_stats: bool,
) -> String {
    let flows = replies.iter().flat_map(|r| match &r.body {
        MultipartReplyBody::Flow(entries) => entries.as_slice(),
        _ => &[],
    });
    flow_lines(flows, names, show_stats)
}

/// Flow entries as [`dump_flows_lines`] prints them, in the order given
/// (`dump-flows --sort` orders them first).
pub fn flow_lines<'a>(
    flows: impl IntoIterator<Item = &'a FlowStats>,
    names: Option<&Names>,
    show_stats: bool,
) -> String {
    let mut out = String::new();
    for fs in flows {
        out.push(' ');
        out.push_str(&flow_stats_text(fs, names, show_stats));
        out.push('\n');
    }
    out
}

/// `ds_put_hex_dump(..., 0, true)`: what ovs-ofctl prints after a decode
/// error: 16 bytes a line with an ASCII column.
pub fn hex_dump(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _ = write!(s, "{:08x}  ", i * 16);
        for (j, b) in chunk.iter().enumerate() {
            let _ = write!(s, "{b:02x}{}", if j == 7 { '-' } else { ' ' });
        }
        for _ in chunk.len()..16 {
            s.push_str("   ");
        }
        s.push('|');
        for &b in chunk {
            s.push(if (32..127).contains(&b) {
                char::from(b)
            } else {
                '.'
            });
        }
        for _ in chunk.len()..16 {
            s.push(' ');
        }
        s.push_str("|\n");
    }
    s
}

fn version_suffix(v: u8) -> String {
    match v {
        1 => String::new(),
        2 => " (OF1.1)".into(),
        3 => " (OF1.2)".into(),
        4 => " (OF1.3)".into(),
        5 => " (OF1.4)".into(),
        6 => " (OF1.5)".into(),
        v => format!(" (OF 0x{v:02x})"),
    }
}

fn mp_flags(r: &MultipartReply) -> String {
    let mut flags = r.flags;
    if flags == 0 {
        return String::new();
    }
    let mut s = String::from(" flags=");
    if flags & MORE != 0 {
        s.push_str("[more]");
        flags &= !MORE;
    }
    if flags != 0 {
        let _ = write!(s, "[***unknown flags 0x{flags:04x}***]");
    }
    s
}

/// The first error OVS would report; formatting goes on regardless.
#[derive(Default)]
struct Errors {
    first: Option<&'static str>,
}

impl Errors {
    fn set(&mut self, e: &'static str) {
        if self.first.is_none() {
            self.first = Some(e);
        }
    }
}

// ---------------------------------------------------------------------------
// Small formatting helpers (C printf semantics)
// ---------------------------------------------------------------------------

/// `%#x`: `0` for zero, `0x..` otherwise.
fn hash_x(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

/// `ds_put_hex`: the bytes as one hex number without leading zeros, `0`
/// when all are zero.
fn put_hex(v: u128) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn mac(v: u64) -> String {
    let b = v.to_be_bytes();
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[2], b[3], b[4], b[5], b[6], b[7]
    )
}

fn mac_masked(v: u64, m: u64) -> String {
    if m == 0xffff_ffff_ffff {
        mac(v)
    } else {
        format!("{}/{}", mac(v), mac(m))
    }
}

fn ipv4(v: u32) -> String {
    let b = v.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

fn ipv4_masked(v: u32, m: u32) -> String {
    let mut s = ipv4(v);
    if m != u32::MAX {
        let x = !m;
        if x & x.wrapping_add(1) == 0 {
            let _ = write!(s, "/{}", m.count_ones());
        } else {
            let _ = write!(s, "/{}", ipv4(m));
        }
    }
    s
}

/// glibc's `inet_ntop(AF_INET6)`: the longest run (first on ties) of two
/// or more zero groups becomes `::`; `::a.b.c.d` and `::ffff:a.b.c.d` show
/// the IPv4 part dotted.
fn ipv6(v: u128) -> String {
    let w: Vec<u16> = (0..8).map(|i| (v >> (112 - 16 * i)) as u16).collect();
    let (mut best, mut best_len) = (None::<usize>, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                best = Some(start);
                best_len = i - start;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best = None;
    }
    let mut s = String::new();
    let mut i = 0;
    while i < 8 {
        if let Some(b) = best {
            if i >= b && i < b + best_len {
                if i == b {
                    s.push(':');
                }
                i += 1;
                continue;
            }
        }
        if i != 0 {
            s.push(':');
        }
        if i == 6 && best == Some(0) && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let _ = write!(s, "{}", ipv4(v as u32));
            break;
        }
        let _ = write!(s, "{:x}", w[i]);
        i += 1;
    }
    if best.is_some_and(|b| b + best_len == 8) {
        s.push(':');
    }
    s
}

fn ipv6_masked(v: u128, m: u128) -> String {
    let mut s = ipv6(v);
    if m != u128::MAX {
        let x = !m;
        if x & x.wrapping_add(1) == 0 {
            let _ = write!(s, "/{}", m.count_ones());
        } else {
            let _ = write!(s, "/{}", ipv6(m));
        }
    }
    s
}

/// A 16-bit OpenFlow 1.0-style port as OVS prints it.
fn port16(p: u16) -> String {
    match p {
        0xfff7 => "UNSET".into(),
        0xfff8 => "IN_PORT".into(),
        0xfff9 => "TABLE".into(),
        0xfffa => "NORMAL".into(),
        0xfffb => "FLOOD".into(),
        0xfffc => "ALL".into(),
        0xfffd => "CONTROLLER".into(),
        0xfffe => "LOCAL".into(),
        0xffff => "ANY".into(),
        p => p.to_string(),
    }
}

/// `ofputil_port_from_ofp11`: 32-bit port to OVS's 16-bit one.
fn port_from_ofp11(p: u32) -> Option<u16> {
    if p < 0xff00 {
        Some(p as u16)
    } else if p >= 0xffff_ff00 {
        Some((p - 0xffff_0000) as u16)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------
// Fields
// ---------------------------------------------------------------------------

/// The OVS fields (`mf_field`) this module knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fld {
    InPort,
    InPortOxm,
    Metadata,
    TunId,
    TunSrc,
    TunDst,
    Reg(u8),
    PktMark,
    EthSrc,
    EthDst,
    EthType,
    VlanTci,
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
    IpDscp,
    IpDscpShifted,
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
    /// OXM_OF_PACKET_TYPE (OpenFlow 1.5, accepted by OVS in 1.3 too).
    PacketType,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Dec,
    Hex,
    Eth,
    V4,
    V6,
    Port16,
    Port32,
    Frag,
    TcpFlags,
}

impl Fld {
    /// Looks a field up by its OXM/NXM class, field number and, for the
    /// experimenter class, experimenter id.
    fn from_header(class: u16, field: u8, exp: u32) -> Option<Fld> {
        use Fld::*;
        Some(match (class, field) {
            (0x8000, f) => match f {
                0 => InPortOxm,
                2 => Metadata,
                3 => EthDst,
                4 => EthSrc,
                5 => EthType,
                6 => VlanVid,
                7 => VlanPcp,
                8 => IpDscpShifted,
                9 => IpEcn,
                10 => IpProto,
                11 => Ipv4Src,
                12 => Ipv4Dst,
                13 => TcpSrc,
                14 => TcpDst,
                15 => UdpSrc,
                16 => UdpDst,
                17 => SctpSrc,
                18 => SctpDst,
                19 => Icmp4Type,
                20 => Icmp4Code,
                21 => ArpOp,
                22 => ArpSpa,
                23 => ArpTpa,
                24 => ArpSha,
                25 => ArpTha,
                26 => Ipv6Src,
                27 => Ipv6Dst,
                28 => Ipv6Label,
                29 => Icmp6Type,
                30 => Icmp6Code,
                31 => NdTarget,
                32 => NdSll,
                33 => NdTll,
                34 => MplsLabel,
                35 => MplsTc,
                36 => MplsBos,
                38 => TunId,
                44 => PacketType,
                _ => return None,
            },
            (0x0000, f) => match f {
                0 => InPort,
                1 => EthDst,
                2 => EthSrc,
                3 => EthType,
                4 => VlanTci,
                5 => IpDscp,
                6 => IpProto,
                7 => Ipv4Src,
                8 => Ipv4Dst,
                9 => TcpSrc,
                10 => TcpDst,
                11 => UdpSrc,
                12 => UdpDst,
                13 => Icmp4Type,
                14 => Icmp4Code,
                15 => ArpOp,
                16 => ArpSpa,
                17 => ArpTpa,
                _ => return None,
            },
            (0x0001, f) => match f {
                0..=15 => Reg(f),
                16 => TunId,
                17 => ArpSha,
                18 => ArpTha,
                19 => Ipv6Src,
                20 => Ipv6Dst,
                21 => Icmp6Type,
                22 => Icmp6Code,
                23 => NdTarget,
                24 => NdSll,
                25 => NdTll,
                26 => IpFrag,
                27 => Ipv6Label,
                28 => IpEcn,
                29 => IpTtl,
                30 => MplsTtl,
                31 => TunSrc,
                32 => TunDst,
                33 => PktMark,
                34 => TcpFlags,
                _ => return None,
            },
            (0xffff, 42) if exp == ONF_VENDOR => TcpFlags,
            _ => return None,
        })
    }

    /// `mf->name`, as `set_field` prints it.
    fn name(self) -> String {
        use Fld::*;
        match self {
            InPort => "in_port",
            InPortOxm => "in_port_oxm",
            Metadata => "metadata",
            TunId => "tun_id",
            TunSrc => "tun_src",
            TunDst => "tun_dst",
            Reg(i) => return format!("reg{i}"),
            PktMark => "pkt_mark",
            EthSrc => "eth_src",
            EthDst => "eth_dst",
            EthType => "eth_type",
            VlanTci => "vlan_tci",
            VlanVid => "vlan_vid",
            VlanPcp => "vlan_pcp",
            MplsLabel => "mpls_label",
            MplsTc => "mpls_tc",
            MplsBos => "mpls_bos",
            MplsTtl => "mpls_ttl",
            Ipv4Src => "ip_src",
            Ipv4Dst => "ip_dst",
            Ipv6Src => "ipv6_src",
            Ipv6Dst => "ipv6_dst",
            Ipv6Label => "ipv6_label",
            IpProto => "nw_proto",
            IpDscp => "nw_tos",
            IpDscpShifted => "ip_dscp",
            IpEcn => "nw_ecn",
            IpTtl => "nw_ttl",
            IpFrag => "ip_frag",
            ArpOp => "arp_op",
            ArpSpa => "arp_spa",
            ArpTpa => "arp_tpa",
            ArpSha => "arp_sha",
            ArpTha => "arp_tha",
            TcpSrc => "tcp_src",
            TcpDst => "tcp_dst",
            TcpFlags => "tcp_flags",
            UdpSrc => "udp_src",
            UdpDst => "udp_dst",
            SctpSrc => "sctp_src",
            SctpDst => "sctp_dst",
            Icmp4Type => "icmp_type",
            Icmp4Code => "icmp_code",
            Icmp6Type => "icmpv6_type",
            Icmp6Code => "icmpv6_code",
            NdTarget => "nd_target",
            NdSll => "nd_sll",
            NdTll => "nd_tll",
            PacketType => "packet_type",
        }
        .into()
    }

    /// The name `load:` prints for a subfield: the field's NXM name, or its
    /// OXM name when it has none.
    fn subfield_name(self) -> String {
        use Fld::*;
        match self {
            InPort => "NXM_OF_IN_PORT",
            InPortOxm => "OXM_OF_IN_PORT",
            Metadata => "OXM_OF_METADATA",
            TunId => "NXM_NX_TUN_ID",
            TunSrc => "NXM_NX_TUN_IPV4_SRC",
            TunDst => "NXM_NX_TUN_IPV4_DST",
            Reg(i) => return format!("NXM_NX_REG{i}"),
            PktMark => "NXM_NX_PKT_MARK",
            EthSrc => "NXM_OF_ETH_SRC",
            EthDst => "NXM_OF_ETH_DST",
            EthType => "NXM_OF_ETH_TYPE",
            VlanTci => "NXM_OF_VLAN_TCI",
            VlanVid => "OXM_OF_VLAN_VID",
            VlanPcp => "OXM_OF_VLAN_PCP",
            MplsLabel => "OXM_OF_MPLS_LABEL",
            MplsTc => "OXM_OF_MPLS_TC",
            MplsBos => "OXM_OF_MPLS_BOS",
            MplsTtl => "NXM_NX_MPLS_TTL",
            Ipv4Src => "NXM_OF_IP_SRC",
            Ipv4Dst => "NXM_OF_IP_DST",
            Ipv6Src => "NXM_NX_IPV6_SRC",
            Ipv6Dst => "NXM_NX_IPV6_DST",
            Ipv6Label => "NXM_NX_IPV6_LABEL",
            IpProto => "NXM_OF_IP_PROTO",
            IpDscp => "NXM_OF_IP_TOS",
            IpDscpShifted => "OXM_OF_IP_DSCP",
            IpEcn => "NXM_NX_IP_ECN",
            IpTtl => "NXM_NX_IP_TTL",
            IpFrag => "NXM_NX_IP_FRAG",
            ArpOp => "NXM_OF_ARP_OP",
            ArpSpa => "NXM_OF_ARP_SPA",
            ArpTpa => "NXM_OF_ARP_TPA",
            ArpSha => "NXM_NX_ARP_SHA",
            ArpTha => "NXM_NX_ARP_THA",
            TcpSrc => "NXM_OF_TCP_SRC",
            TcpDst => "NXM_OF_TCP_DST",
            TcpFlags => "NXM_NX_TCP_FLAGS",
            UdpSrc => "NXM_OF_UDP_SRC",
            UdpDst => "NXM_OF_UDP_DST",
            SctpSrc => "OXM_OF_SCTP_SRC",
            SctpDst => "OXM_OF_SCTP_DST",
            Icmp4Type => "NXM_OF_ICMP_TYPE",
            Icmp4Code => "NXM_OF_ICMP_CODE",
            Icmp6Type => "NXM_NX_ICMPV6_TYPE",
            Icmp6Code => "NXM_NX_ICMPV6_CODE",
            NdTarget => "NXM_NX_ND_TARGET",
            NdSll => "NXM_NX_ND_SLL",
            NdTll => "NXM_NX_ND_TLL",
            PacketType => "OXM_OF_PACKET_TYPE",
        }
        .into()
    }

    /// `mf->n_bytes`.
    fn n_bytes(self) -> usize {
        use Fld::*;
        match self {
            Metadata | TunId => 8,
            EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => 6,
            Ipv6Src | Ipv6Dst | NdTarget => 16,
            InPortOxm | PacketType | TunSrc | TunDst | Reg(_) | PktMark | Ipv4Src | Ipv4Dst
            | ArpSpa | ArpTpa | Ipv6Label | MplsLabel => 4,
            InPort | EthType | VlanTci | VlanVid | ArpOp | TcpSrc | TcpDst | TcpFlags | UdpSrc
            | UdpDst | SctpSrc | SctpDst => 2,
            VlanPcp | MplsTc | MplsBos | MplsTtl | IpProto | IpDscp | IpDscpShifted | IpEcn
            | IpTtl | IpFrag | Icmp4Type | Icmp4Code | Icmp6Type | Icmp6Code => 1,
        }
    }

    /// `mf->n_bits`.
    fn n_bits(self) -> u32 {
        use Fld::*;
        match self {
            VlanVid => 12,
            VlanPcp | MplsTc => 3,
            MplsBos => 1,
            MplsLabel | Ipv6Label => 20,
            IpDscpShifted => 6,
            IpEcn | IpFrag => 2,
            TcpFlags => 12,
            f => 8 * f.n_bytes() as u32,
        }
    }

    fn style(self) -> Style {
        use Fld::*;
        match self {
            InPort => Style::Port16,
            InPortOxm => Style::Port32,
            Metadata | TunId | Reg(_) | PktMark | EthType | VlanTci | Ipv6Label => Style::Hex,
            TunSrc | TunDst | Ipv4Src | Ipv4Dst | ArpSpa | ArpTpa => Style::V4,
            Ipv6Src | Ipv6Dst | NdTarget => Style::V6,
            EthSrc | EthDst | ArpSha | ArpTha | NdSll | NdTll => Style::Eth,
            IpFrag => Style::Frag,
            TcpFlags => Style::TcpFlags,
            _ => Style::Dec,
        }
    }

    /// Whether OpenFlow may write the field (set_field, load).
    fn writable(self) -> bool {
        use Fld::*;
        !matches!(
            self,
            EthType | MplsBos | IpProto | IpFrag | TcpFlags | PacketType
        )
    }

    /// Whether the field may be matched with an arbitrary mask.
    fn maskable(self) -> bool {
        use Fld::*;
        !matches!(
            self,
            InPort
                | InPortOxm
                | PacketType
                | EthType
                | VlanPcp
                | MplsLabel
                | MplsTc
                | MplsBos
                | MplsTtl
                | IpProto
                | IpTtl
                | IpDscp
                | IpDscpShifted
                | IpEcn
                | ArpOp
                | Icmp4Type
                | Icmp4Code
                | Icmp6Type
                | Icmp6Code
        )
    }

    /// `mf_is_value_valid`.
    fn value_valid(self, v: u128) -> bool {
        use Fld::*;
        match self {
            InPortOxm => port_from_ofp11(v as u32).is_some(),
            IpDscp => v & 0x03 == 0,
            IpDscpShifted => v <= 0x3f,
            IpEcn => v <= 3,
            IpFrag => v <= 3,
            TcpFlags => v <= 0x0fff,
            ArpOp => v <= 0xff,
            VlanVid => v & 0xe000 == 0,
            VlanPcp => v <= 7,
            Ipv6Label => v <= 0xf_ffff,
            MplsLabel => v <= 0xf_ffff,
            MplsTc => v <= 7,
            MplsBos => v <= 1,
            _ => true,
        }
    }

    /// A value as `mf_format` prints it (no mask).
    fn format_value(self, v: u128) -> String {
        match self.style() {
            Style::Dec => v.to_string(),
            Style::Hex => put_hex(v),
            Style::Eth => mac(v as u64),
            Style::V4 => ipv4(v as u32),
            Style::V6 => ipv6(v),
            Style::Port16 => port16(v as u16),
            Style::Port32 => port16(port_from_ofp11(v as u32).unwrap_or(0xffff)),
            Style::Frag => frag_name(v as u8, 3).to_string(),
            Style::TcpFlags => {
                let mut s = String::new();
                format_flags_masked(&mut s, v as u32, 0x0fff, 0x0fff);
                s
            }
        }
    }
}

fn frag_name(v: u8, m: u8) -> &'static str {
    let m = m & 3;
    match (v & m, m) {
        (0, 0) => "any",
        (1, 1) => "yes",
        (0, 1) => "no",
        (1, 3) => "first",
        (3, 3) => "later",
        (0, 3) => "no",
        (2, 2) => "later",
        (0, 2) => "not_later",
        _ => "<error>",
    }
}

fn tcp_flag_name(bit: u32) -> Option<&'static str> {
    Some(match bit {
        0x001 => "fin",
        0x002 => "syn",
        0x004 => "rst",
        0x008 => "psh",
        0x010 => "ack",
        0x020 => "urg",
        0x040 => "ece",
        0x080 => "cwr",
        0x100 => "ns",
        0x200 => "[200]",
        0x400 => "[400]",
        0x800 => "[800]",
        _ => return None,
    })
}

/// `format_flags_masked` with the TCP flag names.
fn format_flags_masked(s: &mut String, flags: u32, mut mask: u32, max: u32) {
    if mask == max {
        if flags == 0 {
            s.push('0');
            return;
        }
        let mut bad = 0;
        let mut f = flags;
        let mut parts = Vec::new();
        while f != 0 {
            let bit = f & f.wrapping_neg();
            match tcp_flag_name(bit) {
                Some(n) => parts.push(n.to_string()),
                None => bad |= bit,
            }
            f &= !bit;
        }
        if bad != 0 {
            parts.push(format!("{bad:#x}"));
        }
        s.push_str(&parts.join("|"));
        return;
    }
    if mask == 0 {
        s.push_str("0/0");
        return;
    }
    while mask != 0 {
        let bit = mask & mask.wrapping_neg();
        s.push(if flags & bit != 0 { '+' } else { '-' });
        s.push_str(tcp_flag_name(bit).unwrap_or("[Unknown]"));
        mask &= !bit;
    }
}

/// One OXM/NXM entry taken apart as OVS's `nx_pull_entry` sees it.
struct Entry {
    fld: Option<Fld>,
    value: u128,
    /// All ones when the entry carries no mask.
    mask: u128,
    has_mask: bool,
}

fn be(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0u128, |a, &b| (a << 8) | u128::from(b))
}

fn ones(bytes: usize) -> u128 {
    if bytes >= 16 {
        u128::MAX
    } else {
        (1u128 << (8 * bytes)) - 1
    }
}

/// Takes an OXM apart; `Err` is the OpenFlow error OVS reports.
fn pull_entry(o: &Oxm) -> Result<Entry, &'static str> {
    let mut b = bytes::BytesMut::with_capacity(o.wire_len());
    o.encode(&mut b);
    let hdr = match b.get(..4) {
        Some(h) => u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        None => return Err("OFPBMC_BAD_LEN"),
    };
    let class = (hdr >> 16) as u16;
    let field = ((hdr >> 9) & 0x7f) as u8;
    let has_mask = hdr & 0x100 != 0;
    let mut payload = b.get(4..).unwrap_or(&[]);
    let mut exp = 0;
    if class == 0xffff {
        let Some(e) = payload.get(..4) else {
            return Err("OFPBMC_BAD_LEN");
        };
        exp = u32::from_be_bytes([e[0], e[1], e[2], e[3]]);
        payload = &payload[4..];
    }
    let width = if has_mask {
        payload.len() / 2
    } else {
        payload.len()
    };
    let fld = Fld::from_header(class, field, exp);
    let value = be(payload.get(..width).unwrap_or(&[]));
    let mask = if has_mask {
        be(payload.get(width..2 * width).unwrap_or(&[]))
    } else {
        ones(width)
    };
    if has_mask && value & !mask != 0 {
        return Err("OFPBMC_BAD_WILDCARDS");
    }
    if let Some(f) = fld {
        if f.n_bytes() != width {
            return Err("OFPBMC_BAD_LEN");
        }
    }
    Ok(Entry {
        fld,
        value,
        mask,
        has_mask,
    })
}

// ---------------------------------------------------------------------------
// The match
// ---------------------------------------------------------------------------

/// OVS's `struct match`, for the fields supported here: values (already
/// masked) and masks.
#[derive(Default)]
struct Flow {
    in_port: Option<u16>,
    metadata: (u64, u64),
    tun_id: (u64, u64),
    tun_src: (u32, u32),
    tun_dst: (u32, u32),
    regs: [(u32, u32); 16],
    pkt_mark: (u32, u32),
    vlan_tci: (u16, u16),
    dl_src: (u64, u64),
    dl_dst: (u64, u64),
    dl_type: Option<u16>,
    nw_src: (u32, u32),
    nw_dst: (u32, u32),
    ipv6_src: (u128, u128),
    ipv6_dst: (u128, u128),
    ipv6_label: (u32, u32),
    nd_target: (u128, u128),
    nw_proto: Option<u8>,
    nw_tos: (u8, u8),
    nw_ttl: Option<u8>,
    nw_frag: (u8, u8),
    arp_sha: (u64, u64),
    arp_tha: (u64, u64),
    tp_src: (u16, u16),
    tp_dst: (u16, u16),
    mpls_lse: (u32, u32),
    tcp_flags: (u16, u16),
    /// Only Ethernet (0) is supported: it is the default and prints nothing.
    packet_type: Option<u32>,
}

const VLAN_CFI: u16 = 0x1000;
const VLAN_VID_MASK: u16 = 0x0fff;
const VLAN_PCP_MASK: u16 = 0xe000;

impl Flow {
    /// `mf_is_all_wild`: nothing of the field is matched yet.
    fn all_wild(&self, f: Fld) -> bool {
        use Fld::*;
        match f {
            InPort | InPortOxm => self.in_port.is_none(),
            Metadata => self.metadata.1 == 0,
            TunId => self.tun_id.1 == 0,
            TunSrc => self.tun_src.1 == 0,
            TunDst => self.tun_dst.1 == 0,
            Reg(i) => self.regs[usize::from(i & 15)].1 == 0,
            PktMark => self.pkt_mark.1 == 0,
            EthSrc => self.dl_src.1 == 0,
            EthDst => self.dl_dst.1 == 0,
            EthType => self.dl_type.is_none(),
            VlanTci => self.vlan_tci.1 == 0,
            VlanVid => self.vlan_tci.1 & (VLAN_VID_MASK | VLAN_CFI) == 0,
            VlanPcp => self.vlan_tci.1 & VLAN_PCP_MASK == 0,
            MplsLabel => self.mpls_lse.1 & 0xffff_f000 == 0,
            MplsTc => self.mpls_lse.1 & 0x0e00 == 0,
            MplsBos => self.mpls_lse.1 & 0x0100 == 0,
            MplsTtl => self.mpls_lse.1 & 0xff == 0,
            Ipv4Src | ArpSpa => self.nw_src.1 == 0,
            Ipv4Dst | ArpTpa => self.nw_dst.1 == 0,
            Ipv6Src => self.ipv6_src.1 == 0,
            Ipv6Dst => self.ipv6_dst.1 == 0,
            Ipv6Label => self.ipv6_label.1 == 0,
            IpProto | ArpOp => self.nw_proto.is_none(),
            IpDscp | IpDscpShifted => self.nw_tos.1 & 0xfc == 0,
            IpEcn => self.nw_tos.1 & 0x03 == 0,
            IpTtl => self.nw_ttl.is_none(),
            IpFrag => self.nw_frag.1 == 0,
            ArpSha | NdSll => self.arp_sha.1 == 0,
            ArpTha | NdTll => self.arp_tha.1 == 0,
            TcpSrc | UdpSrc | SctpSrc | Icmp4Type | Icmp6Type => self.tp_src.1 == 0,
            TcpDst | UdpDst | SctpDst | Icmp4Code | Icmp6Code => self.tp_dst.1 == 0,
            TcpFlags => self.tcp_flags.1 == 0,
            NdTarget => self.nd_target.1 == 0,
            PacketType => self.packet_type.is_none(),
        }
    }

    /// `mf_set`: stores a value under a mask (all ones for an exact match;
    /// a zero mask matches nothing and stores nothing).
    fn set(&mut self, f: Fld, v: u128, m: u128) {
        use Fld::*;
        if m == 0 {
            return;
        }
        let v = v & m;
        let (v64, m64) = (v as u64, m as u64);
        let (v32, m32) = (v as u32, m as u32);
        let (v16, m16) = (v as u16, m as u16);
        match f {
            InPort => self.in_port = Some(v16),
            InPortOxm => self.in_port = Some(port_from_ofp11(v32).unwrap_or(0xffff)),
            Metadata => self.metadata = (v64, m64),
            TunId => self.tun_id = (v64, m64),
            TunSrc => self.tun_src = (v32, m32),
            TunDst => self.tun_dst = (v32, m32),
            Reg(i) => self.regs[usize::from(i & 15)] = (v32, m32),
            PktMark => self.pkt_mark = (v32, m32),
            EthSrc => self.dl_src = (v64, m64),
            EthDst => self.dl_dst = (v64, m64),
            EthType => self.dl_type = Some(v16),
            VlanTci => self.vlan_tci = (v16, m16),
            VlanVid => {
                let mask = m16 & (VLAN_VID_MASK | VLAN_CFI);
                let t = &mut self.vlan_tci;
                t.0 = (t.0 & !(VLAN_VID_MASK | VLAN_CFI)) | (v16 & mask);
                t.1 = mask | (t.1 & VLAN_PCP_MASK);
            }
            VlanPcp => {
                let t = &mut self.vlan_tci;
                t.0 = (t.0 & !VLAN_PCP_MASK) | ((v16 & 7) << 13) | VLAN_CFI;
                t.1 |= VLAN_CFI | VLAN_PCP_MASK;
            }
            MplsLabel => self.set_lse(v32 << 12, 0xffff_f000),
            MplsTc => self.set_lse((v32 & 7) << 9, 0x0e00),
            MplsBos => self.set_lse((v32 & 1) << 8, 0x0100),
            MplsTtl => self.set_lse(v32 & 0xff, 0xff),
            Ipv4Src | ArpSpa => self.nw_src = (v32, m32),
            Ipv4Dst | ArpTpa => self.nw_dst = (v32, m32),
            Ipv6Src => self.ipv6_src = (v, m),
            Ipv6Dst => self.ipv6_dst = (v, m),
            Ipv6Label => self.ipv6_label = (v32, m32),
            IpProto | ArpOp => self.nw_proto = Some(v as u8),
            IpDscp => self.set_tos(v as u8 & 0xfc, 0xfc),
            IpDscpShifted => self.set_tos((v as u8) << 2, 0xfc),
            IpEcn => self.set_tos(v as u8 & 3, 3),
            IpTtl => self.nw_ttl = Some(v as u8),
            IpFrag => self.nw_frag = (v as u8, m as u8),
            ArpSha | NdSll => self.arp_sha = (v64, m64),
            ArpTha | NdTll => self.arp_tha = (v64, m64),
            TcpSrc | UdpSrc | SctpSrc => self.tp_src = (v16, m16),
            TcpDst | UdpDst | SctpDst => self.tp_dst = (v16, m16),
            Icmp4Type | Icmp6Type => self.tp_src = (v as u8 as u16, 0xffff),
            Icmp4Code | Icmp6Code => self.tp_dst = (v as u8 as u16, 0xffff),
            TcpFlags => self.tcp_flags = (v16, m16),
            NdTarget => self.nd_target = (v, m),
            PacketType => self.packet_type = Some(v32),
        }
    }

    fn set_lse(&mut self, v: u32, m: u32) {
        self.mpls_lse.0 = (self.mpls_lse.0 & !m) | v;
        self.mpls_lse.1 |= m;
    }

    fn set_tos(&mut self, v: u8, m: u8) {
        self.nw_tos.0 = (self.nw_tos.0 & !m) | v;
        self.nw_tos.1 |= m;
    }

    /// `mf_are_match_prereqs_ok`: what the field needs is already in the
    /// match (checked on the values, in the order the fields come).
    fn prereqs_ok(&self, f: Fld) -> bool {
        use Fld::*;
        let dl_type = self.dl_type.unwrap_or(0);
        let proto = self.nw_proto.unwrap_or(0);
        let ip_any = dl_type == 0x0800 || dl_type == 0x86dd;
        let not_later = self.nw_frag.0 & 2 == 0;
        let icmp6 = dl_type == 0x86dd && proto == 58;
        let nd = icmp6 && self.tp_dst.0 == 0 && (self.tp_src.0 == 135 || self.tp_src.0 == 136);
        match f {
            VlanPcp => self.vlan_tci.0 & VLAN_CFI != 0,
            MplsLabel | MplsTc | MplsBos | MplsTtl => dl_type == 0x8847 || dl_type == 0x8848,
            Ipv4Src | Ipv4Dst => dl_type == 0x0800,
            Ipv6Src | Ipv6Dst | Ipv6Label => dl_type == 0x86dd,
            IpProto | IpDscp | IpDscpShifted | IpEcn | IpTtl | IpFrag => ip_any,
            ArpOp | ArpSpa | ArpTpa | ArpSha | ArpTha => dl_type == 0x0806 || dl_type == 0x8035,
            TcpSrc | TcpDst | TcpFlags => ip_any && proto == 6 && not_later,
            UdpSrc | UdpDst => ip_any && proto == 17 && not_later,
            SctpSrc | SctpDst => ip_any && proto == 132 && not_later,
            Icmp4Type | Icmp4Code => dl_type == 0x0800 && proto == 1,
            Icmp6Type | Icmp6Code => icmp6,
            NdTarget => nd,
            NdSll => nd && self.tp_src.0 == 135,
            NdTll => nd && self.tp_src.0 == 136,
            _ => true,
        }
    }

    /// `nx_pull_raw` in strict mode (`oxm_pull_match`): an unknown field, a
    /// missing prerequisite, a duplicate, a bad value or mask is an error
    /// (recorded; the field is skipped and formatting goes on).
    fn from_match(m: &Match, errors: &mut Errors) -> Flow {
        let mut flow = Flow::default();
        for o in &m.fields {
            let e = match pull_entry(o) {
                Ok(e) => e,
                Err(err) => {
                    errors.set(err);
                    continue;
                }
            };
            let Some(f) = e.fld else {
                errors.set("OFPBMC_BAD_FIELD");
                continue;
            };
            if f == Fld::PacketType && e.value != 0 {
                // A non-Ethernet packet type: OVS prints `packet_type=(..)`
                // and derives dl_type from it; not supported here.
                errors.set("OFPBMC_BAD_VALUE");
                continue;
            }
            if e.has_mask && e.mask != ones(f.n_bytes()) && e.mask != 0 && !f.maskable() {
                errors.set("OFPBMC_BAD_MASK");
                continue;
            }
            if !f.value_valid(e.value) {
                errors.set("OFPBMC_BAD_VALUE");
                continue;
            }
            if !flow.prereqs_ok(f) {
                errors.set("OFPBMC_BAD_PREREQ");
                continue;
            }
            if !flow.all_wild(f) {
                errors.set("OFPBMC_DUP_FIELD");
                continue;
            }
            flow.set(f, e.value, e.mask);
        }
        flow
    }

    /// `match_format()`.
    fn format(&self, priority: u16, names: Option<&Names>) -> String {
        let mut s = String::new();
        if priority != DEFAULT_PRIORITY {
            let _ = write!(s, "priority={priority},");
        }
        let u32m = |s: &mut String, name: &str, (v, m): (u32, u32)| {
            if m != 0 {
                let _ = write!(s, "{name}={}", hash_x(u64::from(v)));
                if m != u32::MAX {
                    let _ = write!(s, "/{}", hash_x(u64::from(m)));
                }
                s.push(',');
            }
        };
        let u64m = |s: &mut String, name: &str, (v, m): (u64, u64)| {
            if m != 0 {
                let _ = write!(s, "{name}={}", hash_x(v));
                if m != u64::MAX {
                    let _ = write!(s, "/{}", hash_x(m));
                }
                s.push(',');
            }
        };
        let u16m = |s: &mut String, name: &str, (v, m): (u16, u16)| {
            if m != 0 {
                if m == u16::MAX {
                    let _ = write!(s, "{name}={v},");
                } else {
                    let _ = write!(s, "{name}={v:#x}/{m:#x},");
                }
            }
        };
        let v4m = |s: &mut String, name: &str, (v, m): (u32, u32)| {
            if m != 0 {
                let _ = write!(s, "{name}={},", ipv4_masked(v, m));
            }
        };
        let v6m = |s: &mut String, name: &str, (v, m): (u128, u128)| {
            if m != 0 {
                let _ = write!(s, "{name}={},", ipv6_masked(v, m));
            }
        };
        let ethm = |s: &mut String, name: &str, (v, m): (u64, u64)| {
            if m != 0 {
                let _ = write!(s, "{name}={},", mac_masked(v, m));
            }
        };

        u32m(&mut s, "pkt_mark", self.pkt_mark);

        let dl_type = self.dl_type.unwrap_or(0);
        let nw_proto = self.nw_proto.unwrap_or(0);
        let mut skip_type = false;
        let mut skip_proto = false;
        if self.dl_type.is_some() {
            skip_type = true;
            let ip_name = |v6: bool, proto: Option<u8>| -> (&'static str, bool) {
                match (v6, proto) {
                    (false, Some(1)) => ("icmp", true),
                    (false, Some(6)) => ("tcp", true),
                    (false, Some(17)) => ("udp", true),
                    (false, Some(132)) => ("sctp", true),
                    (false, _) => ("ip", false),
                    (true, Some(58)) => ("icmp6", true),
                    (true, Some(6)) => ("tcp6", true),
                    (true, Some(17)) => ("udp6", true),
                    (true, Some(132)) => ("sctp6", true),
                    (true, _) => ("ipv6", false),
                }
            };
            let name = match dl_type {
                0x0800 | 0x86dd => {
                    let (n, skip) = ip_name(dl_type == 0x86dd, self.nw_proto);
                    skip_proto = skip;
                    Some(n)
                }
                0x0806 => Some("arp"),
                0x8035 => Some("rarp"),
                0x8847 => Some("mpls"),
                0x8848 => Some("mplsm"),
                _ => None,
            };
            match name {
                Some(n) => {
                    s.push_str(n);
                    s.push(',');
                }
                None => skip_type = false,
            }
        }
        for (i, r) in self.regs.iter().enumerate() {
            u32m(&mut s, &format!("reg{i}"), *r);
        }
        u64m(&mut s, "tun_id", self.tun_id);
        v4m(&mut s, "tun_src", self.tun_src);
        v4m(&mut s, "tun_dst", self.tun_dst);
        u64m(&mut s, "metadata", self.metadata);
        if let Some(p) = self.in_port {
            let _ = write!(s, "in_port={},", format_port(p, names));
        }
        let (tci, tci_m) = self.vlan_tci;
        if tci_m != 0 {
            let vid_mask = tci_m & VLAN_VID_MASK;
            let pcp_mask = tci_m & VLAN_PCP_MASK;
            let cfi = tci_m & VLAN_CFI;
            if cfi != 0
                && tci & VLAN_CFI != 0
                && (vid_mask == 0 || vid_mask == VLAN_VID_MASK)
                && (pcp_mask == 0 || pcp_mask == VLAN_PCP_MASK)
                && (vid_mask != 0 || pcp_mask != 0)
            {
                if vid_mask != 0 {
                    let _ = write!(s, "dl_vlan={},", tci & VLAN_VID_MASK);
                }
                if pcp_mask != 0 {
                    let _ = write!(s, "dl_vlan_pcp={},", tci >> 13);
                }
            } else if tci_m == 0xffff {
                let _ = write!(s, "vlan_tci=0x{tci:04x},");
            } else {
                let _ = write!(s, "vlan_tci=0x{tci:04x}/0x{tci_m:04x},");
            }
        }
        ethm(&mut s, "dl_src", self.dl_src);
        ethm(&mut s, "dl_dst", self.dl_dst);
        if !skip_type && self.dl_type.is_some() {
            let _ = write!(s, "dl_type=0x{dl_type:04x},");
        }
        let is_arp = dl_type == 0x0806 || dl_type == 0x8035;
        if dl_type == 0x86dd {
            v6m(&mut s, "ipv6_src", self.ipv6_src);
            v6m(&mut s, "ipv6_dst", self.ipv6_dst);
            let (l, lm) = self.ipv6_label;
            if lm != 0 {
                if lm == u32::MAX {
                    let _ = write!(s, "ipv6_label=0x{l:05x},");
                } else {
                    let _ = write!(s, "ipv6_label=0x{l:05x}/0x{lm:05x},");
                }
            }
        } else if is_arp {
            v4m(&mut s, "arp_spa", self.nw_src);
            v4m(&mut s, "arp_tpa", self.nw_dst);
        } else {
            v4m(&mut s, "nw_src", self.nw_src);
            v4m(&mut s, "nw_dst", self.nw_dst);
        }
        if !skip_proto {
            if let Some(p) = self.nw_proto {
                if is_arp {
                    let _ = write!(s, "arp_op={p},");
                } else {
                    let _ = write!(s, "nw_proto={p},");
                }
            }
        }
        if is_arp {
            ethm(&mut s, "arp_sha", self.arp_sha);
            ethm(&mut s, "arp_tha", self.arp_tha);
        }
        let (tos, tos_m) = self.nw_tos;
        if tos_m & 0xfc != 0 {
            let _ = write!(s, "nw_tos={},", tos & 0xfc);
        }
        if tos_m & 0x03 != 0 {
            let _ = write!(s, "nw_ecn={},", tos & 0x03);
        }
        if let Some(t) = self.nw_ttl {
            let _ = write!(s, "nw_ttl={t},");
        }
        let (lse, lse_m) = self.mpls_lse;
        if lse_m & 0xffff_f000 != 0 {
            let _ = write!(s, "mpls_label={},", lse >> 12);
        }
        if lse_m & 0x0e00 != 0 {
            let _ = write!(s, "mpls_tc={},", (lse >> 9) & 7);
        }
        if lse_m & 0xff != 0 {
            let _ = write!(s, "mpls_ttl={},", lse & 0xff);
        }
        if lse_m & 0x0100 != 0 {
            let _ = write!(s, "mpls_bos={},", (lse >> 8) & 1);
        }
        let (frag, frag_m) = self.nw_frag;
        match frag_m & 3 {
            3 => {
                let v = match frag & 3 {
                    0 => "no",
                    1 => "first",
                    3 => "later",
                    _ => "<error>",
                };
                let _ = write!(s, "nw_frag={v},");
            }
            1 => {
                let _ = write!(s, "nw_frag={},", if frag & 1 != 0 { "yes" } else { "no" });
            }
            2 => {
                let v = if frag & 2 != 0 { "later" } else { "not_later" };
                let _ = write!(s, "nw_frag={v},");
            }
            _ => {}
        }
        if dl_type == 0x0800 && nw_proto == 1 {
            u16m(&mut s, "icmp_type", self.tp_src);
            u16m(&mut s, "icmp_code", self.tp_dst);
        } else if dl_type == 0x86dd && nw_proto == 58 {
            u16m(&mut s, "icmp_type", self.tp_src);
            u16m(&mut s, "icmp_code", self.tp_dst);
            v6m(&mut s, "nd_target", self.nd_target);
            ethm(&mut s, "nd_sll", self.arp_sha);
            ethm(&mut s, "nd_tll", self.arp_tha);
        } else {
            u16m(&mut s, "tp_src", self.tp_src);
            u16m(&mut s, "tp_dst", self.tp_dst);
        }
        if (dl_type == 0x0800 || dl_type == 0x86dd) && nw_proto == 6 && self.tcp_flags.1 != 0 {
            s.push_str("tcp_flags=");
            format_flags_masked(
                &mut s,
                u32::from(self.tcp_flags.0),
                u32::from(self.tcp_flags.1 & 0x0fff),
                0x0fff,
            );
            s.push(',');
        }
        if s.ends_with(',') {
            s.pop();
        }
        s
    }
}

fn format_match(m: &Match, priority: u16, errors: &mut Errors, names: Option<&Names>) -> String {
    Flow::from_match(m, errors).format(priority, names)
}

// ---------------------------------------------------------------------------
// Actions and instructions
// ---------------------------------------------------------------------------

fn format_instructions(list: &[Instruction], errors: &mut Errors, names: Option<&Names>) -> String {
    // OVS's canonical order, one slot per instruction type.
    let mut slots: [Option<&Instruction>; 6] = [None; 6];
    for i in list {
        let slot = match i {
            Instruction::Meter(_) => 0,
            Instruction::ApplyActions(_) => 1,
            Instruction::ClearActions => 2,
            Instruction::WriteActions(_) => 3,
            Instruction::WriteMetadata { .. } => 4,
            Instruction::GotoTable(_) => 5,
            Instruction::Experimenter { .. } => {
                errors.set("OFPBIC_BAD_EXPERIMENTER");
                continue;
            }
        };
        if slots[slot].is_some() {
            errors.set("OFPBIC_DUP_INST");
            continue;
        }
        slots[slot] = Some(i);
    }
    let mut parts: Vec<String> = Vec::new();
    for i in slots.iter().flatten() {
        match i {
            Instruction::Meter(m) => parts.push(format!("meter:{m}")),
            Instruction::ApplyActions(a) => {
                parts.extend(a.iter().map(|a| format_action(a, false, errors, names)))
            }
            Instruction::ClearActions => parts.push("clear_actions".into()),
            Instruction::WriteActions(a) => {
                let inner: Vec<String> = a
                    .iter()
                    .map(|a| format_action(a, true, errors, names))
                    .collect();
                let inner = if inner.is_empty() {
                    "drop".to_string()
                } else {
                    inner.join(",")
                };
                parts.push(format!("write_actions({inner})"));
            }
            Instruction::WriteMetadata { metadata, mask } => {
                let mut s = format!("write_metadata:{}", hash_x(*metadata));
                if *mask != u64::MAX {
                    let _ = write!(s, "/{}", hash_x(*mask));
                }
                parts.push(s);
            }
            Instruction::GotoTable(t) => {
                parts.push(format!("goto_table:{}", format_table(*t, names)))
            }
            Instruction::Experimenter { .. } => {}
        }
    }
    if parts.is_empty() {
        "drop".into()
    } else {
        parts.join(",")
    }
}

/// `ofpact_check_output_port` for a port already converted to 16 bits.
fn output_port_ok(p: u16) -> bool {
    p < 0xff00 || (0xfff8..=0xfffe).contains(&p)
}

/// Whether OVS allows the action inside write_actions
/// (`ofpact_is_allowed_in_actions_set`): not the Nicira controller, note,
/// exit, pop_queue and the like.
fn allowed_in_action_set(a: &Action) -> bool {
    match a {
        Action::Experimenter { experimenter, data } if *experimenter == NX_VENDOR => {
            let subtype = data.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
            // resubmit, set_tunnel(64), reg_load and dec_ttl(ids) are.
            matches!(subtype, Some(1 | 2 | 7 | 9 | 14 | 21))
        }
        _ => true,
    }
}

fn format_action(a: &Action, in_set: bool, errors: &mut Errors, names: Option<&Names>) -> String {
    if in_set && !allowed_in_action_set(a) {
        errors.set("OFPBAC_BAD_TYPE");
    }
    match a {
        Action::Output { port, max_len } => {
            let Some(p) = port_from_ofp11(*port) else {
                errors.set("OFPBAC_BAD_OUT_PORT");
                return format!("output:{port}");
            };
            if !output_port_ok(p) {
                errors.set("OFPBAC_BAD_OUT_PORT");
            }
            let mut s = String::new();
            if p < 0xff00 {
                s.push_str("output:");
            }
            s.push_str(&format_port(p, names));
            if p == 0xfffd {
                let _ = write!(s, ":{max_len}");
            }
            s
        }
        Action::CopyTtlOut => {
            errors.set("OFPBAC_BAD_TYPE");
            "copy_ttl_out".into()
        }
        Action::CopyTtlIn => {
            errors.set("OFPBAC_BAD_TYPE");
            "copy_ttl_in".into()
        }
        Action::SetMplsTtl(t) => format!("set_mpls_ttl({t})"),
        Action::DecMplsTtl => "dec_mpls_ttl".into(),
        Action::PushVlan(e) => {
            if *e != 0x8100 && *e != 0x88a8 {
                errors.set("OFPBAC_BAD_ARGUMENT");
            }
            format!("push_vlan:{}", hash_x(u64::from(*e)))
        }
        Action::PopVlan => "pop_vlan".into(),
        Action::PushMpls(e) => {
            if *e != 0x8847 && *e != 0x8848 {
                errors.set("OFPBAC_BAD_ARGUMENT");
            }
            format!("push_mpls:0x{e:04x}")
        }
        Action::PopMpls(e) => format!("pop_mpls:0x{e:04x}"),
        Action::SetQueue(q) => format!("set_queue:{q}"),
        Action::Group(g) => format!("group:{g}"),
        Action::SetNwTtl(t) => format!("mod_nw_ttl:{t}"),
        Action::DecNwTtl => "dec_ttl".into(),
        Action::SetField(o) => format_set_field(o, errors, names),
        Action::PushPbb(e) => {
            errors.set("OFPBAC_BAD_TYPE");
            format!("push_pbb:0x{e:04x}")
        }
        Action::PopPbb => {
            errors.set("OFPBAC_BAD_TYPE");
            "pop_pbb".into()
        }
        Action::Experimenter { experimenter, data } => {
            format_experimenter(*experimenter, data, errors, names)
        }
    }
}

fn format_set_field(o: &Oxm, errors: &mut Errors, names: Option<&Names>) -> String {
    let e = match pull_entry(o) {
        Ok(e) => e,
        Err(err) => {
            errors.set(err);
            return format!("set_field:{o:?}");
        }
    };
    let Some(f) = e.fld else {
        // OVS's header lookup (nxm_field_by_header) reports BAD_SET_LEN
        // when the hash bucket it searches holds any field of another
        // length, which in practice it does for the non-experimenter
        // headers tried; experimenter OXMs get BAD_SET_TYPE.
        let experimenter = matches!(o, Oxm::Other(r) if r.class == 0xffff);
        errors.set(if experimenter {
            "OFPBAC_BAD_SET_TYPE"
        } else {
            "OFPBAC_BAD_SET_LEN"
        });
        return raw_set_field(o);
    };
    if f == Fld::InPortOxm || !f.writable() {
        errors.set("OFPBAC_BAD_SET_ARGUMENT");
    }
    if !f.value_valid(e.value) || (f == Fld::VlanVid && e.value & u128::from(VLAN_CFI) == 0) {
        errors.set("OFPBAC_BAD_SET_ARGUMENT");
    }
    let value = match f.style() {
        Style::Port16 => format_port(e.value as u16, names),
        Style::Port32 => format_port(port_from_ofp11(e.value as u32).unwrap_or(0xffff), names),
        _ => f.format_value(e.value),
    };
    format!("set_field:{value}->{}", f.name())
}

/// A set_field whose field OVS does not know (OVS refuses the flow).
fn raw_set_field(o: &Oxm) -> String {
    let mut b = bytes::BytesMut::new();
    o.encode(&mut b);
    let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("set_field:{}", hex.join(""))
}

/// Nicira actions OVS would print, from the bytes after the experimenter id.
fn format_experimenter(
    experimenter: u32,
    data: &[u8],
    errors: &mut Errors,
    names: Option<&Names>,
) -> String {
    let raw = || {
        let hex: Vec<String> = data.iter().map(|x| format!("{x:02x}")).collect();
        format!("experimenter({experimenter:#x},{})", hex.join("."))
    };
    if experimenter != NX_VENDOR {
        errors.set("OFPBAC_BAD_VENDOR");
        return raw();
    }
    let u16_at = |i: usize| -> Option<u16> {
        let b = data.get(i..i + 2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b = data.get(i..i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |i: usize| -> Option<u64> {
        let b = data.get(i..i + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_be_bytes(a))
    };
    let Some(subtype) = u16_at(0) else {
        errors.set("OFPBAC_BAD_LEN");
        return raw();
    };
    // The whole action is 10 bytes longer than `data` (type, len, vendor).
    let len = data.len() + 8;
    let out = match subtype {
        // NXAST_RESUBMIT / NXAST_RESUBMIT_TABLE
        1 | 14 if len == 16 => {
            let port = u16_at(2).unwrap_or(0xfff8);
            let table = if subtype == 14 {
                data.get(4).copied().unwrap_or(255)
            } else {
                255
            };
            if subtype == 14 && data.get(5..8).is_some_and(|p| p.iter().any(|&b| b != 0)) {
                errors.set("OFPBAC_BAD_ARGUMENT");
            }
            if port != 0xfff8 && table == 255 {
                format!("resubmit:{}", format_port(port, names))
            } else {
                let mut s = String::from("resubmit(");
                if port != 0xfff8 {
                    s.push_str(&format_port(port, names));
                }
                s.push(',');
                if table != 255 {
                    s.push_str(&format_table(table, names));
                }
                s.push(')');
                s
            }
        }
        // NXAST_SET_TUNNEL
        2 if len == 16 => {
            let id = u32_at(4).unwrap_or(0);
            format!("set_tunnel:{}", hash_x(u64::from(id)))
        }
        // NXAST_POP_QUEUE
        5 if len == 16 => "pop_queue".into(),
        // NXAST_REG_LOAD
        7 if len == 24 => format_reg_load(data, errors).unwrap_or_else(raw),
        // NXAST_NOTE
        8 if len >= 16 => {
            let note = data.get(2..).unwrap_or(&[]);
            let hex: Vec<String> = note.iter().map(|x| format!("{x:02x}")).collect();
            format!("note:{}", hex.join("."))
        }
        // NXAST_SET_TUNNEL64
        9 if len == 24 => format!("set_tunnel64:{}", hash_x(u64_at(8).unwrap_or(0))),
        // NXAST_EXIT
        17 if len == 16 => "exit".into(),
        // NXAST_CONTROLLER
        20 if len == 16 => {
            let max_len = u16_at(2).unwrap_or(0);
            let id = u16_at(4).unwrap_or(0);
            let reason = data.get(6).copied().unwrap_or(1);
            format_nx_controller(max_len, id, reason)
        }
        // NXAST_DEC_TTL_CNT_IDS
        21 if len >= 16 => {
            let n = usize::from(u16_at(2).unwrap_or(0));
            if data.get(4..8).is_some_and(|z| z.iter().any(|&b| b != 0)) {
                errors.set("NXBRC_MUST_BE_ZERO");
            }
            let ids: Vec<String> = (0..n)
                .map_while(|i| u16_at(8 + 2 * i).map(|v| v.to_string()))
                .collect();
            if ids.len() < n {
                errors.set("OFPBAC_BAD_LEN");
            }
            format!("dec_ttl({})", ids.join(","))
        }
        1 | 2 | 5 | 7 | 8 | 9 | 14 | 17 | 20 | 21 => {
            errors.set("OFPBAC_BAD_LEN");
            raw()
        }
        // Nicira actions OVS knows but this module does not print.
        6 | 10 | 12 | 13 | 15 | 16 | 19 | 22 | 27..=29 | 32..=39 | 41..=50 | 254 | 255 => raw(),
        _ => {
            errors.set("OFPBAC_BAD_VENDOR_TYPE");
            raw()
        }
    };
    out
}

fn format_nx_controller(max_len: u16, id: u16, reason: u8) -> String {
    if reason == 1 && id == 0 {
        return format!("CONTROLLER:{max_len}");
    }
    let mut s = String::from("controller(");
    if reason != 1 {
        let r = match reason {
            0 => "no_match".to_string(),
            2 => "invalid_ttl".into(),
            3 => "action_set".into(),
            4 => "group".into(),
            5 => "packet_out".into(),
            6 | 7 => String::new(),
            r => r.to_string(),
        };
        let _ = write!(s, "reason={r},");
    }
    if max_len != u16::MAX {
        let _ = write!(s, "max_len={max_len},");
    }
    if id != 0 {
        let _ = write!(s, "id={id},");
    }
    if s.ends_with(',') {
        s.pop();
    }
    s.push(')');
    s
}

/// NXAST_REG_LOAD: `load:VALUE->FIELD[ofs..end]`.
fn format_reg_load(data: &[u8], errors: &mut Errors) -> Option<String> {
    let ofs_nbits = u16::from_be_bytes([*data.get(2)?, *data.get(3)?]);
    let dst = u32::from_be_bytes([*data.get(4)?, *data.get(5)?, *data.get(6)?, *data.get(7)?]);
    let mut v = [0u8; 8];
    v.copy_from_slice(data.get(8..16)?);
    let value = u64::from_be_bytes(v);
    let ofs = u32::from(ofs_nbits >> 6);
    let n_bits = u32::from(ofs_nbits & 0x3f) + 1;
    let class = (dst >> 16) as u16;
    let field = ((dst >> 9) & 0x7f) as u8;
    let Some(f) = Fld::from_header(class, field, 0) else {
        errors.set("OFPBAC_BAD_SET_TYPE");
        return None;
    };
    if ofs + n_bits > f.n_bits() {
        errors.set("OFPBAC_BAD_SET_LEN");
    } else if !f.writable() {
        errors.set("OFPBAC_BAD_SET_ARGUMENT");
    }
    if n_bits < 64 && value >> n_bits != 0 {
        errors.set("OFPBAC_BAD_ARGUMENT");
    }
    let sub = if ofs == 0 && n_bits == f.n_bits() {
        "[]".to_string()
    } else if n_bits == 1 {
        format!("[{ofs}]")
    } else {
        format!("[{}..{}]", ofs, ofs + n_bits - 1)
    };
    Some(format!(
        "load:{}->{}{}",
        hash_x(value),
        f.subfield_name(),
        sub
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oxm::RawOxm;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn fs(match_: Match, instructions: Vec<Instruction>) -> FlowStats {
        FlowStats {
            table_id: 0,
            duration_sec: 1,
            duration_nsec: 234_000_000,
            priority: 100,
            idle_timeout: 0,
            hard_timeout: 0,
            flags: 0,
            cookie: 0,
            packet_count: 0,
            byte_count: 0,
            match_,
            instructions,
        }
    }

    #[test]
    fn names_where_ovs_ofctl_prints_them() {
        let mut names = Names::default();
        names.tables.put(0, "vlan");
        names.tables.put(1, "eth_src");
        names.ports.put(1, "p1");
        names.ports.put(2, "h-2");
        names.ports.put(0xfffe, "br0");
        let mut f = fs(
            Match::new().with(Oxm::InPort(1)),
            vec![
                Instruction::ApplyActions(vec![
                    Action::PushVlan(0x8100),
                    Action::output(2),
                    Action::output(0xffff_fffe),
                ]),
                Instruction::GotoTable(1),
            ],
        );
        assert_eq!(
            flow_stats_text(&f, Some(&names), false),
            "table=vlan, priority=100,in_port=p1 \
             actions=push_vlan:0x8100,output:\"h-2\",LOCAL,goto_table:\"eth_src\""
        );
        assert_eq!(
            flow_stats_text(&f, Some(&names), true),
            "cookie=0x0, duration=1.234s, table=vlan, n_packets=0, n_bytes=0, \
             priority=100,in_port=p1 \
             actions=push_vlan:0x8100,output:\"h-2\",LOCAL,goto_table:\"eth_src\""
        );
        // Without names: numbers, and table 0 left out without statistics.
        assert_eq!(
            flow_stats_text(&f, None, false),
            "priority=100,in_port=1 actions=push_vlan:0x8100,output:2,LOCAL,goto_table:1"
        );
        assert_eq!(
            format!(" {}", flow_stats_text(&f, None, true)),
            flow_stats_line(&f)
        );
        // A table without a name prints its number only where OVS would.
        f.table_id = 3;
        f.cookie = 0x42;
        assert!(flow_stats_text(&f, Some(&names), false).starts_with("cookie=0x42, table=3, "));
        f.table_id = 0;
        let unnamed = Names::default();
        assert!(flow_stats_text(&f, Some(&unnamed), false).starts_with("cookie=0x42, priority="));
        let r = MultipartReply {
            flags: 0,
            body: MultipartReplyBody::Flow(vec![f.clone(), f]),
        };
        assert_eq!(
            dump_flows_lines(std::slice::from_ref(&r), Some(&names), false)
                .lines()
                .collect::<Vec<_>>(),
            vec![
                " cookie=0x42, table=vlan, priority=100,in_port=p1 \
                 actions=push_vlan:0x8100,output:\"h-2\",LOCAL,goto_table:\"eth_src\"";
                2
            ]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(0, 0), "0s");
        assert_eq!(format_duration(5, 0), "5s");
        assert_eq!(format_duration(0, 1_000_000), "0.001s");
        assert_eq!(format_duration(1, 500_000_000), "1.500s");
        assert_eq!(format_duration(1, 1), "1.000000001s");
        assert_eq!(format_duration(2, 123_456_000), "2.123456s");
        assert_eq!(format_duration(2, 100_000), "2.0001s");
    }

    #[test]
    fn ipv6_like_glibc() {
        let f = |s: &str| ipv6(u128::from(s.parse::<Ipv6Addr>().unwrap()));
        assert_eq!(f("::"), "::");
        assert_eq!(f("::1"), "::1");
        assert_eq!(f("2001:db8::1"), "2001:db8::1");
        assert_eq!(f("2001:db8:0:1::1"), "2001:db8:0:1::1");
        assert_eq!(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(f("1:0:2:3:4:5:6:7"), "1:0:2:3:4:5:6:7");
        assert_eq!(f("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(f("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(f("fe80::"), "fe80::");
        assert_eq!(f("ffff:ffff:ffff:ffff::"), "ffff:ffff:ffff:ffff::");
        assert_eq!(
            ipv6_masked(0x2001_0db8 << 96, !0u128 << 96),
            "2001:db8::/32"
        );
    }

    #[test]
    fn masks_and_shorthands() {
        let m = Match::new()
            .with(Oxm::EthType(0x0800))
            .with(Oxm::Ipv4Src(
                Ipv4Addr::new(10, 0, 0, 0),
                Some(Ipv4Addr::new(255, 0, 0, 0)),
            ))
            .with(Oxm::Ipv4Dst(
                Ipv4Addr::new(1, 0, 3, 0),
                Some(Ipv4Addr::new(255, 0, 255, 0)),
            ))
            .with(Oxm::IpProto(6))
            .with(Oxm::TcpDst(0x1000, Some(0xf000)));
        assert_eq!(
            match_to_string(&m),
            "tcp,nw_src=10.0.0.0/8,nw_dst=1.0.3.0/255.0.255.0,tp_dst=0x1000/0xf000"
        );
        let m = Match::new()
            .with(Oxm::Metadata(0, Some(0xff)))
            .with(Oxm::TunnelId(0x64, None));
        assert_eq!(match_to_string(&m), "tun_id=0x64,metadata=0/0xff");
        let m = Match::new().with(Oxm::EthType(0x88cc));
        assert_eq!(match_to_string(&m), "dl_type=0x88cc");
    }

    #[test]
    fn vlan_forms() {
        let one = |o: Oxm| match_to_string(&Match::new().with(o));
        assert_eq!(one(Oxm::VlanVid(0x1000 | 10, None)), "dl_vlan=10");
        assert_eq!(one(Oxm::VlanVid(0, None)), "vlan_tci=0x0000/0x1fff");
        assert_eq!(
            one(Oxm::VlanVid(0x1000, Some(0x1000))),
            "vlan_tci=0x1000/0x1000"
        );
        let m = Match::new()
            .with(Oxm::VlanVid(0x1005, None))
            .with(Oxm::VlanPcp(3));
        assert_eq!(match_to_string(&m), "dl_vlan=5,dl_vlan_pcp=3");
        let m = Match::new()
            .with(Oxm::VlanVid(0x1000, Some(0x1000)))
            .with(Oxm::VlanPcp(3));
        assert_eq!(match_to_string(&m), "dl_vlan_pcp=3");
    }

    #[test]
    fn unknown_fields_are_skipped_like_ovs() {
        let m = Match::new().with(Oxm::InPort(1)).with(Oxm::Other(RawOxm {
            class: 0xffff,
            field: 7,
            hasmask: false,
            body: vec![0, 0, 0x12, 0x34, 1, 2],
        }));
        assert_eq!(match_to_string(&m), "in_port=1");
        let m = Match::new().with(Oxm::InPort(0xffff_fffe));
        assert_eq!(match_to_string(&m), "in_port=LOCAL");
    }

    #[test]
    fn actions() {
        let a = |v: Vec<Action>| actions_to_string(&[Instruction::ApplyActions(v)]);
        assert_eq!(a(vec![]), "drop");
        assert_eq!(
            a(vec![Action::Output {
                port: 0xffff_fffd,
                max_len: 65535
            }]),
            "CONTROLLER:65535"
        );
        assert_eq!(a(vec![Action::output(0xffff_fffb)]), "FLOOD");
        assert_eq!(a(vec![Action::PushVlan(0x8100)]), "push_vlan:0x8100");
        assert_eq!(a(vec![Action::PopMpls(0x0800)]), "pop_mpls:0x0800");
        assert_eq!(
            a(vec![Action::SetField(Oxm::VlanVid(0x1005, None))]),
            "set_field:4101->vlan_vid"
        );
        assert_eq!(
            a(vec![Action::Experimenter {
                experimenter: NX_VENDOR,
                data: vec![0, 20, 0, 200, 0, 0, 0, 0]
            }]),
            "controller(reason=no_match,max_len=200)"
        );
        let ins = [
            Instruction::GotoTable(2),
            Instruction::WriteMetadata {
                metadata: 0,
                mask: 0xff,
            },
            Instruction::ApplyActions(vec![Action::DecNwTtl]),
            Instruction::Meter(3),
        ];
        assert_eq!(
            actions_to_string(&ins),
            "meter:3,dec_ttl,write_metadata:0/0xff,goto_table:2"
        );
        assert_eq!(
            actions_to_string(&[Instruction::WriteActions(vec![])]),
            "write_actions(drop)"
        );
    }

    #[test]
    fn line_and_errors() {
        let mut f = fs(
            Match::new().with(Oxm::EthType(0x0800)),
            vec![Instruction::ApplyActions(vec![Action::output(2)])],
        );
        assert_eq!(
            flow_stats_line(&f),
            " cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, priority=100,ip actions=output:2"
        );
        assert_eq!(ovs_decode_error(&f), None);
        f.priority = DEFAULT_PRIORITY;
        f.match_ = Match::new();
        f.flags = 3;
        f.idle_timeout = 5;
        assert_eq!(
            flow_stats_line(&f),
            " cookie=0x0, duration=1.234s, table=0, n_packets=0, n_bytes=0, idle_timeout=5, send_flow_rem check_overlap actions=output:2"
        );
        f.flags = 0x20;
        assert_eq!(ovs_decode_error(&f), Some("OFPFMFC_BAD_FLAGS"));
        f.flags = 0;
        f.instructions = vec![Instruction::ApplyActions(vec![Action::output(0xff00)])];
        assert_eq!(ovs_decode_error(&f), Some("OFPBAC_BAD_OUT_PORT"));
    }

    #[test]
    fn hex_dump_format() {
        assert_eq!(
            hex_dump(&[0x04, 0x13, 0x00, 0x10, 0x41]),
            "00000000  04 13 00 10 41                                  |....A           |\n"
        );
    }
}
