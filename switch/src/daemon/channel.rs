//! OpenFlow channels as byte pipes between sockets and a bridge's control
//! task.
//!
//! Each connection gets a reader task and a writer task. The reader sends
//! what arrives, as raw bytes, to the bridge (`ChannelEvent::Data`); the
//! bridge's sans-IO agent frames and answers it, and queues replies on the
//! connection's outbox, which the writer drains. Nothing here knows
//! OpenFlow: that keeps the protocol logic testable without sockets, and
//! the sockets swappable (TCP, unix, TLS).
//!
//! Active targets (`tcp:`, `ssl:`) reconnect by themselves with exponential
//! back-off (1 s, 2 s, 4 s, capped at 8 s, as Open vSwitch); passive ones
//! (`ptcp:`, `pssl:`, `punix:`) accept any number of connections.
//!
//! TLS (`ssl:`, `pssl:`) is a handshake between the TCP socket and
//! `serve`, with configurations built by [`super::tls`] from the current
//! `set-ssl` files at each attempt. A missing or broken SSL configuration,
//! or a peer whose certificate is refused, is logged once (until the
//! message changes) and retried like an unreachable controller; `ssl:`
//! targets retry at once when the SSL settings change.

use super::target::Target;
use super::tls::{self, SslSource};
use crate::log_limit::LogLimiter;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Identifies one connection for its bridge's lifetime.
pub type ConnId = u64;

/// Messages a connection's outbox holds before the bridge sees it as
/// stuck (a controller that stopped reading).
const OUTBOX: usize = 4096;
/// Largest back-off between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Time allowed for a TCP connect, and then for a TLS handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the sockets tell a bridge.
#[derive(Debug)]
pub enum ChannelEvent {
    /// A connection is up; send to it through `outbox`.
    Connected {
        id: ConnId,
        /// Where it came from or goes to, for logs and `show`.
        peer: String,
        /// The configured target it belongs to.
        target: String,
        outbox: Outbox,
    },
    Data {
        id: ConnId,
        bytes: Vec<u8>,
    },
    Closed {
        id: ConnId,
    },
}

/// What a bridge sends a connection through: a queue the connection's
/// writer task drains into the socket, with a count of the bytes queued
/// and not yet written, so that the bridge can tell a peer that reads
/// slowly (it then holds packet-ins back) from one that reads.
#[derive(Clone, Debug)]
pub struct Outbox {
    tx: mpsc::Sender<Vec<u8>>,
    unwritten: Arc<AtomicUsize>,
}

impl Outbox {
    /// An outbox and the writer's end of it.
    fn new() -> (Outbox, mpsc::Receiver<Vec<u8>>, Arc<AtomicUsize>) {
        let (tx, rx) = mpsc::channel(OUTBOX);
        let unwritten = Arc::new(AtomicUsize::new(0));
        (
            Outbox {
                tx,
                unwritten: unwritten.clone(),
            },
            rx,
            unwritten,
        )
    }

    /// Queues `bytes` without waiting; false when the writer is `OUTBOX`
    /// messages behind (the peer stopped reading) or gone.
    pub fn try_send(&self, bytes: Vec<u8>) -> bool {
        let n = bytes.len();
        self.unwritten.fetch_add(n, Ordering::Relaxed);
        if self.tx.try_send(bytes).is_err() {
            self.unwritten.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Bytes queued and not yet written to the socket (those in the
    /// kernel's socket buffer count as written).
    pub fn unwritten(&self) -> usize {
        self.unwritten.load(Ordering::Relaxed)
    }
}

/// Allocates connection ids.
#[derive(Debug, Default)]
pub struct ConnIds(AtomicU64);

impl ConnIds {
    pub fn next(&self) -> ConnId {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Runs one established connection until either side closes it.
async fn serve<S>(
    stream: S,
    id: ConnId,
    peer: String,
    target: String,
    events: mpsc::Sender<ChannelEvent>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (outbox, mut rx, unwritten) = Outbox::new();
    if events
        .send(ChannelEvent::Connected {
            id,
            peer,
            target,
            outbox,
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            let written = wr.write_all(&bytes).await;
            unwritten.fetch_sub(bytes.len(), Ordering::Relaxed);
            if written.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if events.send(ChannelEvent::Data { id, bytes: buf[..n].to_vec() }).await.is_err() {
                        break;
                    }
                }
            },
            // The bridge dropped the outbox (it closed the connection).
            _ = events.closed() => break,
        }
        if writer.is_finished() {
            break;
        }
    }
    writer.abort();
    let _ = events.send(ChannelEvent::Closed { id }).await;
}

/// Starts the tasks of one configured target; aborting the handle stops
/// them (and, for listeners, the accept loop; established connections end
/// when the bridge drops their outbox). `ssl` is read by `ssl:` and
/// `pssl:` targets only.
pub fn start(
    target: Target,
    label: &str,
    ids: Arc<ConnIds>,
    events: mpsc::Sender<ChannelEvent>,
    ssl: &SslSource,
) -> io::Result<JoinHandle<()>> {
    // Connections report the target as configured (`label`), which may be
    // shorter than the canonical form (`tcp:IP` without the port).
    let name = label.to_string();
    match target {
        Target::Tcp(addr) => Ok(spawn_active(addr, name, None, ids, events)),
        Target::Ssl(addr) => Ok(spawn_active(addr, name, Some(ssl.clone()), ids, events)),
        Target::Ptcp(addr) => {
            let listener = bind_tcp(addr, &name)?;
            Ok(spawn_listener(listener, name, None, ids, events))
        }
        Target::Pssl(addr) => {
            let listener = bind_tcp(addr, &name)?;
            Ok(spawn_listener(
                listener,
                name,
                Some(ssl.clone()),
                ids,
                events,
            ))
        }
        Target::Punix(path) => {
            let listener =
                bind_unix(&path).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
            Ok(tokio::spawn(async move {
                let accept_failed = LogLimiter::default();
                loop {
                    match listener.accept().await {
                        Ok((s, _)) => {
                            tokio::spawn(serve(
                                s,
                                ids.next(),
                                format!("unix:{}", path.display()),
                                name.clone(),
                                events.clone(),
                            ));
                        }
                        Err(e) => {
                            if let Some(suppressed) = accept_failed.allow() {
                                tracing::warn!("{name}: accept failed: {e}{suppressed}");
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }))
        }
    }
}

/// An established connection to a controller.
enum Stream {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Why a connection attempt failed, by how loudly to report it.
enum Failure {
    /// Nobody listening, or unreachable: routine while a controller is
    /// down (debug).
    Connect(String),
    /// No usable SSL configuration (error).
    Config(String),
    /// The TLS handshake failed, e.g. the peer's certificate was refused
    /// (warning).
    Handshake(String),
}

/// Connects to `addr`, with TLS when `ssl` is given.
async fn connect(addr: SocketAddr, ssl: Option<&SslSource>) -> Result<Stream, Failure> {
    let tls = match ssl {
        Some(src) => Some(src.client_config().map_err(Failure::Config)?),
        None => None,
    };
    let s = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(Failure::Connect(format!("connect failed: {e}"))),
        Err(_) => return Err(Failure::Connect("connect timed out".into())),
    };
    // A controller on this machine that is down: the kernel may pick the
    // controller's own port as our source port, and TCP's simultaneous open
    // then connects the socket to itself. That is no controller, and it
    // would hold the port the controller needs to listen on again.
    if s.local_addr().ok() == s.peer_addr().ok() {
        return Err(Failure::Connect(
            "connected to itself (no controller listening)".into(),
        ));
    }
    let _ = s.set_nodelay(true);
    let Some(tls) = tls else {
        return Ok(Stream::Tcp(s));
    };
    let handshake = TlsConnector::from(tls).connect(tls::server_name(addr.ip()), s);
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Ok(s)) => Ok(Stream::Tls(Box::new(s))),
        Ok(Err(e)) => Err(Failure::Handshake(format!("TLS handshake failed: {e}"))),
        Err(_) => Err(Failure::Handshake("TLS handshake timed out".into())),
    }
}

/// The reconnecting task of an active target.
fn spawn_active(
    addr: SocketAddr,
    name: String,
    ssl: Option<SslSource>,
    ids: Arc<ConnIds>,
    events: mpsc::Sender<ChannelEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        let mut changes = ssl.as_ref().map(SslSource::subscribe);
        // The last loud failure, so a persistent one is logged once.
        let mut last = String::new();
        loop {
            match connect(addr, ssl.as_ref()).await {
                Ok(stream) => {
                    backoff = Duration::from_secs(1);
                    last.clear();
                    tracing::info!("{name}: connected");
                    let (id, peer) = (ids.next(), addr.to_string());
                    match stream {
                        Stream::Tcp(s) => serve(s, id, peer, name.clone(), events.clone()).await,
                        Stream::Tls(s) => serve(*s, id, peer, name.clone(), events.clone()).await,
                    }
                    tracing::info!("{name}: connection closed");
                }
                Err(Failure::Connect(e)) => tracing::debug!("{name}: {e}"),
                Err(Failure::Config(e)) if e != last => {
                    tracing::error!("{name}: {e}; retrying");
                    last = e;
                }
                Err(Failure::Handshake(e)) if e != last => {
                    tracing::warn!("{name}: {e}; retrying");
                    last = e;
                }
                Err(Failure::Config(e) | Failure::Handshake(e)) => tracing::debug!("{name}: {e}"),
            }
            if events.is_closed() {
                return;
            }
            // Wait out the back-off, or less if the SSL settings change.
            let changed = async {
                match changes.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(backoff) => backoff = (backoff * 2).min(MAX_BACKOFF),
                true = changed => backoff = Duration::from_secs(1),
            }
        }
    })
}

fn bind_tcp(addr: SocketAddr, name: &str) -> io::Result<TcpListener> {
    let std_listener = std::net::TcpListener::bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
    std_listener.set_nonblocking(true)?;
    TcpListener::from_std(std_listener)
}

/// The accept loop of a passive TCP target, with TLS when `ssl` is given
/// (each connection's handshake in its own task, so a slow or hostile
/// client cannot hold up the others).
fn spawn_listener(
    listener: TcpListener,
    name: String,
    ssl: Option<SslSource>,
    ids: Arc<ConnIds>,
    events: mpsc::Sender<ChannelEvent>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = String::new();
        let accept_failed = LogLimiter::default();
        // Clients that fail their handshake, shared by the handshake tasks:
        // a client retrying with a refused certificate is one line per
        // interval, not one per attempt.
        let handshake_failed = Arc::new(LogLimiter::default());
        loop {
            let (s, peer) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    if let Some(suppressed) = accept_failed.allow() {
                        tracing::warn!("{name}: accept failed: {e}{suppressed}");
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let _ = s.set_nodelay(true);
            let Some(src) = &ssl else {
                tokio::spawn(serve(
                    s,
                    ids.next(),
                    peer.to_string(),
                    name.clone(),
                    events.clone(),
                ));
                continue;
            };
            let cfg = match src.server_config() {
                Ok(c) => {
                    last.clear();
                    c
                }
                Err(e) => {
                    if e != last {
                        tracing::error!("{name}: refusing connections: {e}");
                    }
                    last = e;
                    continue;
                }
            };
            let (ids, events, name) = (ids.clone(), events.clone(), name.clone());
            let failed = handshake_failed.clone();
            tokio::spawn(async move {
                let handshake = TlsAcceptor::from(cfg).accept(s);
                let why = match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
                    Ok(Ok(s)) => return serve(s, ids.next(), peer.to_string(), name, events).await,
                    Ok(Err(e)) => format!("failed: {e}"),
                    Err(_) => "timed out".to_string(),
                };
                if let Some(suppressed) = failed.allow() {
                    tracing::warn!("{name}: TLS handshake with {peer} {why}{suppressed}");
                }
            });
        }
    })
}

/// Binds a unix socket, replacing a stale socket file left by a daemon
/// that died (but never a live one: connecting to it tells them apart).
pub fn bind_unix(path: &Path) -> io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("{} is in use by another process", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn next(rx: &mut mpsc::Receiver<ChannelEvent>) -> ChannelEvent {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("channel open")
    }

    #[tokio::test]
    async fn passive_tcp_round_trip() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let (tx, mut rx) = mpsc::channel(16);
        let t = Target::parse(&format!("ptcp:{port}:127.0.0.1")).expect("target");
        let h = start(t, "ptcp", Arc::default(), tx, &SslSource::default()).expect("listen");
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let ChannelEvent::Connected { id, outbox, .. } = next(&mut rx).await else {
            panic!("expected Connected");
        };
        c.write_all(b"hello").await.expect("write");
        match next(&mut rx).await {
            ChannelEvent::Data { id: i, bytes } => {
                assert_eq!((i, &bytes[..]), (id, &b"hello"[..]));
            }
            e => panic!("expected Data, got {e:?}"),
        }
        assert!(outbox.try_send(b"world".to_vec()));
        let mut got = [0u8; 5];
        c.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"world");
        drop(c);
        assert!(matches!(next(&mut rx).await, ChannelEvent::Closed { id: i } if i == id));
        h.abort();
    }

    #[tokio::test]
    async fn active_tcp_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::channel(16);
        let h = start(
            Target::Tcp(addr),
            "tcp",
            Arc::default(),
            tx,
            &SslSource::default(),
        )
        .expect("start");
        let (s1, _) = listener.accept().await.expect("first connection");
        assert!(matches!(
            next(&mut rx).await,
            ChannelEvent::Connected { .. }
        ));
        drop(s1);
        assert!(matches!(next(&mut rx).await, ChannelEvent::Closed { .. }));
        // It comes back by itself after the back-off.
        let (_s2, _) = tokio::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("reconnected within 5 s")
            .expect("accept");
        assert!(matches!(
            next(&mut rx).await,
            ChannelEvent::Connected { .. }
        ));
        h.abort();
    }

    use crate::daemon::tls::tests::TestPki;
    use rustls_pki_types::ServerName;

    /// Expects no Connected event within `d`.
    async fn no_connection(rx: &mut mpsc::Receiver<ChannelEvent>, d: Duration) {
        if let Ok(Some(ev)) = tokio::time::timeout(d, rx.recv()).await {
            panic!("expected no connection, got {ev:?}");
        }
    }

    /// Sends "ping" one way and "pong" the other over an established
    /// channel whose peer side is `peer`.
    async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
        rx: &mut mpsc::Receiver<ChannelEvent>,
        peer: &mut S,
    ) {
        let ChannelEvent::Connected { id, outbox, .. } = next(rx).await else {
            panic!("expected Connected");
        };
        peer.write_all(b"ping").await.expect("write");
        peer.flush().await.expect("flush");
        match next(rx).await {
            ChannelEvent::Data { id: i, bytes } => {
                assert_eq!((i, &bytes[..]), (id, &b"ping"[..]));
            }
            e => panic!("expected Data, got {e:?}"),
        }
        assert!(outbox.try_send(b"pong".to_vec()));
        let mut got = [0u8; 4];
        peer.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"pong");
    }

    /// `ssl:` against a tokio-rustls controller that requires a client
    /// certificate: the controller's certificate has no names at all, and
    /// is accepted for being signed by the CA.
    #[tokio::test]
    async fn active_ssl_authenticates_both_ways() {
        let pki = TestPki::new("ok");
        let (switch, controller) = (pki.issue("switch"), pki.issue("controller"));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let acceptor = TlsAcceptor::from(tls::server_config(&controller).expect("server config"));
        let (tx, mut rx) = mpsc::channel(16);
        let ssl = SslSource::new(Some(switch));
        let h = start(Target::Ssl(addr), "ssl", Arc::default(), tx, &ssl).expect("start");
        let (s, _) = listener.accept().await.expect("accept");
        let mut tls = acceptor.accept(s).await.expect("TLS handshake");
        let (_, conn) = tls.get_ref();
        assert!(conn.peer_certificates().is_some_and(|c| !c.is_empty()));
        exchange(&mut rx, &mut tls).await;
        h.abort();
    }

    /// A controller whose certificate another CA signed gets no session,
    /// and neither does one when the switch has no SSL settings; setting
    /// them makes the switch retry at once.
    #[tokio::test]
    async fn active_ssl_refuses_unknown_ca_and_waits_for_settings() {
        let (pki, other) = (TestPki::new("ok"), TestPki::new("other"));
        let switch = pki.issue("switch");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, mut rx) = mpsc::channel(16);
        let ssl = SslSource::default();
        let h = start(Target::Ssl(addr), "ssl", Arc::default(), tx, &ssl).expect("start");
        // No settings: no connection attempt at all.
        assert!(
            tokio::time::timeout(Duration::from_millis(1500), listener.accept())
                .await
                .is_err(),
            "connected without SSL settings"
        );
        ssl.set(Some(switch));
        let (s, _) = tokio::time::timeout(Duration::from_secs(2), listener.accept())
            .await
            .expect("a prompt attempt after set-ssl")
            .expect("accept");
        let impostor = TlsAcceptor::from(
            tls::server_config(&other.issue("controller")).expect("server config"),
        );
        assert!(impostor.accept(s).await.is_err(), "handshake succeeded");
        no_connection(&mut rx, Duration::from_millis(500)).await;
        h.abort();
    }

    /// `pssl:` with a tokio-rustls client: one with a certificate from the
    /// CA gets a session, one with another CA's or none does not.
    #[tokio::test]
    async fn passive_ssl_requires_client_certificates_from_the_ca() {
        let (pki, other) = (TestPki::new("ok"), TestPki::new("other"));
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let (tx, mut rx) = mpsc::channel(16);
        let ssl = SslSource::new(Some(pki.issue("switch")));
        let t = Target::parse(&format!("pssl:{port}:127.0.0.1")).expect("target");
        let h = start(t, "pssl", Arc::default(), tx, &ssl).expect("listen");
        let name = ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
        let connect = |cfg| {
            let name = name.clone();
            async move {
                let s = TcpStream::connect(("127.0.0.1", port))
                    .await
                    .expect("connect");
                let mut c = TlsConnector::from(cfg).connect(name, s).await?;
                // TLS 1.3: the server judges the client's certificate
                // after the client's handshake ends; a read tells.
                c.write_all(b"x").await?;
                let mut b = [0u8; 1];
                tokio::time::timeout(Duration::from_millis(500), c.read(&mut b))
                    .await
                    .unwrap_or(Ok(1))?;
                Ok::<_, io::Error>(c)
            }
        };
        let good = tls::client_config(&pki.issue("client")).expect("client config");
        let mut c = connect(good).await.expect("accepted");
        let ChannelEvent::Connected { id, outbox, .. } = next(&mut rx).await else {
            panic!("expected Connected");
        };
        assert!(matches!(next(&mut rx).await, ChannelEvent::Data { id: i, .. } if i == id));
        assert!(outbox.try_send(b"pong".to_vec()));
        let mut got = [0u8; 4];
        c.read_exact(&mut got).await.expect("read");
        assert_eq!(&got, b"pong");

        let stranger = tls::client_config(&other.issue("client")).expect("client config");
        assert!(
            connect(stranger).await.is_err(),
            "another CA's client accepted"
        );
        let anonymous = crate::daemon::tls::tests::anonymous_client(&pki.ca_path());
        assert!(
            connect(anonymous).await.is_err(),
            "a client without certificate accepted"
        );
        no_connection(&mut rx, Duration::from_millis(500)).await;
        h.abort();
    }

    #[tokio::test]
    async fn unix_socket_replaces_stale_file_but_not_live_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("br0.mgmt");
        std::fs::write(&path, b"stale").expect("write");
        let live = bind_unix(&path).expect("stale file replaced");
        let e = bind_unix(&path).expect_err("in use");
        assert!(e.to_string().contains("in use"), "{e}");
        drop(live);
    }
}
