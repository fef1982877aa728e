//! One emulated switch's connection: the switch side of the handshake
//! (HELLO, FEATURES_REPLY, PORT_DESC, BARRIER and ECHO answered,
//! TABLE_FEATURES refused), done
//! blocking in a thread of its own by [`setup`]; afterwards the socket is
//! non-blocking and served by an event loop ([`super::load`]), which writes
//! with [`Switch::flush`] and reads with [`Switch::read`].

use super::Args;
use openflow::message::{Body, Message};
use openflow::messages::{ErrorMsg, Hello, SwitchFeatures};
use openflow::multipart::{mp_type, MultipartReply, MultipartReplyBody, MultipartRequestBody};
use openflow::port::Port;
use openflow::{Framer, MacAddr, OfError};
use std::io::{ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

pub struct Switch {
    pub index: u32,
    sock: TcpStream,
    pub framer: Framer,
    /// Queued for the socket.
    pub out: Vec<u8>,
    buf: Vec<u8>,
    /// Set by whatever other than a packet-in answer arrived last.
    last_input: Instant,
    port_desc_sent: bool,
}

impl Switch {
    /// Writes what is queued. Blocking (during the setup): all of it.
    /// Non-blocking: as much as the socket takes; true if all went out
    /// (the rest waits for the socket to be writable).
    pub fn flush(&mut self) -> Result<bool, String> {
        crate::poll::write_some(&mut self.sock, &mut self.out)
            .map_err(|e| format!("switch {}: write: {e}", self.index))
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// From the setup's blocking reads to the event loop's.
    pub fn set_nonblocking(&self) -> Result<(), String> {
        self.sock
            .set_nonblocking(true)
            .map_err(|e| format!("switch {}: {e}", self.index))
    }

    fn reply(&mut self, xid: u32, body: Body) {
        let bytes = Message::new(xid, body).to_bytes();
        self.out.extend_from_slice(&bytes);
    }

    /// Reads what is there (blocking: waiting at most the socket's read
    /// timeout); false if nothing was.
    pub fn read(&mut self) -> Result<bool, String> {
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
    pub fn handle(&mut self, raw: &[u8], ports: u32) -> Result<(), String> {
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
pub fn setup(args: &Args, addr: SocketAddr, index: u32) -> Result<Switch, String> {
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
