//! `ofbench flow-mods`: flows added as a controller adds them, timed.
//!
//! By default each flow is one FLOW_MOD followed by a BARRIER_REQUEST; the
//! next flow is sent only after the BARRIER_REPLY came back. Why: a
//! controller that has just learnt a MAC address must know the flow is in
//! before it releases the packet that taught it (or the next packet comes
//! back to it as another miss), so what it sees is the latency of one flow
//! into a table of a given size. `ovs-ofctl add-flows` (3.1) does the same:
//! it sends a barrier after every FLOW_MOD and waits for its reply, so its
//! rate is bound by that round trip, for any switch.
//!
//! `--batch N` sends N FLOW_MODs and then one barrier (what a controller
//! that installs a pipeline does): the rate the switch itself can take
//! FLOW_MODs at, with the round trip paid once per batch.
//!
//! Why the flows are parsed before connecting: parsing is not what is
//! measured, and a typo in the template must fail before the switch is
//! touched. Why [`Client::modify`]: it is the FLOW_MOD + barrier exchange
//! `ofswitch ofctl` uses, with its xid matching, echo answering, deadlines
//! and error reporting; an OFPT_ERROR for any flow stops the run with the
//! switch's error, since a rejected flow would time the error path instead.
//!
//! The flows come from a template in ovs-ofctl syntax in which `{n}` is the
//! flow's index (from `--start`) and `{mac}` a unicast MAC address made from
//! it (`02:bb:` and the index's four bytes), so runs with different
//! `--start` add different flows.

use crate::stats::Summary;
use clap::Args as ClapArgs;
use ofswitch::ofctl::client::{Client, Target};
use openflow::message::Body;
use openflow::messages::{flow_mod_command, FlowMod};
use openflow::ofctl::parse::parse_flow_mod;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The default flow: one VLAN and destination MAC, untagged out of port 1
/// (the shape of a learnt access-port destination).
pub const DEFAULT_FLOW: &str = "priority=1000,dl_vlan=4000,dl_dst={mac},actions=pop_vlan,output:1";

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// The switch: tcp:IP:PORT, unix:PATH, or a bridge of an ofswitch
    /// daemon (its socket STATE_DIR/BRIDGE.mgmt).
    #[arg(long)]
    pub target: String,
    /// How many flows to add (one FLOW_MOD + BARRIER each).
    #[arg(long, default_value_t = 1000)]
    pub count: u32,
    /// The table the flows go into.
    #[arg(long, default_value_t = 0)]
    pub table: u8,
    /// The flow in ovs-ofctl syntax, without `table=`; `{n}` is the flow's
    /// index, `{mac}` a MAC address made from it.
    #[arg(long, default_value = DEFAULT_FLOW)]
    pub flow: String,
    /// The index of the first flow.
    #[arg(long, default_value_t = 0)]
    pub start: u32,
    /// Seconds to wait for each barrier reply (and for the connection).
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// FLOW_MODs sent before each barrier (1: one at a time).
    #[arg(long, default_value_t = 1)]
    pub batch: u32,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// The ofswitch state directory, for a bridge name as target.
    #[arg(long, env = "OFSWITCH_STATE_DIR", default_value = "/var/lib/ofswitch")]
    pub state_dir: PathBuf,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Report {
    pub target: String,
    pub table: u8,
    /// FLOW_MODs per barrier.
    pub batch: u32,
    /// Flows sent.
    pub flows: u32,
    /// Wall-clock time of the whole timed loop.
    pub total: Duration,
    /// Per batch: first FLOW_MOD sent to BARRIER_REPLY received.
    pub per_flow: Summary,
}

impl Report {
    pub fn flows_per_s(&self) -> f64 {
        f64::from(self.flows) / self.total.as_secs_f64().max(1e-9)
    }

    pub fn text(&self) -> String {
        let (how, unit) = if self.batch == 1 {
            ("one FLOW_MOD + BARRIER at a time".to_string(), "per flow")
        } else {
            (format!("{} FLOW_MODs per BARRIER", self.batch), "per batch")
        };
        format!(
            "ofbench flow-mods: {} flows into table {} of {}, {how}\n  \
             total {:.3} s, {:.0} flows/s\n  {unit}, µs: {}\n",
            self.flows,
            self.table,
            self.target,
            self.total.as_secs_f64(),
            self.flows_per_s(),
            self.per_flow.line()
        )
    }

    pub fn json(&self) -> String {
        let mut m = self.per_flow.json();
        m.insert("target".into(), self.target.clone().into());
        m.insert("table".into(), self.table.into());
        m.insert("batch".into(), self.batch.into());
        m.insert("flows".into(), self.flows.into());
        m.insert(
            "total_s".into(),
            ((self.total.as_secs_f64() * 1e6).round() / 1e6).into(),
        );
        m.insert("flows_per_s".into(), self.flows_per_s().round().into());
        serde_json::Value::Object(m).to_string()
    }
}

/// `02:bb:` and the four bytes of `n`.
pub fn mac(n: u32) -> String {
    let b = n.to_be_bytes();
    format!("02:bb:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3])
}

/// The flow mods to send, each with the text it came from (for errors).
pub fn flows(args: &Args) -> Result<Vec<(FlowMod, String)>, String> {
    if args.count == 0 {
        return Err("--count must be at least 1".into());
    }
    if args
        .flow
        .split(',')
        .any(|kv| kv.trim().starts_with("table="))
    {
        return Err(format!(
            "{}: give the table with --table, not in the flow",
            args.flow
        ));
    }
    if !args.flow.contains("{n}") && !args.flow.contains("{mac}") {
        return Err(format!(
            "{}: the flow needs {{n}} or {{mac}}, or every FLOW_MOD would replace the same flow",
            args.flow
        ));
    }
    let last = args
        .start
        .checked_add(args.count - 1)
        .ok_or("--start + --count goes past 2^32")?;
    (args.start..=last)
        .map(|n| {
            let text = format!(
                "table={},{}",
                args.table,
                args.flow
                    .replace("{n}", &n.to_string())
                    .replace("{mac}", &mac(n))
            );
            let fm = parse_flow_mod(&text, flow_mod_command::ADD)
                .map_err(|e| format!("{text}: {}", e.message))?;
            Ok((fm, text))
        })
        .collect()
}

/// Adds the flows one at a time and times each.
pub fn run(args: &Args) -> Result<Report, String> {
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or_else(|| format!("--timeout {}: want seconds above 0", args.timeout))?;
    if args.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    let mods = flows(args)?;
    let n = mods.len() as u32;
    let target = Target::parse(&args.target, &args.state_dir).map_err(|e| e.0)?;
    let mut client = Client::connect(&target, timeout).map_err(|e| e.0)?;
    let mut samples = Vec::with_capacity(mods.len() / args.batch as usize + 1);
    let mut mods = mods.into_iter().map(|(fm, text)| (Body::FlowMod(fm), text));
    let all = Instant::now();
    loop {
        let batch: Vec<(Body, String)> = mods.by_ref().take(args.batch as usize).collect();
        if batch.is_empty() {
            break;
        }
        let t0 = Instant::now();
        client.modify(batch).map_err(|e| e.0)?;
        samples.push(t0.elapsed());
    }
    let total = all.elapsed();
    let per_flow = Summary::of(&mut samples).ok_or("no flows were sent")?;
    Ok(Report {
        target: target.describe(),
        table: args.table,
        batch: args.batch,
        flows: n,
        total,
        per_flow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::message::Message;
    use openflow::messages::Hello;
    use openflow::oxm::Oxm;
    use openflow::Framer;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};

    fn args(target: &str) -> Args {
        Args {
            target: target.into(),
            count: 3,
            table: 2,
            flow: DEFAULT_FLOW.into(),
            start: 0xfffe,
            timeout: 5.0,
            batch: 1,
            json: false,
            state_dir: PathBuf::from("/nonexistent"),
        }
    }

    #[test]
    fn templates() {
        assert_eq!(mac(0x0102_0304), "02:bb:01:02:03:04");
        let f = flows(&args("br0")).expect("flows");
        assert_eq!(f.len(), 3);
        assert!(f
            .iter()
            .all(|(fm, _)| fm.table_id == 2 && fm.priority == 1000));
        assert_eq!(
            f[2].1,
            "table=2,priority=1000,dl_vlan=4000,dl_dst=02:bb:00:01:00:00,actions=pop_vlan,output:1"
        );
        assert!(f[1].0.match_.fields.contains(&Oxm::EthDst(
            openflow::types::MacAddr([2, 0xbb, 0, 0, 0xff, 0xff]),
            None
        )));

        let bad = |flow: &str| Args {
            flow: flow.into(),
            ..args("br0")
        };
        // Refused before connecting (the target does not exist).
        let e = run(&bad("table=1,dl_dst={mac},actions=drop")).expect_err("table=");
        assert!(e.contains("--table"), "{e}");
        let e = run(&bad("dl_dst=02:00:00:00:00:01,actions=drop")).expect_err("constant");
        assert!(e.contains("{n} or {mac}"), "{e}");
        let e = run(&bad("bogus={n},actions=drop")).expect_err("parse");
        assert!(e.starts_with("table=2,bogus=65534,actions=drop: "), "{e}");
        let e = run(&Args {
            start: u32::MAX,
            ..args("br0")
        })
        .expect_err("overflow");
        assert!(e.contains("2^32"), "{e}");
    }

    const DELAY: Duration = Duration::from_millis(20);

    /// A fake switch at `path` that holds every barrier reply back for
    /// `DELAY` and checks that nothing else arrives while it does; it
    /// returns the message types in arrival order.
    fn fake_switch(path: &std::path::Path) -> std::thread::JoinHandle<Option<Vec<u8>>> {
        let listener = UnixListener::bind(path).expect("bind");
        std::thread::spawn(move || -> Option<Vec<u8>> {
            let (mut s, _) = listener.accept().ok()?;
            let mut framer = Framer::new();
            let mut next = |s: &mut UnixStream| -> Option<Message> {
                loop {
                    if let Some(f) = framer.next_message().ok()? {
                        return Message::decode(&f).ok();
                    }
                    let mut b = [0u8; 4096];
                    let n = s.read(&mut b).ok()?;
                    if n == 0 {
                        return None;
                    }
                    framer.push(&b[..n]);
                }
            };
            s.write_all(&Message::new(1, Body::Hello(Hello::with_versions(&[4]))).to_bytes())
                .ok()?;
            let mut seen = Vec::new(); // message types in arrival order
            while let Some(m) = next(&mut s) {
                seen.push(m.body.msg_type());
                if let Body::BarrierRequest = m.body {
                    // Nothing else may be waiting while the barrier is open.
                    s.set_nonblocking(true).ok()?;
                    std::thread::sleep(DELAY);
                    let early = s.read(&mut [0u8; 1]);
                    s.set_nonblocking(false).ok()?;
                    if early.is_ok() {
                        return None;
                    }
                    s.write_all(&Message::new(m.xid, Body::BarrierReply).to_bytes())
                        .ok()?;
                }
            }
            Some(seen)
        })
    }

    /// Each sample must include the fake switch's wait, and no FLOW_MOD may
    /// arrive before the previous barrier was answered.
    #[test]
    fn one_flow_mod_and_barrier_at_a_time() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.mgmt");
        let server = fake_switch(&path);
        let r = run(&args(&format!("unix:{}", path.display()))).expect("run");
        assert_eq!(r.per_flow.count, 3);
        assert!(r.per_flow.min_us >= DELAY.as_secs_f64() * 1e6, "{r:?}");
        assert!(r.total >= DELAY * 3);
        assert!(r.text().contains("3 flows into table 2"));
        let j: serde_json::Value = serde_json::from_str(&r.json()).expect("json");
        assert_eq!(j["count"], 3);
        assert_eq!(j["table"], 2);
        // The client closes the connection when `run` returns.
        let seen = server.join().ok().flatten().expect("fake switch");
        // HELLO, then FLOW_MOD (14) and BARRIER_REQUEST (20) three times.
        assert_eq!(seen, [0, 14, 20, 14, 20, 14, 20]);
    }

    #[test]
    fn batches_send_several_flow_mods_per_barrier() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.mgmt");
        let server = fake_switch(&path);
        let r = run(&Args {
            batch: 2,
            ..args(&format!("unix:{}", path.display()))
        })
        .expect("run");
        assert_eq!((r.flows, r.per_flow.count), (3, 2));
        assert!(r.text().contains("2 FLOW_MODs per BARRIER"), "{}", r.text());
        let seen = server.join().ok().flatten().expect("fake switch");
        assert_eq!(seen, [0, 14, 14, 20, 14, 20]);
        let zero = run(&Args {
            batch: 0,
            ..args("br0")
        });
        assert!(zero.expect_err("batch 0").contains("--batch"));
    }
}
