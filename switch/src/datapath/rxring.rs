//! The receive ring of an `AF_PACKET` socket (`PACKET_RX_RING`,
//! TPACKET_V2): the kernel copies each frame into a slot of memory shared
//! with us, in the softirq of the CPU that delivered it, and marks the
//! slot ours; we read slots in order and hand them back.
//!
//! Why: with `recvmmsg` the forwarding thread paid, per frame, the
//! syscall's message bookkeeping, the copy to user memory and the freeing
//! of the kernel's buffer: a third of its CPU at 64-byte rates. With the
//! ring it pays none of these, and needs no syscall at all while frames
//! keep coming.
//!
//! Slots are 2 KiB (any Ethernet frame up to MTU 1500 plus tags and
//! headers). A larger frame (a GSO frame from a host with offloads on, a
//! jumbo frame) does not fit: the socket is set up with
//! `PACKET_COPY_THRESH`, so the kernel then puts a truncated copy in the
//! slot, flagged `TP_STATUS_COPY`, and queues the whole frame on the
//! socket's ordinary receive queue, where the reader takes it with
//! `recvmsg` (see [`super::afpacket`]). Order is kept: the flagged slot
//! stands in the ring where the frame arrived.
//!
//! Not TPACKET_V3: its variable-sized blocks would take GSO frames whole,
//! but it wakes the reader only when a block is full or times out (1 ms at
//! best), which a switch cannot add to every quiet flow's latency.

use super::sys::{check, setsockopt};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

const PACKET_RX_RING: libc::c_int = 5;
const PACKET_COPY_THRESH: libc::c_int = 7;
const PACKET_VERSION: libc::c_int = 10;
const TPACKET_V2: libc::c_int = 1;

/// Slot status bits (`linux/if_packet.h`).
pub const TP_STATUS_KERNEL: u32 = 0;
pub const TP_STATUS_USER: u32 = 1 << 0;
pub const TP_STATUS_COPY: u32 = 1 << 1;

/// Bytes per slot: header (32), address (20), alignment, offload header
/// (10), then the frame.
pub const FRAME_SIZE: usize = 2048;
/// Bytes per block the kernel allocates (a multiple of the page size and
/// of [`FRAME_SIZE`], so slots are evenly spaced).
const BLOCK_SIZE: usize = 64 << 10;
/// Blocks per ring: 2,048 slots, 4 MiB per port.
const BLOCKS: usize = 64;

/// `struct tpacket_req`.
#[repr(C)]
struct TpacketReq {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
}

/// `struct tpacket2_hdr` (the head of every slot).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Tpacket2Hdr {
    pub tp_status: u32,
    pub tp_len: u32,
    pub tp_snaplen: u32,
    pub tp_mac: u16,
    pub tp_net: u16,
    pub tp_sec: u32,
    pub tp_nsec: u32,
    pub tp_vlan_tci: u16,
    pub tp_vlan_tpid: u16,
    pub tp_padding: [u8; 4],
}

/// One slot handed to the reader: its header, and the slot's bytes.
pub struct Slot<'a> {
    pub hdr: Tpacket2Hdr,
    pub bytes: &'a [u8],
}

/// A mapped receive ring; reading takes `&mut self`, so one reader at a
/// time (the socket keeps it behind a Mutex).
pub struct RxRing {
    map: *mut u8,
    len: usize,
    frames: usize,
    next: usize,
}

// SAFETY: the mapping is memory this value owns (shared only with the
// kernel); moving it to another thread moves that ownership.
unsafe impl Send for RxRing {}

impl std::fmt::Debug for RxRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RxRing")
            .field("frames", &self.frames)
            .finish()
    }
}

/// setsockopt(SOL_PACKET, `opt`), the error naming `what`.
fn set<T>(fd: &OwnedFd, opt: libc::c_int, v: &T, what: &str) -> io::Result<()> {
    check(setsockopt(fd, libc::SOL_PACKET, opt, v), what)
}

impl RxRing {
    /// Sets up and maps a ring on `fd`, a fresh `AF_PACKET` socket whose
    /// `PACKET_VNET_HDR` is already set (the kernel refuses it once a ring
    /// exists), not yet bound. On error the socket is left without a ring
    /// (it still works through `recvmsg`), or the error says it could not
    /// be taken down again.
    pub fn attach(fd: &OwnedFd) -> io::Result<RxRing> {
        set(fd, PACKET_VERSION, &TPACKET_V2, "PACKET_VERSION")?;
        // Any non-zero value: frames larger than a slot go to the queue.
        set(
            fd,
            PACKET_COPY_THRESH,
            &1 as &libc::c_int,
            "PACKET_COPY_THRESH",
        )?;
        let frames = BLOCK_SIZE / FRAME_SIZE * BLOCKS;
        let req = TpacketReq {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: BLOCKS as u32,
            tp_frame_size: FRAME_SIZE as u32,
            tp_frame_nr: frames as u32,
        };
        set(fd, PACKET_RX_RING, &req, "PACKET_RX_RING")?;
        let len = BLOCK_SIZE * BLOCKS;
        let mmap = |flags: libc::c_int| {
            // SAFETY: mmap(2) of the ring the kernel just made for this
            // socket, shared, at an address of the kernel's choosing.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | flags,
                    fd.as_raw_fd(),
                    0,
                )
            }
        };
        let map = mmap(libc::MAP_LOCKED);
        let map = if map == libc::MAP_FAILED {
            // MAP_LOCKED needs room under RLIMIT_MEMLOCK; the ring's pages
            // are the kernel's and cannot be swapped anyway.
            let m = mmap(0);
            if m == libc::MAP_FAILED {
                let e = io::Error::last_os_error();
                // Take the ring down again: frames would otherwise go to
                // slots nobody reads.
                let none = TpacketReq {
                    tp_block_size: 0,
                    tp_block_nr: 0,
                    tp_frame_size: 0,
                    tp_frame_nr: 0,
                };
                set(fd, PACKET_RX_RING, &none, "PACKET_RX_RING (removal)")?;
                return Err(io::Error::new(e.kind(), format!("mmap of the ring: {e}")));
            }
            m
        } else {
            map
        };
        Ok(RxRing {
            map: map.cast(),
            len,
            frames,
            next: 0,
        })
    }

    fn slot_ptr(&self, i: usize) -> *mut u8 {
        // Blocks are a whole number of slots, so slots are evenly spaced.
        // SAFETY (of the arithmetic): i < frames, frames * FRAME_SIZE == len.
        unsafe { self.map.add(i * FRAME_SIZE) }
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word is the first, 4-byte aligned field of a
        // slot inside the live mapping; the kernel writes it concurrently,
        // which is what the atomic is for.
        unsafe { AtomicU32::from_ptr(self.slot_ptr(i).cast()) }
    }

    /// The next slot the kernel has filled, if any. It stays ours (the
    /// kernel will not write it) until [`RxRing::release`].
    pub fn next_slot(&self) -> Option<Slot<'_>> {
        let i = self.next;
        let status = self.status(i).load(Ordering::Acquire);
        if status & TP_STATUS_USER == 0 {
            return None;
        }
        let p = self.slot_ptr(i);
        // SAFETY: the slot is ours (status USER) until we release it; the
        // header is at its start; the slice stays inside the slot.
        let (hdr, bytes) = unsafe {
            (
                std::ptr::read(p.cast::<Tpacket2Hdr>()),
                std::slice::from_raw_parts(p.cast_const(), FRAME_SIZE),
            )
        };
        Some(Slot { hdr, bytes })
    }

    /// Hands the slot [`RxRing::next_slot`] returned back to the kernel
    /// and moves to the next.
    pub fn release(&mut self) {
        let i = self.next;
        self.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
        self.next = (i + 1) % self.frames;
    }
}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly what attach mapped; no slot reference
        // outlives `self` (they borrow it).
        unsafe {
            libc::munmap(self.map.cast(), self.len);
        }
    }
}

/// Where a slot's frame and offload header are, checked against the
/// slot's bounds: `(offload header start, frame start, frame length)`.
/// `None` when the kernel's offsets do not fit (never expected).
pub fn frame_bounds(hdr: &Tpacket2Hdr, vnet_len: usize) -> Option<(usize, usize, usize)> {
    let mac = usize::from(hdr.tp_mac);
    let len = hdr.tp_snaplen as usize;
    let vnet = mac.checked_sub(vnet_len)?;
    if vnet < std::mem::size_of::<Tpacket2Hdr>() || mac + len > FRAME_SIZE {
        return None;
    }
    Some((vnet, mac, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(mac: u16, snaplen: u32) -> Tpacket2Hdr {
        Tpacket2Hdr {
            tp_status: TP_STATUS_USER,
            tp_len: snaplen,
            tp_snaplen: snaplen,
            tp_mac: mac,
            tp_net: mac + 14,
            tp_sec: 0,
            tp_nsec: 0,
            tp_vlan_tci: 0,
            tp_vlan_tpid: 0,
            tp_padding: [0; 4],
        }
    }

    #[test]
    fn header_matches_the_kernels_layout() {
        // TPACKET_ALIGN(sizeof(struct tpacket2_hdr)) == 32 in the kernel.
        assert_eq!(std::mem::size_of::<Tpacket2Hdr>(), 32);
        assert_eq!(std::mem::size_of::<TpacketReq>(), 16);
    }

    #[test]
    fn frame_bounds_stay_in_the_slot() {
        // What the kernel writes for an Ethernet frame with a 10-byte
        // offload header: mac offset 76 (align16(52 + 16) + 10 - 14).
        assert_eq!(frame_bounds(&hdr(76, 60), 10), Some((66, 76, 60)));
        let fits = (FRAME_SIZE - 76) as u32;
        assert_eq!(
            frame_bounds(&hdr(76, fits), 10).map(|b| b.2),
            Some(FRAME_SIZE - 76)
        );
        assert_eq!(frame_bounds(&hdr(76, fits + 1), 10), None);
        assert_eq!(frame_bounds(&hdr(8, 60), 10), None);
        assert_eq!(frame_bounds(&hdr(36, 60), 10), None);
    }
}
