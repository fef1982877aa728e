//! `ofbench cbench`: a packet-in load generator for controllers, after
//! cbench: N emulated switches, M hosts behind each, a window of W
//! packet-ins in flight per switch.
//!
//! Each switch is one thread with one blocking TCP connection to the
//! controller. It plays the switch side of the handshake (HELLO,
//! FEATURES_REPLY with its own datapath id `0x00cb_0000_0000_0000 + i`,
//! PORT_DESC with `--ports` ports, SET_CONFIG taken, BARRIER and ECHO
//! answered, TABLE_FEATURES refused) and takes every FLOW_MOD, GROUP_MOD and PACKET_OUT the
//! controller sends. Once the controller has been quiet for `--settle` ms
//! after the PORT_DESC reply (the pipeline is installed; os-ken has moved
//! the switch to its main state), the switch sends PACKET_INs.
//!
//! The packet-ins are what a switch sends on a table miss: OpenFlow 1.3,
//! reason NO_MATCH, `--table` (1: ofcontroller's eth_src table; 0 for a
//! controller whose only table is 0), no buffer, a match with `in_port`,
//! and a 60-byte IPv4 frame, tagged with `--vlan` (as after ofcontroller's
//! table 0 pushed the access VLAN) or untagged with `--vlan 0`. Host `h`
//! of switch `s` has MAC `02:cb:SS:SS:HH:HH`, sits on port `1 + h % ports`
//! and sends to host `h + 1`; the hosts are used in turn, so every host
//! sends once per M packet-ins and the controller keeps (re)learning M×N
//! distinct MACs.
//!
//! When is a packet-in answered: by the first FLOW_MOD whose match has
//! `eth_src` equal to its source MAC, or whose match has `eth_dst` equal
//! to it (a learning controller's flow to the new host), or by the first
//! PACKET_OUT whose frame has it as source, whichever comes first. Later
//! messages about the same MAC count as extra responses only. A host has
//! at most one packet-in in flight (W ≤ M), so the MAC names it. Why by
//! MAC and not by xid or FIFO: a FLOW_MOD does not carry the packet-in's
//! xid, and ofcontroller (two flows per packet-in, no PACKET_OUT) and an
//! os-ken simple switch (a PACKET_OUT, plus a FLOW_MOD once the
//! destination is known) answer differently; the MAC works for both.
//!
//! Latency is from the write of a packet-in to the read of its answer,
//! both timed in the switch's thread. Only answers within the measured
//! `--duration` (after `--warmup`) are counted. With `--rate R` each switch
//! sends at most R/N packet-ins per second (still at most W in flight);
//! otherwise the window is kept full.
//!
//! Why the reads parse FLOW_MOD and PACKET_OUT by offset rather than with
//! `Message::decode`: the generator must stay well ahead of a controller
//! that answers 300,000 packet-ins a second (600,000 FLOW_MODs) on the
//! same two cores; every other message is decoded in full. Packet-ins are
//! encoded once per host (with `Message::encode`) and copied; all the
//! packet-ins one read allows go out in one write.

use crate::stats::Summary;
use clap::Args as ClapArgs;
use openflow::message::{Body, Message};
use openflow::messages::{ErrorMsg, Hello, PacketIn, SwitchFeatures};
use openflow::multipart::{mp_type, MultipartReply, MultipartReplyBody, MultipartRequestBody};
use openflow::oxm::{Match, Oxm};
use openflow::port::Port;
use openflow::{Framer, MacAddr, OfError};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// The controller: tcp:IP:PORT.
    #[arg(long)]
    pub controller: String,
    /// Emulated switches (one connection and thread each).
    #[arg(long, default_value_t = 16)]
    pub switches: u32,
    /// Hosts (source MACs) per switch.
    #[arg(long, default_value_t = 100)]
    pub hosts: u32,
    /// Ports per switch (host h is on port 1 + h % ports).
    #[arg(long, default_value_t = 8)]
    pub ports: u32,
    /// Packet-ins in flight per switch (at most --hosts).
    #[arg(long, default_value_t = 64)]
    pub window: u32,
    /// Packet-ins per second over all switches (0: keep the window full).
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// VLAN tag in the frames (0: untagged).
    #[arg(long, default_value_t = 1)]
    pub vlan: u16,
    /// The table_id of the packet-ins.
    #[arg(long, default_value_t = 1)]
    pub table: u8,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Seconds measured.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Send exactly this many packet-ins per switch, then stop (0: by time).
    /// Everything answered counts; --warmup and --duration are ignored.
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Milliseconds of controller silence after PORT_DESC before the load.
    #[arg(long, default_value_t = 500)]
    pub settle: u64,
    /// Seconds to keep the connections open after the report (answering
    /// echoes), e.g. to measure the controller's memory.
    #[arg(long, default_value_t = 0.0)]
    pub hold: f64,
    /// Seconds to wait for the connections and the setup.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub switches: u32,
    pub hosts: u32,
    pub window: u32,
    pub rate: f64,
    pub seconds: f64,
    pub sent: u64,
    pub answered: u64,
    /// FLOW_MOD, GROUP_MOD and PACKET_OUT messages received during the run.
    pub flow_mods: u64,
    pub group_mods: u64,
    pub packet_outs: u64,
    pub latency: Option<Summary>,
}

impl Report {
    pub fn per_s(&self) -> f64 {
        if self.seconds > 0.0 {
            self.answered as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn text(&self) -> String {
        let mut s = format!(
            "{} switches x {} hosts, window {}{}: {} packet-ins answered in {:.2} s: {:.0}/s\n\
             sent {}, flow_mods {}, group_mods {}, packet_outs {}\n",
            self.switches,
            self.hosts,
            self.window,
            if self.rate > 0.0 {
                format!(", rate {:.0}/s", self.rate)
            } else {
                String::new()
            },
            self.answered,
            self.seconds,
            self.per_s(),
            self.sent,
            self.flow_mods,
            self.group_mods,
            self.packet_outs
        );
        if let Some(l) = &self.latency {
            s.push_str(&format!("latency us: {}\n", l.line()));
        }
        s
    }

    pub fn json(&self) -> String {
        let mut m = serde_json::Map::new();
        m.insert("switches".into(), self.switches.into());
        m.insert("hosts".into(), self.hosts.into());
        m.insert("window".into(), self.window.into());
        m.insert("rate".into(), self.rate.into());
        m.insert("seconds".into(), self.seconds.into());
        m.insert("sent".into(), self.sent.into());
        m.insert("answered".into(), self.answered.into());
        m.insert("per_s".into(), self.per_s().round().into());
        m.insert("flow_mods".into(), self.flow_mods.into());
        m.insert("group_mods".into(), self.group_mods.into());
        m.insert("packet_outs".into(), self.packet_outs.into());
        if let Some(l) = &self.latency {
            m.insert("latency".into(), serde_json::Value::Object(l.json()));
        }
        serde_json::Value::Object(m).to_string()
    }
}

/// `02:cb:SS:SS:HH:HH`.
pub fn host_mac(switch: u32, host: u32) -> MacAddr {
    let s = (switch as u16).to_be_bytes();
    let h = (host as u16).to_be_bytes();
    MacAddr([0x02, 0xcb, s[0], s[1], h[0], h[1]])
}

fn mac_key(b: &[u8]) -> Option<u64> {
    let b = b.get(..6)?;
    Some(b.iter().fold(0u64, |k, x| k << 8 | u64::from(*x)))
}

/// The packet-in of host `h` of switch `s`, encoded.
pub fn packet_in(args: &Args, s: u32, h: u32) -> Vec<u8> {
    let mut data = Vec::with_capacity(64);
    data.extend_from_slice(&host_mac(s, (h + 1) % args.hosts).0);
    data.extend_from_slice(&host_mac(s, h).0);
    if args.vlan != 0 {
        data.extend_from_slice(&[0x81, 0x00]);
        data.extend_from_slice(&(args.vlan & 0x0fff).to_be_bytes());
    }
    // IPv4 header, protocol 253 (experimental), 10.S.H.H -> 10.S.H+1.
    let hb = (h as u16).to_be_bytes();
    let hd = (((h + 1) % args.hosts) as u16).to_be_bytes();
    data.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 253, 0, 0]);
    data.extend_from_slice(&[10, s as u8, hb[0], hb[1], 10, s as u8, hd[0], hd[1]]);
    data.resize(60, 0);
    let pi = PacketIn {
        buffer_id: openflow::types::NO_BUFFER,
        total_len: data.len() as u16,
        reason: 0,
        table_id: args.table,
        cookie: 0,
        match_: Match::new().with(Oxm::InPort(1 + h % args.ports)),
        data,
    };
    Message::new(0, Body::PacketIn(pi)).to_bytes()
}

/// What a message from the controller refers to.
enum Seen {
    /// A FLOW_MOD, with the eth_src or else eth_dst of its match.
    FlowMod(Option<u64>),
    /// A PACKET_OUT, with its frame's source.
    PacketOut(Option<u64>),
    GroupMod,
    Other,
}

/// FLOW_MOD and PACKET_OUT by offset (see the module doc).
fn classify(raw: &[u8]) -> Seen {
    match raw.get(1) {
        Some(14) => {
            // ofp_flow_mod: the match at 48: type, length, OXMs.
            let len = raw
                .get(50..52)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
            let end = (48 + len).min(raw.len());
            let mut at = 52;
            let (mut src, mut dst) = (None, None);
            while at + 4 <= end {
                let class = u16::from_be_bytes([raw[at], raw[at + 1]]);
                let field = raw[at + 2] >> 1;
                let olen = raw[at + 3] as usize;
                if class == 0x8000 && olen >= 6 {
                    match field {
                        3 => dst = raw.get(at + 4..at + 10).and_then(mac_key),
                        4 => src = raw.get(at + 4..at + 10).and_then(mac_key),
                        _ => {}
                    }
                }
                at += 4 + olen;
            }
            Seen::FlowMod(src.or(dst))
        }
        Some(13) => {
            // ofp_packet_out: actions_len at 16, the actions at 24, then the frame.
            let alen = raw
                .get(16..18)
                .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]) as usize);
            Seen::PacketOut(raw.get(24 + alen + 6..).and_then(mac_key))
        }
        Some(15) => Seen::GroupMod,
        _ => Seen::Other,
    }
}

fn parse_target(t: &str) -> Result<SocketAddr, String> {
    let rest = t
        .strip_prefix("tcp:")
        .ok_or_else(|| format!("{t}: want tcp:IP:PORT"))?;
    rest.parse()
        .map_err(|e| format!("{t}: want tcp:IP:PORT: {e}"))
}

/// One switch's counts and samples.
#[derive(Default)]
struct Tally {
    sent: u64,
    answered: u64,
    flow_mods: u64,
    group_mods: u64,
    packet_outs: u64,
    samples: Vec<Duration>,
    first: Option<Instant>,
    last: Option<Instant>,
}

struct Switch {
    index: u32,
    sock: TcpStream,
    framer: Framer,
    out: Vec<u8>,
    buf: Vec<u8>,
    /// Set by whatever other than a packet-in answer arrived last.
    last_input: Instant,
    port_desc_sent: bool,
}

impl Switch {
    fn flush(&mut self) -> Result<(), String> {
        if !self.out.is_empty() {
            self.sock
                .write_all(&self.out)
                .map_err(|e| format!("switch {}: write: {e}", self.index))?;
            self.out.clear();
        }
        Ok(())
    }

    fn reply(&mut self, xid: u32, body: Body) {
        let bytes = Message::new(xid, body).to_bytes();
        self.out.extend_from_slice(&bytes);
    }

    /// Reads what is there (waiting at most the socket's read timeout);
    /// false on a timeout.
    fn read(&mut self) -> Result<bool, String> {
        match self.sock.read(&mut self.buf) {
            Ok(0) => Err(format!(
                "switch {}: the controller closed the connection",
                self.index
            )),
            Ok(n) => {
                self.framer.push(&self.buf[..n]);
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(false),
            Err(e) => Err(format!("switch {}: read: {e}", self.index)),
        }
    }

    /// Answers the switch-side protocol for a message other than a
    /// FLOW_MOD, GROUP_MOD or PACKET_OUT.
    fn handle(&mut self, raw: &[u8], ports: u32) -> Result<(), String> {
        let m = match Message::decode(raw) {
            Ok(m) => m,
            // Something we cannot decode is not ours to judge: ignored.
            Err(_) => return Ok(()),
        };
        self.last_input = Instant::now();
        match m.body {
            Body::Hello(_) => {}
            Body::EchoRequest(d) => self.reply(m.xid, Body::EchoReply(d)),
            Body::FeaturesRequest => self.reply(
                m.xid,
                Body::FeaturesReply(SwitchFeatures {
                    datapath_id: 0x00cb_0000_0000_0000 + u64::from(self.index),
                    n_buffers: 0,
                    n_tables: 254,
                    auxiliary_id: 0,
                    capabilities: 0,
                    reserved: 0,
                }),
            ),
            Body::MultipartRequest(r) if r.body == MultipartRequestBody::PortDesc => {
                let ports = (1..=ports)
                    .map(|p| Port {
                        port_no: p,
                        hw_addr: MacAddr([0x02, 0xcc, 0, self.index as u8, 0, p as u8]),
                        name: format!("cb{}-eth{p}", self.index),
                        curr_speed: 10_000_000,
                        max_speed: 10_000_000,
                        ..Port::default()
                    })
                    .collect();
                self.reply(
                    m.xid,
                    Body::MultipartReply(MultipartReply::new(MultipartReplyBody::PortDesc(ports))),
                );
                self.port_desc_sent = true;
            }
            // No table features to tell or set: refused at once, as a
            // switch without them must, so that a controller that asks
            // (ofcontroller names its tables) does not wait for a reply.
            Body::MultipartRequest(r) if r.mp_type() == mp_type::TABLE_FEATURES => self.reply(
                m.xid,
                Body::Error(ErrorMsg::reply_to(OfError::BRC_BAD_MULTIPART, raw)),
            ),
            Body::BarrierRequest => self.reply(m.xid, Body::BarrierReply),
            _ => {}
        }
        Ok(())
    }
}

/// Connects, answers the setup and waits for the controller to settle.
fn setup(args: &Args, addr: SocketAddr, index: u32) -> Result<Switch, String> {
    let deadline = Instant::now() + Duration::from_secs_f64(args.timeout);
    let sock = TcpStream::connect_timeout(&addr, Duration::from_secs_f64(args.timeout))
        .map_err(|e| format!("switch {index}: connect {addr}: {e}"))?;
    sock.set_nodelay(true)
        .map_err(|e| format!("switch {index}: {e}"))?;
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .map_err(|e| format!("switch {index}: {e}"))?;
    let mut sw = Switch {
        index,
        sock,
        framer: Framer::new(),
        out: Vec::with_capacity(1 << 16),
        buf: vec![0; 1 << 16],
        last_input: Instant::now(),
        port_desc_sent: false,
    };
    sw.reply(0, Body::Hello(Hello::with_versions(&[4])));
    let settle = Duration::from_millis(args.settle);
    loop {
        sw.flush()?;
        if sw.port_desc_sent && sw.last_input.elapsed() >= settle {
            return Ok(sw);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "switch {index}: no setup from the controller within {} s",
                args.timeout
            ));
        }
        sw.read()?;
        while let Some(raw) = sw
            .framer
            .next_message()
            .map_err(|e| format!("switch {index}: {e:?}"))?
        {
            sw.handle(&raw, args.ports)?;
        }
    }
}

/// The load on one set-up switch, until `stop` (or `count` sent and answered).
fn load(
    args: &Args,
    sw: &mut Switch,
    start: Instant,
    measure_from: Instant,
    stop: Instant,
) -> Result<Tally, String> {
    let s = sw.index;
    let templates: Vec<Vec<u8>> = (0..args.hosts).map(|h| packet_in(args, s, h)).collect();
    let keys: Vec<u64> = (0..args.hosts)
        .map(|h| mac_key(&host_mac(s, h).0).unwrap_or(0))
        .collect();
    let mut in_flight: HashMap<u64, Instant> = HashMap::with_capacity(args.window as usize * 2);
    let mut t = Tally::default();
    let mut next_host = 0u32;
    let per_switch_rate = args.rate / f64::from(args.switches);
    // Block in reads: with the window full, only until the end of the run
    // can come; rate-limited, until the next packet-in is due. Polling
    // more often would take CPU from the controller on the same cores.
    let wait = if per_switch_rate > 0.0 {
        Duration::from_secs_f64((1.0 / per_switch_rate).clamp(0.000_05, 0.01))
    } else {
        Duration::from_millis(20)
    };
    sw.sock
        .set_read_timeout(Some(wait))
        .map_err(|e| format!("switch {s}: {e}"))?;
    let mut read_ok = true;
    loop {
        let now = Instant::now();
        if args.count == 0 && now >= stop {
            break;
        }
        if args.count > 0 && t.sent >= args.count && in_flight.is_empty() {
            break;
        }
        if args.count > 0 && now >= stop {
            return Err(format!(
                "switch {s}: {} of {} packet-ins unanswered after the timeout",
                in_flight.len(),
                args.count
            ));
        }
        // Send what the window (and the rate) allow, in one write.
        let mut room = (args.window as usize).saturating_sub(in_flight.len()) as u64;
        if per_switch_rate > 0.0 {
            let due = (now.duration_since(start).as_secs_f64() * per_switch_rate) as u64;
            room = room.min(due.saturating_sub(t.sent));
        }
        if args.count > 0 {
            room = room.min(args.count - t.sent);
        }
        for _ in 0..room {
            let h = next_host as usize;
            next_host = (next_host + 1) % args.hosts;
            sw.out.extend_from_slice(&templates[h]);
            in_flight.insert(keys[h], now);
            t.sent += 1;
        }
        sw.flush()?;
        if !read_ok && room == 0 && per_switch_rate == 0.0 && in_flight.is_empty() {
            // Nothing to wait for.
            continue;
        }
        read_ok = sw.read()?;
        let at = Instant::now();
        while let Some(raw) = sw
            .framer
            .next_message()
            .map_err(|e| format!("switch {s}: {e:?}"))?
        {
            let key = match classify(&raw) {
                Seen::FlowMod(k) => {
                    t.flow_mods += 1;
                    k
                }
                Seen::PacketOut(k) => {
                    t.packet_outs += 1;
                    k
                }
                Seen::GroupMod => {
                    t.group_mods += 1;
                    None
                }
                Seen::Other => {
                    sw.handle(&raw, args.ports)?;
                    None
                }
            };
            if let Some(sent_at) = key.and_then(|k| in_flight.remove(&k)) {
                if args.count > 0 || (at >= measure_from && at < stop) {
                    t.answered += 1;
                    t.samples.push(at - sent_at);
                    t.first.get_or_insert(sent_at);
                    t.last = Some(at);
                }
            }
        }
    }
    Ok(t)
}

fn run(args: &Args) -> Result<(Report, Vec<Switch>), String> {
    let addr = parse_target(&args.controller)?;
    if args.switches == 0 || args.hosts == 0 || args.ports == 0 || args.window == 0 {
        return Err("--switches, --hosts, --ports and --window must be above 0".into());
    }
    if args.window > args.hosts {
        return Err("--window must be at most --hosts (one packet-in in flight per host)".into());
    }
    if args.switches > 0xffff || args.hosts > 0xffff {
        return Err("at most 65535 switches and 65535 hosts each".into());
    }
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(args.switches as usize + 1));
    let shared = std::sync::Arc::new(std::sync::Mutex::new(None::<(Instant, Instant, Instant)>));
    let mut threads = Vec::new();
    for i in 0..args.switches {
        let args = args.clone();
        let barrier = barrier.clone();
        let shared = shared.clone();
        threads.push(std::thread::spawn(
            move || -> Result<(Tally, Switch), String> {
                let setup = setup(&args, addr, i);
                // Everyone meets here, set up or not, so that no thread waits forever.
                barrier.wait();
                let mut sw = setup?;
                barrier.wait();
                let times = shared
                    .lock()
                    .map_err(|_| "poisoned".to_string())?
                    .ok_or("no start time")?;
                let t = load(&args, &mut sw, times.0, times.1, times.2)?;
                Ok((t, sw))
            },
        ));
    }
    barrier.wait();
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let stop = if args.count > 0 {
        start + Duration::from_secs_f64(args.timeout.max(args.duration) * 10.0)
    } else {
        measure_from + Duration::from_secs_f64(args.duration)
    };
    if let Ok(mut s) = shared.lock() {
        *s = Some((start, measure_from, stop));
    }
    barrier.wait();
    let mut tallies = Vec::new();
    let mut errors = Vec::new();
    for th in threads {
        match th.join() {
            Ok(Ok(t)) => tallies.push(t),
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a switch thread panicked".into()),
        }
    }
    if let Some(e) = errors.first() {
        return Err(format!("{e} ({} switches failed)", errors.len()));
    }
    let mut samples = Vec::new();
    let mut r = Report {
        switches: args.switches,
        hosts: args.hosts,
        window: args.window,
        rate: args.rate,
        seconds: args.duration,
        sent: 0,
        answered: 0,
        flow_mods: 0,
        group_mods: 0,
        packet_outs: 0,
        latency: None,
    };
    let (mut first, mut last) = (None::<Instant>, None::<Instant>);
    for (t, _) in &mut tallies {
        r.sent += t.sent;
        r.answered += t.answered;
        r.flow_mods += t.flow_mods;
        r.group_mods += t.group_mods;
        r.packet_outs += t.packet_outs;
        samples.append(&mut t.samples);
        first = match (first, t.first) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        last = last.max(t.last);
    }
    if args.count > 0 {
        r.seconds = match (first, last) {
            (Some(a), Some(b)) => (b - a).as_secs_f64(),
            _ => 0.0,
        };
    }
    r.latency = Summary::of(&mut samples);
    Ok((r, tallies.into_iter().map(|(_, sw)| sw).collect()))
}

/// Runs, prints the report (text or JSON), then holds the connections
/// open for `--hold` seconds.
pub fn run_and_print(args: &Args) -> Result<(), String> {
    let (r, mut switches) = run(args)?;
    if args.json {
        println!("{}", r.json());
    } else {
        print!("{}", r.text());
    }
    let _ = std::io::stdout().flush();
    let until = Instant::now() + Duration::from_secs_f64(args.hold.max(0.0));
    while Instant::now() < until {
        for sw in &mut switches {
            if sw.read()? {
                while let Some(raw) = sw.framer.next_message().map_err(|e| format!("{e:?}"))? {
                    sw.handle(&raw, args.ports)?;
                }
                sw.flush()?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::instruction::Instruction;
    use openflow::messages::{FlowMod, PacketOut};
    use std::sync::Arc;

    fn args() -> Args {
        Args {
            controller: "tcp:127.0.0.1:1".into(),
            switches: 2,
            hosts: 10,
            ports: 4,
            window: 4,
            rate: 0.0,
            vlan: 1,
            table: 1,
            warmup: 0.0,
            duration: 1.0,
            count: 0,
            settle: 100,
            hold: 0.0,
            timeout: 5.0,
            json: false,
        }
    }

    #[test]
    fn packet_ins_parse_as_the_controller_expects() {
        let raw = packet_in(&args(), 1, 3);
        let m = Message::decode(&raw).expect("decodes");
        let Body::PacketIn(pi) = m.body else {
            panic!("not a packet-in")
        };
        assert_eq!(pi.table_id, 1);
        assert_eq!(
            pi.match_.get(openflow::oxm::OxmField::InPort),
            Some(&Oxm::InPort(4))
        );
        assert_eq!(&pi.data[6..12], &host_mac(1, 3).0);
        assert_eq!(&pi.data[0..6], &host_mac(1, 4).0);
        assert_eq!(&pi.data[12..16], &[0x81, 0, 0, 1]);
    }

    #[test]
    fn answers_are_found_by_mac() {
        let mac = host_mac(1, 3);
        let key = mac_key(&mac.0);
        let fm = FlowMod {
            table_id: 1,
            match_: Match::new()
                .with(Oxm::InPort(4))
                .with(Oxm::VlanVid(0x1001, None))
                .with(Oxm::EthSrc(mac, None)),
            instructions: vec![Instruction::GotoTable(2)],
            ..FlowMod::default()
        };
        let raw = Message::new(7, Body::FlowMod(fm)).to_bytes();
        assert!(matches!(classify(&raw), Seen::FlowMod(k) if k == key));
        let dst = FlowMod {
            match_: Match::new().with(Oxm::EthDst(mac, None)),
            ..FlowMod::default()
        };
        let raw = Message::new(7, Body::FlowMod(dst)).to_bytes();
        assert!(matches!(classify(&raw), Seen::FlowMod(k) if k == key));
        let pi = packet_in(&args(), 1, 3);
        let Ok(Message {
            body: Body::PacketIn(pi),
            ..
        }) = Message::decode(&pi)
        else {
            panic!("packet-in")
        };
        let po = PacketOut::new(4, vec![openflow::Action::output(0xfffffffb)], pi.data);
        let raw = Message::new(7, Body::PacketOut(po)).to_bytes();
        assert!(matches!(classify(&raw), Seen::PacketOut(k) if k == key));
        // Truncated: nothing, no panic.
        assert!(matches!(classify(&raw[..20]), Seen::PacketOut(None)));
        assert!(matches!(classify(&[4, 14, 0, 8]), Seen::FlowMod(None)));
    }

    /// Every packet-in answered by the bundled controller: two FLOW_MODs
    /// each (eth_src, eth_dst), in the learning tables.
    #[test]
    fn against_the_bundled_controller() {
        use ofcontroller::learning::Timeouts;
        use ofcontroller::net::{serve, Shared};
        use ofcontroller::policy::Policy;
        use ofcontroller::vlans::VlanApp;
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = Arc::new(VlanApp::new(Policy::learning_only(), Timeouts::default()));
        let shared = Shared::new(app, openflow::ChannelConfig::default());
        rt.spawn(async move {
            while let Ok((s, peer)) = listener.accept().await {
                tokio::spawn(serve(shared.clone(), s, peer.to_string()));
            }
        });
        let mut a = args();
        a.controller = format!("tcp:{addr}");
        a.count = 25;
        let (r, _switches) = run(&a).expect("runs");
        assert_eq!((r.sent, r.answered), (50, 50));
        // The last eth_dst flows may come after the run ended.
        assert!((98..=100).contains(&r.flow_mods), "{}", r.flow_mods);
        assert_eq!(r.latency.map(|l| l.count), Some(50));
    }
}
