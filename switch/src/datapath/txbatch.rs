//! Batched transmission for the forwarding threads: frames for `AF_PACKET`
//! ports are queued while a thread works through a receive batch and sent
//! with one `sendmmsg(2)` per port when it has finished ([`flush`]).
//!
//! Frames are copied into one per-thread arena (with their
//! `virtio_net_hdr` in front), so the pipeline's buffers are free at once.
//! A frame the kernel refuses at flush time is counted in the port's
//! `tx_dropped`, like a refused immediate send. Threads that did not call
//! [`enable`] (the control plane sending a PACKET_OUT, tests) send at once.

use crate::pipeline::ports::PortCounters;
use std::cell::RefCell;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Frames queued for one thread before a flush is forced.
const MAX_QUEUED: usize = 256;
/// Arena bytes before a flush is forced (GSO frames are large).
const MAX_ARENA: usize = 1 << 20;
/// Frames per sendmmsg call.
const CHUNK: usize = 64;

struct Entry {
    fd: RawFd,
    start: usize,
    len: usize,
    counters: Arc<PortCounters>,
}

#[derive(Default)]
struct Batch {
    arena: Vec<u8>,
    entries: Vec<Entry>,
}

thread_local! {
    static BATCH: RefCell<Option<Batch>> = const { RefCell::new(None) };
}

/// Makes this thread batch its sends until it exits.
pub fn enable() {
    BATCH.with(|b| *b.borrow_mut() = Some(Batch::default()));
}

/// Queues `hdr` + `frame` for `fd` when this thread batches; false when it
/// does not (the caller sends at once).
pub fn queue(fd: RawFd, hdr: &[u8], frame: &[u8], counters: &Arc<PortCounters>) -> bool {
    let full = BATCH.with(|b| {
        let mut b = b.borrow_mut();
        let batch = b.as_mut()?;
        let start = batch.arena.len();
        batch.arena.extend_from_slice(hdr);
        batch.arena.extend_from_slice(frame);
        batch.entries.push(Entry {
            fd,
            start,
            len: hdr.len() + frame.len(),
            counters: counters.clone(),
        });
        Some(batch.entries.len() >= MAX_QUEUED || batch.arena.len() >= MAX_ARENA)
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
    });
}

/// sendmmsg for one port, chunk by chunk; a frame the kernel refuses is
/// counted and skipped.
fn send_all(fd: RawFd, arena: &[u8], entries: &[Entry]) {
    let mut iovs: Vec<libc::iovec> = Vec::with_capacity(CHUNK);
    // SAFETY: an all-zero mmsghdr is valid to fill in.
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(CHUNK);
    let mut done = 0;
    while done < entries.len() {
        let chunk = &entries[done..(done + CHUNK).min(entries.len())];
        iovs.clear();
        for e in chunk {
            iovs.push(libc::iovec {
                iov_base: arena[e.start..].as_ptr() as *mut libc::c_void,
                iov_len: e.len,
            });
        }
        msgs.clear();
        for iov in iovs.iter_mut() {
            // SAFETY: an all-zero mmsghdr is valid to fill in.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            msgs.push(m);
        }
        // SAFETY: sendmmsg(2) over headers pointing into `arena`, which
        // lives through the call; the kernel only reads the frames.
        let n = unsafe {
            libc::sendmmsg(
                fd,
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            // The first frame was refused (queue full, link down, too
            // big): count it and go on with the next.
            chunk[0].counters.tx_dropped.fetch_add(1, Relaxed);
            done += 1;
        } else {
            done += n as usize;
        }
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
        assert!(!queue(a_tx.as_raw_fd(), b"h", b"x", &c));
        enable();
        assert!(queue(a_tx.as_raw_fd(), b"h", b"1", &c));
        assert!(queue(b_tx.as_raw_fd(), b"h", b"2", &c));
        assert!(queue(a_tx.as_raw_fd(), b"h", b"3", &c));
        assert_eq!(recv(&a_rx), None, "nothing before the flush");
        flush();
        assert_eq!(recv(&a_rx).as_deref(), Some(&b"h1"[..]));
        assert_eq!(recv(&a_rx).as_deref(), Some(&b"h3"[..]));
        assert_eq!(recv(&b_rx).as_deref(), Some(&b"h2"[..]));
        // A refused frame is counted.
        drop(b_rx);
        assert!(queue(b_tx.as_raw_fd(), b"h", b"4", &c));
        flush();
        assert_eq!(c.tx_dropped.load(Relaxed), 1);
        BATCH.with(|b| *b.borrow_mut() = None);
    }
}
