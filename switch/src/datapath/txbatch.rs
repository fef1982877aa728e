//! Batched transmission for the forwarding threads: frames for `AF_PACKET`
//! ports and datagrams for tunnel sockets are queued while a thread works
//! through a receive batch and sent with one `sendmmsg(2)` per descriptor
//! when it has finished ([`flush`]).
//!
//! Frames are copied into one per-thread arena (with their
//! `virtio_net_hdr` in front), so the pipeline's buffers are free at once;
//! a tunnel writes its encapsulated segments straight into the arena
//! ([`queue_datagrams`]). A datagram message carries its destination and,
//! when it holds several datagrams of one size, a `UDP_SEGMENT` size: the
//! kernel cuts it (UDP GSO), one send for a whole TSO frame, or for a
//! train of equal datagrams from successive frames to one peer. A frame the
//! kernel refuses at flush time is counted in the port's `tx_dropped`,
//! like a refused immediate send. Threads that did not call [`enable`]
//! (the control plane sending a PACKET_OUT, tests) send at once.

use crate::pipeline::ports::PortCounters;
use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Frames queued for one thread before a flush is forced.
const MAX_QUEUED: usize = 256;
/// Arena bytes before a flush is forced (GSO frames are large).
const MAX_ARENA: usize = 1 << 20;
/// Frames per sendmmsg call.
const CHUNK: usize = 64;
/// Bytes in one UDP GSO send: the UDP length field's 65,535 less the UDP
/// and IPv6 headers, rounded down.
const MAX_GSO_BYTES: usize = 65_000;
/// Datagrams in one UDP GSO send (the kernel's `UDP_MAX_SEGMENTS`).
const MAX_GSO_SEGMENTS: usize = 64;
/// `UDP_SEGMENT`, from `linux/udp.h`.
const UDP_SEGMENT: libc::c_int = 103;

/// How long a destination's [`GsoLimit`] holds before UDP GSO is tried
/// again for all sizes (a route whose MTU was raised gets it back).
const GSO_LIMIT_HOLDS: Duration = Duration::from_secs(10);

/// Where a datagram goes, in the socket's own address family, whether
/// the kernel took UDP GSO on that socket (cleared when it refuses it, as
/// it does on a route whose device has no checksum offload), and the
/// largest datagram it takes in a GSO send to this destination.
#[derive(Clone)]
pub struct Dest {
    addr: libc::sockaddr_storage,
    len: libc::socklen_t,
    gso_ok: Arc<AtomicBool>,
    limit: Arc<GsoLimit>,
}

/// The largest datagram a UDP GSO send to one destination may carry.
///
/// Why: the kernel refuses a GSO send whose datagrams are larger than the
/// route's MTU (it would have to fragment each), while it fragments such
/// a datagram sent alone. Hosts at MTU 1500 over a 1500-byte underlay send
/// nothing but such datagrams into a VXLAN tunnel. Without a memory of the
/// refusal every TSO frame cost a failed send, then one `sendmsg` per
/// datagram; with it the datagrams go one to a message from the start,
/// batched in one `sendmmsg` like everything else.
struct GsoLimit {
    /// Datagrams up to this size may share a message; `u16::MAX`: any.
    max: AtomicU16,
    /// When `max` was lowered, in milliseconds of [`clock_ms`].
    at_ms: AtomicU64,
}

impl Default for GsoLimit {
    fn default() -> Self {
        GsoLimit {
            max: AtomicU16::new(u16::MAX),
            at_ms: AtomicU64::new(0),
        }
    }
}

impl GsoLimit {
    /// Whether datagrams of `size` bytes may share a GSO message.
    fn allows(&self, size: usize) -> bool {
        let max = self.max.load(Relaxed);
        if size <= usize::from(max) {
            return true;
        }
        if clock_ms().saturating_sub(self.at_ms.load(Relaxed)) >= GSO_LIMIT_HOLDS.as_millis() as u64
        {
            // Held long enough: try every size again.
            self.max.store(u16::MAX, Relaxed);
            return true;
        }
        false
    }

    /// A GSO send of `size`-byte datagrams was refused for size.
    fn refused(&self, size: u16) {
        let below = size.saturating_sub(1);
        if self.max.fetch_min(below, Relaxed) > below {
            self.at_ms.store(clock_ms(), Relaxed);
        }
    }
}

/// Milliseconds since this process first asked: a clock for [`GsoLimit`].
fn clock_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

impl Dest {
    pub fn new(to: SocketAddr, gso_ok: Arc<AtomicBool>) -> Dest {
        // SAFETY: an all-zero sockaddr_storage is valid to fill in.
        let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let len = match to {
            SocketAddr::V4(v4) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: v4.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(v4.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_in fits in sockaddr_storage.
                unsafe { std::ptr::write((&mut addr as *mut libc::sockaddr_storage).cast(), sin) };
                std::mem::size_of::<libc::sockaddr_in>()
            }
            SocketAddr::V6(v6) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: v6.port().to_be(),
                    sin6_flowinfo: v6.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: v6.ip().octets(),
                    },
                    sin6_scope_id: v6.scope_id(),
                };
                // SAFETY: sockaddr_in6 fits in sockaddr_storage.
                unsafe { std::ptr::write((&mut addr as *mut libc::sockaddr_storage).cast(), sin6) };
                std::mem::size_of::<libc::sockaddr_in6>()
            }
        };
        Dest {
            addr,
            len: len as libc::socklen_t,
            gso_ok,
            limit: Arc::default(),
        }
    }

    /// Whether `o` names the same address.
    fn same_place(&self, o: &Dest) -> bool {
        let bytes = |d: &Dest| {
            // SAFETY: the first `len` bytes of the sockaddr_storage were
            // written by `new` (and the rest zeroed).
            unsafe {
                std::slice::from_raw_parts(
                    (&d.addr as *const libc::sockaddr_storage).cast::<u8>(),
                    d.len as usize,
                )
            }
        };
        self.len == o.len && bytes(self) == bytes(o)
    }

    /// Whether sends of `size`-byte datagrams may ask for UDP GSO.
    fn gso(&self, size: usize) -> bool {
        self.gso_ok.load(Relaxed) && self.limit.allows(size)
    }

    /// A GSO send of `segment`-byte datagrams failed with `e`: without
    /// checksum offload on the route (EIO) no GSO send will pass, so the
    /// socket stops asking; datagrams too large for the route's MTU
    /// (EMSGSIZE, or EINVAL before Linux 6) go one to a message for a
    /// while ([`GsoLimit`]).
    fn refused(&self, e: &io::Error, segment: u16) {
        match e.raw_os_error() {
            Some(libc::EIO) => {
                if self.gso_ok.swap(false, Relaxed) {
                    tracing::info!(
                        "UDP GSO refused on this route ({e}); sending datagrams one by one"
                    );
                }
            }
            _ => self.limit.refused(segment),
        }
    }
}

struct Entry {
    fd: RawFd,
    /// The bytes: `arena[start..start + len]`, or, for a frame handed
    /// over whole ([`queue_frame`]), `hdr` then `frame`.
    start: usize,
    len: usize,
    owned: Option<(Box<[u8; super::vnet::VNET_HDR_LEN]>, Vec<u8>)>,
    counters: Arc<PortCounters>,
    /// For a datagram socket: the destination, and the size of each
    /// datagram in the message when it holds several (0: one).
    dest: Option<Box<Dest>>,
    segment: u16,
}

impl Entry {
    /// Takes the next datagram (`at..at + len` of the arena, right after
    /// this entry's bytes) into this message, when both go to the same
    /// place and it has this message's datagram size: one UDP GSO send
    /// for a train of equal datagrams from many frames (small frames into
    /// a tunnel), instead of one message each. The receiving socket with
    /// `UDP_GRO` gets the train whole, as it does a cut TSO frame.
    fn join(&mut self, fd: RawFd, dest: &Dest, at: usize, len: usize) -> bool {
        let Some(d) = &self.dest else {
            return false;
        };
        let size = match self.segment {
            0 => self.len,
            s => usize::from(s),
        };
        let fits = self.fd == fd
            && self.owned.is_none()
            && self.start + self.len == at
            && len == size
            && size <= usize::from(u16::MAX)
            && self.len.is_multiple_of(size)
            && self.len + len <= MAX_GSO_BYTES
            && (self.len + len) / size <= MAX_GSO_SEGMENTS
            && d.same_place(dest);
        if fits {
            self.len += len;
            self.segment = size as u16;
        }
        fits
    }
}

#[derive(Default)]
struct Batch {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    /// Bytes of the frames queued whole (not in the arena).
    owned_bytes: usize,
}

thread_local! {
    static BATCH: RefCell<Option<Batch>> = const { RefCell::new(None) };
}

/// Makes this thread batch its sends until it exits.
pub fn enable() {
    BATCH.with(|b| *b.borrow_mut() = Some(Batch::default()));
}

/// Queues `hdr` + `frame` for `fd` when this thread batches; false when it
/// does not (the caller sends at once). `flip`: where in `frame` a
/// complemented partial checksum is turned back (see
/// [`super::vnet::tx_offload`]), in the queued copy.
pub fn queue(
    fd: RawFd,
    hdr: &[u8],
    frame: &[u8],
    flip: Option<usize>,
    counters: &Arc<PortCounters>,
) -> bool {
    let full = BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let batch = b.as_mut()?;
        let start = batch.arena.len();
        batch.arena.extend_from_slice(hdr);
        batch.arena.extend_from_slice(frame);
        super::vnet::flip_checksum(&mut batch.arena[start + hdr.len()..], flip);
        batch.entries.push(Entry {
            fd,
            start,
            len: hdr.len() + frame.len(),
            owned: None,
            counters: counters.clone(),
            dest: None,
            segment: 0,
        });
        Some(batch.is_full())
    });
    match full {
        None => false,
        Some(full) => {
            if full {
                flush();
            }
            true
        }
    }
}

/// Queues `hdr` + `frame` for `fd` as [`queue`] does, taking the frame
/// itself rather than a copy: it leaves from where the pipeline left it
/// (a TSO frame of 64 KiB is not copied once in user space). `flip` is
/// applied in place. Gives the frame back when this thread does not batch.
pub fn queue_frame(
    fd: RawFd,
    hdr: &[u8; super::vnet::VNET_HDR_LEN],
    mut frame: Vec<u8>,
    flip: Option<usize>,
    counters: &Arc<PortCounters>,
) -> Result<(), Vec<u8>> {
    let full = BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let Some(batch) = b.as_mut() else {
            return Err(std::mem::take(&mut frame));
        };
        super::vnet::flip_checksum(&mut frame, flip);
        batch.owned_bytes += frame.len();
        batch.entries.push(Entry {
            fd,
            start: 0,
            len: hdr.len() + frame.len(),
            owned: Some((Box::new(*hdr), std::mem::take(&mut frame))),
            counters: counters.clone(),
            dest: None,
            segment: 0,
        });
        Ok(batch.is_full())
    })?;
    if full {
        flush();
    }
    Ok(())
}

/// Sends datagrams to `dest` on UDP socket `fd`: `fill` appends them to a
/// buffer back to back and returns the size of each but the last (which
/// may be shorter), e.g. the segments of a TSO frame, each encapsulated.
/// On a forwarding thread they are queued, several to a message with
/// `UDP_SEGMENT`; elsewhere they are sent at once.
pub fn queue_datagrams(
    fd: RawFd,
    dest: &Dest,
    counters: &Arc<PortCounters>,
    fill: impl FnOnce(&mut Vec<u8>) -> usize,
) -> io::Result<()> {
    let mut fill = Some(fill);
    let full = BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let batch = b.as_mut()?;
        let start = batch.arena.len();
        let stride = (fill.take()?)(&mut batch.arena);
        let end = batch.arena.len();
        for (at, len, segment) in messages(start, end, stride, |size| dest.gso(size)) {
            if segment == 0 && dest.gso(len) {
                if let Some(last) = batch.entries.last_mut() {
                    if last.join(fd, dest, at, len) {
                        continue;
                    }
                }
            }
            batch.entries.push(Entry {
                fd,
                start: at,
                len,
                owned: None,
                counters: counters.clone(),
                dest: Some(Box::new(dest.clone())),
                segment,
            });
        }
        Some(batch.is_full())
    });
    match (full, fill) {
        (Some(full), _) => {
            if full {
                flush();
            }
            Ok(())
        }
        (None, Some(fill)) => {
            let mut buf = Vec::new();
            let stride = fill(&mut buf);
            for (at, len, segment) in messages(0, buf.len(), stride, |size| dest.gso(size)) {
                send_one(fd, &buf[at..at + len], dest, segment)?;
            }
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// How `start..end`, datagrams of `stride` bytes (the last maybe
/// shorter), goes out: (offset, length, UDP_SEGMENT size or 0) per
/// message, as many datagrams to a message as UDP GSO takes (`gso`: may
/// datagrams of this size share one).
fn messages(
    start: usize,
    end: usize,
    stride: usize,
    gso: impl FnOnce(usize) -> bool,
) -> impl Iterator<Item = (usize, usize, u16)> {
    let total = end - start;
    let stride = if stride == 0 { total.max(1) } else { stride };
    let per_msg = if stride <= usize::from(u16::MAX) && gso(stride) {
        (MAX_GSO_BYTES / stride).clamp(1, MAX_GSO_SEGMENTS)
    } else {
        1
    };
    let step = stride * per_msg;
    (start..end).step_by(step.max(1)).map(move |at| {
        let len = step.min(end - at);
        let segment = if len > stride { stride as u16 } else { 0 };
        (at, len, segment)
    })
}

impl Batch {
    fn is_full(&self) -> bool {
        self.entries.len() >= MAX_QUEUED || self.arena.len() + self.owned_bytes >= MAX_ARENA
    }
}

/// The control message of a UDP GSO send: `UDP_SEGMENT` with its size.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct SegmentCmsg([u8; 24]);

impl SegmentCmsg {
    fn new(segment: u16) -> (SegmentCmsg, usize) {
        let mut c = SegmentCmsg([0; 24]);
        // SAFETY: CMSG_LEN / CMSG_SPACE are pure arithmetic.
        let (len, space) = unsafe { (libc::CMSG_LEN(2) as usize, libc::CMSG_SPACE(2) as usize) };
        let hdr = libc::cmsghdr {
            cmsg_len: len as _,
            cmsg_level: libc::SOL_UDP,
            cmsg_type: UDP_SEGMENT,
        };
        // SAFETY: a cmsghdr fits at the start of the aligned 24 bytes.
        unsafe { std::ptr::write_unaligned(c.0.as_mut_ptr().cast(), hdr) };
        let data = std::mem::size_of::<libc::cmsghdr>();
        c.0[data..data + 2].copy_from_slice(&segment.to_ne_bytes());
        (c, space)
    }
}

/// sendmsg of one datagram message (no batching).
fn send_one(fd: RawFd, bytes: &[u8], dest: &Dest, segment: u16) -> io::Result<()> {
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr() as *mut libc::c_void,
        iov_len: bytes.len(),
    };
    let (mut cmsg, space) = SegmentCmsg::new(segment);
    // SAFETY: an all-zero msghdr is valid to fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_name = (&dest.addr as *const libc::sockaddr_storage) as *mut libc::c_void;
    msg.msg_namelen = dest.len;
    if segment > 0 {
        msg.msg_control = cmsg.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
    }
    // SAFETY: sendmsg(2) from buffers that live through the call.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
    if n >= 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if segment > 0 && gso_refused(&e) {
        dest.refused(&e, segment);
        for d in bytes.chunks(usize::from(segment)) {
            send_one(fd, d, dest, 0)?;
        }
        return Ok(());
    }
    Err(e)
}

/// Whether a UDP GSO send failed for being one (the datagrams are then
/// sent one by one): the route's device has no checksum offload (EIO), or
/// a datagram is larger than the route's MTU (EMSGSIZE from Linux 6.x,
/// EINVAL before; alone, the kernel fragments it). That is the case of
/// hosts at MTU 1500 over a 1500-byte underlay: without it every TSO frame
/// into the tunnel was lost and TCP crawled at 150 kbit/s.
fn gso_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EIO) | Some(libc::EINVAL) | Some(libc::EMSGSIZE)
    )
}

/// Sends everything queued on this thread.
pub fn flush() {
    BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let Some(batch) = b.as_mut() else {
            return;
        };
        if batch.entries.is_empty() {
            return;
        }
        // Group by port, keeping each port's order.
        batch.entries.sort_by_key(|e| e.fd);
        let mut i = 0;
        while i < batch.entries.len() {
            let fd = batch.entries[i].fd;
            let mut j = i;
            while j < batch.entries.len() && batch.entries[j].fd == fd {
                j += 1;
            }
            send_all(fd, &batch.arena, &batch.entries[i..j]);
            i = j;
        }
        batch.entries.clear();
        batch.arena.clear();
        batch.owned_bytes = 0;
    });
}

/// sendmmsg for one descriptor, chunk by chunk; a frame the kernel
/// refuses is counted and skipped (a GSO message the route cannot take
/// is sent again datagram by datagram).
fn send_all(fd: RawFd, arena: &[u8], entries: &[Entry]) {
    // Two iovecs per message: the arena's bytes (and nothing), or an
    // offload header and a frame queued whole.
    let mut iovs: Vec<[libc::iovec; 2]> = Vec::with_capacity(CHUNK);
    let mut cmsgs: Vec<SegmentCmsg> = Vec::with_capacity(CHUNK);
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(CHUNK);
    let mut done = 0;
    while done < entries.len() {
        let chunk = &entries[done..(done + CHUNK).min(entries.len())];
        iovs.clear();
        cmsgs.clear();
        for e in chunk {
            let iov = |p: &[u8]| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            };
            iovs.push(match &e.owned {
                Some((hdr, frame)) => [iov(&hdr[..]), iov(frame)],
                None => [iov(&arena[e.start..e.start + e.len]), iov(&[])],
            });
            cmsgs.push(SegmentCmsg::new(e.segment).0);
        }
        msgs.clear();
        for (i, e) in chunk.iter().enumerate() {
            // SAFETY: an all-zero mmsghdr is valid to fill in.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iovs[i].as_mut_ptr();
            m.msg_hdr.msg_iovlen = 2;
            if let Some(d) = &e.dest {
                m.msg_hdr.msg_name =
                    (&d.addr as *const libc::sockaddr_storage) as *mut libc::c_void;
                m.msg_hdr.msg_namelen = d.len;
                if e.segment > 0 {
                    m.msg_hdr.msg_control = cmsgs[i].0.as_mut_ptr().cast();
                    // SAFETY: pure arithmetic.
                    m.msg_hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
                }
            }
            msgs.push(m);
        }
        // SAFETY: sendmmsg(2) over headers pointing into `arena`, the
        // queued frames, `iovs` and `cmsgs`, which live through the call;
        // the kernel only reads.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            done += n as usize;
            continue;
        }
        // The first message was refused (queue full, link down, too big,
        // or GSO the route cannot take): count it and go on.
        let first = &chunk[0];
        let e = io::Error::last_os_error();
        let resent = match &first.dest {
            Some(d) if first.segment > 0 && gso_refused(&e) => {
                d.refused(&e, first.segment);
                let bytes = &arena[first.start..first.start + first.len];
                bytes
                    .chunks(usize::from(first.segment))
                    .all(|dg| send_one(fd, dg, d, 0).is_ok())
            }
            _ => false,
        };
        if !resent {
            first.counters.tx_dropped.fetch_add(1, Relaxed);
        }
        done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    fn socketpair() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair(2) into a live array; both ends owned at once.
        let rc = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_DGRAM, 0, fds.as_mut_ptr()) };
        assert_eq!(rc, 0);
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn recv(fd: &OwnedFd) -> Option<Vec<u8>> {
        let mut buf = [0u8; 256];
        // SAFETY: recv(2) into a live buffer.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }

    #[test]
    fn queued_frames_leave_on_flush_in_order_per_port() {
        let (a_tx, a_rx) = socketpair();
        let (b_tx, b_rx) = socketpair();
        let c = Arc::new(PortCounters::default());
        // Not enabled: the caller sends.
        assert!(!queue(a_tx.as_raw_fd(), b"h", b"x", None, &c));
        enable();
        assert!(queue(a_tx.as_raw_fd(), b"h", b"1", None, &c));
        assert!(queue(b_tx.as_raw_fd(), b"h", b"2", None, &c));
        assert!(queue(a_tx.as_raw_fd(), b"h", b"3", None, &c));
        assert_eq!(recv(&a_rx), None, "nothing before the flush");
        flush();
        assert_eq!(recv(&a_rx).as_deref(), Some(&b"h1"[..]));
        assert_eq!(recv(&a_rx).as_deref(), Some(&b"h3"[..]));
        assert_eq!(recv(&b_rx).as_deref(), Some(&b"h2"[..]));
        // A refused frame is counted.
        drop(b_rx);
        assert!(queue(b_tx.as_raw_fd(), b"h", b"4", None, &c));
        flush();
        assert_eq!(c.tx_dropped.load(Relaxed), 1);
        BATCH.with(|b| *b.borrow_mut() = None);
    }

    #[test]
    fn messages_hold_as_many_datagrams_as_udp_gso_takes() {
        let m: Vec<_> = messages(0, 250, 100, |_| true).collect();
        assert_eq!(m, vec![(0, 250, 100)]);
        assert_eq!(
            messages(0, 250, 100, |_| false).collect::<Vec<_>>(),
            vec![(0, 100, 0), (100, 100, 0), (200, 50, 0)]
        );
        assert_eq!(
            messages(10, 70, 0, |_| true).collect::<Vec<_>>(),
            vec![(10, 60, 0)],
            "one datagram"
        );
        // 45 segments of 1510 bytes: 43 fit in 65,000 bytes.
        let m: Vec<_> = messages(0, 45 * 1510, 1510, |_| true).collect();
        assert_eq!(m, vec![(0, 43 * 1510, 1510), (43 * 1510, 2 * 1510, 1510)]);
    }

    /// A loopback UDP socket that gives up reading after 2 s.
    fn udp_socket() -> std::net::UdpSocket {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        s.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .expect("timeout");
        s
    }

    /// The next `want` datagrams on `rx`: first byte and length of each.
    fn received(rx: &std::net::UdpSocket, want: usize) -> Vec<(u8, usize)> {
        let mut buf = [0u8; 2048];
        (0..want)
            .map(|_| {
                let n = rx.recv(&mut buf).expect("datagram");
                (buf[0], n)
            })
            .collect()
    }

    #[test]
    fn datagram_trains_arrive_one_by_one_batched_or_not() {
        let (rx, tx) = (udp_socket(), udp_socket());
        let dest = Dest::new(
            rx.local_addr().expect("addr"),
            Arc::new(AtomicBool::new(true)),
        );
        let c = Arc::new(PortCounters::default());
        let train = |out: &mut Vec<u8>| {
            for (i, n) in [100usize, 100, 40].into_iter().enumerate() {
                out.extend(std::iter::repeat_n(i as u8, n));
            }
            100
        };
        // At once (not a forwarding thread), then batched until the flush.
        queue_datagrams(tx.as_raw_fd(), &dest, &c, train).expect("send");
        assert_eq!(received(&rx, 3), vec![(0, 100), (1, 100), (2, 40)]);
        enable();
        queue_datagrams(tx.as_raw_fd(), &dest, &c, train).expect("queue");
        flush();
        assert_eq!(received(&rx, 3), vec![(0, 100), (1, 100), (2, 40)]);
        assert!(dest.gso(1), "the loopback takes UDP GSO");
        assert_eq!(c.tx_dropped.load(Relaxed), 0);
        BATCH.with(|b| *b.borrow_mut() = None);
    }

    #[test]
    fn small_datagrams_of_many_frames_to_one_place_share_a_message() {
        let (rx, other, tx) = (udp_socket(), udp_socket(), udp_socket());
        let gso = Arc::new(AtomicBool::new(true));
        let dest = Dest::new(rx.local_addr().expect("addr"), gso.clone());
        let elsewhere = Dest::new(other.local_addr().expect("addr"), gso);
        let c = Arc::new(PortCounters::default());
        let one = |tag: u8, n: usize| {
            move |out: &mut Vec<u8>| {
                out.extend(std::iter::repeat_n(tag, n));
                0
            }
        };
        enable();
        for (d, tag, n) in [
            (&dest, 1, 68),
            (&dest, 2, 68),
            (&dest, 3, 68),
            (&elsewhere, 4, 68), // another place: a message of its own
            (&dest, 5, 68),
            (&dest, 6, 40), // another size: a message of its own
            (&dest, 7, 40),
        ] {
            queue_datagrams(tx.as_raw_fd(), d, &c, one(tag, n)).expect("queue");
        }
        let shape: Vec<(usize, u16)> = BATCH.with(|b| {
            let b = b.borrow();
            let batch = b.as_ref().expect("enabled");
            batch.entries.iter().map(|e| (e.len, e.segment)).collect()
        });
        assert_eq!(
            shape,
            [(204, 68), (68, 0), (68, 0), (80, 40)],
            "1-3 joined, 4 elsewhere, 5 after it, 6-7 joined"
        );
        flush();
        assert_eq!(
            received(&rx, 6),
            [(1, 68), (2, 68), (3, 68), (5, 68), (6, 40), (7, 40)]
        );
        assert_eq!(received(&other, 1), [(4, 68)]);
        assert_eq!(c.tx_dropped.load(Relaxed), 0);
        BATCH.with(|b| *b.borrow_mut() = None);
    }

    #[test]
    fn a_size_refused_for_gso_goes_one_to_a_message_and_smaller_ones_keep_gso() {
        let limit = GsoLimit::default();
        assert!(limit.allows(1550));
        limit.refused(1550);
        assert!(!limit.allows(1550));
        assert!(!limit.allows(9000));
        assert!(limit.allows(1549));
        // A smaller refusal lowers it; a larger one does not raise it.
        limit.refused(1200);
        limit.refused(1550);
        assert!(!limit.allows(1200));
        assert!(limit.allows(1199));
        // Once the limit has held long enough, every size is tried again.
        limit.at_ms.store(0, Relaxed);
        let held = GSO_LIMIT_HOLDS.as_millis() as u64;
        if clock_ms() >= held {
            assert!(limit.allows(9000));
            assert_eq!(limit.max.load(Relaxed), u16::MAX);
        }
    }
}
