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
//! Frames are received in batches with `recvmmsg(2)` into a forwarding
//! thread's [`RecvBatch`] (see [`super::workers`]) and sent in batches with
//! `sendmmsg(2)` (see [`super::txbatch`]). Not a TPACKET ring: ring slots
//! are fixed-size, and GSO frames (up to 64 KiB with offloads on) would
//! need 64 KiB slots; TPACKET_V3's variable blocks wake the reader only
//! when a block fills or times out, which costs latency.

use super::sys;
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

/// An `AF_PACKET` socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    name: String,
    ifindex: i32,
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, opt: libc::c_int, v: &T) -> libc::c_int {
    // SAFETY: `v` points to a live value of the size passed.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    }
}

impl PacketSocket {
    /// Opens the interface `name` (which must exist), in promiscuous mode.
    /// Needs CAP_NET_RAW.
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
        // SAFETY: plain socket(2); checked and owned at once.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ALL.to_be()),
            )
        };
        check(raw, "socket(AF_PACKET)")?;
        // SAFETY: fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
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
        // Room for bursts: the default receive buffer (about 200 KiB) holds
        // three GSO frames, and a frame that finds it full is lost (TCP
        // then retransmits). Root may exceed net.core.rmem_max with the
        // FORCE variants; otherwise take what the limit allows.
        let size: libc::c_int = SOCKET_BUFFER;
        for (force, plain) in [
            (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
            (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
        ] {
            if setsockopt(&fd, libc::SOL_SOCKET, force, &size) < 0 {
                let _ = setsockopt(&fd, libc::SOL_SOCKET, plain, &size);
            }
        }
        // SAFETY: an all-zero sockaddr_ll is valid to fill in.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ETH_P_ALL.to_be();
        sll.sll_ifindex = ifindex;
        // SAFETY: bind with a properly sized sockaddr_ll.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        check(rc, &format!("bind to {name}"))?;
        // SAFETY: an all-zero packet_mreq is valid to fill in.
        let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
        mreq.mr_ifindex = ifindex;
        mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
        check(
            setsockopt(&fd, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq),
            "promiscuous mode",
        )?;
        let _ = sys::set_up(name, true);
        Ok(PacketSocket {
            fd,
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
        batch.recv(&self.fd)
    }

    /// Sends one frame with its offload header, without blocking; a full
    /// queue drops it (error). On a forwarding thread the frame is queued
    /// and leaves with the thread's next batch; a refusal then is counted
    /// in `counters`.
    pub fn send(
        &self,
        hdr: &[u8; VNET_HDR_LEN],
        frame: &[u8],
        counters: &std::sync::Arc<crate::pipeline::ports::PortCounters>,
    ) -> io::Result<()> {
        if super::txbatch::queue(self.fd.as_raw_fd(), hdr, frame, counters) {
            return Ok(());
        }
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
        let n = unsafe { libc::sendmsg(self.fd.as_raw_fd(), &msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Receive memory for one `recvmmsg` call: [`RECV_BATCH`] slots, each
/// large enough for a GSO frame, with room for its offload header and
/// auxdata. A forwarding thread owns one and lends it to its sources.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    hdrs: Vec<[u8; VNET_HDR_LEN]>,
    cmsgs: Vec<[u64; 8]>,
    /// Per received frame: its slot's bytes `[start..start + len]` and
    /// offload state.
    got: Vec<(usize, usize, RxOffload)>,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch::new()
    }
}

impl RecvBatch {
    pub fn new() -> RecvBatch {
        RecvBatch {
            bufs: (0..RECV_BATCH).map(|_| vec![0u8; SLOT]).collect(),
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

    /// Frame `i` of the last receive and its offload state.
    pub fn frame(&self, i: usize) -> (&[u8], RxOffload) {
        let (start, len, o) = self.got[i];
        (&self.bufs[i][start..start + len], o)
    }

    fn recv(&mut self, fd: &OwnedFd) -> io::Result<usize> {
        self.got.clear();
        let mut iovs: Vec<[libc::iovec; 2]> = Vec::with_capacity(RECV_BATCH);
        for (hdr, buf) in self.hdrs.iter_mut().zip(self.bufs.iter_mut()) {
            // Leave 4 bytes of room in front for a VLAN tag to put back.
            iovs.push([
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: hdr.len(),
                },
                libc::iovec {
                    iov_base: buf[4..].as_mut_ptr().cast(),
                    iov_len: buf.len() - 4,
                },
            ]);
        }
        let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(RECV_BATCH);
        for (iov, cbuf) in iovs.iter_mut().zip(self.cmsgs.iter_mut()) {
            // SAFETY: an all-zero mmsghdr is valid to fill in.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov.as_mut_ptr();
            m.msg_hdr.msg_iovlen = 2;
            m.msg_hdr.msg_control = cbuf.as_mut_ptr().cast();
            m.msg_hdr.msg_controllen = std::mem::size_of_val(cbuf) as _;
            msgs.push(m);
        }
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
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(0);
            }
            return Err(e);
        }
        let n = n as usize;
        for (i, m) in msgs.iter().enumerate().take(n) {
            let aux = aux_data(&m.msg_hdr);
            let got = fix_up(&mut self.bufs[i], &self.hdrs[i], m.msg_len as usize, aux);
            // A frame we cannot use still takes its slot, as empty.
            self.got
                .push(got.map_or((0, 0, RxOffload::default()), |(len, o)| (0, len, o)));
        }
        Ok(n)
    }
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

/// Turns what the kernel wrote into a slot (`n` bytes: offload header,
/// then the frame at `buf[4..]`) into the frame as it was on the wire, at
/// `buf[..len]`. `None`: nothing usable (runt, or larger than any frame we
/// accept).
fn fix_up(
    buf: &mut [u8],
    hdr: &[u8; VNET_HDR_LEN],
    n: usize,
    aux: AuxData,
) -> Option<(usize, RxOffload)> {
    let n = n.checked_sub(VNET_HDR_LEN)?;
    if n > buf.len() - 4 || n < 14 {
        return None;
    }
    let mut start = 4;
    let mut len = n;
    if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
        // Put the tag back after the MAC addresses.
        let tpid = if aux.tp_status & TP_STATUS_VLAN_TPID_VALID != 0 && aux.tp_vlan_tpid != 0 {
            aux.tp_vlan_tpid
        } else {
            0x8100
        };
        buf.copy_within(4..16, 0);
        buf[12..14].copy_from_slice(&tpid.to_be_bytes());
        buf[14..16].copy_from_slice(&aux.tp_vlan_tci.to_be_bytes());
        start = 0;
        len += 4;
    }
    if start != 0 {
        buf.copy_within(start..start + len, 0);
    }
    let mut o = RxOffload::from_header(hdr);
    if aux.tp_status & TP_STATUS_CSUMNOTREADY != 0 && !o.needs_csum {
        // Partial checksum reported only in the auxdata: finish it here.
        crate::packet::fill_l4_checksum(&mut buf[..len]);
        o = RxOffload::default();
    }
    to_complemented(&mut buf[..len], o);
    Some((len, o))
}
