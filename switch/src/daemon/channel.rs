//! OpenFlow channels as byte pipes between sockets and a bridge's control
//! task.
//!
//! Each connection gets a reader task and a writer task. The reader sends
//! what arrives, as raw bytes, to the bridge (`ChannelEvent::Data`); the
//! bridge's sans-IO agent frames and answers it, and queues replies on the
//! connection's outbox, which the writer drains. Nothing here knows
//! OpenFlow: that keeps the protocol logic testable without sockets, and
//! the sockets swappable (TCP, unix, TLS later).
//!
//! Active targets (`tcp:`) reconnect by themselves with exponential
//! back-off (1 s, 2 s, 4 s, capped at 8 s, as Open vSwitch); passive ones
//! (`ptcp:`, `punix:`) accept any number of connections.

use super::target::Target;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Identifies one connection for its bridge's lifetime.
pub type ConnId = u64;

/// Messages a connection's outbox holds before the bridge sees it as
/// stuck (a controller that stopped reading).
const OUTBOX: usize = 4096;
/// Largest back-off between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(8);

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
        outbox: mpsc::Sender<Vec<u8>>,
    },
    Data {
        id: ConnId,
        bytes: Vec<u8>,
    },
    Closed {
        id: ConnId,
    },
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
    let (outbox, mut rx) = mpsc::channel::<Vec<u8>>(OUTBOX);
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
            if wr.write_all(&bytes).await.is_err() {
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
/// when the bridge drops their outbox).
pub fn start(
    target: Target,
    label: &str,
    ids: Arc<ConnIds>,
    events: mpsc::Sender<ChannelEvent>,
) -> io::Result<JoinHandle<()>> {
    // Connections report the target as configured (`label`), which may be
    // shorter than the canonical form (`tcp:IP` without the port).
    let name = label.to_string();
    match target {
        Target::Tcp(addr) => Ok(tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr)).await
                {
                    Ok(Ok(s)) => {
                        let _ = s.set_nodelay(true);
                        backoff = Duration::from_secs(1);
                        tracing::info!("{name}: connected");
                        serve(
                            s,
                            ids.next(),
                            addr.to_string(),
                            name.clone(),
                            events.clone(),
                        )
                        .await;
                        tracing::info!("{name}: connection closed");
                    }
                    Ok(Err(e)) => tracing::debug!("{name}: connect failed: {e}"),
                    Err(_) => tracing::debug!("{name}: connect timed out"),
                }
                if events.is_closed() {
                    return;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })),
        Target::Ssl(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{name}: ssl targets are not supported yet"),
        )),
        Target::Ptcp(addr) => {
            let std_listener = std::net::TcpListener::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
            std_listener.set_nonblocking(true)?;
            let listener = TcpListener::from_std(std_listener)?;
            Ok(tokio::spawn(async move {
                loop {
                    match listener.accept().await {
                        Ok((s, peer)) => {
                            let _ = s.set_nodelay(true);
                            tokio::spawn(serve(
                                s,
                                ids.next(),
                                peer.to_string(),
                                name.clone(),
                                events.clone(),
                            ));
                        }
                        Err(e) => {
                            tracing::warn!("{name}: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }))
        }
        Target::Punix(path) => {
            let listener =
                bind_unix(&path).map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
            Ok(tokio::spawn(async move {
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
                            tracing::warn!("{name}: accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }))
        }
    }
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
        let h = start(t, "ptcp", Arc::default(), tx).expect("listen");
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
        outbox.send(b"world".to_vec()).await.expect("send");
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
        let h = start(Target::Tcp(addr), "tcp", Arc::default(), tx).expect("start");
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
