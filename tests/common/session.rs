//! One OpenFlow 1.3 session to a switch's passive port over TCP, for
//! tests that send messages `ofswitch ofctl` cannot write (malformed ones,
//! or fields ovs-ofctl's syntax calls read-only) and read the replies.

use openflow::message::{Body, Message};
use openflow::messages::Hello;
use openflow::multipart::{FlowStatsRequest, MultipartReplyBody, MultipartRequestBody};
use openflow::types::{group_no, port_no};
use openflow::{Framer, MultipartRequest};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// One OpenFlow session to the switch, after the HELLO exchange.
pub struct Session {
    /// The connection (a test may read from it directly).
    pub s: TcpStream,
    framer: Framer,
}

impl Session {
    pub fn open(port: u16) -> Session {
        let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the passive port");
        s.set_nodelay(true).expect("nodelay");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut sess = Session {
            s,
            framer: Framer::new(),
        };
        sess.send(&Message::new(1, Body::Hello(Hello::with_versions(&[4]))).to_bytes());
        let hello = sess.recv();
        assert!(matches!(hello.body, Body::Hello(_)), "{hello:?}");
        sess
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
    }

    pub fn send_msg(&mut self, xid: u32, body: Body) {
        self.send(&Message::new(xid, body).to_bytes());
    }

    pub fn recv_raw(&mut self) -> Vec<u8> {
        loop {
            if let Some(m) = self.framer.next_message().expect("framing") {
                return m.to_vec();
            }
            let mut buf = [0u8; 65536];
            let n = self.s.read(&mut buf).expect("read from the switch");
            assert!(n > 0, "the switch closed the connection");
            self.framer.push(&buf[..n]);
        }
    }

    pub fn recv(&mut self) -> Message {
        let raw = self.recv_raw();
        Message::decode(&raw).unwrap_or_else(|e| panic!("cannot decode {raw:02x?}: {e}"))
    }

    /// Sends `req`, then an ECHO_REQUEST; returns what came before the
    /// ECHO_REPLY (PACKET_INs and the like are left out).
    pub fn exchange(&mut self, req: &[u8], echo_xid: u32) -> Vec<Message> {
        self.send(req);
        self.send_msg(echo_xid, Body::EchoRequest(b"still there?".to_vec()));
        let mut got = Vec::new();
        let t0 = Instant::now();
        loop {
            assert!(t0.elapsed() < Duration::from_secs(10), "no ECHO_REPLY");
            let m = self.recv();
            match &m.body {
                Body::EchoReply(p) if m.xid == echo_xid => {
                    assert_eq!(p, b"still there?");
                    return got;
                }
                Body::PacketIn(_) | Body::PortStatus(_) | Body::FlowRemoved(_) => {}
                _ => got.push(m),
            }
        }
    }

    /// A request whose replies end with a BARRIER_REPLY: the replies.
    pub fn transact(&mut self, xid: u32, body: Body) -> Vec<Message> {
        self.send_msg(xid, body);
        self.send_msg(xid + 1, Body::BarrierRequest);
        let mut got = Vec::new();
        loop {
            let m = self.recv();
            match &m.body {
                Body::BarrierReply if m.xid == xid + 1 => return got,
                Body::PacketIn(_) | Body::PortStatus(_) | Body::FlowRemoved(_) => {}
                _ => got.push(m),
            }
        }
    }

    /// Every flow as (table, priority, cookie).
    pub fn flows(&mut self, xid: u32) -> Vec<(u8, u16, u64)> {
        let req = FlowStatsRequest {
            table_id: 0xff,
            out_port: port_no::ANY,
            out_group: group_no::ANY,
            cookie: 0,
            cookie_mask: 0,
            match_: Default::default(),
        };
        let replies = self.transact(
            xid,
            Body::MultipartRequest(MultipartRequest::new(MultipartRequestBody::Flow(req))),
        );
        let mut out = Vec::new();
        for r in replies {
            match r.body {
                Body::MultipartReply(mr) => match mr.body {
                    MultipartReplyBody::Flow(fs) => {
                        out.extend(fs.iter().map(|f| (f.table_id, f.priority, f.cookie)))
                    }
                    other => panic!("unexpected reply {other:?}"),
                },
                other => panic!("unexpected message {other:?}"),
            }
        }
        out.sort();
        out
    }
}
