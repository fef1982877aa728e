//! The `ofctl` verbs: what each sends and what it prints.
//!
//! Why separate from the command line: a verb is "arguments and an open
//! connection in, text out", so the same code serves the binary and the
//! tests; argument checking happens before connecting, so a typo in a flow
//! never touches the switch. Request encoding comes from
//! `openflow::ofctl::parse` (byte-identical to ovs-ofctl), printing from
//! [`super::output`].
//!
//! Names, as ovs-ofctl 3.1 has them (`--names`, `--no-names`, neither):
//! - shown: `dump-flows` prints port and table names where the switch has
//!   them (`table="eth_src"`, `in_port=h1`, `goto_table:flood`) with
//!   `--names`, or by default when standard output is a terminal; it then
//!   takes ovs-ofctl's other path, which prints no reply headers. The names
//!   come from the switch's PORT_DESC and TABLE_FEATURES, asked for on the
//!   same connection after the flows (and only if there are flows).
//! - accepted: flows may name ports and tables (`in_port=p1`,
//!   `actions=output:p2`, `table=eth_src`, `goto_table:flood`) unless
//!   `--no-names`. ovs-ofctl fetches the names before parsing every flow;
//!   here a flow is parsed first and the names are fetched only when it
//!   names a port or table, so a typo still never touches the switch.

use super::client::{io_text, Client, CtlError, Incoming, Result, Target};
use super::flow_diff;
use super::output;
use openflow::group::command as group_cmd;
use openflow::message::{Body, Message};
use openflow::messages::{flow_mod_command, AsyncConfig, FlowMod, PacketOut, SwitchConfig};
use openflow::meter::command as meter_cmd;
use openflow::multipart::{FlowStatsRequest, MultipartReplyBody, MultipartRequestBody};
use openflow::ofctl::format::{dump_flows, dump_flows_lines, flow_lines};
use openflow::ofctl::names::{NameMap, Names};
use openflow::ofctl::parse::{
    parse_actions, parse_flow_mod_with, parse_group_mod_with, parse_meter_mod, ParseError,
};
use openflow::types::{group_no, meter_no, port_no};
use openflow::{Action, Instruction, MultipartRequest};
use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::time::Duration;

/// Options shared by all verbs.
#[derive(Clone, Debug)]
pub struct Options {
    /// `--strict`: MODIFY_STRICT / DELETE_STRICT.
    pub strict: bool,
    /// `--no-stats`: dump-flows without durations and counters.
    pub no_stats: bool,
    /// `--sort[=FIELD]` / `--rsort[=FIELD]`: dump-flows sorted by a match
    /// field (or `priority`, the default), ascending or descending.
    pub sort: Option<SortBy>,
    /// `--readd`: replace-flows adds every flow of the file again, also
    /// those the switch already holds as they are (an ADD over a flow
    /// restarts its duration; its counters carry over unless the flow has
    /// `reset_counts`).
    pub readd: bool,
    /// How long to wait for the switch at each step.
    pub timeout: Duration,
    /// `--names` (`Some(true)`), `--no-names` (`Some(false)`) or neither:
    /// see the module docs.
    pub names: Option<bool>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            no_stats: false,
            sort: None,
            readd: false,
            timeout: Duration::from_secs(10),
            names: None,
        }
    }
}

impl Options {
    /// Whether flows may name tables (all but `--no-names`).
    fn accept_names(&self) -> bool {
        self.names != Some(false)
    }

    /// Whether dump-flows shows names: `--names`, or a terminal.
    fn show_names(&self) -> bool {
        self.names
            .unwrap_or_else(|| std::io::stdout().is_terminal())
    }
}

/// How `dump-flows --sort` / `--rsort` orders flows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SortBy {
    /// `priority` or a match field as ovs-ofctl prints it (`nw_src`).
    pub field: String,
    pub descending: bool,
}

/// A sortable value of a printed match field: numbers (decimal or hex),
/// IPv4 and IPv6 addresses (a mask ignored) and MACs by their value, as
/// ovs-ofctl compares the fields' bytes; anything else as text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortValue {
    Number(u128),
    Text(String),
}

fn sort_value(v: &str) -> SortValue {
    let v = v.split('/').next().unwrap_or(v);
    if let Some(n) = v
        .strip_prefix("0x")
        .and_then(|h| u128::from_str_radix(h, 16).ok())
        .or_else(|| v.parse::<u128>().ok())
    {
        return SortValue::Number(n);
    }
    if let Ok(ip) = v.parse::<std::net::Ipv4Addr>() {
        return SortValue::Number(u128::from(u32::from(ip)));
    }
    if let Ok(ip) = v.parse::<std::net::Ipv6Addr>() {
        return SortValue::Number(u128::from(ip));
    }
    if let Ok(m) = v.parse::<openflow::types::MacAddr>() {
        return SortValue::Number(m.0.iter().fold(0u128, |a, b| a << 8 | u128::from(*b)));
    }
    SortValue::Text(v.to_string())
}

/// A transport port field named as ovs-ofctl names it for sorting: the
/// name it prints (`tp_src`/`tp_dst` in OpenFlow 1.3 dumps) and the
/// protocol a flow must match for it to have the field (ovs-ofctl takes
/// `tp_dst` for `tcp_dst`, so UDP flows do not have it).
fn port_field(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "tp_src" | "tcp_src" => ("tp_src", "tcp"),
        "tp_dst" | "tcp_dst" => ("tp_dst", "tcp"),
        "udp_src" => ("tp_src", "udp"),
        "udp_dst" => ("tp_dst", "udp"),
        "sctp_src" => ("tp_src", "sctp"),
        "sctp_dst" => ("tp_dst", "sctp"),
        _ => return None,
    })
}

/// Flows in `--sort`/`--rsort` order: by priority, or by the field's
/// value with the flows that do not match on it last either way (as
/// ovs-ofctl); ties keep the switch's order. The field is read from the
/// match as printed: a field printed under another name (`dl_vlan` inside
/// a `vlan_tci=` match) counts as absent.
fn sort_flows<'a>(
    flows: Vec<&'a openflow::multipart::FlowStats>,
    by: &SortBy,
) -> Vec<&'a openflow::multipart::FlowStats> {
    let (printed, proto) = match port_field(&by.field) {
        Some((name, proto)) => (name, Some(proto)),
        None => (by.field.as_str(), None),
    };
    let key = |fs: &openflow::multipart::FlowStats| -> Option<SortValue> {
        if by.field == "priority" {
            return Some(SortValue::Number(u128::from(fs.priority)));
        }
        let text = openflow::ofctl::format::match_to_string(&fs.match_);
        if let Some(p) = proto {
            let v6 = format!("{p}6");
            if !text.split(',').any(|t| t == p || t == v6) {
                return None;
            }
        }
        text.split(',').find_map(|t| {
            let (name, value) = t.split_once('=')?;
            (name == printed).then(|| sort_value(value))
        })
    };
    // Each flow's key once (it prints the match), not once per comparison.
    let mut keyed: Vec<_> = flows.into_iter().map(|fs| (key(fs), fs)).collect();
    keyed.sort_by(|(a, _), (b, _)| match (a, b) {
        (Some(x), Some(y)) if by.descending => y.cmp(x),
        (Some(x), Some(y)) => x.cmp(y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    keyed.into_iter().map(|(_, fs)| fs).collect()
}

/// Why a verb's arguments were refused before connecting, and whether
/// because of a port or table name the switch may know.
#[derive(Debug)]
struct PlanError {
    error: CtlError,
    unknown_name: bool,
}

impl From<CtlError> for PlanError {
    fn from(error: CtlError) -> Self {
        PlanError {
            error,
            unknown_name: false,
        }
    }
}

/// `(verb, minimum, maximum number of arguments after the target, usage)`.
pub const VERBS: &[(&str, usize, usize, &str)] = &[
    ("show", 0, 0, "show SWITCH"),
    ("dump-desc", 0, 0, "dump-desc SWITCH"),
    ("dump-flows", 0, 1, "dump-flows SWITCH [FLOW]"),
    ("dump-aggregate", 0, 1, "dump-aggregate SWITCH [FLOW]"),
    ("add-flow", 1, 1, "add-flow SWITCH FLOW"),
    ("add-flows", 1, 1, "add-flows SWITCH FILE (- for stdin)"),
    ("mod-flows", 1, 1, "mod-flows [--strict] SWITCH FLOW"),
    (
        "replace-flows",
        1,
        1,
        "replace-flows [--readd] SWITCH FILE (- for stdin)",
    ),
    (
        "diff-flows",
        1,
        1,
        "diff-flows SOURCE1 SOURCE2 (each a switch, or a flow file; - for stdin)",
    ),
    ("del-flows", 0, 1, "del-flows [--strict] SWITCH [FLOW]"),
    ("dump-ports", 0, 1, "dump-ports SWITCH [PORT]"),
    ("dump-ports-desc", 0, 1, "dump-ports-desc SWITCH [PORT]"),
    ("dump-tables", 0, 0, "dump-tables SWITCH"),
    (
        "mod-port",
        2,
        2,
        "mod-port SWITCH PORT up|down|receive|no-receive|forward|no-forward|packet-in|no-packet-in",
    ),
    ("dump-table-features", 0, 0, "dump-table-features SWITCH"),
    ("add-group", 1, 1, "add-group SWITCH GROUP"),
    ("add-groups", 1, 1, "add-groups SWITCH FILE (- for stdin)"),
    ("mod-group", 1, 1, "mod-group SWITCH GROUP"),
    ("del-groups", 0, 1, "del-groups SWITCH [GROUP]"),
    ("dump-groups", 0, 1, "dump-groups SWITCH [GROUP_ID]"),
    ("dump-group-stats", 0, 1, "dump-group-stats SWITCH [GROUP_ID]"),
    ("dump-group-features", 0, 0, "dump-group-features SWITCH"),
    ("add-meter", 1, 1, "add-meter SWITCH METER"),
    ("mod-meter", 1, 1, "mod-meter SWITCH METER"),
    ("del-meter", 0, 1, "del-meter SWITCH [meter=ID]"),
    ("del-meters", 0, 1, "del-meters SWITCH [meter=ID]"),
    ("dump-meters", 0, 1, "dump-meters SWITCH [meter=ID]"),
    ("meter-stats", 0, 1, "meter-stats SWITCH [meter=ID]"),
    ("meter-features", 0, 0, "meter-features SWITCH"),
    (
        "packet-out",
        1,
        usize::MAX,
        "packet-out SWITCH IN_PORT ACTIONS PACKET... | packet-out SWITCH in_port=P,packet=HEX,actions=A",
    ),
    (
        "monitor",
        0,
        usize::MAX,
        "monitor SWITCH [MISS_LEN] [invalid_ttl] [watch:...]",
    ),
];

/// The usage line of a verb, if the verb exists.
pub fn usage(verb: &str) -> Option<&'static str> {
    VERBS.iter().find(|v| v.0 == verb).map(|v| v.3)
}

/// Hex digits (white space between them allowed) to bytes.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    Some(digits.chunks(2).map(|c| c[0] << 4 | c[1]).collect())
}

/// A port number or name (`LOCAL`, `CONTROLLER`, `ANY`/`NONE`, ...).
pub fn parse_port(s: &str) -> Result<u32> {
    let upper = s.to_ascii_uppercase();
    let named = match upper.as_str() {
        "IN_PORT" => Some(port_no::IN_PORT),
        "TABLE" => Some(port_no::TABLE),
        "NORMAL" => Some(port_no::NORMAL),
        "FLOOD" => Some(port_no::FLOOD),
        "ALL" => Some(port_no::ALL),
        "CONTROLLER" => Some(port_no::CONTROLLER),
        "LOCAL" => Some(port_no::LOCAL),
        "ANY" | "NONE" => Some(port_no::ANY),
        _ => None,
    };
    if let Some(p) = named {
        return Ok(p);
    }
    let n = parse_u32(s).ok_or_else(|| CtlError::new(format!("{s}: invalid port number")))?;
    if (0xff00..0xffff_fff8).contains(&n) && n < port_no::MAX {
        return Err(CtlError::new(format!("{s}: port number out of range")));
    }
    Ok(n)
}

/// A decimal or `0x` hexadecimal number.
fn parse_u32(s: &str) -> Option<u32> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A group id for the dump verbs: a number, `all` or `any`.
fn parse_group_id(s: &str) -> Result<u32> {
    let v = s.strip_prefix("group_id=").unwrap_or(s);
    match v.to_ascii_lowercase().as_str() {
        "all" => Ok(group_no::ALL),
        "any" => Ok(group_no::ANY),
        _ => parse_u32(v).ok_or_else(|| CtlError::new(format!("{s}: invalid group id"))),
    }
}

/// A meter id for the dump verbs: `meter=N`, `meter=all` or a bare `N`.
fn parse_meter_id(s: &str) -> Result<u32> {
    let v = s.strip_prefix("meter=").unwrap_or(s);
    match v.to_ascii_lowercase().as_str() {
        "all" => Ok(meter_no::ALL),
        "slowpath" => Ok(meter_no::SLOWPATH),
        "controller" => Ok(meter_no::CONTROLLER),
        _ => parse_u32(v).ok_or_else(|| CtlError::new(format!("{s}: invalid meter id"))),
    }
}

fn parse_err(e: ParseError) -> CtlError {
    CtlError::new(e.message)
}

/// A flow parse error, keeping whether a table name was unknown.
fn flow_err(e: ParseError) -> PlanError {
    PlanError {
        unknown_name: e.is_unknown_name(),
        error: CtlError::new(e.message),
    }
}

/// An error on line `n` of file `file`, keeping whether a name was unknown.
fn line_err(file: &str, n: usize, e: ParseError) -> PlanError {
    PlanError {
        unknown_name: e.is_unknown_name(),
        error: CtlError::new(format!("{file}:{n}: {}", e.message)),
    }
}

/// Reads a flow or group file (`-` is stdin): its non-blank lines that are
/// not `#` comments, with their line numbers.
///
/// Standard input is read once and kept: a verb whose flows name ports or
/// tables is planned a second time with the switch's names, and must see
/// the same lines again.
fn read_lines(file: &str) -> Result<Vec<(usize, String)>> {
    static STDIN: std::sync::OnceLock<std::result::Result<String, String>> =
        std::sync::OnceLock::new();
    let text = if file == "-" {
        STDIN
            .get_or_init(|| {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map(|_| text)
                    .map_err(|e| format!("reading stdin failed: {}", io_text(&e)))
            })
            .clone()
            .map_err(CtlError::new)?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CtlError::new(format!("cannot read {file}: {}", io_text(&e))))?
    };
    Ok(text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i, l.to_string()))
        .collect())
}

/// The lines of flow file `file` (from [`read_lines`]) as FLOW_MOD ADDs,
/// each with its `FILE:LINE`; the first bad line is the error.
fn parse_flow_lines(
    file: &str,
    lines: &[(usize, String)],
    names: Option<&Names>,
) -> std::result::Result<Vec<(FlowMod, String)>, PlanError> {
    lines
        .iter()
        .map(|(n, line)| {
            parse_flow_mod_with(line, flow_mod_command::ADD, names)
                .map(|fm| (fm, format!("{file}:{n}")))
                .map_err(|e| line_err(file, *n, e))
        })
        .collect()
}

fn flow_stats_request(
    args: &[String],
    names: Option<&Names>,
) -> std::result::Result<FlowStatsRequest, PlanError> {
    let text = args.first().map_or("", String::as_str);
    let fm: FlowMod =
        parse_flow_mod_with(text, flow_mod_command::DELETE, names).map_err(flow_err)?;
    Ok(FlowStatsRequest {
        table_id: fm.table_id,
        out_port: fm.out_port,
        out_group: fm.out_group,
        cookie: fm.cookie,
        cookie_mask: fm.cookie_mask,
        match_: fm.match_,
    })
}

fn mp(body: MultipartRequestBody) -> Body {
    Body::MultipartRequest(MultipartRequest::new(body))
}

/// A verb checked and turned into what to send, before any connection.
enum Plan {
    /// Multipart or simple requests whose replies are printed in order.
    Print(Vec<Body>),
    /// dump-flows: the request and whether to hide statistics.
    DumpFlows(Body, bool),
    /// dump-ports-desc with a port filter.
    PortsDesc(Option<u32>),
    /// dump-table-features (printed without the reply header, as OVS does).
    TableFeatures,
    /// Modifications followed by a barrier.
    Modify(Vec<(Body, String)>),
    /// monitor with an optional miss_send_len.
    Monitor(Option<u16>),
    /// mod-port: the port (number or name) and the config bits to set
    /// within the mask.
    ModPort {
        port: String,
        config: u32,
        mask: u32,
    },
}

/// A mod-port command: the `ofp_port_config` bit it changes and whether
/// it sets it (`down` sets PORT_DOWN, `up` clears it; `no-X` sets NO_X).
fn port_config_change(command: &str) -> Result<(u32, bool)> {
    use openflow::port::config;
    let (name, negated) = match command.strip_prefix("no-") {
        Some(rest) => (rest, true),
        None => (command, false),
    };
    let bit = match name {
        "up" | "down" if negated => None,
        "up" => return Ok((config::PORT_DOWN, false)),
        "down" => return Ok((config::PORT_DOWN, true)),
        "receive" => Some(config::NO_RECV),
        "forward" => Some(config::NO_FWD),
        "packet-in" => Some(config::NO_PACKET_IN),
        "stp" | "receive-stp" | "flood" => {
            return Err(CtlError::new(format!(
                "mod-port: '{command}' exists only in OpenFlow 1.0 (this speaks OpenFlow 1.3)"
            )))
        }
        _ => None,
    };
    let bit = bit.ok_or_else(|| {
        CtlError::new(format!(
            "unknown mod-port command '{command}' (up, down, receive, no-receive, forward, \
             no-forward, packet-in, no-packet-in)"
        ))
    })?;
    Ok((bit, negated))
}

/// The plan for `verb`; `names` are the switch's port and table names
/// once asked for (a flow that names a port or table fails without them,
/// marked so).
fn plan(
    verb: &str,
    args: &[String],
    opts: &Options,
    names: Option<&Names>,
) -> std::result::Result<Plan, PlanError> {
    use MultipartRequestBody as R;
    let arg = args.first().map(String::as_str);
    let flow_cmd = |plain: u8, strict: u8| if opts.strict { strict } else { plain };
    Ok(match verb {
        "show" => Plan::Print(vec![
            Body::FeaturesRequest,
            mp(R::PortDesc),
            Body::GetConfigRequest,
        ]),
        "dump-desc" => Plan::Print(vec![mp(R::Desc)]),
        "dump-flows" => {
            Plan::DumpFlows(mp(R::Flow(flow_stats_request(args, names)?)), opts.no_stats)
        }
        "dump-aggregate" => Plan::Print(vec![mp(R::Aggregate(flow_stats_request(args, names)?))]),
        "dump-ports" => Plan::Print(vec![mp(R::PortStats {
            port_no: arg.map_or(Ok(port_no::ANY), parse_port)?,
        })]),
        "dump-ports-desc" => Plan::PortsDesc(arg.map(parse_port).transpose()?),
        "dump-tables" => Plan::Print(vec![mp(R::Table)]),
        "dump-table-features" => Plan::TableFeatures,
        "dump-groups" => {
            // OpenFlow 1.3's group description request has no group filter;
            // like ovs-ofctl, the id is checked and then all groups print.
            arg.map(parse_group_id).transpose()?;
            Plan::Print(vec![mp(R::GroupDesc)])
        }
        "dump-group-stats" => Plan::Print(vec![mp(R::Group {
            group_id: arg.map_or(Ok(group_no::ALL), parse_group_id)?,
        })]),
        "dump-group-features" => Plan::Print(vec![mp(R::GroupFeatures)]),
        "dump-meters" => Plan::Print(vec![mp(R::MeterConfig {
            meter_id: arg.map_or(Ok(meter_no::ALL), parse_meter_id)?,
        })]),
        "meter-stats" => Plan::Print(vec![mp(R::Meter {
            meter_id: arg.map_or(Ok(meter_no::ALL), parse_meter_id)?,
        })]),
        "meter-features" => Plan::Print(vec![mp(R::MeterFeatures)]),
        "add-flow" | "mod-flows" | "del-flows" => {
            let cmd = match verb {
                "add-flow" => flow_mod_command::ADD,
                "mod-flows" => flow_cmd(flow_mod_command::MODIFY, flow_mod_command::MODIFY_STRICT),
                _ => flow_cmd(flow_mod_command::DELETE, flow_mod_command::DELETE_STRICT),
            };
            let text = arg.unwrap_or("");
            let fm = parse_flow_mod_with(text, cmd, names).map_err(flow_err)?;
            Plan::Modify(vec![(Body::FlowMod(fm), String::new())])
        }
        "add-flows" => {
            let file = arg.unwrap_or("-");
            let flows = parse_flow_lines(file, &read_lines(file)?, names)?;
            Plan::Modify(
                flows
                    .into_iter()
                    .map(|(fm, label)| (Body::FlowMod(fm), label))
                    .collect(),
            )
        }
        "add-groups" => {
            let file = arg.unwrap_or("-");
            let mut mods = Vec::new();
            for (n, line) in read_lines(file)? {
                let gm = parse_group_mod_with(&line, group_cmd::ADD, names)
                    .map_err(|e| line_err(file, n, e))?;
                mods.push((Body::GroupMod(gm), format!("{file}:{n}")));
            }
            Plan::Modify(mods)
        }
        "add-group" | "mod-group" | "del-groups" => {
            let cmd = match verb {
                "add-group" => group_cmd::ADD,
                "mod-group" => group_cmd::MODIFY,
                _ => group_cmd::DELETE,
            };
            let gm = parse_group_mod_with(arg.unwrap_or(""), cmd, names).map_err(flow_err)?;
            Plan::Modify(vec![(Body::GroupMod(gm), String::new())])
        }
        "add-meter" | "mod-meter" | "del-meter" | "del-meters" => {
            let cmd = match verb {
                "add-meter" => meter_cmd::ADD,
                "mod-meter" => meter_cmd::MODIFY,
                _ => meter_cmd::DELETE,
            };
            let mm = parse_meter_mod(arg.unwrap_or(""), cmd).map_err(parse_err)?;
            Plan::Modify(vec![(Body::MeterMod(mm), String::new())])
        }
        "packet-out" => Plan::Modify(packet_outs(args)?),
        "mod-port" => {
            let [port, command] = args else {
                return Err(CtlError::new("mod-port needs PORT and a command").into());
            };
            let (bit, set) = port_config_change(command)?;
            Plan::ModPort {
                port: port.clone(),
                config: if set { bit } else { 0 },
                mask: bit,
            }
        }
        "monitor" => {
            let mut miss = None;
            for a in args {
                if let Ok(n) = a.parse::<u16>() {
                    miss = Some(n);
                } else if a != "invalid_ttl" && !a.starts_with("watch:") {
                    return Err(CtlError::new(format!("monitor: unknown argument '{a}'")).into());
                }
            }
            Plan::Monitor(miss)
        }
        _ => {
            return Err(
                CtlError::new(format!("unknown command '{verb}'; use --help for help")).into(),
            )
        }
    })
}

/// The actions of a packet-out (apply-actions only).
fn packet_out_actions(text: &str) -> Result<Vec<Action>> {
    let ins = parse_actions(text).map_err(parse_err)?;
    let mut actions = Vec::new();
    for i in ins {
        match i {
            Instruction::ApplyActions(a) => actions.extend(a),
            _ => {
                return Err(CtlError::new(format!(
                    "{text}: only actions are allowed in a packet-out, not instructions"
                )))
            }
        }
    }
    Ok(actions)
}

fn packet_bytes(hex: &str) -> Result<Vec<u8>> {
    unhex(hex).ok_or_else(|| {
        CtlError::new(format!(
            "{hex}: the packet must be an even number of hex digits"
        ))
    })
}

/// `IN_PORT ACTIONS PACKET...` (one PACKET_OUT per packet) or the keyword
/// form `in_port=P,packet=HEX,actions=A` (actions last).
fn packet_outs(args: &[String]) -> Result<Vec<(Body, String)>> {
    let out = |in_port, actions, data| {
        (
            Body::PacketOut(PacketOut::new(in_port, actions, data)),
            String::new(),
        )
    };
    if let [one] = args {
        let (head, actions) = one
            .split_once("actions=")
            .ok_or_else(|| CtlError::new(format!("{one}: packet-out needs actions= (last)")))?;
        let mut in_port = port_no::CONTROLLER;
        let mut packet = None;
        for kv in head.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match kv.split_once('=') {
                Some(("in_port", v)) => in_port = parse_port(v)?,
                Some(("packet", v)) => packet = Some(packet_bytes(v)?),
                _ => {
                    return Err(CtlError::new(format!(
                        "{kv}: unknown packet-out field (in_port=, packet=, actions=)"
                    )))
                }
            }
        }
        let packet =
            packet.ok_or_else(|| CtlError::new(format!("{one}: packet-out needs packet=HEX")))?;
        return Ok(vec![out(in_port, packet_out_actions(actions)?, packet)]);
    }
    let [in_port, actions, packets @ ..] = args else {
        return Err(CtlError::new(
            "packet-out needs IN_PORT ACTIONS PACKET... or in_port=P,packet=HEX,actions=A",
        ));
    };
    if packets.is_empty() {
        return Err(CtlError::new("packet-out: missing the packet (hex)"));
    }
    let in_port = parse_port(in_port)?;
    let actions = packet_out_actions(actions)?;
    packets
        .iter()
        .map(|p| Ok(out(in_port, actions.clone(), packet_bytes(p)?)))
        .collect()
}

fn write_out(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| CtlError::new(format!("writing the output failed: {}", io_text(&e))))
}

/// Runs `verb` against `target`, printing to `out`; the exit status (0,
/// or 2 when `diff-flows` found differences, as ovs-ofctl).
pub fn run(
    verb: &str,
    target: &str,
    args: &[String],
    opts: &Options,
    state_dir: &Path,
    out: &mut dyn Write,
) -> Result<u8> {
    check_arg_count(verb, args)?;
    match (verb, args) {
        ("diff-flows", [other]) => diff_flows(target, other, opts, state_dir, out),
        ("replace-flows", [file]) => replace_flows(target, file, opts, state_dir).map(|()| 0),
        _ => run_plan(verb, target, args, opts, state_dir, out).map(|()| 0),
    }
}

/// Whether `verb` has a number of arguments it takes.
fn check_arg_count(verb: &str, args: &[String]) -> Result<()> {
    if let Some(&(_, min, max, usage)) = VERBS.iter().find(|v| v.0 == verb) {
        if args.len() < min || args.len() > max {
            return Err(CtlError::new(format!(
                "'{verb}' takes {}; usage: ofswitch ofctl {usage}",
                match (min, max) {
                    (0, 0) => "no arguments after the switch".to_string(),
                    (a, b) if a == b => format!("{a} argument(s) after the switch"),
                    (a, usize::MAX) => format!("at least {a} argument(s) after the switch"),
                    (a, b) => format!("{a} to {b} arguments after the switch"),
                }
            )));
        }
    }
    Ok(())
}

/// Runs a verb that [`plan`] turns into requests.
fn run_plan(
    verb: &str,
    target: &str,
    args: &[String],
    opts: &Options,
    state_dir: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    // A port named, not numbered (`dump-ports br0 p1`): ask the switch for
    // its number first, as ovs-ofctl does.
    let mut named: Option<(Vec<String>, Client)> = None;
    if let (true, Some(name)) = (
        matches!(verb, "dump-ports" | "dump-ports-desc"),
        args.first().filter(|a| parse_port(a).is_err()),
    ) {
        let mut c = Client::connect(&Target::parse(target, state_dir)?, opts.timeout)?;
        let n = port_number(&mut c, name)?
            .ok_or_else(|| CtlError::new(format!("{target}: couldn't find port `{name}'")))?;
        named = Some((vec![n.to_string()], c));
    }
    let (args, early) = match named {
        Some((a, c)) => (a, Some(c)),
        None => (args.to_vec(), None),
    };
    let args = args.as_slice();
    let (plan, client) = match plan(verb, args, opts, None) {
        Ok(p) => (p, early),
        // A table named in a flow: ask the switch for its names, then parse
        // again with them (as ovs-ofctl does, but only when needed).
        Err(e) if e.unknown_name && opts.accept_names() => {
            // The switch's names, if it can be asked; if not, the flow's
            // own error comes first (a word that is no action is a typo
            // more often than a port of a switch that is not there).
            let asked = Target::parse(target, state_dir)
                .and_then(|t| Client::connect(&t, opts.timeout))
                .and_then(|mut c| names(&mut c).map(|n| (n, c)));
            let (names, c) = asked.map_err(|why| {
                CtlError::new(format!(
                    "{} (the switch's port and table names could not be read: {})",
                    e.error, why
                ))
            })?;
            let p = plan(verb, args, opts, Some(&names)).map_err(|e| e.error)?;
            (p, Some(c))
        }
        Err(e) => return Err(e.error),
    };
    let mut c = match client {
        Some(c) => c,
        None => Client::connect(&Target::parse(target, state_dir)?, opts.timeout)?,
    };
    match plan {
        Plan::Print(requests) => {
            for r in requests {
                for m in c.transact(r)? {
                    write_out(out, &output::message(&m))?;
                }
            }
        }
        Plan::DumpFlows(request, no_stats) => {
            let replies = c.transact(request)?;
            let show_names = opts.show_names();
            let text = if let Some(by) = &opts.sort {
                // ovs-ofctl's other path, sorted.
                let flows = sort_flows(flows_of(&replies).collect(), by);
                let names = if show_names && !flows.is_empty() {
                    Some(names(&mut c)?)
                } else {
                    None
                };
                flow_lines(flows, names.as_ref(), !no_stats)
            } else if !show_names && !no_stats {
                dump_flows(&replies)
            } else {
                // ovs-ofctl's other path: no reply headers, names if shown.
                let names = if show_names && flows_of(&replies).next().is_some() {
                    Some(names(&mut c)?)
                } else {
                    None
                };
                let parts: Vec<_> = replies
                    .iter()
                    .filter_map(|m| match &m.body {
                        Body::MultipartReply(r) => Some(r.clone()),
                        _ => None,
                    })
                    .collect();
                dump_flows_lines(&parts, names.as_ref(), !no_stats)
            };
            write_out(out, &text)?;
        }
        Plan::PortsDesc(filter) => {
            for mut m in c.transact(mp(MultipartRequestBody::PortDesc))? {
                if let (Some(p), Body::MultipartReply(r)) = (filter, &mut m.body) {
                    if let MultipartReplyBody::PortDesc(ports) = &mut r.body {
                        ports.retain(|x| x.port_no == p);
                    }
                }
                write_out(out, &output::message(&m))?;
            }
        }
        Plan::TableFeatures => {
            let replies = c.transact(mp(MultipartRequestBody::TableFeatures(Vec::new())))?;
            let mut tables = Vec::new();
            for m in replies {
                if let Body::MultipartReply(r) = m.body {
                    if let MultipartReplyBody::TableFeatures(t) = r.body {
                        tables.extend(t);
                    }
                }
            }
            write_out(out, &output::table_features(&tables))?;
        }
        Plan::Modify(mods) => c.modify(mods)?,
        Plan::Monitor(miss) => monitor(&mut c, miss, out)?,
        Plan::ModPort { port, config, mask } => {
            // The port's hardware address must come with a PORT_MOD (the
            // switch checks it): from PORT_DESC, as ovs-ofctl does.
            let number = parse_port(&port).ok();
            let desc = port_descs(&mut c)?
                .into_iter()
                .find(|p| Some(p.port_no) == number || p.name == port)
                .ok_or_else(|| CtlError::new(format!("{target}: couldn't find port `{port}'")))?;
            let pm = openflow::port::PortMod {
                port_no: desc.port_no,
                hw_addr: desc.hw_addr,
                config,
                mask,
                advertise: 0,
            };
            c.modify(vec![(Body::PortMod(pm), String::new())])?;
        }
    }
    Ok(())
}

/// Whether a `diff-flows` source is a flow file, as ovs-ofctl decides:
/// `-` (stdin) or a path that exists and is not a socket; otherwise it
/// names a switch.
fn is_flow_file(source: &str) -> bool {
    use std::os::unix::fs::FileTypeExt;
    source == "-" || std::fs::metadata(source).is_ok_and(|m| !m.file_type().is_socket())
}

/// Every flow of the switch, in all tables.
fn switch_flows(c: &mut Client) -> Result<flow_diff::FlowSet> {
    let request = flow_stats_request(&[], None).map_err(|e| e.error)?;
    let replies = c.transact(mp(MultipartRequestBody::Flow(request)))?;
    Ok(flow_diff::from_flow_stats(flows_of(&replies)))
}

/// A flow file's flows; a table named in it is looked up on the switch
/// `c`, when there is one (and names are accepted).
fn file_flows(
    file: &str,
    lines: &[(usize, String)],
    c: Option<&mut Client>,
    opts: &Options,
) -> Result<Vec<(FlowMod, String)>> {
    match (parse_flow_lines(file, lines, None), c) {
        (Ok(flows), _) => Ok(flows),
        (Err(e), Some(c)) if e.unknown_name && opts.accept_names() => {
            let names = names(c)?;
            parse_flow_lines(file, lines, Some(&names)).map_err(|e| e.error)
        }
        (Err(e), _) => Err(e.error),
    }
}

/// `diff-flows A B`: the flows of two switches or files compared
/// ([`flow_diff::diff`]); 2 when they differ.
fn diff_flows(
    a: &str,
    b: &str,
    opts: &Options,
    state_dir: &Path,
    out: &mut dyn Write,
) -> Result<u8> {
    // Switches first: the first one's table names serve files naming tables.
    let mut client = None;
    let mut sets: [Option<flow_diff::FlowSet>; 2] = [None, None];
    for (i, source) in [a, b].into_iter().enumerate() {
        if !is_flow_file(source) {
            let mut c = Client::connect(&Target::parse(source, state_dir)?, opts.timeout)?;
            sets[i] = Some(switch_flows(&mut c)?);
            client.get_or_insert(c);
        }
    }
    for (i, source) in [a, b].into_iter().enumerate() {
        if sets[i].is_none() {
            let lines = read_lines(source)?;
            let flows = file_flows(source, &lines, client.as_mut(), opts)?;
            sets[i] = Some(flow_diff::from_flow_mods(flows));
        }
    }
    let [Some(x), Some(y)] = sets else {
        return Err(CtlError::new("diff-flows: a source was not read"));
    };
    let lines = flow_diff::diff(&x, &y);
    let mut text = String::new();
    for l in &lines {
        text.push_str(l);
        text.push('\n');
    }
    write_out(out, &text)?;
    Ok(if lines.is_empty() { 0 } else { 2 })
}

/// `replace-flows SWITCH FILE`: the switch made to hold exactly the
/// file's flows ([`flow_diff::replace`]); the file is read and checked
/// before anything is sent.
fn replace_flows(target: &str, file: &str, opts: &Options, state_dir: &Path) -> Result<()> {
    let lines = read_lines(file)?;
    let flows = match parse_flow_lines(file, &lines, None) {
        Ok(flows) => Some(flows),
        Err(e) if e.unknown_name && opts.accept_names() => None,
        Err(e) => return Err(e.error),
    };
    let mut c = Client::connect(&Target::parse(target, state_dir)?, opts.timeout)?;
    // A file naming ports or tables is parsed again with the switch's names.
    let flows = match flows {
        Some(flows) => flows,
        None => parse_flow_lines(file, &lines, Some(&names(&mut c)?)).map_err(|e| e.error)?,
    };
    let on_switch = switch_flows(&mut c)?;
    let mods = flow_diff::replace(&on_switch, &flow_diff::from_flow_mods(flows), opts.readd);
    c.modify(
        mods.into_iter()
            .map(|(fm, label)| (Body::FlowMod(fm), label))
            .collect(),
    )
}

/// The switch's ports (PORT_DESC).
fn port_descs(c: &mut Client) -> Result<Vec<openflow::port::Port>> {
    let mut ports = Vec::new();
    for m in c.transact(mp(MultipartRequestBody::PortDesc))? {
        if let Body::MultipartReply(r) = m.body {
            if let MultipartReplyBody::PortDesc(list) = r.body {
                ports.extend(list);
            }
        }
    }
    Ok(ports)
}

/// The OpenFlow number of the switch's port called `name` (PORT_DESC).
fn port_number(c: &mut Client, name: &str) -> Result<Option<u32>> {
    Ok(port_descs(c)?
        .into_iter()
        .find(|p| p.name == name)
        .map(|p| p.port_no))
}

/// The switch's table names (TABLE_FEATURES; an empty name is none).
fn table_names(c: &mut Client) -> Result<NameMap> {
    let mut tables = NameMap::new();
    for m in c.transact(mp(MultipartRequestBody::TableFeatures(Vec::new())))? {
        if let Body::MultipartReply(r) = m.body {
            if let MultipartReplyBody::TableFeatures(t) = r.body {
                for t in t {
                    tables.put(u32::from(t.table_id), &t.name);
                }
            }
        }
    }
    Ok(tables)
}

/// The switch's port names (PORT_DESC), by OVS's 16-bit port numbers
/// (`LOCAL` is 0xfffe), and its table names.
fn names(c: &mut Client) -> Result<Names> {
    let mut ports = NameMap::new();
    for p in port_descs(c)? {
        let n = match p.port_no {
            n if n < 0xff00 => n,
            n if n >= 0xffff_ff00 => n - 0xffff_0000,
            _ => continue,
        };
        ports.put(n, &p.name);
    }
    Ok(Names {
        ports,
        tables: table_names(c)?,
    })
}

fn flows_of(replies: &[Message]) -> impl Iterator<Item = &openflow::multipart::FlowStats> {
    replies.iter().flat_map(|m| match &m.body {
        Body::MultipartReply(r) => match &r.body {
            MultipartReplyBody::Flow(v) => v.as_slice(),
            _ => &[],
        },
        _ => &[],
    })
}

/// Prints asynchronous messages until the connection ends. Asks for every
/// PACKET_IN, PORT_STATUS and FLOW_REMOVED reason (a listener connection
/// may not get them by default) and, with `miss`, sets miss_send_len.
fn monitor(c: &mut Client, miss: Option<u16>, out: &mut dyn Write) -> Result<()> {
    let mut setup = Vec::new();
    if let Some(miss_send_len) = miss {
        setup.push((
            Body::SetConfig(SwitchConfig {
                flags: 0,
                miss_send_len,
            }),
            String::new(),
        ));
    }
    setup.push((
        Body::SetAsync(AsyncConfig {
            packet_in_mask: [0x7, 0x0],
            port_status_mask: [0x7, 0x7],
            flow_removed_mask: [0xf, 0x0],
        }),
        String::new(),
    ));
    if let Err(e) = c.modify(setup) {
        eprintln!("ofswitch ofctl: warning: {e} (monitoring anyway)");
    }
    loop {
        match c.recv(None)? {
            Incoming::Msg(m) => {
                if matches!(
                    m.body,
                    Body::PacketIn(_)
                        | Body::FlowRemoved(_)
                        | Body::PortStatus(_)
                        | Body::Error(_)
                        | Body::Experimenter(_)
                ) {
                    write_out(out, &output::message(&m))?;
                }
            }
            Incoming::Undecodable { header, error } => {
                write_out(
                    out,
                    &format!(
                        "{} (xid={:#x}): ***decode error: {error}***\n",
                        openflow::message::msg_type::name(header.msg_type),
                        header.xid
                    ),
                )?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn hex() {
        assert_eq!(unhex("0a ff\n10"), Some(vec![0x0a, 0xff, 0x10]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn ports_and_ids() {
        assert_eq!(parse_port("LOCAL"), Ok(port_no::LOCAL));
        assert_eq!(parse_port("3"), Ok(3));
        assert!(parse_port("foo").is_err());
        assert!(parse_port("65280").is_err());
        assert_eq!(parse_meter_id("meter=5"), Ok(5));
        assert_eq!(parse_meter_id("all"), Ok(meter_no::ALL));
        assert_eq!(parse_group_id("7"), Ok(7));
    }

    #[test]
    fn plans_refuse_bad_input_before_connecting() {
        let o = Options::default();
        let e = plan("add-flow", &args(&["table=300,actions=drop"]), &o, None)
            .err()
            .expect("bad flow");
        assert!(!e.error.0.contains('\n'));
        assert!(plan("frobnicate", &[], &o, None).is_err());
        assert!(plan("packet-out", &args(&["1", "output:2", "abc"]), &o, None).is_err());
        assert!(plan("packet-out", &args(&["1", "output:2"]), &o, None).is_err());
        let Ok(Plan::Modify(m)) = plan(
            "packet-out",
            &args(&["in_port=1,packet=ffffffffffff,actions=output:2"]),
            &o,
            None,
        ) else {
            panic!("packet-out keyword form")
        };
        assert_eq!(m.len(), 1);
        let Ok(Plan::Modify(m)) = plan("del-flows", &[], &o, None) else {
            panic!("del-flows without a flow")
        };
        let Body::FlowMod(fm) = &m[0].0 else {
            panic!("flow mod")
        };
        assert_eq!(fm.command, flow_mod_command::DELETE);
        let strict = Options {
            strict: true,
            ..Options::default()
        };
        let Ok(Plan::Modify(m)) = plan("del-flows", &args(&["priority=5,ip"]), &strict, None)
        else {
            panic!("del-flows --strict")
        };
        let Body::FlowMod(fm) = &m[0].0 else {
            panic!("flow mod")
        };
        assert_eq!(fm.command, flow_mod_command::DELETE_STRICT);
    }

    #[test]
    fn names_are_asked_for_only_when_a_flow_names_a_port_or_table() {
        let o = Options::default();
        let mut tables = Names::default();
        tables.tables.put(1, "eth_src");
        tables.ports.put(3, "p3");
        tables.ports.put(0xfffe, "br0");
        let table_of = |p: Plan| match p {
            Plan::Modify(m) => match &m[0].0 {
                Body::FlowMod(fm) => fm.table_id,
                _ => panic!("flow mod"),
            },
            Plan::DumpFlows(Body::MultipartRequest(r), _) => match r.body {
                MultipartRequestBody::Flow(f) => f.table_id,
                _ => panic!("flow stats"),
            },
            _ => panic!("unexpected plan"),
        };
        for (verb, flow) in [
            ("add-flow", "table=eth_src,actions=drop"),
            ("del-flows", "table=\"eth_src\""),
            ("dump-flows", "table=eth_src"),
        ] {
            let e = plan(verb, &args(&[flow]), &o, None)
                .err()
                .expect("no names yet");
            assert!(e.unknown_name, "{verb} {flow}: {}", e.error);
            let p = plan(verb, &args(&[flow]), &o, Some(&tables)).map_err(|e| e.error);
            assert_eq!(p.map(table_of), Ok(1), "{verb} {flow}");
        }
        // Ports by name, in a match and in actions, bare or not.
        let port_flow = "in_port=p3,actions=output:br0,p3";
        let e = plan("add-flow", &args(&[port_flow]), &o, None)
            .err()
            .expect("no names yet");
        assert!(e.unknown_name, "{}", e.error);
        assert_eq!(e.error.0, "unknown port \"p3\" in in_port");
        let named = plan("add-flow", &args(&[port_flow]), &o, Some(&tables)).map_err(|e| e.error);
        let numbered = plan(
            "add-flow",
            &args(&["in_port=3,actions=output:LOCAL,3"]),
            &o,
            None,
        )
        .map_err(|e| e.error);
        let fm = |p: Plan| match p {
            Plan::Modify(mut m) => match m.remove(0).0 {
                Body::FlowMod(fm) => fm,
                _ => panic!("flow mod"),
            },
            _ => panic!("unexpected plan"),
        };
        assert_eq!(named.map(fm), numbered.map(fm));
        let e = plan(
            "add-flow",
            &args(&["actions=output:nosuch"]),
            &o,
            Some(&tables),
        )
        .err()
        .expect("unknown port");
        assert_eq!(e.error.0, "unknown port \"nosuch\" in output");
        // Other mistakes never ask the switch.
        let e = plan(
            "add-flow",
            &args(&["table=1,bogus=2,actions=drop"]),
            &o,
            None,
        )
        .err()
        .expect("bad field");
        assert!(!e.unknown_name);
        let e = plan(
            "add-flow",
            &args(&["table=nosuch,actions=drop"]),
            &o,
            Some(&tables),
        )
        .err()
        .expect("unknown name");
        assert_eq!(e.error.0, "unknown table \"nosuch\"");
    }

    #[test]
    fn flow_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("flows.txt");
        std::fs::write(
            &f,
            "# comment\n\npriority=1,actions=drop\n  ip,actions=output:1  \nbogus=1,actions=drop\n",
        )
        .expect("write");
        let name = f.display().to_string();
        let e = plan(
            "add-flows",
            std::slice::from_ref(&name),
            &Options::default(),
            None,
        )
        .err()
        .expect("line 5 is bad");
        assert!(e.error.0.starts_with(&format!("{name}:5: ")), "{}", e.error);
        std::fs::write(&f, "# c\npriority=1,actions=drop\nip,actions=output:1\n").expect("write");
        let Ok(Plan::Modify(m)) = plan(
            "add-flows",
            std::slice::from_ref(&name),
            &Options::default(),
            None,
        ) else {
            panic!("good file")
        };
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].1, format!("{name}:3"));
    }

    #[test]
    fn sort_values_compare_as_ovs_ofctl_compares_field_bytes() {
        assert!(sort_value("10.0.0.9") < sort_value("10.0.0.10"));
        assert!(sort_value("9") < sort_value("0x10"));
        assert!(sort_value("02:00:00:00:00:09") < sort_value("02:00:00:00:01:00"));
        assert!(sort_value("fe80::1") < sort_value("fe80::2/64"));
        assert_eq!(sort_value("10.1.0.0/16"), sort_value("10.1.0.0"));
        assert_eq!(port_field("tp_dst"), Some(("tp_dst", "tcp")));
        assert_eq!(port_field("udp_src"), Some(("tp_src", "udp")));
        assert_eq!(port_field("nw_dst"), None);
    }
}
