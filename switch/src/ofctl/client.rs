//! A blocking OpenFlow 1.3 client connection, what every `ofctl` verb uses.
//!
//! Why blocking std sockets rather than tokio: a verb is one short
//! request/reply conversation (or, for `monitor`, one endless read loop);
//! plain sockets with read timeouts keep it simple and make every wait
//! bounded by one deadline.
//!
//! What the connection does, as ovs-ofctl does:
//!
//! - HELLO exchange offering only OpenFlow 1.3 (version bitmap); a peer
//!   that does not accept 1.3 is a clear error.
//! - ECHO_REQUESTs from the switch are answered whenever we wait.
//! - Replies are matched by xid; multipart replies are collected across
//!   OFPMPF_REPLY_MORE parts; an OFPT_ERROR answering our request becomes a
//!   one-line [`CtlError`] naming the error.
//! - Modifications ([`Client::modify`]) are followed by a BARRIER_REQUEST,
//!   and the BARRIER_REPLY is awaited, so that every error the switch
//!   raises for them is reported before the command exits.
//! - Every wait has a deadline (10 s by default); no answer in time is an
//!   error, never a hang.

use openflow::message::{Body, Header, Message};
use openflow::messages::{ErrorMsg, Hello};
use openflow::multipart::{MultipartReply, MORE};
use openflow::types::OFP_VERSION;
use openflow::Framer;
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

/// One message on the wire, refused if OpenFlow cannot carry it.
fn encode(xid: u32, body: Body) -> Result<Vec<u8>> {
    let bytes = Message::new(xid, body).to_bytes();
    if bytes.len() > openflow::message::MAX_MESSAGE_LEN {
        return Err(CtlError::new(format!(
            "message of {} bytes exceeds OpenFlow's 65535-byte limit",
            bytes.len()
        )));
    }
    Ok(bytes)
}

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
    framer: Framer,
    next_xid: u32,
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
        let mut c = Client {
            stream,
            framer: Framer::new(),
            next_xid: 1,
            timeout,
            name: target.describe(),
        };
        c.handshake()?;
        Ok(c)
    }

    /// The target as named in messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn handshake(&mut self) -> Result<()> {
        self.send(Body::Hello(Hello::with_versions(&[OFP_VERSION])))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match self.recv(Some(deadline))? {
                Incoming::Msg(Message {
                    version,
                    body: Body::Hello(h),
                    ..
                }) => {
                    if h.accepts(version, OFP_VERSION) {
                        return Ok(());
                    }
                    let offered = match h.versions() {
                        Some(v) => v
                            .iter()
                            .map(|v| format!("0x{v:02x}"))
                            .collect::<Vec<_>>()
                            .join(", "),
                        None => format!("up to 0x{version:02x}"),
                    };
                    return Err(CtlError::new(format!(
                        "{} does not speak OpenFlow 1.3 (version 0x04); it offers {offered}",
                        self.name
                    )));
                }
                Incoming::Msg(Message {
                    body: Body::Error(e),
                    ..
                }) => {
                    return Err(CtlError::new(format!(
                        "{} refused the connection: {}",
                        self.name,
                        super::output::error_text(&e)
                    )))
                }
                Incoming::Undecodable { header, .. } if header.msg_type == 1 => {
                    return Err(CtlError::new(format!(
                        "{} refused the connection (OpenFlow version 0x{:02x} error)",
                        self.name, header.version
                    )))
                }
                _ => {}
            }
        }
    }

    /// A fresh transaction id.
    pub fn xid(&mut self) -> u32 {
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.next_xid
    }

    /// Sends one message with a fresh xid and returns the xid.
    pub fn send(&mut self, body: Body) -> Result<u32> {
        let xid = if matches!(body, Body::Hello(_)) {
            1
        } else {
            self.xid()
        };
        self.send_with_xid(xid, body)?;
        Ok(xid)
    }

    fn send_with_xid(&mut self, xid: u32, body: Body) -> Result<()> {
        let bytes = encode(xid, body)?;
        self.write(&bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| CtlError::new(format!("sending to {} failed: {}", self.name, io_text(&e))))
    }

    /// The next message from the switch, answering ECHO_REQUESTs on the
    /// way; waits until `deadline` (forever with `None`).
    pub fn recv(&mut self, deadline: Option<Instant>) -> Result<Incoming> {
        loop {
            let frame = self
                .framer
                .next_message()
                .map_err(|e| CtlError::new(format!("{} sent a broken stream: {e}", self.name)))?;
            if let Some(frame) = frame {
                let Some(header) = Header::parse(&frame) else {
                    continue;
                };
                match Message::decode(&frame) {
                    Ok(Message {
                        xid,
                        body: Body::EchoRequest(data),
                        ..
                    }) => self.send_with_xid(xid, Body::EchoReply(data))?,
                    Ok(m) => return Ok(Incoming::Msg(m)),
                    Err(e) => {
                        return Ok(Incoming::Undecodable {
                            header,
                            error: e.to_string(),
                        })
                    }
                }
                continue;
            }
            let wait = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self.timeout_error());
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
                Ok(n) => self.framer.push(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(self.timeout_error())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
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

    /// Sends a request and returns its reply messages: all parts of a
    /// multipart reply, or the one reply of another request.
    pub fn transact(&mut self, body: Body) -> Result<Vec<Message>> {
        let what = openflow::message::msg_type::name(body.msg_type());
        let xid = self.send(body)?;
        let deadline = Instant::now() + self.timeout;
        let mut replies = Vec::new();
        loop {
            match self.recv(Some(deadline))? {
                Incoming::Msg(m) if m.xid == xid => match &m.body {
                    Body::Error(e) => return Err(rejected(what, None, e)),
                    Body::MultipartReply(MultipartReply { flags, .. }) => {
                        let more = flags & MORE != 0;
                        replies.push(m);
                        if !more {
                            return Ok(replies);
                        }
                    }
                    _ => {
                        replies.push(m);
                        return Ok(replies);
                    }
                },
                Incoming::Undecodable { header, error } if header.xid == xid => {
                    return Err(CtlError::new(format!(
                        "cannot decode the reply to {what} from {}: {error}",
                        self.name
                    )))
                }
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
        let mut out = Vec::new();
        for (body, label) in mods {
            let what = openflow::message::msg_type::name(body.msg_type());
            let xid = self.xid();
            out.extend_from_slice(&encode(xid, body)?);
            sent.insert(xid, (what, label));
            if out.len() >= WRITE_CHUNK {
                self.write(&out)?;
                out.clear();
            }
        }
        let barrier = self.xid();
        out.extend_from_slice(&encode(barrier, Body::BarrierRequest)?);
        self.write(&out)?;
        let mut errors = Vec::new();
        let mut deadline = Instant::now() + self.timeout;
        loop {
            match self.recv(Some(deadline))? {
                Incoming::Msg(m) if m.xid == barrier => match &m.body {
                    Body::BarrierReply => break,
                    Body::Error(e) => {
                        errors.push(rejected("OFPT_BARRIER_REQUEST", None, e));
                        break;
                    }
                    _ => {}
                },
                Incoming::Msg(Message {
                    xid,
                    body: Body::Error(e),
                    ..
                }) => {
                    if let Some((what, label)) = sent.get(&xid) {
                        errors.push(rejected(what, Some(label), &e));
                        // Many errors may come before the barrier reply.
                        deadline = Instant::now() + self.timeout;
                    }
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CtlError::new(
                errors
                    .iter()
                    .map(|e| e.0.clone())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ))
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
