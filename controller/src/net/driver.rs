//! One switch connection: a tokio task owning the socket and an
//! [`openflow::channel::Channel`], moving bytes and time and nothing else.
//!
//! Everything with a protocol meaning (HELLO, echo, the inactivity probe,
//! matching replies to requests, reassembling multipart replies, collecting
//! a batch's errors up to its barrier) is the channel's; this loop only
//! `select!`s over socket input, the channel's next timer and the commands
//! of the switch's app task, then writes what the channel queued and hands
//! out its events. It is the async twin of `ofswitch ofctl`'s blocking
//! client (`switch/src/ofctl/client.rs`).
//!
//! Why the events go to the app through a bounded queue with `try_send`:
//! the app task awaits replies from this loop, so this loop must never wait
//! on the app (that would deadlock), and a slow app must not stop echo
//! replies. A PACKET_IN that does not fit is dropped (the switch reports
//! the next frame of the flow again); any other event that does not fit
//! closes the connection, since losing a PORT_STATUS would leave the flows
//! wrong, and the switch reconnects and is resynchronised from scratch.
//! Dropped packet-ins are counted and logged once per [`LOG_INTERVAL`].
//!
//! Why writing is one more branch of the `select!` rather than a
//! `write_all` before it: a switch that stops reading (stalled, or busy
//! sending) must not stop this loop from reading what it sends, answering
//! its echoes or timing out. Unwritten bytes wait in a buffer; past
//! `UNWRITTEN_LIMIT` (1 MiB) the app's commands wait too (so the buffer stays
//! bounded and only this switch's app is held back), and a switch that
//! takes nothing for [`WRITE_STALL`] is disconnected.

use bytes::{Buf, BytesMut};
use openflow::channel::{Channel, ChannelConfig, Event, ModError};
use openflow::message::{Body, Header, Message};
use openflow::messages::ErrorMsg;
use openflow::DecodeError;
use std::collections::HashMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// How many queued commands are taken after one before writing: one write
/// per batch rather than one per FLOW_MOD (a send syscall per message was
/// most of the controller's time under a packet-in load, see
/// scripts/bench-controller.sh).
const COMMAND_BATCH: usize = 256;

/// Bytes written to the socket but not yet taken by the switch beyond which
/// the app's commands wait: a switch that reads slowly holds back only its
/// own app task, and the buffer stays bounded.
const UNWRITTEN_LIMIT: usize = 1 << 20;

/// How long queued bytes may wait for a switch that takes none of them
/// before the connection is closed (it reconnects and is resynchronised).
/// Echo probing cannot see this case: a switch that stopped reading may
/// well go on sending.
pub const WRITE_STALL: std::time::Duration = std::time::Duration::from_secs(15);

/// How long the last words of a closing connection (an OFPT_ERROR) may
/// wait for the switch to take them.
const CLOSE_FLUSH: std::time::Duration = std::time::Duration::from_secs(1);

/// At most one log line per switch per interval about dropped packet-ins.
pub const LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// How many commands an app may queue before its sends wait.
pub const COMMAND_QUEUE: usize = 256;
/// How many events may wait for the app before packet-ins are dropped.
pub const EVENT_QUEUE: usize = 1024;

/// Why a request or batch got no answer.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum RequestError {
    #[error("the switch answered with an error: {0:?}")]
    Refused(ErrorMsg),
    #[error("the reply does not decode: {0}")]
    BadReply(DecodeError),
    #[error("no reply in time")]
    TimedOut,
    #[error("the connection is closed")]
    Closed,
    #[error("cannot send: {0}")]
    Send(String),
}

/// What a batch of mods ended with: the errors the switch raised for them
/// (by the xid [`Command::Mods`] gave each, in order of the bodies).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchResult {
    pub xids: Vec<u32>,
    pub errors: Vec<ModError>,
}

/// What the app asks of the connection.
#[derive(Debug)]
pub enum Command {
    /// A request, in one message or (a multipart request too big for one,
    /// each part but the last flagged OFPMPF_REQ_MORE) several sharing one
    /// xid; the reply (every part of a multipart reply) or why not.
    Request {
        parts: Vec<Body>,
        reply: oneshot::Sender<Result<Vec<Message>, RequestError>>,
    },
    /// Mods followed by a barrier; answered when the barrier reply comes.
    Mods {
        bodies: Vec<Body>,
        reply: oneshot::Sender<Result<BatchResult, RequestError>>,
    },
    /// Messages whose answers, if any, are unsolicited, in order: one
    /// command for all of them (a packet-in's two FLOW_MODs cost one
    /// queue operation, not two).
    Send(Vec<Body>),
}

/// What the connection tells the app.
#[derive(Debug)]
pub enum Incoming {
    /// The HELLO exchange succeeded.
    Ready,
    /// A message nobody waits for (PACKET_IN, PORT_STATUS, an error for an
    /// untracked message, ...).
    Message(Message),
    /// A message that does not decode.
    Undecodable { header: Header, error: DecodeError },
}

enum Waiter {
    Request(oneshot::Sender<Result<Vec<Message>, RequestError>>),
    Mods(Vec<u32>, oneshot::Sender<Result<BatchResult, RequestError>>),
}

/// Runs one connection until it closes; returns why, as text for the log.
/// `peer` names the switch in log lines; `events` is the app's queue;
/// `commands` its requests.
pub async fn run<S>(
    stream: S,
    peer: &str,
    config: ChannelConfig,
    events: mpsc::Sender<Incoming>,
    mut commands: mpsc::Receiver<Command>,
) -> String
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let epoch = Instant::now();
    let now = move || epoch.elapsed().as_nanos().try_into().unwrap_or(u64::MAX);
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut ch = Channel::new(config, now());
    let mut waiters: HashMap<u32, Waiter> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut drops = Drops::new(epoch);
    // Bytes the switch has not taken yet, and since when they wait.
    let mut unwritten = BytesMut::new();
    let mut waiting_since = Instant::now();
    let why = loop {
        if unwritten.is_empty() {
            waiting_since = Instant::now();
        }
        unwritten.unsplit(ch.take_output());
        let mut closed = None;
        while let Some(ev) = ch.poll_event() {
            match ev {
                Event::Ready => {
                    if !deliver(&events, Incoming::Ready, &mut drops) {
                        closed = Some("the app is not keeping up".to_string());
                    }
                }
                Event::Reply { xid, messages } => {
                    if let Some(Waiter::Request(tx)) = waiters.remove(&xid) {
                        let _ = tx.send(Ok(messages));
                    }
                }
                Event::Error { xid, error } => {
                    fail(&mut waiters, xid, RequestError::Refused(error))
                }
                Event::BadReply { xid, error } => {
                    fail(&mut waiters, xid, RequestError::BadReply(error))
                }
                Event::TimedOut { xid } => fail(&mut waiters, xid, RequestError::TimedOut),
                Event::Barrier {
                    xid,
                    errors,
                    refused,
                } => match waiters.remove(&xid) {
                    Some(Waiter::Mods(xids, tx)) => {
                        let _ = tx.send(match refused {
                            Some(e) => Err(RequestError::Refused(e)),
                            None => Ok(BatchResult { xids, errors }),
                        });
                    }
                    Some(Waiter::Request(tx)) => {
                        let _ = tx.send(Err(RequestError::Closed));
                    }
                    None => {}
                },
                Event::Unsolicited(m) => {
                    if !deliver(&events, Incoming::Message(m), &mut drops) {
                        closed = Some("the app is not keeping up".to_string());
                    }
                }
                Event::Undecodable { header, error } => {
                    // Dropped if the app is busy: nothing depends on it.
                    let _ = events.try_send(Incoming::Undecodable { header, error });
                }
                Event::Closed(e) => closed = Some(format!("the switch {e}")),
            }
        }
        drops.log_every(LOG_INTERVAL, peer);
        if let Some(why) = closed {
            // What the channel still holds says why (an OFPT_ERROR), if
            // anything; a switch that does not read gets a moment, no more.
            unwritten.unsplit(ch.take_output());
            let _ = tokio::time::timeout(CLOSE_FLUSH, wr.write_all(&unwritten)).await;
            break why;
        }
        let deadline = ch.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => {
                    tokio::time::sleep_until(epoch + std::time::Duration::from_nanos(d)).await
                }
                None => std::future::pending::<()>().await,
            }
        };
        let writing = !unwritten.is_empty();
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) => break "the switch closed the connection".to_string(),
                Ok(n) => ch.receive(&buf[..n], now()),
                Err(e) => break format!("read failed: {e}"),
            },
            r = wr.write(&unwritten), if writing => match r {
                Ok(0) => break "the switch stopped taking bytes".to_string(),
                Ok(n) => {
                    unwritten.advance(n);
                    waiting_since = Instant::now();
                }
                Err(e) => break format!("write failed: {e}"),
            },
            () = tokio::time::sleep_until(waiting_since + WRITE_STALL), if writing => {
                break format!(
                    "the switch took none of {} bytes for {} s",
                    unwritten.len(),
                    WRITE_STALL.as_secs()
                );
            }
            () = sleep => ch.handle_timeout(now()),
            c = commands.recv(), if unwritten.len() < UNWRITTEN_LIMIT => match c {
                Some(c) => {
                    command(&mut ch, &mut waiters, c, now());
                    // Whatever else the app queued goes out in the same write.
                    for _ in 0..COMMAND_BATCH {
                        match commands.try_recv() {
                            Ok(c) => command(&mut ch, &mut waiters, c, now()),
                            Err(_) => break,
                        }
                    }
                }
                // The app is gone: nothing more to do for this switch.
                None => break "the app stopped".to_string(),
            },
        }
    };
    for (_, w) in waiters.drain() {
        match w {
            Waiter::Request(tx) => {
                let _ = tx.send(Err(RequestError::Closed));
            }
            Waiter::Mods(_, tx) => {
                let _ = tx.send(Err(RequestError::Closed));
            }
        }
    }
    drops.log_every(std::time::Duration::ZERO, peer);
    why
}

/// Packet-ins dropped because the app's queue was full: counted, and
/// logged at most once per interval, so a flooding switch costs one log
/// line per [`LOG_INTERVAL`], not one per packet-in.
struct Drops {
    since_log: u64,
    total: u64,
    logged_at: Instant,
}

impl Drops {
    fn new(now: Instant) -> Drops {
        Drops {
            since_log: 0,
            total: 0,
            logged_at: now,
        }
    }

    fn count(&mut self) {
        self.since_log += 1;
        self.total += 1;
    }

    /// Logs the drops since the last line if `interval` has passed.
    fn log_every(&mut self, interval: std::time::Duration, peer: &str) {
        if self.since_log == 0 || self.logged_at.elapsed() < interval {
            return;
        }
        tracing::warn!(
            "switch at {peer}: {} packet-ins dropped in the last {} s ({} in all): the app is not keeping up",
            self.since_log,
            self.logged_at.elapsed().as_secs(),
            self.total
        );
        self.since_log = 0;
        self.logged_at = Instant::now();
    }
}

/// Hands an event to the app without waiting; false if it must close.
fn deliver(events: &mpsc::Sender<Incoming>, ev: Incoming, drops: &mut Drops) -> bool {
    let is_packet_in = matches!(&ev, Incoming::Message(m) if matches!(m.body, Body::PacketIn(_)));
    match events.try_send(ev) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) if is_packet_in => {
            drops.count();
            true
        }
        Err(_) => false,
    }
}

fn fail(waiters: &mut HashMap<u32, Waiter>, xid: u32, e: RequestError) {
    match waiters.remove(&xid) {
        Some(Waiter::Request(tx)) => {
            let _ = tx.send(Err(e));
        }
        Some(Waiter::Mods(_, tx)) => {
            let _ = tx.send(Err(e));
        }
        None => {}
    }
}

fn command(ch: &mut Channel, waiters: &mut HashMap<u32, Waiter>, c: Command, now: u64) {
    match c {
        Command::Request { parts, reply } => match ch.request_parts(parts, now) {
            Ok(xid) => {
                waiters.insert(xid, Waiter::Request(reply));
            }
            Err(e) => {
                let _ = reply.send(Err(RequestError::Send(e.to_string())));
            }
        },
        Command::Mods { bodies, reply } => match ch.send_batch(bodies, now) {
            Ok((barrier, xids)) => {
                waiters.insert(barrier, Waiter::Mods(xids, reply));
            }
            Err(e) => {
                let _ = reply.send(Err(RequestError::Send(e.to_string())));
            }
        },
        Command::Send(bodies) => {
            for body in bodies {
                if let Err(e) = ch.send(body) {
                    tracing::warn!("cannot send a message: {e}");
                }
            }
        }
    }
}
