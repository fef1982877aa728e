//! A Linux interface (veth, NIC) as a switch port, through an `AF_PACKET`
//! socket bound to it.
//!
//! Three Linux facts shape this module:
//!
//! - **VLAN offload**: the kernel strips the 802.1Q tag of received frames
//!   and reports it beside the frame (`PACKET_AUXDATA`); the tag is put
//!   back in the frame, so the pipeline sees what was on the wire.
//! - **Offloads**: frames local hosts send with checksum offload and TSO
//!   arrive unfinished; the socket uses `PACKET_VNET_HDR` so the kernel
//!   says so, and takes the same header on send (see [`super::vnet`]).
//! - **Our own transmissions** would be received again: the socket asks the
//!   kernel not to loop them back (`PACKET_IGNORE_OUTGOING`).
//!
//! Frames are received from a TPACKET_V2 ring shared with the kernel (see
//! [`super::rxring`]; frames too large for its slots, such as GSO frames,
//! through `recvmsg`), or, where the ring cannot be set up, with
//! `recvmmsg(2)`; either way into a forwarding thread's [`RecvBatch`] (see
//! [`super::workers`]). They are sent in batches with `sendmmsg(2)` (see
//! [`super::txbatch`]) on a second socket that receives nothing (see
//! [`PacketSocket`] for why two).

use super::rxring::{self, RxRing};
use super::sys::{self, check, setsockopt};
use super::vnet::{to_complemented, RxOffload, VNET_HDR_LEN};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Receive and send buffer of each socket, in bytes (the kernel doubles
/// it for its bookkeeping).
const SOCKET_BUFFER: libc::c_int = 8 << 20;

/// Frames one `recvmmsg` call takes at most.
pub const RECV_BATCH: usize = 32;
/// Room for the largest frame (GSO) plus a VLAN tag put back in front.
const SLOT: usize = 65_536 + 4;

const ETH_P_ALL: u16 = 0x0003;
const PACKET_AUXDATA: libc::c_int = 8;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_VNET_HDR: libc::c_int = 15;
const PACKET_STATISTICS: libc::c_int = 6;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct tpacket_auxdata`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AuxData {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// The `AF_PACKET` sockets of one interface: one receives (the forwarding
/// thread waits on it), the other sends. Two, because every frame sent
/// is freed with a "room to write" wakeup of its socket's waiters, and a
/// socket in an epoll set always has one: on the receiving socket that
/// wakeup cost a tenth of the forwarding CPU at 64-byte rates.
#[derive(Debug)]
pub struct PacketSocket {
    /// Declared before `fd`: unmapped before the socket is closed. Behind a
    /// Mutex: one reader at a time (in practice always the one forwarding
    /// thread that owns the port, so it is never contended). Set once the
    /// port gets busy ([`PacketSocket::grow_ring`]): a quiet port costs no
    /// ring memory.
    ring: std::sync::OnceLock<std::sync::Mutex<RxRing>>,
    /// Whether a ring may still be tried (cleared when the kernel refused
    /// one).
    ring_allowed: std::sync::atomic::AtomicBool,
    fd: OwnedFd,
    tx: OwnedFd,
    name: String,
    ifindex: i32,
}

/// A fresh `AF_PACKET` raw socket, non-blocking. Protocol 0: it receives
/// nothing until `bind` names a protocol (and the ring is in place by
/// then).
fn new_socket() -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); checked and owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    check(raw, "socket(AF_PACKET)")?;
    // SAFETY: fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// Sets a socket buffer to [`SOCKET_BUFFER`]: root may exceed
/// net.core.[rw]mem_max with the FORCE variant; otherwise take what the
/// limit allows.
fn set_buffer(fd: &OwnedFd, force: libc::c_int, plain: libc::c_int) {
    sys::set_socket_buffer(fd, force, plain, SOCKET_BUFFER);
}

/// Binds `fd` to interface `ifindex` for `protocol` (0: send only).
fn bind(fd: &OwnedFd, ifindex: i32, protocol: u16, name: &str) -> io::Result<()> {
    // SAFETY: an all-zero sockaddr_ll is valid to fill in.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = protocol.to_be();
    sll.sll_ifindex = ifindex;
    // SAFETY: bind with a properly sized sockaddr_ll.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    check(rc, &format!("bind to {name}"))
}

impl PacketSocket {
    /// Opens the interface `name` (which must exist), in promiscuous mode.
    /// Needs CAP_NET_RAW. Frames are received with `recvmmsg` until the
    /// port gets busy and its owner calls [`PacketSocket::grow_ring`].
    pub fn open(name: &str) -> io::Result<PacketSocket> {
        sys::check_name(name)?;
        let cname = std::ffi::CString::new(name)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in name"))?;
        // SAFETY: valid C string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) } as i32;
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface named {name}"),
            ));
        }
        let fd = new_socket()?;
        let one: libc::c_int = 1;
        check(
            setsockopt(&fd, libc::SOL_PACKET, PACKET_AUXDATA, &one),
            "PACKET_AUXDATA",
        )?;
        // Offloads: a virtio_net_hdr before every frame, both ways (see
        // super::vnet).
        check(
            setsockopt(&fd, libc::SOL_PACKET, PACKET_VNET_HDR, &one),
            "PACKET_VNET_HDR",
        )?;
        // Linux 4.20+; older kernels loop our frames back, which the
        // pipeline then sees as received: refuse to run rather than loop.
        check(
            setsockopt(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &one),
            "PACKET_IGNORE_OUTGOING",
        )?;
        // Room for bursts: frames too large for the ring (GSO frames) wait
        // on the ordinary queue, and the default (about 200 KiB) holds
        // three of them; a frame that finds it full is lost (TCP then
        // retransmits).
        set_buffer(&fd, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF);
        bind(&fd, ifindex, ETH_P_ALL, name)?;
        // SAFETY: an all-zero packet_mreq is valid to fill in.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        check(
            setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq),
            "promiscuous mode",
        )?;
        // The sending socket: bound to the interface with protocol 0, so
        // it receives nothing.
        let tx = new_socket()?;
        check(
            setsockopt(&tx, libc::SOL_PACKET, PACKET_VNET_HDR, &one),
            "PACKET_VNET_HDR",
        )?;
        set_buffer(&tx, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF);
        bind(&tx, ifindex, 0, name)?;
        let _ = sys::set_up(name, true);
        Ok(PacketSocket {
            ring: std::sync::OnceLock::new(),
            ring_allowed: std::sync::atomic::AtomicBool::new(true),
            fd,
            tx,
            name: name.to_string(),
            ifindex,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn ifindex(&self) -> i32 {
        self.ifindex
    }

    pub fn fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }

    /// Frames the kernel dropped for want of room in this socket's receive
    /// buffer since the last call (`PACKET_STATISTICS`, which resets on
    /// read); 0 when it cannot tell.
    pub fn take_drops(&self) -> u32 {
        let mut st = [0u32; 2]; // struct tpacket_stats { tp_packets, tp_drops }
        let mut len = std::mem::size_of_val(&st) as libc::socklen_t;
        // SAFETY: getsockopt(2) into a live buffer of the length given.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                PACKET_STATISTICS,
                st.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc < 0 {
            0
        } else {
            st[1]
        }
    }

    /// Receives the frames waiting, at most [`RECV_BATCH`], without
    /// blocking, into `batch`: each as it was on the wire (VLAN tag back in
    /// place), with what its offload header said (a partial checksum is
    /// already complemented, see super::vnet). Returns how many; 0 when
    /// none is waiting.
    pub fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        match self.ring.get() {
            Some(ring) => match ring.lock() {
                Ok(mut ring) => batch.take_from_ring(&mut ring, &self.fd),
                Err(_) => Err(io::Error::other("receive ring lock poisoned")),
            },
            None => batch.recv(&self.fd),
        }
    }

    /// Whether frames come through a shared ring (else `recvmmsg`).
    pub fn has_ring(&self) -> bool {
        self.ring.get().is_some()
    }

    /// Gives the socket its receive ring (the port is busy: from now on
    /// frames cost no system call while they keep coming). The kernel
    /// discards what is still on the socket's queue when it sets the ring
    /// up, so call it right after a receive that emptied the queue (what
    /// arrives in between is lost: a frame or two, once in a port's life).
    /// A socket the kernel refuses a ring goes on with `recvmmsg` (logged
    /// once). Returns whether the socket has a ring.
    pub fn grow_ring(&self) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        if self.has_ring() {
            return true;
        }
        if !self.ring_allowed.load(Relaxed) {
            return false;
        }
        match RxRing::attach(&self.fd) {
            Ok(r) => {
                let _ = self.ring.set(std::sync::Mutex::new(r));
                tracing::debug!("{}: busy, now receiving through a ring", self.name);
                true
            }
            Err(e) => {
                self.ring_allowed.store(false, Relaxed);
                tracing::warn!(
                    "{}: no receive ring ({e}); receiving with recvmmsg",
                    self.name
                );
                false
            }
        }
    }

    /// [`PacketSocket::send`] of a frame handed over: on a forwarding
    /// thread it is queued as it is, not copied.
    pub fn send_frame(
        &self,
        hdr: &[u8; VNET_HDR_LEN],
        frame: Vec<u8>,
        flip: Option<usize>,
        counters: &std::sync::Arc<crate::pipeline::ports::PortCounters>,
    ) -> io::Result<()> {
        match super::txbatch::queue_frame(self.tx.as_raw_fd(), hdr, frame, flip, counters) {
            Ok(()) => Ok(()),
            Err(frame) => self.send(hdr, &frame, flip, counters),
        }
    }

    /// Sends one frame with its offload header, without blocking; a full
    /// queue drops it (error). On a forwarding thread the frame is queued
    /// and leaves with the thread's next batch; a refusal then is counted
    /// in `counters`. `flip`: where the frame's complemented partial
    /// checksum is, turned back in the copy that leaves (see
    /// [`super::vnet::tx_offload`]).
    pub fn send(
        &self,
        hdr: &[u8; VNET_HDR_LEN],
        frame: &[u8],
        flip: Option<usize>,
        counters: &std::sync::Arc<crate::pipeline::ports::PortCounters>,
    ) -> io::Result<()> {
        if super::txbatch::queue(self.tx.as_raw_fd(), hdr, frame, flip, counters) {
            return Ok(());
        }
        let mut owned;
        let frame = match flip {
            Some(_) => {
                owned = frame.to_vec();
                super::vnet::flip_checksum(&mut owned, flip);
                &owned[..]
            }
            None => frame,
        };
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        // SAFETY: an all-zero msghdr is valid to fill in.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        // SAFETY: sendmsg(2) from buffers that live through the call; the
        // kernel only reads them.
        let n = unsafe { libc::sendmsg(self.tx.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Receive memory for one `recvmmsg` call: [`RECV_BATCH`] buffers, each
/// large enough for a GSO frame, with room for its offload header and
/// auxdata. A forwarding thread owns one and lends it to its sources.
///
/// Frames come out owned ([`RecvBatch::take`]), ready for the pipeline,
/// after at most one copy in user space: a frame from the ring is copied
/// once, out of its slot; a small frame from the queue once, out of its
/// buffer; a large one (a TSO frame) not at all: its buffer itself is
/// handed over and replaced.
pub struct RecvBatch {
    /// The `recvmmsg` targets: capacity [`SLOT`], length 0 between calls
    /// (the kernel fills them through raw pointers; only what it wrote is
    /// ever made part of a vector).
    bufs: Vec<Vec<u8>>,
    hdrs: Vec<[u8; VNET_HDR_LEN]>,
    cmsgs: Vec<[u64; 8]>,
    /// Per received frame: the frame and its offload state, or `None` for
    /// one that could not be used (it still took its place).
    got: Vec<Option<(Vec<u8>, RxOffload)>>,
}

/// A frame up to this size is copied out of its receive buffer; a larger
/// one takes the buffer with it.
const COPY_MAX: usize = 2048;

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: (0..RECV_BATCH).map(|_| Vec::with_capacity(SLOT)).collect(),
            hdrs: vec![[0; VNET_HDR_LEN]; RECV_BATCH],
            cmsgs: vec![[0; 8]; RECV_BATCH],
            got: Vec::with_capacity(RECV_BATCH),
        }
    }

    /// How many frames the last receive got.
    pub fn len(&self) -> usize {
        self.got.len()
    }

    pub fn is_empty(&self) -> bool {
        self.got.is_empty()
    }

    /// Frame `i` of the last receive and its offload state (empty for one
    /// that could not be used).
    pub fn frame(&self, i: usize) -> (&[u8], RxOffload) {
        match &self.got[i] {
            Some((f, o)) => (f, *o),
            None => (&[], RxOffload::default()),
        }
    }

    /// Takes frame `i` of the last receive; `None` when it could not be
    /// used, or was taken already.
    pub fn take(&mut self, i: usize) -> Option<(Vec<u8>, RxOffload)> {
        self.got.get_mut(i)?.take()
    }

    /// Buffer `i`, as the kernel filled it with `n` bytes (offload header
    /// apart), made into the frame: the buffer itself for a large frame
    /// (replaced by a fresh one), a copy for a small one.
    fn frame_from_buf(&mut self, i: usize, n: usize, aux: AuxData) -> Option<(Vec<u8>, RxOffload)> {
        let n = n.checked_sub(VNET_HDR_LEN)?.min(SLOT);
        let buf = &mut self.bufs[i];
        // SAFETY: the kernel wrote `n` bytes (at most the capacity) at the
        // start of the buffer; they are initialized.
        unsafe { buf.set_len(n) };
        let frame = if n > COPY_MAX {
            std::mem::replace(buf, Vec::with_capacity(SLOT))
        } else {
            let mut f = Vec::with_capacity(n + 4);
            f.extend_from_slice(buf);
            buf.clear();
            f
        };
        finish_frame(frame, &self.hdrs[i], aux)
    }

    /// Takes up to [`RECV_BATCH`] frames from `ring`, each copied out of
    /// its slot and the slot handed back at once; a frame too large for
    /// the ring is read whole from the socket's queue.
    fn take_from_ring(&mut self, ring: &mut RxRing, fd: &OwnedFd) -> io::Result<usize> {
        self.got.clear();
        while self.got.len() < RECV_BATCH {
            let i = self.got.len();
            let Some(slot) = ring.next_slot() else {
                break;
            };
            let h = slot.hdr;
            let got = if h.tp_status & rxring::TP_STATUS_COPY != 0 {
                // A truncated copy here, the whole frame on the queue.
                ring.release();
                match self.recv_one(i, fd) {
                    Ok(got) => got,
                    Err(e) if self.got.is_empty() => return Err(e),
                    // Keep the frames already taken from the ring.
                    Err(_) => None,
                }
            } else if h.tp_snaplen < h.tp_len {
                // Too large for a slot and no room on the queue: lost.
                ring.release();
                None
            } else if let Some((v, m, len)) = rxring::frame_bounds(&h, VNET_HDR_LEN) {
                let mut hdr = [0u8; VNET_HDR_LEN];
                hdr.copy_from_slice(&slot.bytes[v..m]);
                // Room for a VLAN tag to go back in without a reallocation.
                let mut f = Vec::with_capacity(len + 4);
                f.extend_from_slice(&slot.bytes[m..m + len]);
                ring.release();
                let aux = AuxData {
                    tp_status: h.tp_status,
                    tp_vlan_tci: h.tp_vlan_tci,
                    tp_vlan_tpid: h.tp_vlan_tpid,
                    ..AuxData::default()
                };
                finish_frame(f, &hdr, aux)
            } else {
                ring.release();
                None
            };
            self.got.push(got);
        }
        Ok(self.got.len())
    }

    /// Reads one frame from the socket's queue into buffer `i`. `None`:
    /// none was waiting, or it was unusable.
    fn recv_one(&mut self, i: usize, fd: &OwnedFd) -> io::Result<Option<(Vec<u8>, RxOffload)>> {
        let mut iov = slot_iov(&mut self.hdrs[i], &mut self.bufs[i]);
        let mut msg = slot_msghdr(&mut iov, &mut self.cmsgs[i]);
        // A pending socket error (the interface went down since) is
        // reported once, before the frame: then read again.
        let mut n = -1;
        for _ in 0..2 {
            // SAFETY: recvmsg(2) into buffers that live through the call.
            n = unsafe {
                libc::recvmsg(
                    fd.as_raw_fd(),
                    &mut msg,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n >= 0 {
                break;
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENETDOWN) {
                continue;
            }
            if quiet(&e) {
                return Ok(None);
            }
            return Err(e);
        }
        if n < 0 {
            return Ok(None);
        }
        let aux = aux_data(&msg);
        Ok(self.frame_from_buf(i, n as usize, aux))
    }

    fn recv(&mut self, fd: &OwnedFd) -> io::Result<usize> {
        self.got.clear();
        let mut iovs: Vec<[libc::iovec; 2]> = self
            .hdrs
            .iter_mut()
            .zip(self.bufs.iter_mut())
            .map(|(hdr, buf)| slot_iov(hdr, buf))
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = iovs
            .iter_mut()
            .zip(self.cmsgs.iter_mut())
            .map(|(iov, cmsg)| libc::mmsghdr {
                msg_hdr: slot_msghdr(iov, cmsg),
                msg_len: 0,
            })
            .collect();
        // SAFETY: recvmmsg(2) into headers whose buffers live through the
        // call.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if quiet(&e) {
                return Ok(0);
            }
            return Err(e);
        }
        let got: Vec<(usize, AuxData)> = msgs
            .iter()
            .take(n as usize)
            .map(|m| (m.msg_len as usize, aux_data(&m.msg_hdr)))
            .collect();
        for (i, (len, aux)) in got.into_iter().enumerate() {
            let f = self.frame_from_buf(i, len, aux);
            self.got.push(f);
        }
        Ok(self.got.len())
    }
}

/// The two pieces one message is read into: its offload header, then the
/// frame, at the start of the buffer's capacity.
fn slot_iov(hdr: &mut [u8; VNET_HDR_LEN], buf: &mut Vec<u8>) -> [libc::iovec; 2] {
    buf.clear();
    [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.capacity(),
        },
    ]
}

/// A message header reading into `iov`, with `cmsg` for the auxdata.
fn slot_msghdr(iov: &mut [libc::iovec; 2], cmsg: &mut [u64; 8]) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid to fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = 2;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(cmsg) as _;
    msg
}

/// A receive error that only means "nothing now": nothing waiting, or the
/// interface went down since the last call (reported once; its link state
/// is watched elsewhere).
fn quiet(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENETDOWN)
}

/// The `PACKET_AUXDATA` of one received message.
fn aux_data(msg: &libc::msghdr) -> AuxData {
    let mut aux = AuxData::default();
    // SAFETY: walking the control messages the kernel wrote, with the
    // libc CMSG macros, within `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == PACKET_AUXDATA {
                let p = libc::CMSG_DATA(c) as *const AuxData;
                aux = std::ptr::read_unaligned(p);
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
    aux
}

/// A received frame as it was on the wire, with what its offload header
/// said: the VLAN tag the kernel took out put back, a partial checksum
/// reported only in the auxdata finished, a partial checksum complemented
/// (see super::vnet). `None` for a runt.
fn finish_frame(
    mut f: Vec<u8>,
    hdr: &[u8; VNET_HDR_LEN],
    aux: AuxData,
) -> Option<(Vec<u8>, RxOffload)> {
    if f.len() < 14 {
        return None;
    }
    if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
        // Put the tag back after the MAC addresses.
        let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 && aux.tp_vlan_tpid != 0 {
            aux.tp_vlan_tpid
        } else {
            0x8100
        };
        let t = tpid.to_be_bytes();
        let c = aux.tp_vlan_tci.to_be_bytes();
        f.splice(12..12, [t[0], t[1], c[0], c[1]]);
    }
    let mut o = RxOffload::from_header(hdr);
    if aux.tp_status & TP_STATUS_CSUMNOTREADY != 0 && !o.needs_csum {
        // Partial checksum reported only in the auxdata: finish it here.
        crate::packet::fill_l4_checksum(&mut f);
        o = RxOffload::default();
    }
    to_complemented(&mut f, o);
    Some((f, o))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datapath::test_support::{have_root, ip, IpOnDrop};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn frame(ethertype: [u8; 2], len: usize, fill: u8) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa];
        f.extend_from_slice(&ethertype);
        f.resize(len, fill);
        f
    }

    /// What `rx` gets of `frames` sent on `tx`, in order, within 5 s.
    fn exchange(tx: &PacketSocket, rx: &PacketSocket, frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let counters = Arc::new(crate::pipeline::ports::PortCounters::default());
        for f in frames {
            tx.send(&[0; VNET_HDR_LEN], f, None, &counters)
                .expect("send");
        }
        let mut batch = RecvBatch::new();
        let mut got = Vec::new();
        let t0 = Instant::now();
        while got.len() < frames.len() && t0.elapsed() < Duration::from_secs(5) {
            let n = rx.recv_batch(&mut batch).expect("receive");
            for i in 0..n {
                let f = batch.frame(i).0;
                // Only ours (the kernel may send IPv6 router solicitations).
                if f.len() >= 14 && f[6..12] == [0x02, 0, 0, 0, 0, 0xaa] {
                    got.push(f.to_vec());
                }
            }
            if n == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        got
    }

    /// Frames cross a veth pair as sent, in order, with and without the
    /// receive ring (grown on the open socket): a small one, an
    /// 802.1Q-tagged one (the kernel strips the tag, we put it back), one
    /// too large for a ring slot (it comes through the socket's queue), a
    /// small one again.
    #[test]
    fn frames_arrive_whole_and_in_order_with_and_without_the_ring() {
        if !have_root() {
            return;
        }
        for ring in [true, false] {
            let tag = std::process::id();
            let (a, b) = (
                format!("ofpk{tag}{}a", u8::from(ring)),
                format!("ofpk{tag}{}b", u8::from(ring)),
            );
            assert!(ip(&[
                "link", "add", &a, "mtu", "9000", "type", "veth", "peer", "name", &b, "mtu", "9000"
            ]));
            let _guard = IpOnDrop::new(&["link", "del", &a]);
            let sa = PacketSocket::open(&a).expect("open a");
            let sb = PacketSocket::open(&b).expect("open b");
            assert!(!sa.has_ring(), "no ring until the port is busy");
            if ring {
                // Grown on a bound, running socket.
                assert!(sa.grow_ring());
            }
            assert_eq!(sa.has_ring(), ring);
            assert!(ip(&["link", "set", &a, "up"]) && ip(&["link", "set", &b, "up"]));
            // Frames sent before the kernel has seen the carrier are dropped.
            let t0 = Instant::now();
            while [&a, &b].iter().any(|n| {
                std::fs::read_to_string(format!("/sys/class/net/{n}/operstate"))
                    .map_or(true, |s| s.trim() != "up")
            }) {
                assert!(t0.elapsed() < Duration::from_secs(5), "veth up within 5 s");
                std::thread::sleep(Duration::from_millis(10));
            }
            let mut tagged = frame([0x81, 0x00], 64, 0x33);
            tagged[14..18].copy_from_slice(&[0x20, 0x0a, 0x88, 0xb5]); // PCP 1, VLAN 10
            let sent = vec![
                frame([0x88, 0xb5], 60, 0x11),
                tagged,
                frame([0x88, 0xb5], 5000, 0x55),
                frame([0x88, 0xb5], 1514, 0x77),
            ];
            let got = exchange(&sb, &sa, &sent);
            assert_eq!(got.len(), sent.len(), "ring {ring}: all frames");
            for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
                assert_eq!(g, s, "ring {ring}: frame {i} as sent");
            }
        }
    }

    #[test]
    fn finish_frame_puts_the_vlan_tag_back() {
        let f = frame([0x08, 0x00], 60, 0x42);
        let aux = AuxData {
            tp_status: TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID,
            tp_vlan_tci: 0x0064,
            tp_vlan_tpid: 0x88a8,
            ..AuxData::default()
        };
        let (g, _) = finish_frame(f.clone(), &[0; VNET_HDR_LEN], aux).expect("usable");
        assert_eq!(g.len(), 64);
        assert_eq!(&g[..12], &f[..12]);
        assert_eq!(&g[12..16], &[0x88, 0xa8, 0x00, 0x64]);
        assert_eq!(&g[16..64], &f[12..]);
        // A runt is refused.
        assert!(finish_frame(vec![0; 10], &[0; VNET_HDR_LEN], AuxData::default()).is_none());
    }
}
