//! A blocking OpenFlow 1.3 client connection, what every `ofctl` verb uses.
//!
//! Why blocking std sockets rather than tokio: a verb is one short
//! request/reply conversation (or, for `monitor`, one endless read loop);
//! plain sockets with read timeouts keep it simple and make every wait
//! bounded by one deadline.
//!
//! The protocol is not here: [`openflow::channel::Channel`] holds it, sans-IO,
//! shared with the controller. This file is a driver that writes the
//! channel's output, reads with a timeout set from the channel's next timer
//! or the caller's deadline, and turns the channel's events into results and
//! one-line [`CtlError`]s. What the connection does, as ovs-ofctl does:
//!
//! - HELLO exchange offering only OpenFlow 1.3 (version bitmap); a peer
//!   that does not accept 1.3 is a clear error.
//! - ECHO_REQUESTs from the switch are answered whenever we wait. We send
//!   no probes of our own (as ovs-ofctl): every wait has a deadline anyway.
//! - Replies are matched by xid; multipart replies are collected across
//!   OFPMPF_REPLY_MORE parts; an OFPT_ERROR answering our request becomes a
//!   one-line [`CtlError`] naming the error.
//! - Modifications ([`Client::modify`]) are followed by a BARRIER_REQUEST,
//!   and the BARRIER_REPLY is awaited, so that every error the switch
//!   raises for them is reported before the command exits.
//! - Every wait has a deadline (10 s by default, restarted by each reply
//!   part or error received); no answer in time is an error, never a hang.

use openflow::channel::{Channel, ChannelConfig, ChannelError, Event, SendError};
use openflow::message::{Body, Header, Message};
use openflow::messages::ErrorMsg;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The default OpenFlow port for `tcp:IP` without a port.
const DEFAULT_PORT: u16 = 6653;

/// A one-line error, printed as `ofswitch ofctl: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CtlError(pub String);

impl CtlError {
    pub fn new(msg: impl Into<String>) -> CtlError {
        CtlError(msg.into())
    }
}

pub type Result<T> = std::result::Result<T, CtlError>;

/// An I/O error's text without Rust's ` (os error N)` suffix, as C's
/// `strerror` prints it.
pub fn io_text(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Bytes of queued modifications written at once.
const WRITE_CHUNK: usize = 64 * 1024;

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A bridge of our daemon: its management socket `<state_dir>/<name>.mgmt`.
    Bridge { name: String, path: PathBuf },
    /// `unix:PATH` (or a path containing `/`).
    Unix(PathBuf),
    /// `tcp:HOST:PORT`, kept as `HOST:PORT`.
    Tcp(String),
}

impl Target {
    /// Parses `br0`, `tcp:127.0.0.1:6653`, `tcp:[::1]:6653`, `unix:PATH` or
    /// a socket path.
    pub fn parse(s: &str, state_dir: &Path) -> Result<Target> {
        if let Some(rest) = s.strip_prefix("tcp:") {
            if rest.is_empty() {
                return Err(CtlError::new(format!("{s}: missing address after tcp:")));
            }
            let has_port = if rest.starts_with('[') {
                rest.contains("]:")
            } else {
                rest.contains(':')
            };
            return Ok(Target::Tcp(if has_port {
                rest.to_string()
            } else {
                format!("{rest}:{DEFAULT_PORT}")
            }));
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            if rest.is_empty() {
                return Err(CtlError::new(format!("{s}: missing path after unix:")));
            }
            return Ok(Target::Unix(PathBuf::from(rest)));
        }
        if let Some((scheme, _)) = s.split_once(':') {
            if !s.contains('/') {
                return Err(CtlError::new(format!(
                    "{s}: unsupported connection type '{scheme}:' (use a bridge name, tcp:IP:PORT or unix:PATH)"
                )));
            }
        }
        if s.contains('/') {
            return Ok(Target::Unix(PathBuf::from(s)));
        }
        if s.is_empty() {
            return Err(CtlError::new("missing switch target"));
        }
        Ok(Target::Bridge {
            name: s.to_string(),
            path: state_dir.join(format!("{s}.mgmt")),
        })
    }

    /// How the target is named in messages.
    pub fn describe(&self) -> String {
        match self {
            Target::Bridge { name, path } => format!("{name} ({})", path.display()),
            Target::Unix(p) => format!("unix:{}", p.display()),
            Target::Tcp(a) => format!("tcp:{a}"),
        }
    }
}

/// The byte stream under the connection.
enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            Stream::Unix(s) => s.flush(),
        }
    }
}

/// What arrived: a decoded message, or one the switch sent that does not
/// decode (kept so that a reply to us is not silently lost).
pub enum Incoming {
    Msg(Message),
    Undecodable { header: Header, error: String },
}

/// One OpenFlow 1.3 connection to a switch.
pub struct Client {
    stream: Stream,
    channel: Channel,
    /// The zero of the channel's clock.
    epoch: Instant,
    timeout: Duration,
    name: String,
}

impl Client {
    /// Connects to `target` and completes the HELLO exchange, each step
    /// within `timeout`.
    pub fn connect(target: &Target, timeout: Duration) -> Result<Client> {
        let stream = match target {
            Target::Bridge { path, .. } => {
                let s = UnixStream::connect(path).map_err(|e| {
                    CtlError::new(format!(
                        "cannot connect to {}: {} — is the daemon running and the bridge created?",
                        target.describe(),
                        io_text(&e)
                    ))
                })?;
                Stream::Unix(s)
            }
            Target::Unix(path) => Stream::Unix(UnixStream::connect(path).map_err(|e| {
                CtlError::new(format!(
                    "cannot connect to {}: {}",
                    target.describe(),
                    io_text(&e)
                ))
            })?),
            Target::Tcp(addr) => Stream::Tcp(connect_tcp(addr, timeout)?),
        };
        if let Stream::Tcp(s) = &stream {
            let _ = s.set_nodelay(true);
        }
        stream
            .set_write_timeout(Some(timeout))
            .map_err(|e| CtlError::new(format!("socket setup failed: {}", io_text(&e))))?;
        let config = ChannelConfig {
            probe_interval: None,
            request_timeout: Some(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX)),
        };
        let mut c = Client {
            stream,
            channel: Channel::new(config, 0),
            epoch: Instant::now(),
            timeout,
            name: target.describe(),
        };
        c.flush()?;
        loop {
            if let Event::Ready = c.next_event(None)? {
                return Ok(c);
            }
        }
    }

    /// The target as named in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh transaction id.
    pub fn xid(&mut self) -> u32 {
        self.channel.next_xid()
    }

    /// Sends one message with a fresh xid and returns the xid; what answers
    /// it comes from [`Client::recv`].
    pub fn send(&mut self, body: Body) -> Result<u32> {
        let xid = self.channel.send(body).map_err(|e| self.send_error(e))?;
        self.flush()?;
        Ok(xid)
    }

    /// The next message from the switch that no request of ours waits
    /// for, answering ECHO_REQUESTs on the way; waits until `deadline`
    /// (forever with `None`).
    pub fn recv(&mut self, deadline: Option<Instant>) -> Result<Incoming> {
        loop {
            match self.next_event(deadline)? {
                Event::Unsolicited(m) => return Ok(Incoming::Msg(m)),
                Event::Undecodable { header, error } => {
                    return Ok(Incoming::Undecodable {
                        header,
                        error: error.to_string(),
                    })
                }
                _ => {}
            }
        }
    }

    /// Sends a request and returns its reply messages: all parts of a
    /// multipart reply, or the one reply of another request.
    pub fn transact(&mut self, body: Body) -> Result<Vec<Message>> {
        let what = openflow::message::msg_type::name(body.msg_type());
        let now = self.now();
        let xid = self
            .channel
            .request(body, now)
            .map_err(|e| self.send_error(e))?;
        self.flush()?;
        loop {
            match self.next_event(None)? {
                Event::Reply { xid: x, messages } if x == xid => return Ok(messages),
                Event::Error { xid: x, error } if x == xid => {
                    return Err(rejected(what, None, &error))
                }
                Event::BadReply { xid: x, error } if x == xid => {
                    return Err(CtlError::new(format!(
                        "cannot decode the reply to {what} from {}: {error}",
                        self.name
                    )))
                }
                Event::TimedOut { xid: x } if x == xid => return Err(self.timeout_error()),
                _ => {}
            }
        }
    }

    /// Sends modifications (each with a label naming it in errors), then a
    /// barrier, and waits for the barrier reply. Every OFPT_ERROR the switch
    /// returns for them is collected; any error makes the result an error
    /// listing them one per line.
    pub fn modify(&mut self, mods: Vec<(Body, String)>) -> Result<()> {
        // Written in chunks of about 64 KiB rather than one write per
        // message: a file of 100,000 flows is a few thousand writes.
        let mut sent: HashMap<u32, (&'static str, String)> = HashMap::new();
        for (body, label) in mods {
            let what = openflow::message::msg_type::name(body.msg_type());
            let xid = self
                .channel
                .send_mod(body)
                .map_err(|e| self.send_error(e))?;
            sent.insert(xid, (what, label));
            if self.channel.output_len() >= WRITE_CHUNK {
                self.flush()?;
            }
        }
        let now = self.now();
        let barrier = self.channel.barrier(now).map_err(|e| self.send_error(e))?;
        self.flush()?;
        let (errors, refused) = loop {
            match self.next_event(None)? {
                Event::Barrier {
                    xid,
                    errors,
                    refused,
                } if xid == barrier => break (errors, refused),
                Event::BadReply { xid, error } if xid == barrier => {
                    return Err(CtlError::new(format!(
                        "cannot decode the reply to OFPT_BARRIER_REQUEST from {}: {error}",
                        self.name
                    )))
                }
                Event::TimedOut { xid } if xid == barrier => return Err(self.timeout_error()),
                _ => {}
            }
        };
        let mut lines: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                let (what, label) = sent.get(&e.xid)?;
                Some(rejected(what, Some(label), &e.error).0)
            })
            .collect();
        if let Some(e) = refused {
            lines.push(rejected("OFPT_BARRIER_REQUEST", None, &e).0);
        }
        if lines.is_empty() {
            Ok(())
        } else {
            Err(CtlError::new(lines.join("\n")))
        }
    }

    /// Nanoseconds on the channel's clock.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Writes what the channel has queued.
    fn flush(&mut self) -> Result<()> {
        let out = self.channel.take_output();
        if out.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(&out)
            .map_err(|e| CtlError::new(format!("sending to {} failed: {}", self.name, io_text(&e))))
    }

    /// The channel's next event, reading (and answering echoes) as needed
    /// until `deadline` (forever with `None`, bar the channel's own timers).
    /// A closed channel is an error.
    fn next_event(&mut self, deadline: Option<Instant>) -> Result<Event> {
        loop {
            if let Some(ev) = self.channel.poll_event() {
                if let Event::Closed(why) = ev {
                    // Best effort: tell the switch why (HELLO_FAILED).
                    let _ = self.flush();
                    return Err(self.closed_error(why));
                }
                return Ok(ev);
            }
            self.flush()?;
            let timer = self
                .channel
                .poll_timeout()
                .map(|t| self.epoch + Duration::from_nanos(t));
            let wake = match (timer, deadline) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let wait = match wake {
                Some(w) => {
                    let left = w.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        if deadline.is_some_and(|d| d <= Instant::now()) {
                            return Err(self.timeout_error());
                        }
                        let now = self.now();
                        self.channel.handle_timeout(now);
                        continue;
                    }
                    Some(left)
                }
                None => None,
            };
            self.stream
                .set_read_timeout(wait)
                .map_err(|e| CtlError::new(format!("socket setup failed: {}", io_text(&e))))?;
            let mut buf = [0u8; 16384];
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    return Err(CtlError::new(format!(
                        "{} closed the connection",
                        self.name
                    )))
                }
                Ok(n) => {
                    let now = self.now();
                    self.channel.receive(&buf[..n], now);
                }
                // The loop finds out whether a timer or the deadline ran out.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    return Err(CtlError::new(format!(
                        "receiving from {} failed: {}",
                        self.name,
                        io_text(&e)
                    )))
                }
            }
        }
    }

    fn timeout_error(&self) -> CtlError {
        CtlError::new(format!(
            "{} did not answer within {} s",
            self.name,
            self.timeout.as_secs_f64()
        ))
    }

    fn send_error(&self, e: SendError) -> CtlError {
        match e {
            SendError::TooLong(_) | SendError::NoParts => CtlError::new(e.to_string()),
            SendError::Closed(why) => self.closed_error(why),
        }
    }

    /// The one-line message for a channel that closed.
    fn closed_error(&self, why: ChannelError) -> CtlError {
        match why {
            ChannelError::HelloTimeout | ChannelError::Inactive => self.timeout_error(),
            ChannelError::Refused { error: Some(e), .. } => CtlError::new(format!(
                "{} refused the connection: {}",
                self.name,
                super::output::error_text(&e)
            )),
            other => CtlError::new(format!("{} {other}", self.name)),
        }
    }
}

/// `the switch rejected OFPT_FLOW_MOD (LABEL): OFPBAC_BAD_OUT_GROUP`.
fn rejected(what: &str, label: Option<&String>, e: &ErrorMsg) -> CtlError {
    let label = match label {
        Some(l) if !l.is_empty() => format!(" ({l})"),
        _ => String::new(),
    };
    CtlError::new(format!(
        "the switch rejected {what}{label}: {}",
        super::output::error_text(e)
    ))
}

fn connect_tcp(addr: &str, timeout: Duration) -> Result<TcpStream> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| CtlError::new(format!("tcp:{addr}: bad address ({})", io_text(&e))))?
        .collect();
    let mut last = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(CtlError::new(match last {
        Some(e) => format!("cannot connect to tcp:{addr}: {}", io_text(&e)),
        None => format!("tcp:{addr}: the address resolves to nothing"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::messages::Hello;
    use openflow::multipart::{MultipartReply, MORE};
    use openflow::Framer;

    #[test]
    fn targets() {
        let d = Path::new("/run/x");
        assert_eq!(
            Target::parse("br0", d),
            Ok(Target::Bridge {
                name: "br0".into(),
                path: PathBuf::from("/run/x/br0.mgmt")
            })
        );
        assert_eq!(
            Target::parse("tcp:127.0.0.1:6634", d),
            Ok(Target::Tcp("127.0.0.1:6634".into()))
        );
        assert_eq!(
            Target::parse("tcp:127.0.0.1", d),
            Ok(Target::Tcp("127.0.0.1:6653".into()))
        );
        assert_eq!(
            Target::parse("tcp:[::1]", d),
            Ok(Target::Tcp("[::1]:6653".into()))
        );
        assert_eq!(
            Target::parse("unix:/a/b", d),
            Ok(Target::Unix(PathBuf::from("/a/b")))
        );
        assert_eq!(
            Target::parse("/a/b.mgmt", d),
            Ok(Target::Unix(PathBuf::from("/a/b.mgmt")))
        );
        assert!(Target::parse("ssl:1.2.3.4:6653", d).is_err());
        assert!(Target::parse("tcp:", d).is_err());
    }

    #[test]
    fn missing_bridge_socket_is_one_clear_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = Target::parse("br0", dir.path()).expect("target");
        let e = Client::connect(&t, Duration::from_secs(1))
            .err()
            .expect("no daemon");
        assert!(e.0.starts_with("cannot connect to br0 ("), "{e}");
        assert!(
            e.0.ends_with(
                "No such file or directory — is the daemon running and the bridge created?"
            ),
            "{e}"
        );
        assert!(!e.0.contains('\n'));
    }

    /// A fake switch on a unix socket: answers HELLO, sends an ECHO_REQUEST
    /// while the client waits, then answers a multipart request in two parts and errors a
    /// flow mod.
    #[test]
    fn conversation_with_a_fake_switch() {
        use openflow::multipart::{AggregateStats, MultipartReplyBody, MultipartRequestBody};
        use openflow::MultipartRequest;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.mgmt");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let server = std::thread::spawn(move || -> Option<()> {
            let (mut s, _) = listener.accept().ok()?;
            let mut framer = Framer::new();
            let next = |s: &mut UnixStream, framer: &mut Framer| -> Option<Message> {
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
            let hello = Message::new(7, Body::Hello(Hello::with_versions(&[1, 4])));
            s.write_all(&hello.to_bytes()).ok()?;
            let _hello = next(&mut s, &mut framer)?;
            let req = next(&mut s, &mut framer)?;
            // The client must answer an echo while it waits for its reply.
            s.write_all(&Message::new(99, Body::EchoRequest(vec![1, 2])).to_bytes())
                .ok()?;
            let echo = next(&mut s, &mut framer)?;
            if echo != Message::new(99, Body::EchoReply(vec![1, 2])) {
                return None;
            }
            for flags in [MORE, 0] {
                let r = MultipartReply {
                    flags,
                    body: MultipartReplyBody::Aggregate(AggregateStats::default()),
                };
                s.write_all(&Message::new(req.xid, Body::MultipartReply(r)).to_bytes())
                    .ok()?;
            }
            let fm = next(&mut s, &mut framer)?;
            let barrier = next(&mut s, &mut framer)?;
            let err = ErrorMsg::reply_to(openflow::OfError::FMFC_BAD_TABLE_ID, &fm.to_bytes());
            s.write_all(&Message::new(fm.xid, Body::Error(err)).to_bytes())
                .ok()?;
            s.write_all(&Message::new(barrier.xid, Body::BarrierReply).to_bytes())
                .ok()?;
            Some(())
        });
        let mut c = Client::connect(&Target::Unix(path), Duration::from_secs(5)).expect("connect");
        let replies = c
            .transact(Body::MultipartRequest(MultipartRequest::new(
                MultipartRequestBody::Aggregate(Default::default()),
            )))
            .expect("aggregate");
        assert_eq!(replies.len(), 2);
        let fm = openflow::ofctl::parse::parse_flow_mod("table=7,actions=drop", 0).expect("flow");
        let e = c
            .modify(vec![(Body::FlowMod(fm), "line 1".into())])
            .expect_err("switch error");
        assert_eq!(
            e.0,
            "the switch rejected OFPT_FLOW_MOD (line 1): OFPFMFC_BAD_TABLE_ID"
        );
        assert_eq!(server.join().ok().flatten(), Some(()));
    }

    /// A fake switch that writes `first` and returns what it reads until
    /// the client hangs up.
    fn one_shot_switch(path: &Path, first: Vec<u8>) -> std::thread::JoinHandle<Vec<u8>> {
        let listener = std::os::unix::net::UnixListener::bind(path).expect("bind");
        std::thread::spawn(move || {
            let mut got = Vec::new();
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(&first);
                let _ = s.read_to_end(&mut got);
            }
            got
        })
    }

    #[test]
    fn switch_without_1_3_is_one_clear_line_and_told_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("old.mgmt");
        let hello = Message {
            version: 1,
            xid: 3,
            body: Body::Hello(Hello::with_versions(&[1])),
        };
        let server = one_shot_switch(&path, hello.to_bytes());
        let e = Client::connect(&Target::Unix(path.clone()), Duration::from_secs(5))
            .err()
            .expect("refused");
        assert_eq!(
            e.0,
            format!(
                "unix:{} does not speak OpenFlow 1.3 (version 0x04); it offers 0x01",
                path.display()
            )
        );
        // Our HELLO, then OFPT_ERROR HELLO_FAILED in version 1.
        let got = server.join().expect("server");
        assert!(got.len() > 16);
        assert_eq!(&got[16..18], [1, 1]);
    }

    #[test]
    fn garbage_instead_of_hello_is_one_clear_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.mgmt");
        let server = one_shot_switch(&path, b"\x04\x00\x00\x02junk".to_vec());
        let e = Client::connect(&Target::Unix(path), Duration::from_secs(5))
            .err()
            .expect("garbage");
        assert!(
            e.0.ends_with("sent a broken stream: message length 2 is below the 8-byte header"),
            "{e}"
        );
        drop(server.join());
    }

    #[test]
    fn silent_switch_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mute.mgmt");
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
        let t = Target::Unix(path);
        let e = Client::connect(&t, Duration::from_millis(300))
            .err()
            .expect("timeout");
        assert!(e.0.contains("did not answer within 0.3 s"), "{e}");
        drop(listener);
    }
}
