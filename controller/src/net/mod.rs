//! The controller's network side: where switches come from, and one pair of
//! tasks per connected switch.
//!
//! Switches either connect to us (`--listen tcp:IP:PORT`, `ssl:IP:PORT` or
//! `unix:PATH`, any number at once) or listen themselves (a bridge's
//! passive `ptcp:`, `pssl:` or `punix:` controller target) and we connect
//! out (`--connect tcp:IP:PORT`, `ssl:IP:PORT` or `unix:PATH`),
//! reconnecting with an exponential back-off (1 s doubling to 8 s) for as
//! long as we run.
//!
//! TLS (`ssl:`) is Open vSwitch's: both sides authenticated by one CA
//! ([`TlsIdentity`]: `--private-key`, `--certificate`, `--ca-cert`). As
//! the server we require a client certificate signed by the CA, so only
//! switches of our PKI can take part in the network; as the client we
//! check the switch's certificate against the CA but not its host name
//! (see [`openflow::tls`], the setup shared with the switch, for why). The
//! files are read again at every accepted connection and every connection
//! attempt, like the switch does, so a replaced certificate is used from
//! the next connection on and a broken file is a one-line log error, not a
//! crash; a listener checks them once at startup too, to refuse to start
//! with a typo.
//!
//! Each connection gets its own [`driver`] task (socket and OpenFlow
//! channel) and its own app task ([`crate::app::run_switch`]), joined by
//! bounded queues: one slow or misbehaving switch fills only its own queues
//! and can only close its own connection. A switch that disconnects loses
//! its session; when it comes back it is resynchronised from scratch.
//! One log line per connect, resync and disconnect (`tracing`, RUST_LOG).

pub mod driver;

use crate::app::{run_switch, App, Broadcast};
use openflow::channel::ChannelConfig;
use openflow::log_limit::LogLimiter;
use openflow::tls::{self, TlsFiles};
use rustls::{ClientConfig, ServerConfig};
use std::net::SocketAddr;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Where switches connect to us, or where we connect to a switch:
/// `tcp:IP:PORT`, `ssl:IP:PORT` (IPv6 as `tcp:[::1]:6653`) or `unix:PATH`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Tcp(SocketAddr),
    Ssl(SocketAddr),
    Unix(PathBuf),
}

const TARGET_FORMS: &str = "tcp:IP:PORT, ssl:IP:PORT or unix:PATH";

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        let bad = |why: String| format!("{s:?}: expected {TARGET_FORMS} ({why})");
        let (kind, rest) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected {TARGET_FORMS}"))?;
        let addr = || rest.parse::<SocketAddr>().map_err(|e| bad(e.to_string()));
        match kind {
            "tcp" => Ok(Target::Tcp(addr()?)),
            "ssl" => Ok(Target::Ssl(addr()?)),
            "unix" if rest.is_empty() => Err(bad("missing the socket path".into())),
            "unix" => Ok(Target::Unix(PathBuf::from(rest))),
            _ => Err(bad(format!("unknown kind {kind:?}"))),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(a) => write!(f, "tcp:{a}"),
            Target::Ssl(a) => write!(f, "ssl:{a}"),
            Target::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Target {
    pub fn is_ssl(&self) -> bool {
        matches!(self, Target::Ssl(_))
    }
}

/// The controller's TLS identity for `ssl:` targets: PEM file names, read
/// at each connection (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsIdentity {
    pub private_key: PathBuf,
    pub certificate: PathBuf,
    pub ca_cert: PathBuf,
}

/// What `ssl:` without the three files says.
pub const TLS_NEEDS_FILES: &str = "ssl: needs --private-key, --certificate and --ca-cert";

impl TlsIdentity {
    fn files(&self) -> TlsFiles<'_> {
        TlsFiles {
            private_key: &self.private_key,
            certificate: &self.certificate,
            ca_cert: &self.ca_cert,
        }
    }

    /// To accept switches: a client certificate signed by the CA required.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, String> {
        tls::server_config(self.files())
    }

    /// To connect to a switch's `pssl:`: its certificate checked against
    /// the CA, ours presented.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        tls::client_config(self.files())
    }
}

/// Time allowed for a TLS handshake (a peer that is not TLS at all may
/// never answer).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What every connection task shares: the app, the channel's timers, and
/// the broadcast to every switch.
pub struct Shared<A> {
    pub app: Arc<A>,
    pub config: ChannelConfig,
    pub broadcast: broadcast::Sender<Broadcast>,
    next_conn: AtomicU64,
}

impl<A: App> Shared<A> {
    pub fn new(app: Arc<A>, config: ChannelConfig) -> Arc<Shared<A>> {
        let (broadcast, _) = broadcast::channel(16);
        Arc::new(Shared {
            app,
            config,
            broadcast,
            next_conn: AtomicU64::new(1),
        })
    }

    /// Tells every connected switch's app task.
    pub fn broadcast(&self, b: Broadcast) {
        // No receiver: no switch connected, nothing to tell.
        let _ = self.broadcast.send(b);
    }
}

/// Serves one connected switch, over any byte stream (TCP, TLS, unix; the
/// tests use an in-memory pipe), until it goes away.
pub async fn serve_stream<A, S>(shared: Arc<Shared<A>>, stream: S, peer: String)
where
    A: App,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (ev_tx, ev_rx) = mpsc::channel(driver::EVENT_QUEUE);
    let (cmd_tx, cmd_rx) = mpsc::channel(driver::COMMAND_QUEUE);
    let app = tokio::spawn(run_switch(
        shared.app.clone(),
        conn,
        peer.clone(),
        ev_rx,
        cmd_tx,
        shared.broadcast.subscribe(),
    ));
    let why = driver::run(stream, &peer, shared.config, ev_tx, cmd_rx).await;
    match app.await {
        Ok(Some(dpid)) => tracing::info!("switch {dpid:016x} at {peer} disconnected: {why}"),
        Ok(None) => tracing::info!("connection from {peer} closed before setup: {why}"),
        Err(e) => tracing::error!("switch at {peer}: app task failed: {e}"),
    }
}

/// A bound `--listen` target.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Ssl(TcpListener, Arc<TlsIdentity>),
    Unix(UnixListener),
}

/// Binds `target`; then [`accept`] serves every switch that connects. An
/// `ssl:` target needs `tls`, whose files must be usable now. The error is
/// one line naming the target or the file.
pub async fn bind(target: &Target, tls: Option<&Arc<TlsIdentity>>) -> Result<Listener, String> {
    let failed = |e: std::io::Error| format!("cannot listen on {target}: {e}");
    match target {
        Target::Tcp(a) => TcpListener::bind(a)
            .await
            .map(Listener::Tcp)
            .map_err(failed),
        Target::Ssl(a) => {
            let id = tls.ok_or(TLS_NEEDS_FILES)?;
            id.server_config()
                .map_err(|e| format!("cannot listen on {target}: {e}"))?;
            let l = TcpListener::bind(a).await.map_err(failed)?;
            Ok(Listener::Ssl(l, id.clone()))
        }
        Target::Unix(p) => bind_unix(p).map(Listener::Unix).map_err(failed),
    }
}

/// Binds a unix socket, replacing a stale socket file (one nobody answers
/// on: a controller that died) but never a live socket or another file.
fn bind_unix(path: &Path) -> std::io::Result<UnixListener> {
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    if is_socket && std::os::unix::net::UnixStream::connect(path).is_err() {
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Accepts switches forever, one task each.
pub async fn accept<A: App>(shared: Arc<Shared<A>>, listener: Listener) {
    match listener {
        Listener::Tcp(l) => accept_tcp(shared, l, None).await,
        Listener::Ssl(l, id) => accept_tcp(shared, l, Some(id)).await,
        Listener::Unix(l) => {
            // Clients of a unix socket have no address: name ours.
            let peer = match l
                .local_addr()
                .ok()
                .and_then(|a| a.as_pathname().map(Path::to_path_buf))
            {
                Some(p) => format!("unix:{}", p.display()),
                None => "unix:".to_string(),
            };
            let limit = LogLimiter::default();
            loop {
                match l.accept().await {
                    Ok((stream, _)) => {
                        tokio::spawn(serve_stream(shared.clone(), stream, peer.clone()));
                    }
                    Err(e) => accept_failed(&limit, e).await,
                }
            }
        }
    }
}

/// Out of file descriptors and the like: wait, do not spin, and say so
/// once per [`LogLimiter::INTERVAL`].
async fn accept_failed(limit: &LogLimiter, e: std::io::Error) {
    if let Some(s) = limit.allow() {
        tracing::warn!("accept failed: {e}{s}");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Accepts TCP connections, with a TLS handshake first if `tls`.
async fn accept_tcp<A: App>(shared: Arc<Shared<A>>, l: TcpListener, tls: Option<Arc<TlsIdentity>>) {
    // The last configuration error, so a persistent one is logged once.
    let mut last = String::new();
    let accept_limit = LogLimiter::default();
    // Peers that keep failing their handshake (a switch with the wrong
    // certificate retries every few seconds) cost a line per interval.
    let handshake_limit = Arc::new(LogLimiter::default());
    loop {
        let (stream, peer) = match l.accept().await {
            Ok(c) => c,
            Err(e) => {
                accept_failed(&accept_limit, e).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let peer = peer.to_string();
        let Some(id) = &tls else {
            tokio::spawn(serve_stream(shared.clone(), stream, peer));
            continue;
        };
        let cfg = match id.server_config() {
            Ok(c) => {
                last.clear();
                c
            }
            Err(e) => {
                if e != last {
                    tracing::error!("refusing a TLS connection from {peer}: {e}");
                }
                last = e;
                continue;
            }
        };
        let (shared, limit) = (shared.clone(), handshake_limit.clone());
        tokio::spawn(async move {
            let handshake = TlsAcceptor::from(cfg).accept(stream);
            let why = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(s)) => return serve_stream(shared, s, peer).await,
                Ok(Err(e)) => format!("failed: {e}"),
                Err(_) => "timed out".to_string(),
            };
            if let Some(s) = limit.allow() {
                tracing::warn!("TLS handshake with {peer} {why}{s}");
            }
        });
    }
}

/// Back-off bounds for [`connect`].
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// An open connection to a switch.
enum Conn {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Unix(UnixStream),
}

/// One connection attempt; an `ssl:` one reads the TLS files anew.
async fn open(target: &Target, tls: Option<&TlsIdentity>) -> Result<Conn, String> {
    let tcp = |a: SocketAddr| async move {
        let s = TcpStream::connect(a).await.map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        Ok::<_, String>(s)
    };
    match target {
        Target::Tcp(a) => tcp(*a).await.map(Conn::Tcp),
        Target::Ssl(a) => {
            let cfg = tls.ok_or(TLS_NEEDS_FILES)?.client_config()?;
            let s = tcp(*a).await?;
            let handshake = TlsConnector::from(cfg).connect(tls::server_name(a.ip()), s);
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                Ok(Ok(s)) => Ok(Conn::Tls(Box::new(s))),
                Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
                Err(_) => Err("TLS handshake timed out".into()),
            }
        }
        Target::Unix(p) => UnixStream::connect(p)
            .await
            .map(Conn::Unix)
            .map_err(|e| e.to_string()),
    }
}

/// Connects to a listening switch, serves it, and reconnects after it goes
/// away, forever. The back-off resets after a connection that lasted. An
/// `ssl:` target needs `tls`.
pub async fn connect<A: App>(
    shared: Arc<Shared<A>>,
    target: Target,
    tls: Option<Arc<TlsIdentity>>,
) {
    let mut backoff = BACKOFF_MIN;
    // The last failure, so a persistent one is logged once, not once per
    // attempt.
    let mut last = String::new();
    loop {
        match open(&target, tls.as_deref()).await {
            Ok(conn) => {
                last.clear();
                let t0 = tokio::time::Instant::now();
                let (shared, peer) = (shared.clone(), target.to_string());
                match conn {
                    Conn::Tcp(s) => serve_stream(shared, s, peer).await,
                    Conn::Tls(s) => serve_stream(shared, s, peer).await,
                    Conn::Unix(s) => serve_stream(shared, s, peer).await,
                }
                if t0.elapsed() > BACKOFF_MAX {
                    backoff = BACKOFF_MIN;
                }
            }
            Err(e) => {
                if e != last {
                    tracing::warn!("cannot connect to {target}: {e}; retrying");
                }
                last = e;
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_targets() {
        let t: Target = "tcp:127.0.0.1:6653".parse().expect("valid");
        assert_eq!(t, Target::Tcp(SocketAddr::from(([127, 0, 0, 1], 6653))));
        assert_eq!(t.to_string(), "tcp:127.0.0.1:6653");
        assert!(!t.is_ssl());
        let v6: Target = "tcp:[::1]:6634".parse().expect("IPv6");
        assert_eq!(v6.to_string(), "tcp:[::1]:6634");
    }

    #[test]
    fn ssl_targets() {
        let t: Target = "ssl:127.0.0.1:6653".parse().expect("valid");
        assert_eq!(t, Target::Ssl(SocketAddr::from(([127, 0, 0, 1], 6653))));
        assert_eq!(t.to_string(), "ssl:127.0.0.1:6653");
        assert!(t.is_ssl());
        assert!("ssl:[::1]:6653".parse::<Target>().is_ok());
    }

    #[test]
    fn unix_targets() {
        let t: Target = "unix:/var/lib/ofswitch/br0.mgmt".parse().expect("valid");
        assert_eq!(t, Target::Unix(PathBuf::from("/var/lib/ofswitch/br0.mgmt")));
        assert_eq!(t.to_string(), "unix:/var/lib/ofswitch/br0.mgmt");
        assert!(!t.is_ssl());
        // A relative path is a path too (relative to where we run).
        assert_eq!(
            "unix:br0.sock".parse::<Target>(),
            Ok(Target::Unix(PathBuf::from("br0.sock")))
        );
    }

    #[test]
    fn bad_targets_say_what_is_expected() {
        for (s, why) in [
            ("127.0.0.1:6653", "unknown kind"),
            ("tcp:localhost:6653", "invalid socket address"),
            ("ssl:127.0.0.1", "invalid socket address"),
            ("tcp:", "invalid socket address"),
            ("unix:", "missing the socket path"),
            ("ptcp:6653", "unknown kind"),
            ("punix:/tmp/x", "unknown kind"),
            ("nothing", "expected"),
        ] {
            let e = s.parse::<Target>().expect_err(s);
            assert!(e.contains(TARGET_FORMS), "{s}: {e}");
            assert!(e.contains(why), "{s}: {e} lacks {why:?}");
        }
    }

    #[tokio::test]
    async fn ssl_listen_without_or_with_broken_files_is_refused() {
        let t: Target = "ssl:127.0.0.1:0".parse().expect("valid");
        let e = bind(&t, None).await.map(|_| ()).expect_err("no files");
        assert_eq!(e, TLS_NEEDS_FILES);
        let dir = std::env::temp_dir().join(format!("ofc-tls-{}", std::process::id()));
        let id = Arc::new(TlsIdentity {
            private_key: dir.join("missing-key.pem"),
            certificate: dir.join("cert.pem"),
            ca_cert: dir.join("ca.pem"),
        });
        let e = bind(&t, Some(&id)).await.map(|_| ()).expect_err("missing");
        assert!(e.contains("missing-key.pem"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[tokio::test]
    async fn unix_listen_replaces_a_stale_socket_only() {
        let dir = std::env::temp_dir().join(format!("ofc-unix-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let sock = dir.join("c.sock");
        let t = Target::Unix(sock.clone());
        // A stale socket file (its listener gone) is replaced.
        drop(std::os::unix::net::UnixListener::bind(&sock).expect("stale socket"));
        let live = bind(&t, None).await.expect("bind over stale");
        // A live one is not.
        let e = bind(&t, None).await.map(|_| ()).expect_err("in use");
        assert!(e.contains("cannot listen on unix:"), "{e}");
        drop(live);
        // Nor is a file that is no socket.
        let file = dir.join("plain");
        std::fs::write(&file, "data").expect("write");
        assert!(bind(&Target::Unix(file.clone()), None).await.is_err());
        assert_eq!(std::fs::read_to_string(&file).ok().as_deref(), Some("data"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
