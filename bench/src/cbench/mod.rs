//! `ofbench cbench`: a packet-in load generator for controllers, after
//! cbench: N emulated switches, M hosts behind each, a window of W
//! packet-ins in flight per switch.
//!
//! Each switch has one TCP connection to the controller. It plays the
//! switch side of the handshake (HELLO, FEATURES_REPLY with its own
//! datapath id `0x00cb_0000_0000_0000 + i`, PORT_DESC with `--ports`
//! ports, SET_CONFIG taken, BARRIER and ECHO answered; [`switch`]) and
//! takes every FLOW_MOD, GROUP_MOD and PACKET_OUT the controller sends.
//! Once the controller has been quiet for `--settle` ms after the
//! PORT_DESC reply (the pipeline is installed; os-ken has moved the switch
//! to its main state), the switch sends PACKET_INs. The setup runs in a
//! thread per switch; the load in `--threads` event loops, each serving
//! its share of the switches ([`load`] says why).
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
//! both timed in the event loop. Only answers within the measured
//! `--duration` (after `--warmup`) are counted. With `--rate R` the
//! packet-ins are paced evenly, R per second over all switches (still at
//! most W in flight per switch); otherwise every window is kept full.
//!
//! Why the reads parse FLOW_MOD and PACKET_OUT by offset rather than with
//! `Message::decode`: the generator must stay well ahead of a controller
//! that answers 300,000 packet-ins a second (600,000 FLOW_MODs) on the
//! same two cores; every other message is decoded in full. Packet-ins are
//! encoded once per host (with `Message::encode`) and copied; all the
//! packet-ins due at one wake-up go out in one write per switch.

mod load;
mod switch;
mod wire;

use crate::stats::Summary;
use clap::Args as ClapArgs;
use load::{Tally, Times};
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use switch::Switch;
#[cfg(test)]
use wire::{host_mac, packet_in};

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// The controller: tcp:IP:PORT.
    #[arg(long)]
    pub controller: String,
    /// Emulated switches (one connection each).
    #[arg(long, default_value_t = 16)]
    pub switches: u32,
    /// Threads serving the switches during the load, each an event loop
    /// over its share of them.
    #[arg(long, default_value_t = 1)]
    pub threads: u32,
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

fn parse_target(t: &str) -> Result<SocketAddr, String> {
    let rest = t
        .strip_prefix("tcp:")
        .ok_or_else(|| format!("{t}: want tcp:IP:PORT"))?;
    rest.parse()
        .map_err(|e| format!("{t}: want tcp:IP:PORT: {e}"))
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
    let mut switches = Vec::new();
    let mut errors = Vec::new();
    let setups: Vec<_> = (0..args.switches)
        .map(|i| {
            let args = args.clone();
            std::thread::spawn(move || switch::setup(&args, addr, i))
        })
        .collect();
    for th in setups {
        match th.join() {
            Ok(Ok(sw)) => switches.push(sw),
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a switch thread panicked".into()),
        }
    }
    if let Some(e) = errors.first() {
        return Err(format!("{e} ({} switches failed)", errors.len()));
    }
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let stop = if args.count > 0 {
        start + Duration::from_secs_f64(args.timeout.max(args.duration) * 10.0)
    } else {
        measure_from + Duration::from_secs_f64(args.duration)
    };
    let times = Times {
        start,
        measure_from,
        stop,
    };
    let (tallies, switches) = run_groups(args, switches, times)?;
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
    let mut tallies = tallies;
    for t in &mut tallies {
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
    Ok((r, switches))
}

/// The load on `--threads` event loops, the switches dealt out in turn;
/// each loop's share of `--rate` is its share of the switches.
fn run_groups(
    args: &Args,
    switches: Vec<Switch>,
    times: Times,
) -> Result<(Vec<Tally>, Vec<Switch>), String> {
    let threads = args.threads.clamp(1, args.switches) as usize;
    let mut groups: Vec<Vec<Switch>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, sw) in switches.into_iter().enumerate() {
        groups[i % threads].push(sw);
    }
    let handles: Vec<_> = groups
        .into_iter()
        .map(|mut group| {
            let args = args.clone();
            let rate = args.rate * group.len() as f64 / f64::from(args.switches);
            std::thread::spawn(move || {
                load::run_group(&args, &mut group, rate, times).map(|t| (t, group))
            })
        })
        .collect();
    let (mut tallies, mut switches, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for th in handles {
        match th.join() {
            Ok(Ok((t, group))) => {
                tallies.push(t);
                switches.extend(group);
            }
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a load thread panicked".into()),
        }
    }
    match errors.first() {
        Some(e) => Err(format!("{e} ({} threads failed)", errors.len())),
        None => Ok((tallies, switches)),
    }
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
    load::hold(args, &mut switches, until)
}

#[cfg(test)]
mod tests {
    use super::wire::{classify, mac_key, Seen};
    use super::*;
    use openflow::instruction::Instruction;
    use openflow::message::{Body, Message};
    use openflow::messages::{FlowMod, PacketOut};
    use openflow::oxm::{Match, Oxm};
    use std::sync::Arc;

    fn args() -> Args {
        Args {
            controller: "tcp:127.0.0.1:1".into(),
            switches: 2,
            threads: 1,
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
        use ofcontroller::net::{accept, Listener, Shared};
        use ofcontroller::policy::Policy;
        use ofcontroller::vlans::VlanApp;
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        let app = Arc::new(VlanApp::new(Policy::learning_only(), Timeouts::default()));
        let shared = Shared::new(app, openflow::ChannelConfig::default());
        rt.spawn(accept(shared, Listener::Tcp(listener)));
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
