//! A minimal OpenFlow 1.3 controller that counts PACKET_INs, for
//! measuring how many packet-ins a switch delivers to a controller that
//! keeps up: it accepts one switch connection, says HELLO, answers every
//! ECHO_REQUEST at once, optionally installs the table-miss flow
//! `priority=0,actions=CONTROLLER:65535`, and reads as fast as the socket
//! gives. PACKET_INs are counted by their header alone (never decoded),
//! so the sink is not what limits the measurement.
//!
//! ```text
//! cargo run --release --example packet_in_sink -- [--listen IP:PORT] [--table-miss] [--seconds N]
//! ```
//!
//! It prints `listening on IP:PORT` (port 0 picks a free one), then once a
//! second `T s: N packet-ins (R/s)`, and when the switch disconnects, or N
//! seconds after the first packet-in, a last line
//! `total: N packet-ins in T s (R/s)`. Point the switch at it with
//! `ofswitch vsctl set-controller BR tcp:IP:PORT` (or `ovs-vsctl`: it works
//! with Open vSwitch too).

use openflow::message::{msg_type, Header, HEADER_LEN};
use openflow::{Body, Framer, Hello, Message};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Options {
    listen: String,
    table_miss: bool,
    seconds: Option<f64>,
}

const USAGE: &str =
    "usage: packet_in_sink [--listen IP:PORT] [--table-miss] [--seconds N]  (default 127.0.0.1:0)";

fn options() -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".to_string(),
        table_miss: false,
        seconds: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--listen" => o.listen = args.next().ok_or("--listen needs IP:PORT")?,
            "--table-miss" => o.table_miss = true,
            "--seconds" => {
                let v = args.next().ok_or("--seconds needs a number")?;
                let s: f64 = v.parse().map_err(|_| format!("bad --seconds {v}"))?;
                o.seconds = Some(s);
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            _ => return Err(format!("unknown argument {a}\n{USAGE}")),
        }
    }
    Ok(o)
}

fn send(s: &mut TcpStream, xid: u32, body: Body) -> std::io::Result<()> {
    s.write_all(&Message::new(xid, body).to_bytes())
}

/// Counts what one connection brings until it closes or time is up.
fn serve(mut s: TcpStream, o: &Options) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    s.set_nodelay(true).map_err(io)?;
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(io)?;
    send(&mut s, 1, Body::Hello(Hello::with_versions(&[4]))).map_err(io)?;
    if o.table_miss {
        let fm = openflow::ofctl::parse::parse_flow_mod(
            "priority=0,actions=CONTROLLER:65535",
            openflow::messages::flow_mod_command::ADD,
        )
        .map_err(|e| format!("{e:?}"))?;
        send(&mut s, 2, Body::FlowMod(fm)).map_err(io)?;
    }
    let mut framer = Framer::new();
    let mut buf = vec![0u8; 1 << 20];
    let (mut total, mut last_report_count) = (0u64, 0u64);
    let mut first: Option<Instant> = None;
    let mut last_report = Instant::now();
    let mut last_packet_in = Instant::now();
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => 0,
            Err(e) => return Err(format!("read: {e}")),
        };
        framer.push(&buf[..n]);
        while let Some(m) = framer.next_message().map_err(|e| e.to_string())? {
            let Some(h) = Header::parse(&m) else {
                continue;
            };
            match h.msg_type {
                msg_type::PACKET_IN => {
                    total += 1;
                    last_packet_in = Instant::now();
                    first.get_or_insert(last_packet_in);
                }
                msg_type::ECHO_REQUEST => {
                    let data = m.get(HEADER_LEN..).unwrap_or_default().to_vec();
                    send(&mut s, h.xid, Body::EchoReply(data)).map_err(io)?;
                }
                msg_type::ERROR => eprintln!("the switch sent an error: {:?}", Message::decode(&m)),
                _ => {}
            }
        }
        let now = Instant::now();
        if now.duration_since(last_report) >= Duration::from_secs(1) {
            if let Some(f) = first {
                let dt = now.duration_since(last_report).as_secs_f64();
                println!(
                    "{:.0} s: {} packet-ins ({:.0}/s)",
                    now.duration_since(f).as_secs_f64(),
                    total,
                    (total - last_report_count) as f64 / dt
                );
            }
            last_report = now;
            last_report_count = total;
        }
        if let (Some(f), Some(secs)) = (first, o.seconds) {
            if now.duration_since(f).as_secs_f64() >= secs {
                break;
            }
        }
    }
    if let Some(f) = first {
        let t = last_packet_in.duration_since(f).as_secs_f64().max(1e-9);
        println!(
            "total: {total} packet-ins in {t:.2} s ({:.0}/s)",
            total as f64 / t
        );
    } else {
        println!("total: no packet-ins");
    }
    Ok(())
}

fn main() -> ExitCode {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let l = match TcpListener::bind(&o.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("packet_in_sink: listen on {}: {e}", o.listen);
            return ExitCode::FAILURE;
        }
    };
    match l.local_addr() {
        Ok(a) => println!("listening on {a}"),
        Err(e) => eprintln!("packet_in_sink: {e}"),
    }
    let s = match l.accept() {
        Ok((s, peer)) => {
            println!("switch connected from {peer}");
            s
        }
        Err(e) => {
            eprintln!("packet_in_sink: accept: {e}");
            return ExitCode::FAILURE;
        }
    };
    match serve(s, &o) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("packet_in_sink: {e}");
            ExitCode::FAILURE
        }
    }
}
