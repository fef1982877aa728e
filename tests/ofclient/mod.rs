//! A small OpenFlow 1.3 controller for the end-to-end tests: listen on a
//! port, accept the switch's connection, do the HELLO / FEATURES handshake,
//! send messages and wait for the ones a test expects.
//!
//! Each session has a reader thread that answers ECHO_REQUEST at once (so
//! the switch's inactivity probe never closes a session while a test is
//! busy elsewhere) and queues everything else for [`Session::wait`].

#![allow(dead_code)]

use openflow::messages::{flow_mod_command, role, ErrorMsg, RoleMsg, SwitchFeatures};
use openflow::{Body, Framer, Hello, Message, OfError};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A controller listening on 127.0.0.1:`port`.
pub struct Listener {
    listener: TcpListener,
    pub port: u16,
}

impl Listener {
    /// Listens on 127.0.0.1:`port` again (a controller that comes back
    /// on the port it had). A port just released can be busy for a moment
    /// (a connection of the old listener still closing), so this retries
    /// for a few seconds; a failure names who holds the port.
    pub fn bind(port: u16) -> Listener {
        let t0 = Instant::now();
        loop {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(listener) => return Listener::on(listener),
                Err(e)
                    if e.kind() == std::io::ErrorKind::AddrInUse
                        && t0.elapsed() < Duration::from_secs(5) =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    let holders = std::process::Command::new("ss")
                        .args(["-tanp", &format!("sport = :{port}")])
                        .output()
                        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                        .unwrap_or_default();
                    panic!("listen on 127.0.0.1:{port}: {e}\n{holders}")
                }
            }
        }
    }

    /// A controller on a listener the test already holds (from
    /// `free_listener`, so no other process can take the port first).
    pub fn on(listener: TcpListener) -> Listener {
        let port = listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("address of the listener: {e}"));
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        Listener { listener, port }
    }

    /// Waits up to `timeout` for the switch to connect.
    pub fn accept(&self, timeout: Duration) -> Option<Session> {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            match self.listener.accept() {
                Ok((s, _)) => return Some(Session::new(s)),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept on {}: {e}", self.port),
            }
        }
        None
    }
}

/// One switch connection.
pub struct Session {
    stream: Arc<Mutex<TcpStream>>,
    rx: Receiver<Message>,
    xid: u32,
    /// Every message received so far that a `wait` passed over, in order.
    pub seen: Vec<Message>,
    pub features: Option<SwitchFeatures>,
}

impl Session {
    fn new(s: TcpStream) -> Session {
        s.set_nonblocking(false).expect("blocking stream");
        let _ = s.set_nodelay(true);
        let stream = Arc::new(Mutex::new(s.try_clone().expect("clone stream")));
        let (tx, rx) = mpsc::channel();
        let writer = stream.clone();
        let mut rd = s;
        std::thread::spawn(move || {
            let mut framer = Framer::new();
            let mut buf = [0u8; 65536];
            loop {
                let n = match rd.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                framer.push(&buf[..n]);
                loop {
                    let bytes = match framer.next_message() {
                        Ok(Some(b)) => b,
                        Ok(None) => break,
                        Err(e) => panic!("switch sent a broken stream: {e:?}"),
                    };
                    let msg = Message::decode(&bytes)
                        .unwrap_or_else(|e| panic!("undecodable message from the switch: {e:?}"));
                    if let Body::EchoRequest(data) = &msg.body {
                        let reply = Message::new(msg.xid, Body::EchoReply(data.clone()));
                        if let Ok(mut w) = writer.lock() {
                            let _ = w.write_all(&reply.to_bytes());
                        }
                        continue;
                    }
                    if tx.send(msg).is_err() {
                        return;
                    }
                }
            }
        });
        Session {
            stream,
            rx,
            xid: 1000,
            seen: Vec::new(),
            features: None,
        }
    }

    /// Sends `body` with a fresh xid and returns the xid.
    pub fn send(&mut self, body: Body) -> u32 {
        self.xid += 1;
        let bytes = Message::new(self.xid, body).to_bytes();
        self.stream
            .lock()
            .expect("stream lock")
            .write_all(&bytes)
            .expect("send to the switch");
        self.xid
    }

    /// The next message matching `pred` within `timeout`; the others are
    /// kept in `seen`. `None` on timeout or when the switch closed.
    pub fn wait(
        &mut self,
        timeout: Duration,
        mut pred: impl FnMut(&Message) -> bool,
    ) -> Option<Message> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(m) if pred(&m) => return Some(m),
                Ok(m) => self.seen.push(m),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return None
                }
            }
        }
    }

    /// Every message that arrives within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<Message> {
        let mut out = Vec::new();
        while let Some(m) = self.wait(d, |_| true) {
            out.push(m);
        }
        out
    }

    /// HELLO both ways, then FEATURES; returns the datapath id.
    pub fn handshake(&mut self) -> u64 {
        let t = Duration::from_secs(5);
        self.send(Body::Hello(Hello::with_versions(&[4])));
        self.wait(t, |m| matches!(m.body, Body::Hello(_)))
            .expect("HELLO from the switch");
        let xid = self.send(Body::FeaturesRequest);
        let m = self
            .wait(t, |m| m.xid == xid)
            .expect("FEATURES_REPLY from the switch");
        let Body::FeaturesReply(f) = m.body else {
            panic!("expected FEATURES_REPLY, got {:?}", m.body);
        };
        let dpid = f.datapath_id;
        self.features = Some(f);
        dpid
    }

    /// The reply to request `xid` (or the error it caused).
    pub fn reply(&mut self, xid: u32) -> Message {
        self.wait(Duration::from_secs(5), |m| m.xid == xid)
            .unwrap_or_else(|| panic!("no reply to xid {xid}"))
    }

    /// Sends a BARRIER_REQUEST and waits for its reply.
    pub fn barrier(&mut self) {
        let xid = self.send(Body::BarrierRequest);
        let m = self.reply(xid);
        assert!(matches!(m.body, Body::BarrierReply), "{:?}", m.body);
    }

    /// Sends an ADD FLOW_MOD in ovs-ofctl syntax; returns its xid.
    pub fn add_flow(&mut self, text: &str) -> u32 {
        let fm = openflow::ofctl::parse::parse_flow_mod(text, flow_mod_command::ADD)
            .unwrap_or_else(|e| panic!("flow {text}: {e:?}"));
        self.send(Body::FlowMod(fm))
    }

    /// Adds a flow and checks with a barrier that no error came back.
    pub fn add_flow_ok(&mut self, text: &str) {
        let xid = self.add_flow(text);
        let bx = self.send(Body::BarrierRequest);
        let m = self
            .wait(Duration::from_secs(5), |m| m.xid == xid || m.xid == bx)
            .unwrap_or_else(|| panic!("no BARRIER_REPLY after flow {text}"));
        assert_eq!(m.xid, bx, "flow {text} failed: {:?}", m.body);
    }

    /// A ROLE_REQUEST; the reply or the error.
    pub fn role(&mut self, r: u32, generation_id: u64) -> Result<RoleMsg, OfError> {
        let xid = self.send(Body::RoleRequest(RoleMsg {
            role: r,
            generation_id,
        }));
        match self.reply(xid).body {
            Body::RoleReply(m) => Ok(m),
            Body::Error(ErrorMsg::Standard { error, .. }) => Err(error),
            b => panic!("unexpected answer to ROLE_REQUEST: {b:?}"),
        }
    }

    /// The current role (a NOCHANGE request).
    pub fn current_role(&mut self) -> u32 {
        self.role(role::NOCHANGE, 0)
            .expect("NOCHANGE role request")
            .role
    }

    /// Whether an ECHO_REQUEST gets its reply within 5 s.
    pub fn echo(&mut self) -> bool {
        let xid = self.send(Body::EchoRequest(b"ping".to_vec()));
        self.wait(Duration::from_secs(5), |m| {
            m.xid == xid && matches!(m.body, Body::EchoReply(_))
        })
        .is_some()
    }

    /// Closes the connection (as a controller that died).
    pub fn close(self) {
        if let Ok(s) = self.stream.lock() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Ok(s) = self.stream.lock() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// An Ethernet frame: broadcast ARP request from `src` (for PACKET_OUT).
pub fn arp_request(src: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&spa);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa);
    f.resize(60, 0);
    f
}
