//! Forwarding threads: the daemon's datapath runs on a fixed number of
//! dedicated OS threads (`ofswitch daemon --forwarding-threads N`), not on
//! the tokio runtime the control plane uses.
//!
//! Why: a frame handled by an async task costs a reactor wakeup, a task
//! wakeup and often a hop between runtime threads; on a busy port that
//! was a third of the forwarding CPU. Here each thread owns a set of
//! receive sources (an `AF_PACKET` socket, a TAP, a tunnel socket), waits
//! for them with one level-triggered `epoll`, and drains each ready source
//! in batches (a shared ring or `recvmmsg` where the source supports it)
//! before it waits again. Under load a thread never sleeps: it goes round
//! its ready sources until they are empty.
//!
//! Sources are spread over the threads by count (the least loaded thread
//! takes the next one). Adding and removing a source goes through a
//! command queue and an `eventfd`; removal waits for the thread to let go
//! of the source, so that the device (a TAP, say) is closed when
//! [`RxRegistration`] is dropped and can be created again at once.

use crate::log_limit::LogLimiter;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// Most frames taken from one source before the thread looks at the
/// others (fairness between ports).
pub const BUDGET: usize = 64;

/// The epoll token of a thread's own wakeup `eventfd`.
const WAKE: u64 = u64::MAX;

/// How long a source that keeps failing is left alone.
const REST: Duration = Duration::from_millis(100);

/// Something frames arrive on, run by a forwarding thread.
pub trait RxSource: Send {
    /// The descriptor to wait on (readable means frames are waiting).
    fn fd(&self) -> RawFd;
    /// For log messages.
    fn name(&self) -> &str;
    /// Receives and forwards what is waiting, at most `budget` frames,
    /// without blocking; returns how many it handled (fewer than `budget`
    /// means the source is empty). `scratch` is the thread's receive
    /// memory, shared by all its sources.
    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize>;
}

/// Receive memory a forwarding thread lends its sources: one batch of
/// buffers large enough for GSO frames.
pub struct Scratch {
    pub batch: super::afpacket::RecvBatch,
    pub buf: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Self {
        Scratch {
            batch: super::afpacket::RecvBatch::new(),
            buf: vec![0; 65_536 + 64],
        }
    }
}

enum Cmd {
    Add(u64, Box<dyn RxSource>),
    /// Remove the source; answer when it is dropped.
    Remove(u64, mpsc::Sender<()>),
}

/// What the daemon and one thread share.
struct Shared {
    cmds: Mutex<Vec<Cmd>>,
    wake: OwnedFd,
    /// Sources on this thread (for placement).
    load: AtomicUsize,
}

impl Shared {
    fn send(&self, cmd: Cmd) {
        if let Ok(mut q) = self.cmds.lock() {
            q.push(cmd);
        }
        let one: u64 = 1;
        // SAFETY: write(2) of 8 bytes from a live u64 to our eventfd.
        unsafe {
            libc::write(
                self.wake.as_raw_fd(),
                (&one as *const u64).cast(),
                std::mem::size_of::<u64>(),
            );
        }
    }
}

/// The daemon's forwarding threads.
pub struct ForwardingThreads {
    threads: Vec<Arc<Shared>>,
    next_token: AtomicU64,
}

impl std::fmt::Debug for ForwardingThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardingThreads")
            .field("threads", &self.threads.len())
            .finish()
    }
}

/// A source running on a thread; dropping it stops and drops the source.
pub struct RxRegistration {
    thread: Arc<Shared>,
    token: u64,
}

impl Drop for RxRegistration {
    fn drop(&mut self) {
        let (tx, rx) = mpsc::channel();
        self.thread.send(Cmd::Remove(self.token, tx));
        // The thread answers within one pass of its loop; the bound only
        // guards against a thread that died.
        let _ = rx.recv_timeout(Duration::from_secs(2));
    }
}

fn check(rc: libc::c_int, what: &str) -> io::Result<libc::c_int> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(rc)
}

impl ForwardingThreads {
    /// Starts `n` (at least one) forwarding threads. After a frame, a
    /// thread keeps polling for `busy_poll` before it sleeps in `epoll_wait`
    /// (zero: it sleeps at once): less wakeup latency for the next frame,
    /// for a core that spins while traffic flows.
    pub fn start(n: usize, busy_poll: Duration) -> io::Result<ForwardingThreads> {
        super::sys::keep_freed_memory();
        let mut threads = Vec::new();
        for i in 0..n.max(1) {
            // SAFETY: plain epoll_create1(2) and eventfd(2), checked and
            // owned at once.
            let ep = check(
                unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) },
                "epoll_create1",
            )?;
            let ep = unsafe { OwnedFd::from_raw_fd(ep) };
            let wake = check(
                unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) },
                "eventfd",
            )?;
            let wake = unsafe { OwnedFd::from_raw_fd(wake) };
            epoll_add(&ep, wake.as_raw_fd(), WAKE)?;
            let shared = Arc::new(Shared {
                cmds: Mutex::new(Vec::new()),
                wake,
                load: AtomicUsize::new(0),
            });
            let s = shared.clone();
            std::thread::Builder::new()
                .name(format!("forward{i}"))
                .spawn(move || run(s, ep, busy_poll))?;
            threads.push(shared);
        }
        Ok(ForwardingThreads {
            threads,
            next_token: AtomicU64::new(0),
        })
    }

    pub fn len(&self) -> usize {
        self.threads.len()
    }

    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Runs `source` on the least loaded thread until the registration is
    /// dropped.
    pub fn add(&self, source: Box<dyn RxSource>) -> RxRegistration {
        let thread = self
            .threads
            .iter()
            .min_by_key(|t| t.load.load(Relaxed))
            .cloned()
            .unwrap_or_else(|| self.threads[0].clone());
        let token = self.next_token.fetch_add(1, Relaxed);
        thread.load.fetch_add(1, Relaxed);
        thread.send(Cmd::Add(token, source));
        RxRegistration { thread, token }
    }
}

fn epoll_add(ep: &OwnedFd, fd: RawFd, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: epoll_ctl(2) with a live event struct.
    check(
        unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) },
        "epoll_ctl(ADD)",
    )
    .map(|_| ())
}

fn epoll_del(ep: &OwnedFd, fd: RawFd) {
    let mut ev = libc::epoll_event { events: 0, u64: 0 };
    // SAFETY: epoll_ctl(2); a descriptor not registered just fails.
    unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, &mut ev) };
}

/// A source on a thread, with its error state.
struct Slot {
    source: Box<dyn RxSource>,
    /// Out of the epoll set until then, after an error.
    resting_until: Option<Instant>,
    /// A source that keeps failing (every [`REST`]) warns once per
    /// interval.
    warnings: LogLimiter,
}

impl Slot {
    fn new(source: Box<dyn RxSource>) -> Slot {
        Slot {
            source,
            resting_until: None,
            warnings: LogLimiter::default(),
        }
    }

    /// Logs a receive error. An interface that went away (ENETDOWN,
    /// ENODEV, ENXIO) is the bridge's news: its link monitor reports it and
    /// closes this source within a tick; here it is only debug.
    fn receive_failed(&self, e: &io::Error) {
        let name = self.source.name();
        let gone = matches!(
            e.raw_os_error(),
            Some(libc::ENETDOWN | libc::ENODEV | libc::ENXIO)
        );
        if gone {
            tracing::debug!("{name}: receive failed: {e}");
        } else if let Some(suppressed) = self.warnings.allow() {
            tracing::warn!("{name}: receive failed: {e}{suppressed}");
        }
    }

    /// Logs a failure to put the source (back) in the epoll set.
    fn epoll_failed(&self, e: &io::Error) {
        if let Some(suppressed) = self.warnings.allow() {
            tracing::warn!("{}: {e}{suppressed}", self.source.name());
        }
    }
}

/// One forwarding thread's loop.
fn run(shared: Arc<Shared>, ep: OwnedFd, spin: Duration) {
    let mut slots: HashMap<u64, Slot> = HashMap::new();
    let mut scratch = Scratch::default();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 64];
    let mut timeout: libc::c_int = -1;
    let mut spin_until = Instant::now();
    let wait_failed = LogLimiter::default();
    super::txbatch::enable();
    loop {
        // SAFETY: epoll_wait(2) into a live array of the length given.
        let n = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                timeout,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                if let Some(suppressed) = wait_failed.allow() {
                    tracing::error!("forwarding thread: epoll_wait: {e}{suppressed}");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            continue;
        }
        let mut busy = false;
        let mut got = false;
        for ev in &events[..n as usize] {
            let token = ev.u64;
            if token == WAKE {
                commands(&shared, &ep, &mut slots);
                continue;
            }
            let Some(slot) = slots.get_mut(&token) else {
                continue;
            };
            let hangup = ev.events & (libc::EPOLLHUP | libc::EPOLLERR) as u32 != 0;
            let result = match slot.source.receive(&mut scratch, BUDGET) {
                // Readable with an error or hangup, yet nothing to read:
                // rest rather than spin.
                Ok(0) if hangup => Err(super::sys::take_socket_error(slot.source.fd())
                    // A hangup with no error of its own: the device went
                    // away (a port without a ring sees it this way), which
                    // is the link monitor's news, not a receive failure.
                    .unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENODEV))),
                r => r,
            };
            match result {
                Ok(k) => {
                    busy |= k >= BUDGET;
                    got |= k > 0;
                }
                Err(e) => {
                    slot.receive_failed(&e);
                    epoll_del(&ep, slot.source.fd());
                    slot.resting_until = Some(Instant::now() + REST);
                }
            }
        }
        super::txbatch::flush();
        // Sources back from a rest.
        let now = Instant::now();
        let mut next_wake: Option<Instant> = None;
        for (token, slot) in slots.iter_mut() {
            if let Some(t) = slot.resting_until {
                if t <= now {
                    slot.resting_until = None;
                    if let Err(e) = epoll_add(&ep, slot.source.fd(), *token) {
                        slot.epoll_failed(&e);
                        slot.resting_until = Some(now + REST);
                    }
                } else {
                    next_wake = Some(next_wake.map_or(t, |w: Instant| w.min(t)));
                }
            }
        }
        if got {
            spin_until = now + spin;
        }
        timeout = if busy || now < spin_until {
            0
        } else {
            next_wake.map_or(-1, |t| {
                i32::try_from(t.saturating_duration_since(now).as_millis() + 1).unwrap_or(100)
            })
        };
    }
}

fn commands(shared: &Shared, ep: &OwnedFd, slots: &mut HashMap<u64, Slot>) {
    let mut count = [0u8; 8];
    // SAFETY: read(2) of the eventfd counter into a live 8-byte buffer.
    unsafe { libc::read(shared.wake.as_raw_fd(), count.as_mut_ptr().cast(), 8) };
    let cmds = match shared.cmds.lock() {
        Ok(mut q) => std::mem::take(&mut *q),
        Err(_) => return,
    };
    for cmd in cmds {
        match cmd {
            Cmd::Add(token, source) => {
                let mut slot = Slot::new(source);
                if let Err(e) = epoll_add(ep, slot.source.fd(), token) {
                    slot.epoll_failed(&e);
                    slot.resting_until = Some(Instant::now() + REST);
                }
                slots.insert(token, slot);
            }
            Cmd::Remove(token, done) => {
                if let Some(slot) = slots.remove(&token) {
                    if slot.resting_until.is_none() {
                        epoll_del(ep, slot.source.fd());
                    }
                    shared.load.fetch_sub(1, Relaxed);
                    drop(slot);
                }
                let _ = done.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A pipe as a source: counts the bytes it reads.
    struct PipeSource {
        rd: OwnedFd,
        seen: Arc<AtomicUsize>,
        _dropped: DropFlag,
    }

    struct DropFlag(Arc<AtomicUsize>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }

    impl RxSource for PipeSource {
        fn fd(&self) -> RawFd {
            self.rd.as_raw_fd()
        }
        fn name(&self) -> &str {
            "pipe"
        }
        fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
            let mut k = 0;
            while k < budget {
                // SAFETY: read(2) into the live scratch buffer.
                let n = unsafe {
                    libc::read(
                        self.rd.as_raw_fd(),
                        scratch.buf.as_mut_ptr().cast(),
                        scratch.buf.len(),
                    )
                };
                if n <= 0 {
                    break;
                }
                self.seen.fetch_add(n as usize, Relaxed);
                k += 1;
            }
            Ok(k)
        }
    }

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2(2) into a live array; both ends owned at once.
        let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        assert_eq!(rc, 0);
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn write(fd: &OwnedFd, b: &[u8]) {
        // SAFETY: write(2) from a live slice.
        let n = unsafe { libc::write(fd.as_raw_fd(), b.as_ptr().cast(), b.len()) };
        assert_eq!(n as usize, b.len());
    }

    fn wait(what: &str, f: impl Fn() -> bool) {
        let t0 = Instant::now();
        while !f() {
            assert!(t0.elapsed() < Duration::from_secs(5), "{what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn sources_are_spread_run_and_dropped_on_removal() {
        let threads = ForwardingThreads::start(2, Duration::ZERO).expect("threads");
        assert_eq!(threads.len(), 2);
        let seen = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let mut regs = Vec::new();
        let mut writers = Vec::new();
        for _ in 0..4 {
            let (rd, wr) = pipe();
            regs.push(threads.add(Box::new(PipeSource {
                rd,
                seen: seen.clone(),
                _dropped: DropFlag(dropped.clone()),
            })));
            writers.push(wr);
        }
        let loads: Vec<usize> = threads
            .threads
            .iter()
            .map(|t| t.load.load(Relaxed))
            .collect();
        assert_eq!(loads, vec![2, 2], "spread by count");
        for w in &writers {
            write(w, b"hello");
        }
        wait("all four read", || seen.load(Relaxed) == 20);
        // Removal is synchronous: the source is gone when drop returns.
        regs.pop();
        assert_eq!(dropped.load(Relaxed), 1);
        drop(regs);
        assert_eq!(dropped.load(Relaxed), 4);
        assert_eq!(
            threads
                .threads
                .iter()
                .map(|t| t.load.load(Relaxed))
                .sum::<usize>(),
            0
        );
    }
}
