//! `ofbench echo-controller`: the least a controller can do for `ofbench
//! cbench`, to measure the generator alone.
//!
//! It accepts switches, asks each for its features and ports (what cbench
//! waits for before its load), answers ECHO, and answers every PACKET_IN
//! with a PACKET_OUT of the same frame (flood), which cbench counts as the
//! answer. No state, no decisions: one thread, one `ppoll` loop over all
//! connections, the same event loop shape as cbench's own.
//!
//! Why: cbench's latency is the controller's plus the generator's own
//! (its wake-ups, its reads, waiting for a core it shares with the
//! controller). Run at the same rate against this responder, cbench shows
//! the part that is not the controller's: if its p99 here is close to the
//! one against ofcontroller, the controller is not what makes the p99.

use crate::poll;
use clap::Args as ClapArgs;
use openflow::message::{Body, Message};
use openflow::messages::{Hello, PacketOut};
use openflow::multipart::{MultipartRequest, MultipartRequestBody};
use openflow::types::port_no;
use openflow::{Action, Framer};
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

#[derive(ClapArgs, Debug, Clone)]
pub struct Args {
    /// Where to accept switches: tcp:IP:PORT.
    #[arg(long)]
    pub listen: String,
}

struct Conn {
    sock: TcpStream,
    framer: Framer,
    out: Vec<u8>,
}

impl Conn {
    fn new(sock: TcpStream) -> std::io::Result<Conn> {
        sock.set_nodelay(true)?;
        sock.set_nonblocking(true)?;
        let mut c = Conn {
            sock,
            framer: Framer::new(),
            out: Vec::new(),
        };
        c.send(0, Body::Hello(Hello::with_versions(&[4])));
        c.send(1, Body::FeaturesRequest);
        let ports = MultipartRequest::new(MultipartRequestBody::PortDesc);
        c.send(2, Body::MultipartRequest(ports));
        Ok(c)
    }

    fn send(&mut self, xid: u32, body: Body) {
        self.out
            .extend_from_slice(&Message::new(xid, body).to_bytes());
    }

    /// Reads and answers what came; false once the switch is gone.
    fn serve(&mut self, buf: &mut [u8]) -> bool {
        match self.sock.read(buf) {
            Ok(0) => return false,
            Ok(n) => self.framer.push(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            Err(_) => return false,
        }
        while let Ok(Some(raw)) = self.framer.next_message() {
            let Ok(m) = Message::decode(&raw) else {
                continue;
            };
            match m.body {
                Body::EchoRequest(d) => self.send(m.xid, Body::EchoReply(d)),
                Body::PacketIn(pi) => {
                    let in_port = match pi.match_.get(openflow::oxm::OxmField::InPort) {
                        Some(openflow::oxm::Oxm::InPort(p)) => *p,
                        _ => port_no::CONTROLLER,
                    };
                    let flood = vec![Action::output(port_no::FLOOD)];
                    let po = PacketOut::new(in_port, flood, pi.data);
                    self.send(m.xid, Body::PacketOut(po));
                }
                _ => {}
            }
        }
        true
    }

    /// Writes what it can; false once the switch is gone.
    fn flush(&mut self) -> bool {
        poll::write_some(&mut self.sock, &mut self.out).is_ok()
    }
}

/// Serves until killed.
pub fn run(args: &Args) -> Result<(), String> {
    let addr = args
        .listen
        .strip_prefix("tcp:")
        .ok_or_else(|| format!("{}: want tcp:IP:PORT", args.listen))?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("{addr}: {e}"))?;
    poll::fine_timer_slack();
    let mut conns: Vec<Conn> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut fds = Vec::new();
    loop {
        conns.retain_mut(Conn::flush);
        fds.clear();
        fds.push(poll::interest(listener.as_raw_fd(), false));
        fds.extend(
            conns
                .iter()
                .map(|c| poll::interest(c.sock.as_raw_fd(), !c.out.is_empty())),
        );
        poll::wait(&mut fds, Duration::from_secs(1)).map_err(|e| format!("poll: {e}"))?;
        let ready: Vec<bool> = fds[1..].iter().map(poll::readable).collect();
        let mut i = 0;
        conns.retain_mut(|c| {
            let keep = !ready[i] || c.serve(&mut buf);
            i += 1;
            keep
        });
        if poll::readable(&fds[0]) {
            while let Ok((s, _)) = listener.accept() {
                conns.extend(Conn::new(s).ok());
            }
        }
    }
}
