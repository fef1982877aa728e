//! Printing replies and asynchronous messages as `ovs-ofctl -O OpenFlow13`
//! (Open vSwitch 3.1) prints them.
//!
//! Why a module of its own: the text is what users and scripts compare
//! with Open vSwitch, so it is kept pure (message in, string out) and unit
//! tested against `ovs-ofctl ofp-print` output of real OVS messages. Every
//! function mirrors one OVS printer (`ofp-print.c`, `ofp-port.c`,
//! `ofp-table.c`, `ofp-group.c`, `ofp-meter.c`, `ofp-monitor.c`); the C
//! formats are kept (`%#x` prints zero as `0`, durations like
//! [`format_duration`]).
//!
//! Like ovs-ofctl, each reply message is printed with its own header
//! (`OFPST_PORT reply (OF1.3) (xid=0x2):`, ` flags=[more]` on multipart
//! parts that are not the last), so a long reply split by the switch prints
//! as OVS prints it. Flow statistics use `openflow::ofctl::format`, which is
//! already byte-identical to ovs-ofctl.
//!
//! Approximations (not byte-identical to OVS): `dump-table-features` prints
//! field and action lists in plain form (OVS compresses names like
//! `tun_{id,src}`), and PACKET_IN prints the packet as a hex dump rather
//! than OVS's decoded flow.

use openflow::action::Action;
use openflow::instruction::Instruction;
use openflow::message::{msg_type, Body, Message};
use openflow::messages::ErrorMsg;
use openflow::meter::MeterBand;
use openflow::multipart::{
    mp_type, Desc, GroupDesc, GroupFeatures, GroupStats, MeterConfig, MeterFeatures, MeterStats,
    MultipartReply, MultipartReplyBody, PortStats, QueueStats, TableStats, MORE,
};
use openflow::ofctl::format::{
    actions_to_string, dump_flows, flow_stats_text, format_duration, hex_dump, match_to_string,
};
use openflow::port::Port;
use openflow::table_features::{TableFeatureProp, TableFeatures};
use openflow::types::port_no;
use openflow::{FlowRemoved, Match, PacketIn, PortStatus, SwitchConfig, SwitchFeatures};
use std::fmt::Write;

/// ` (OF1.3)` for a version 1.3 header, as OVS names versions.
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

/// `NAME (OF1.3) (xid=0x2):`.
fn header(name: &str, m: &Message) -> String {
    format!("{name}{} (xid={:#x}):", version_suffix(m.version), m.xid)
}

/// OVS's name of a multipart reply (`OFPST_PORT reply`, ...).
fn reply_name(r: &MultipartReply) -> &'static str {
    match r.mp_type() {
        mp_type::DESC => "OFPST_DESC reply",
        mp_type::FLOW => "OFPST_FLOW reply",
        mp_type::AGGREGATE => "OFPST_AGGREGATE reply",
        mp_type::TABLE => "OFPST_TABLE reply",
        mp_type::PORT_STATS => "OFPST_PORT reply",
        mp_type::QUEUE => "OFPST_QUEUE reply",
        mp_type::GROUP => "OFPST_GROUP reply",
        mp_type::GROUP_DESC => "OFPST_GROUP_DESC reply",
        mp_type::GROUP_FEATURES => "OFPST_GROUP_FEATURES reply",
        mp_type::METER => "OFPST_METER reply",
        mp_type::METER_CONFIG => "OFPST_METER_CONFIG reply",
        mp_type::METER_FEATURES => "OFPST_METER_FEATURES reply",
        mp_type::TABLE_FEATURES => "OFPST_TABLE_FEATURES reply",
        mp_type::PORT_DESC => "OFPST_PORT_DESC reply",
        _ => "OFPST_EXPERIMENTER reply",
    }
}

/// ` flags=[more]` (`ofp_print_stats`).
fn mp_flags(flags: u16) -> String {
    if flags == 0 {
        return String::new();
    }
    let mut s = String::from(" flags=");
    let mut rest = flags;
    if rest & MORE != 0 {
        s.push_str("[more]");
        rest &= !MORE;
    }
    if rest != 0 {
        let _ = write!(s, "[***unknown flags 0x{rest:04x}***]");
    }
    s
}

/// `ofp_print_bit_names`: names of the set bits separated by `sep`, unknown
/// bits as one hex number, `0` for none.
fn bit_names(bits: u32, names: &[(u32, &str)], sep: &str) -> String {
    if bits == 0 {
        return "0".into();
    }
    let mut rest = bits;
    let mut out: Vec<String> = Vec::new();
    for i in 0..32 {
        let bit = 1u32 << i;
        if rest & bit != 0 {
            if let Some((_, n)) = names.iter().find(|(b, _)| *b == bit) {
                out.push((*n).to_string());
                rest &= !bit;
            }
        }
    }
    if rest != 0 {
        out.push(format!("0x{rest:x}"));
    }
    out.join(sep)
}

/// A port number as OVS prints it: `LOCAL`, `CONTROLLER`, ... or decimal.
pub fn port_name(p: u32) -> String {
    match port_no::reserved_name(p) {
        Some(n) => n.to_string(),
        None => p.to_string(),
    }
}

/// The whole text ovs-ofctl prints for one message (`ofp_to_string`),
/// ending in a newline.
pub fn message(m: &Message) -> String {
    let mut s = match &m.body {
        Body::FeaturesReply(f) => features_reply(m, f),
        Body::GetConfigReply(c) => config_reply(m, c),
        Body::MultipartReply(r) => multipart_reply(m, r),
        Body::PacketIn(p) => packet_in(m, p),
        Body::FlowRemoved(f) => flow_removed(m, f),
        Body::PortStatus(p) => port_status(m, p),
        Body::Error(e) => format!("{} {}\n", header("OFPT_ERROR", m), error_text(e)),
        other => header(msg_type::name(other.msg_type()), m),
    };
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// The error's name (`OFPBAC_BAD_OUT_GROUP`), or its numbers when unnamed.
pub fn error_text(e: &ErrorMsg) -> String {
    match e {
        ErrorMsg::Standard { error, .. } => match error.name() {
            Some(n) => n.to_string(),
            None => error.to_string(),
        },
        ErrorMsg::Experimenter {
            exp_type,
            experimenter,
            ..
        } => format!("experimenter error 0x{experimenter:08x} type {exp_type}"),
    }
}

fn features_reply(m: &Message, f: &SwitchFeatures) -> String {
    // OVS's own capability bits: group stats moves from bit 3 to bit 4, so
    // it prints between PORT_STATS and IP_REASM.
    let mut caps = f.capabilities & (1 | 2 | 4 | 1 << 5 | 1 << 6);
    if f.capabilities & (1 << 3) != 0 {
        caps |= 1 << 4;
    }
    if f.capabilities & (1 << 8) != 0 {
        caps |= 1 << 8;
    }
    let names = [
        (1, "FLOW_STATS"),
        (2, "TABLE_STATS"),
        (4, "PORT_STATS"),
        (1 << 4, "GROUP_STATS"),
        (1 << 5, "IP_REASM"),
        (1 << 6, "QUEUE_STATS"),
        (1 << 8, "PORT_BLOCKED"),
    ];
    let mut s = format!(
        "{} dpid:{:016x}\nn_tables:{}, n_buffers:{}",
        header("OFPT_FEATURES_REPLY", m),
        f.datapath_id,
        f.n_tables,
        f.n_buffers
    );
    if f.auxiliary_id != 0 {
        let _ = write!(s, ", auxiliary_id:{}", f.auxiliary_id);
    }
    let _ = writeln!(s, "\ncapabilities: {}", bit_names(caps, &names, " "));
    s
}

fn config_reply(m: &Message, c: &SwitchConfig) -> String {
    let frags = match c.flags & 3 {
        0 => "normal",
        1 => "drop",
        2 => "reassemble",
        _ => "nx-match",
    };
    format!(
        "{} frags={frags} miss_send_len={}\n",
        header("OFPT_GET_CONFIG_REPLY", m),
        c.miss_send_len
    )
}

fn multipart_reply(m: &Message, r: &MultipartReply) -> String {
    use MultipartReplyBody as B;
    if let B::Flow(_) = r.body {
        return dump_flows(std::slice::from_ref(m));
    }
    let mut s = header(reply_name(r), m);
    s.push_str(&mp_flags(r.flags));
    match &r.body {
        B::Desc(d) => desc(&mut s, d),
        B::Flow(_) => {}
        B::Aggregate(a) => {
            let _ = writeln!(
                s,
                " packet_count={} byte_count={} flow_count={}",
                a.packet_count, a.byte_count, a.flow_count
            );
        }
        B::Table(t) => table_stats(&mut s, t),
        B::PortStats(p) => port_stats(&mut s, p),
        B::Queue(q) => queue_stats(&mut s, q),
        B::Group(g) => group_stats(&mut s, g),
        B::GroupDesc(g) => group_desc(&mut s, g),
        B::GroupFeatures(g) => group_features(&mut s, g),
        B::Meter(v) => meter_stats(&mut s, v),
        B::MeterConfig(v) => meter_config(&mut s, v),
        B::MeterFeatures(f) => meter_features(&mut s, f),
        B::TableFeatures(t) => {
            s.push('\n');
            s.push_str(&table_features(t));
        }
        B::PortDesc(p) => {
            s.push('\n');
            let mut ports: Vec<&Port> = p.iter().collect();
            ports.sort_by_key(|p| p.port_no);
            for p in ports {
                s.push_str(&phy_port(p));
            }
        }
        B::Experimenter(e) => {
            let _ = writeln!(
                s,
                " experimenter=0x{:08x} type={}",
                e.experimenter, e.exp_type
            );
        }
    }
    s
}

fn desc(s: &mut String, d: &Desc) {
    let _ = write!(
        s,
        "\nManufacturer: {}\nHardware: {}\nSoftware: {}\nSerial Num: {}\nDP Description: {}\n",
        d.mfr_desc, d.hw_desc, d.sw_desc, d.serial_num, d.dp_desc
    );
}

/// OFPST_TABLE: a block per table; runs of tables with the same counters
/// as the previous one collapse into `tables A...B: ditto`.
fn table_stats(s: &mut String, tables: &[TableStats]) {
    let mut first_block = true;
    let mut ditto: Option<(u8, u8)> = None;
    let mut prev: Option<&TableStats> = None;
    let mut block = |s: &mut String, text: String| {
        if !first_block {
            s.push('\n');
        }
        first_block = false;
        s.push_str(&text);
    };
    let flush = |d: Option<(u8, u8)>| match d {
        Some((a, b)) if a == b => Some(format!("  table {a}: ditto\n")),
        Some((a, b)) => Some(format!("  tables {a}...{b}: ditto\n")),
        None => None,
    };
    s.push('\n');
    for t in tables {
        let same = prev.is_some_and(|p| {
            (p.active_count, p.lookup_count, p.matched_count)
                == (t.active_count, t.lookup_count, t.matched_count)
        });
        prev = Some(t);
        if same {
            ditto = Some(match ditto {
                Some((a, _)) => (a, t.table_id),
                None => (t.table_id, t.table_id),
            });
            continue;
        }
        if let Some(text) = flush(ditto.take()) {
            block(s, text);
        }
        block(
            s,
            format!(
                "  table {}:\n    active={}, lookup={}, matched={}\n",
                t.table_id, t.active_count, t.lookup_count, t.matched_count
            ),
        );
    }
    if let Some(text) = flush(ditto) {
        block(s, text);
    }
}

/// A counter OVS may report as unknown (all ones), printed as `?`.
fn stat(v: u64) -> String {
    if v == u64::MAX {
        "?".into()
    } else {
        v.to_string()
    }
}

fn port_stats(s: &mut String, ports: &[PortStats]) {
    let _ = writeln!(s, " {} ports", ports.len());
    for p in ports {
        s.push_str("  port ");
        if p.port_no < 10 {
            s.push(' ');
        }
        let _ = writeln!(
            s,
            "{}: rx pkts={}, bytes={}, drop={}, errs={}, frame={}, over={}, crc={}",
            port_name(p.port_no),
            stat(p.rx_packets),
            stat(p.rx_bytes),
            stat(p.rx_dropped),
            stat(p.rx_errors),
            stat(p.rx_frame_err),
            stat(p.rx_over_err),
            stat(p.rx_crc_err)
        );
        let _ = writeln!(
            s,
            "           tx pkts={}, bytes={}, drop={}, errs={}, coll={}",
            stat(p.tx_packets),
            stat(p.tx_bytes),
            stat(p.tx_dropped),
            stat(p.tx_errors),
            stat(p.collisions)
        );
        if p.duration_sec != u32::MAX {
            let _ = writeln!(
                s,
                "           duration={}",
                format_duration(p.duration_sec, p.duration_nsec)
            );
        }
    }
}

fn queue_stats(s: &mut String, queues: &[QueueStats]) {
    let _ = writeln!(s, " {} queues", queues.len());
    for q in queues {
        s.push_str("  port ");
        if q.port_no < 10 {
            s.push(' ');
        }
        let queue = if q.queue_id == u32::MAX {
            "ALL".to_string()
        } else {
            q.queue_id.to_string()
        };
        let _ = writeln!(
            s,
            "{} queue {queue}: bytes={}, pkts={}, errors={}, duration={}",
            port_name(q.port_no),
            stat(q.tx_bytes),
            stat(q.tx_packets),
            stat(q.tx_errors),
            format_duration(q.duration_sec, q.duration_nsec)
        );
    }
}

fn group_stats(s: &mut String, groups: &[GroupStats]) {
    for g in groups {
        let _ = write!(s, "\n group_id={}", g.group_id);
        if g.duration_sec != u32::MAX {
            let _ = write!(
                s,
                ",duration={}",
                format_duration(g.duration_sec, g.duration_nsec)
            );
        }
        let _ = write!(
            s,
            ",ref_count={},packet_count={},byte_count={}",
            g.ref_count, g.packet_count, g.byte_count
        );
        for (i, b) in g.bucket_stats.iter().enumerate() {
            if b.packet_count != u64::MAX {
                let _ = write!(
                    s,
                    ",bucket{i}:packet_count={},byte_count={}",
                    b.packet_count, b.byte_count
                );
            }
        }
    }
    s.push('\n');
}

fn group_type_name(t: u8) -> String {
    match t {
        0 => "all".into(),
        1 => "select".into(),
        2 => "indirect".into(),
        3 => "ff".into(),
        t => format!("{t}"),
    }
}

/// Bucket actions as OVS prints them (`drop` when there are none).
fn action_list(actions: &[Action]) -> String {
    if actions.is_empty() {
        return "drop".into();
    }
    actions_to_string(&[Instruction::ApplyActions(actions.to_vec())])
}

/// One group as `dump-groups` prints it, without the leading space.
pub fn group_line(g: &GroupDesc) -> String {
    let mut s = format!(
        "group_id={},type={}",
        g.group_id,
        group_type_name(g.group_type)
    );
    for b in &g.buckets {
        s.push_str(",bucket=");
        let default_weight = u16::from(g.group_type == 1);
        if b.weight != default_weight {
            let _ = write!(s, "weight:{},", b.weight);
        }
        if b.watch_port != port_no::ANY {
            let _ = write!(s, "watch_port:{},", port_name(b.watch_port));
        }
        if b.watch_group != openflow::types::group_no::ANY {
            let _ = write!(s, "watch_group:{},", b.watch_group);
        }
        s.push_str("actions=");
        s.push_str(&action_list(&b.actions));
    }
    s
}

fn group_desc(s: &mut String, groups: &[GroupDesc]) {
    for g in groups {
        s.push_str("\n ");
        s.push_str(&group_line(g));
    }
    s.push('\n');
}

/// Action-type bit names in the order OVS prints them (`ofpact_bitmap_format`).
const ACTION_BITS: [(u32, &str); 16] = [
    (0, "output"),
    (22, "group"),
    (25, "set_field"),
    (18, "strip_vlan"),
    (17, "push_vlan"),
    (23, "mod_nw_ttl"),
    (24, "dec_ttl"),
    (15, "set_mpls_ttl"),
    (16, "dec_mpls_ttl"),
    (19, "push_mpls"),
    (20, "pop_mpls"),
    (21, "set_queue"),
    (11, "copy_ttl_out"),
    (12, "copy_ttl_in"),
    (26, "push_pbb"),
    (27, "pop_pbb"),
];

fn action_bitmap(bits: u32) -> String {
    let mut names = Vec::new();
    let mut rest = bits;
    for (bit, name) in ACTION_BITS {
        if bits & (1 << bit) != 0 {
            names.push(name.to_string());
            rest &= !(1 << bit);
        }
    }
    if rest != 0 {
        names.push(format!("0x{rest:x}"));
    }
    names.join(" ")
}

/// C's `%#x`: `0` for zero.
fn hash_x(v: u32) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

fn group_features(s: &mut String, g: &GroupFeatures) {
    let _ = writeln!(s, "\n Group table:");
    let _ = writeln!(s, "    Types:  0x{:x}", g.types);
    let _ = writeln!(s, "    Capabilities:  0x{:x}", g.capabilities);
    let names = ["all", "select", "indirect", "fast failover"];
    for (i, name) in names.iter().enumerate() {
        if g.types & (1 << i) != 0 {
            let _ = writeln!(s, "    {name} group:");
            let _ = writeln!(s, "       max_groups={}", hash_x(g.max_groups[i]));
            let _ = writeln!(s, "       actions: {}", action_bitmap(g.actions[i]));
        }
    }
}

fn meter_flags(flags: u16) -> String {
    let mut s = String::new();
    for (bit, name) in [(1u16, "kbps "), (2, "pktps "), (4, "burst "), (8, "stats ")] {
        if flags & bit != 0 {
            s.push_str(name);
        }
    }
    let rest = flags & !0xf;
    if rest != 0 {
        let _ = write!(s, "flags:0x{rest:x} ");
    }
    s
}

/// One meter as `dump-meters` prints it: `meter=1 kbps burst bands=`, then
/// a line per band; ends with a newline.
pub fn meter_config_text(m: &MeterConfig) -> String {
    let mut s = format!("meter={} {}bands=", m.meter_id, meter_flags(m.flags));
    for b in &m.bands {
        s.push_str("\ntype=");
        match b {
            MeterBand::Drop { .. } => s.push_str("drop"),
            MeterBand::DscpRemark { .. } => s.push_str("dscp_remark"),
            MeterBand::Experimenter { .. } => {
                let _ = write!(s, "{}", b.band_type());
            }
        }
        let _ = write!(s, " rate={}", b.rate());
        if m.flags & 4 != 0 {
            let _ = write!(s, " burst_size={}", b.burst_size());
        }
        if let MeterBand::DscpRemark { prec_level, .. } = b {
            let _ = write!(s, " prec_level={prec_level}");
        }
    }
    s.push('\n');
    s
}

fn meter_config(s: &mut String, meters: &[MeterConfig]) {
    for m in meters {
        s.push('\n');
        s.push_str(&meter_config_text(m));
    }
}

fn meter_stats(s: &mut String, meters: &[MeterStats]) {
    for m in meters {
        let _ = write!(
            s,
            "\nmeter:{} flow_count:{} packet_in_count:{} byte_in_count:{} duration:{} bands:\n",
            m.meter_id,
            m.flow_count,
            m.packet_in_count,
            m.byte_in_count,
            format_duration(m.duration_sec, m.duration_nsec)
        );
        for (i, b) in m.band_stats.iter().enumerate() {
            let _ = writeln!(
                s,
                "{i}: packet_count:{} byte_count:{}",
                b.packet_band_count, b.byte_band_count
            );
        }
    }
}

fn meter_features(s: &mut String, f: &MeterFeatures) {
    let _ = writeln!(
        s,
        "\nmax_meter:{} max_bands:{} max_color:{}",
        f.max_meter, f.max_bands, f.max_color
    );
    let _ = writeln!(
        s,
        "band_types: {}",
        bit_names(f.band_types, &[(2, "drop"), (4, "dscp_remark")], " ")
    );
    let _ = writeln!(
        s,
        "capabilities: {}",
        bit_names(
            f.capabilities,
            &[(1, "kbps"), (2, "pktps"), (4, "burst"), (8, "stats")],
            " "
        )
    );
}

/// The port's name up to its first unprintable byte, as OVS shows it.
fn printable_name(name: &str) -> &str {
    let end = name
        .char_indices()
        .find(|(_, c)| !(' '..='~').contains(c))
        .map_or(name.len(), |(i, _)| i);
    &name[..end]
}

const PORT_FEATURES: [(u32, &str); 16] = [
    (1 << 0, "10MB-HD"),
    (1 << 1, "10MB-FD"),
    (1 << 2, "100MB-HD"),
    (1 << 3, "100MB-FD"),
    (1 << 4, "1GB-HD"),
    (1 << 5, "1GB-FD"),
    (1 << 6, "10GB-FD"),
    (1 << 7, "40GB-FD"),
    (1 << 8, "100GB-FD"),
    (1 << 9, "1TB-FD"),
    (1 << 10, "OTHER"),
    (1 << 11, "COPPER"),
    (1 << 12, "FIBER"),
    (1 << 13, "AUTO_NEG"),
    (1 << 14, "AUTO_PAUSE"),
    (1 << 15, "AUTO_PAUSE_ASYM"),
];

/// One port as `dump-ports-desc` and `show` print it (`ofp_print_phy_port`),
/// each line ending in a newline.
pub fn phy_port(p: &Port) -> String {
    let m = p.hw_addr.0;
    let mut s = format!(
        " {}({}): addr:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\n",
        port_name(p.port_no),
        printable_name(&p.name),
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5]
    );
    // OpenFlow 1.3 config bits, by OVS's (1.0) bit positions.
    let config = bit_names(
        p.config & 0x65,
        &[
            (1 << 0, "PORT_DOWN"),
            (1 << 2, "NO_RECV"),
            (1 << 5, "NO_FWD"),
            (1 << 6, "NO_PACKET_IN"),
        ],
        " ",
    );
    let state = bit_names(
        p.state & 7,
        &[(1, "LINK_DOWN"), (2, "BLOCKED"), (4, "LIVE")],
        " ",
    );
    let _ = writeln!(s, "     config:     {config}");
    let _ = writeln!(s, "     state:      {state}");
    for (v, label) in [
        (p.curr, "current:    "),
        (p.advertised, "advertised: "),
        (p.supported, "supported:  "),
        (p.peer, "peer:       "),
    ] {
        if v != 0 {
            let _ = writeln!(s, "     {label}{}", bit_names(v, &PORT_FEATURES, " "));
        }
    }
    let _ = writeln!(
        s,
        "     speed: {} Mbps now, {} Mbps max",
        p.curr_speed / 1000,
        p.max_speed / 1000
    );
    s
}

fn port_status(m: &Message, p: &PortStatus) -> String {
    let reason = match p.reason {
        0 => " ADD:".to_string(),
        1 => " DEL:".to_string(),
        2 => " MOD:".to_string(),
        r => format!(" reason={r}:"),
    };
    format!(
        "{}{reason}{}",
        header("OFPT_PORT_STATUS", m),
        phy_port(&p.desc)
    )
}

/// `priority=N,MATCH` as OVS's `match_format` prints a match with a
/// priority (the default 32768 is left out).
fn match_with_priority(m: &Match, priority: u16) -> String {
    let text = match_to_string(m);
    if priority == 0x8000 {
        return text;
    }
    if text.is_empty() {
        format!("priority={priority}")
    } else {
        format!("priority={priority},{text}")
    }
}

fn flow_removed(m: &Message, f: &FlowRemoved) -> String {
    let reason = match f.reason {
        0 => "idle".to_string(),
        1 => "hard".to_string(),
        2 => "delete".to_string(),
        3 => "group_delete".to_string(),
        4 => "meter_delete".to_string(),
        5 => "eviction".to_string(),
        r => r.to_string(),
    };
    let mut s = format!(
        "{} {} reason={reason}",
        header("OFPT_FLOW_REMOVED", m),
        match_with_priority(&f.match_, f.priority)
    );
    if f.table_id != 255 {
        let _ = write!(s, " table_id={}", f.table_id);
    }
    if f.cookie != 0 {
        let _ = write!(s, " cookie:0x{:x}", f.cookie);
    }
    let _ = write!(
        s,
        " duration{} idle{}",
        format_duration(f.duration_sec, f.duration_nsec),
        f.idle_timeout
    );
    if f.hard_timeout != 0 {
        let _ = write!(s, " hard{}", f.hard_timeout);
    }
    let _ = writeln!(s, " pkts{} bytes{}", f.packet_count, f.byte_count);
    s
}

fn packet_in(m: &Message, p: &PacketIn) -> String {
    let mut s = header("OFPT_PACKET_IN", m);
    if p.table_id != 0 {
        let _ = write!(s, " table_id={}", p.table_id);
    }
    if p.cookie != u64::MAX {
        let _ = write!(s, " cookie=0x{:x}", p.cookie);
    }
    let _ = write!(
        s,
        " total_len={} {}",
        p.total_len,
        match_to_string(&p.match_)
    );
    let reason = match p.reason {
        0 => "no_match".to_string(),
        1 => "action".to_string(),
        2 => "invalid_ttl".to_string(),
        r => r.to_string(),
    };
    let _ = write!(s, " (via {reason}) data_len={}", p.data.len());
    if p.buffer_id == u32::MAX {
        s.push_str(" (unbuffered)");
        if usize::from(p.total_len) != p.data.len() {
            s.push_str(" (***total_len != data_len***)");
        }
    } else {
        let _ = write!(s, " buffer=0x{:08x}", p.buffer_id);
        if usize::from(p.total_len) < p.data.len() {
            s.push_str(" (***total_len < data_len***)");
        }
    }
    s.push('\n');
    s.push_str(&hex_dump(&p.data));
    s
}

// ---------------------------------------------------------------------------
// dump-flows --no-stats and table features
// ---------------------------------------------------------------------------

/// A `dump-flows --no-stats` line: the flow without duration and counters;
/// cookie and table only when not zero (`ofputil_flow_stats_format`).
pub fn flow_line_no_stats(fs: &openflow::multipart::FlowStats) -> String {
    format!(" {}", flow_stats_text(fs, None, false))
}

/// Instruction names in the order OVS prints them.
const INSTRUCTIONS: [(u16, &str); 6] = [
    (6, "meter"),
    (4, "apply_actions"),
    (5, "clear_actions"),
    (3, "write_actions"),
    (2, "write_metadata"),
    (1, "goto_table"),
];

fn instruction_names(ids: &[openflow::table_features::TlvId]) -> String {
    let mut names: Vec<String> = INSTRUCTIONS
        .iter()
        .filter(|(t, _)| ids.iter().any(|i| i.typ == *t))
        .map(|(_, n)| (*n).to_string())
        .collect();
    names.extend(
        ids.iter()
            .filter(|i| !INSTRUCTIONS.iter().any(|(t, _)| *t == i.typ))
            .map(|i| format!("0x{:x}", i.typ)),
    );
    names.join(" ")
}

/// Action names in OVS's order, from action ids.
fn action_names(ids: &[openflow::table_features::TlvId]) -> String {
    let bits = ids
        .iter()
        .filter(|i| i.typ < 32)
        .fold(0u32, |b, i| b | 1 << i.typ);
    action_bitmap(bits)
}

/// OpenFlow basic field names; fields of other classes (Nicira, ...) are
/// counted rather than listed.
fn oxm_names(ids: &[openflow::table_features::OxmId]) -> String {
    let mut names = Vec::new();
    let mut others = 0;
    for id in ids {
        let class = (id.header >> 16) as u16;
        let field = ((id.header >> 9) & 0x7f) as u8;
        match (class, openflow::OxmField::from_id(field)) {
            (0x8000, Some(f)) => names.push(f.name().to_string()),
            _ => others += 1,
        }
    }
    if others > 0 {
        names.push(format!("(and {others} non-OpenFlow fields)"));
    }
    names.join(" ")
}

/// Table numbers as ranges: `1-253`, `1 3-5`.
fn table_ranges(tables: &[u8]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < tables.len() {
        let start = tables[i];
        let mut end = start;
        while i + 1 < tables.len() && u16::from(tables[i + 1]) == u16::from(end) + 1 {
            i += 1;
            end = tables[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if out.is_empty() {
        "none".into()
    } else {
        out.join(" ")
    }
}

/// One table's features, in the layout of `ovs-ofctl dump-table-features`
/// (field and action lists uncompressed).
fn table_feature_block(t: &TableFeatures) -> String {
    let mut s = format!("  table {}", t.table_id);
    if !t.name.is_empty() {
        let _ = write!(s, " (\"{}\")", t.name);
    }
    s.push_str(":\n");
    let _ = writeln!(
        s,
        "    metadata: match=0x{:x} write=0x{:x}",
        t.metadata_match, t.metadata_write
    );
    let _ = writeln!(s, "    max_entries={}", t.max_entries);
    s.push_str("    instructions (table miss and others):\n");
    for p in &t.properties {
        match p {
            TableFeatureProp::NextTables {
                miss: false,
                tables,
            } => {
                let _ = writeln!(s, "      next tables: {}", table_ranges(tables));
            }
            TableFeatureProp::Instructions { miss: false, ids } => {
                let _ = writeln!(s, "      instructions: {}", instruction_names(ids));
            }
            TableFeatureProp::ApplyActions { miss: false, ids } => {
                let _ = writeln!(s, "      Write-Actions and Apply-Actions features:");
                let _ = writeln!(s, "        actions: {}", action_names(ids));
            }
            TableFeatureProp::ApplySetfield { miss: false, ids } => {
                let _ = writeln!(s, "        supported on Set-Field: {}", oxm_names(ids));
            }
            _ => {}
        }
    }
    s.push_str("    matching:\n");
    for p in &t.properties {
        match p {
            TableFeatureProp::Match(ids) => {
                let _ = writeln!(s, "      match: {}", oxm_names(ids));
            }
            TableFeatureProp::Wildcards(ids) => {
                let _ = writeln!(s, "      wildcards: {}", oxm_names(ids));
            }
            _ => {}
        }
    }
    s
}

/// The properties with "every later table up to N" next-table lists made
/// relative, so that tables differing only in that count as the same.
fn relative_props(t: &TableFeatures) -> Vec<TableFeatureProp> {
    t.properties
        .iter()
        .map(|p| match p {
            TableFeatureProp::NextTables { miss, tables }
                if tables.first().copied() == t.table_id.checked_add(1)
                    && tables
                        .windows(2)
                        .all(|w| u16::from(w[0]) + 1 == u16::from(w[1])) =>
            {
                TableFeatureProp::NextTables {
                    miss: *miss,
                    tables: tables.last().map(|l| vec![0, *l]).unwrap_or_default(),
                }
            }
            p => p.clone(),
        })
        .collect()
}

/// `dump-table-features`: a block per table, runs of tables equal to the
/// previous one (name aside) as `tables A...B: ditto`.
pub fn table_features(tables: &[TableFeatures]) -> String {
    let mut s = String::new();
    let mut prev: Option<&TableFeatures> = None;
    let mut ditto: Option<(u8, u8)> = None;
    let flush = |s: &mut String, d: Option<(u8, u8)>| match d {
        Some((a, b)) if a == b => {
            let _ = writeln!(s, "\n  table {a}: ditto");
        }
        Some((a, b)) => {
            let _ = writeln!(s, "\n  tables {a}...{b}: ditto");
        }
        None => {}
    };
    for t in tables {
        let same = prev.is_some_and(|p| {
            t.name.is_empty()
                && (p.metadata_match, p.metadata_write, p.config, p.max_entries)
                    == (t.metadata_match, t.metadata_write, t.config, t.max_entries)
                && relative_props(p) == relative_props(t)
        });
        prev = Some(t);
        if same {
            ditto = Some(ditto.map_or((t.table_id, t.table_id), |(a, _)| (a, t.table_id)));
            continue;
        }
        flush(&mut s, ditto.take());
        if !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&table_feature_block(t));
    }
    flush(&mut s, ditto);
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::ofctl::format::flow_stats_line;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Message {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../openflow/tests/fixtures")
            .join(format!("{name}.hex"));
        let text = std::fs::read_to_string(&path).expect("fixture file");
        let digits: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .flat_map(|l| l.chars().filter(|c| !c.is_whitespace()))
            .collect();
        let bytes = crate::ofctl::verbs::unhex(&digits).expect("fixture hex");
        Message::decode(&bytes).expect("fixture decodes")
    }

    // Each expected text is `ovs-ofctl ofp-print` (Open vSwitch 3.1) of the
    // fixture's bytes.

    #[test]
    fn features_reply() {
        assert_eq!(
            message(&fixture("features_reply")),
            "OFPT_FEATURES_REPLY (OF1.3) (xid=0x1001): dpid:0000000000000001\n\
             n_tables:254, n_buffers:0\n\
             capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS\n"
        );
    }

    #[test]
    fn desc_and_config_and_aggregate() {
        assert_eq!(
            message(&fixture("desc_reply")),
            "OFPST_DESC reply (OF1.3) (xid=0x1010):\nManufacturer: Nicira, Inc.\n\
             Hardware: Open vSwitch\nSoftware: 3.1.0\nSerial Num: None\nDP Description: None\n"
        );
        assert_eq!(
            message(&fixture("get_config_reply")),
            "OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x1003): frags=normal miss_send_len=128\n"
        );
        assert_eq!(
            message(&fixture("aggregate_reply")),
            "OFPST_AGGREGATE reply (OF1.3) (xid=0x1030): packet_count=21 byte_count=1890 flow_count=49\n"
        );
    }

    #[test]
    fn port_desc_sorted_by_number() {
        let got = message(&fixture("port_desc_reply"));
        let want = "OFPST_PORT_DESC reply (OF1.3) (xid=0x1012):
 1(fx7061-h1): addr:c2:fc:7f:6d:72:7a
     config:     0
     state:      LIVE
     current:    10GB-FD COPPER
     speed: 10000 Mbps now, 0 Mbps max
 2(fx7061-h2): addr:8e:31:3f:b4:89:f5
     config:     0
     state:      LIVE
     current:    10GB-FD COPPER
     speed: 10000 Mbps now, 0 Mbps max
 LOCAL(fxbr0): addr:5e:7f:49:0f:87:46
     config:     0
     state:      LIVE
     current:    10GB-FD COPPER
     speed: 10000 Mbps now, 0 Mbps max
";
        assert_eq!(got, want);
    }

    #[test]
    fn port_stats() {
        let want = "OFPST_PORT reply (OF1.3) (xid=0x1034): 3 ports
  port LOCAL: rx pkts=1, bytes=90, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=0, bytes=0, drop=0, errs=0, coll=0
           duration=13.546s
  port  1: rx pkts=11, bytes=958, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=15, bytes=1258, drop=0, errs=0, coll=0
           duration=13.476s
  port  2: rx pkts=9, bytes=762, drop=0, errs=0, frame=0, over=0, crc=0
           tx pkts=16, bytes=1328, drop=0, errs=0, coll=0
           duration=13.403s
";
        assert_eq!(message(&fixture("port_stats_reply")), want);
        assert_eq!(
            message(&fixture("queue_stats_reply")),
            "OFPST_QUEUE reply (OF1.3) (xid=0x1036): 0 queues\n"
        );
    }

    #[test]
    fn table_stats_with_dittos() {
        let want = "OFPST_TABLE reply (OF1.3) (xid=0x1032):
  table 0:
    active=40, lookup=21, matched=20

  table 1:
    active=2, lookup=6, matched=6

  table 2:
    active=1, lookup=0, matched=0

  table 3:
    active=2, lookup=0, matched=0

  table 4:
    active=1, lookup=0, matched=0

  tables 5...7: ditto

  table 8:
    active=0, lookup=0, matched=0

  tables 9...253: ditto
";
        assert_eq!(message(&fixture("table_stats_reply")), want);
    }

    #[test]
    fn groups() {
        let want = "OFPST_GROUP_DESC reply (OF1.3) (xid=0x1038):
 group_id=3,type=indirect,bucket=actions=LOCAL
 group_id=4,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,actions=output:2
 group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2
 group_id=2,type=select,bucket=weight:100,actions=output:1,bucket=weight:50,actions=output:2
";
        assert_eq!(message(&fixture("group_desc_reply")), want);
        let want = "OFPST_GROUP reply (OF1.3) (xid=0x103a):
 group_id=3,duration=6.987s,ref_count=1,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0
 group_id=4,duration=6.906s,ref_count=1,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0
 group_id=1,duration=7.154s,ref_count=1,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0
 group_id=2,duration=7.065s,ref_count=1,packet_count=0,byte_count=0,bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0,byte_count=0
";
        assert_eq!(message(&fixture("group_stats_reply")), want);
        let acts = "output group set_field strip_vlan push_vlan mod_nw_ttl dec_ttl set_mpls_ttl dec_mpls_ttl push_mpls pop_mpls set_queue";
        let mut want = String::from(
            "OFPST_GROUP_FEATURES reply (OF1.3) (xid=0x1016):\n Group table:\n    Types:  0xf\n    Capabilities:  0x7\n",
        );
        for name in ["all", "select", "indirect", "fast failover"] {
            want.push_str(&format!(
                "    {name} group:\n       max_groups=0xffffff00\n       actions: {acts}\n"
            ));
        }
        assert_eq!(message(&fixture("group_features_reply")), want);
    }

    #[test]
    fn meters() {
        let want = "OFPST_METER_CONFIG reply (OF1.3) (xid=0x103c):
meter=1 kbps bands=
type=drop rate=1000

meter=2 pktps burst stats bands=
type=drop rate=100 burst_size=20
";
        assert_eq!(message(&fixture("meter_config_reply")), want);
        let want = "OFPST_METER reply (OF1.3) (xid=0x103e):
meter:1 flow_count:1 packet_in_count:0 byte_in_count:0 duration:6.847s bands:
0: packet_count:0 byte_count:0

meter:2 flow_count:1 packet_in_count:0 byte_in_count:0 duration:6.779s bands:
0: packet_count:0 byte_count:0
";
        assert_eq!(message(&fixture("meter_stats_reply")), want);
        let want = "OFPST_METER_FEATURES reply (OF1.3) (xid=0x1018):
max_meter:262144 max_bands:8 max_color:0
band_types: drop
capabilities: kbps pktps burst stats
";
        assert_eq!(message(&fixture("meter_features_reply")), want);
    }

    #[test]
    fn async_messages() {
        assert_eq!(
            message(&fixture("flow_removed_delete")),
            "OFPT_FLOW_REMOVED (OF1.3) (xid=0x0): priority=502,tcp,tp_dst=11 reason=delete \
             table_id=0 cookie:0xf3 duration0.032s idle0 pkts0 bytes0\n"
        );
        let want = "OFPT_PORT_STATUS (OF1.3) (xid=0x0): ADD: 3(fx7061-h3): addr:2e:d0:46:c9:7f:f0
     config:     0
     state:      0
     current:    10GB-FD COPPER
     speed: 10000 Mbps now, 0 Mbps max
";
        assert_eq!(message(&fixture("port_status_add")), want);
        let got = message(&fixture("packet_in_action"));
        let first = got.lines().next().unwrap_or_default();
        assert_eq!(
            first,
            "OFPT_PACKET_IN (OF1.3) (xid=0x0): cookie=0x0 total_len=98 in_port=1 (via action) \
             data_len=98 (unbuffered)"
        );
        assert_eq!(
            message(&fixture("error_flow_mod_bad_table")),
            "OFPT_ERROR (OF1.3) (xid=0x1020): OFPFMFC_BAD_TABLE_ID\n"
        );
    }

    #[test]
    fn flow_no_stats() {
        let m = fixture("flow_stats_reply");
        let Body::MultipartReply(r) = &m.body else {
            panic!("not a multipart reply")
        };
        let MultipartReplyBody::Flow(flows) = &r.body else {
            panic!("not a flow reply")
        };
        for fs in flows {
            let line = flow_line_no_stats(fs);
            assert!(!line.contains("duration="), "{line}");
            assert!(line.contains("actions="), "{line}");
            let tail = line.rsplit_once(", ").map_or(line.trim_start(), |(_, t)| t);
            assert!(flow_stats_line(fs).ends_with(tail), "{line}");
        }
    }

    #[test]
    fn helpers() {
        assert_eq!(table_ranges(&[1, 2, 3, 5, 7, 8]), "1-3 5 7-8");
        assert_eq!(bit_names(0, &[], " "), "0");
        assert_eq!(bit_names(0x9, &[(1, "A")], " "), "A 0x8");
        assert_eq!(hash_x(0), "0");
        assert_eq!(port_name(0xfffffffe), "LOCAL");
    }
}
