//! The controller's network side: where switches come from, and one pair of
//! tasks per connected switch.
//!
//! Switches either connect to us (`--listen tcp:IP:PORT`, any number at
//! once) or listen themselves (a bridge's passive `ptcp:` controller
//! target) and we connect out (`--connect tcp:IP:PORT`), reconnecting with
//! an exponential back-off (1 s doubling to 8 s) for as long as we run.
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
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};

/// A `tcp:IP:PORT` address (IPv6 as `tcp:[::1]:6653`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target(pub SocketAddr);

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Target, String> {
        let rest = s
            .strip_prefix("tcp:")
            .ok_or_else(|| format!("{s:?}: expected tcp:IP:PORT"))?;
        rest.parse::<SocketAddr>()
            .map(Target)
            .map_err(|e| format!("{s:?}: expected tcp:IP:PORT ({e})"))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "tcp:{}", self.0)
    }
}

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

/// Serves one connected switch until it goes away.
pub async fn serve<A: App>(shared: Arc<Shared<A>>, stream: TcpStream, peer: String) {
    let _ = stream.set_nodelay(true);
    serve_stream(shared, stream, peer).await;
}

/// [`serve`] over any byte stream (the tests use an in-memory pipe).
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

/// Binds `target`; then [`accept`] serves every switch that connects.
pub async fn bind(target: Target) -> std::io::Result<TcpListener> {
    TcpListener::bind(target.0).await
}

/// Accepts switches forever, one task each.
pub async fn accept<A: App>(shared: Arc<Shared<A>>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(serve(shared.clone(), stream, peer.to_string()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait, do not spin.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Back-off bounds for [`connect`].
pub const BACKOFF_MIN: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// Connects to a listening switch, serves it, and reconnects after it goes
/// away, forever. The back-off resets after a connection that lasted.
pub async fn connect<A: App>(shared: Arc<Shared<A>>, target: Target) {
    let mut backoff = BACKOFF_MIN;
    let mut failing = false;
    loop {
        match TcpStream::connect(target.0).await {
            Ok(stream) => {
                failing = false;
                let t0 = tokio::time::Instant::now();
                serve(shared.clone(), stream, target.to_string()).await;
                if t0.elapsed() > BACKOFF_MAX {
                    backoff = BACKOFF_MIN;
                }
            }
            Err(e) => {
                // One line when it starts failing, not one per attempt.
                if !failing {
                    tracing::warn!("cannot connect to {target}: {e}; retrying");
                    failing = true;
                }
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
    fn targets() {
        let t: Target = "tcp:127.0.0.1:6653".parse().expect("valid");
        assert_eq!(t.0.port(), 6653);
        assert_eq!(t.to_string(), "tcp:127.0.0.1:6653");
        assert!("tcp:[::1]:6634".parse::<Target>().is_ok());
        assert!("127.0.0.1:6653".parse::<Target>().is_err());
        assert!("tcp:localhost:6653".parse::<Target>().is_err());
        assert!("ssl:127.0.0.1:6653".parse::<Target>().is_err());
    }
}
