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
//! This is the plain one-frame-per-syscall path; a batched ring
//! (TPACKET_V3) is the planned fast path.

use super::sys;
use super::vnet::{to_complemented, RxOffload, VNET_HDR_LEN};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use tokio::io::unix::AsyncFd;

const ETH_P_ALL: u16 = 0x0003;
const PACKET_AUXDATA: libc::c_int = 8;
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
const PACKET_VNET_HDR: libc::c_int = 15;
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
    fd: AsyncFd<OwnedFd>,
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
    /// Needs a tokio runtime and CAP_NET_RAW.
    pub fn open(name: &str) -> io::Result<PacketSocket> {
        sys::check_name(name)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(io::Error::other("a system port needs a tokio runtime"));
        }
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
        // SAFETY: the OwnedFd moves into the AsyncFd and stays open.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|e| io::Error::other(e.to_string()))?;
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

    /// Waits for the next frame, as it was on the wire (VLAN tag back in
    /// place) into `buf[..len]`; returns `len` and what its offload header said
    /// (a partial checksum is already complemented, see super::vnet).
    pub async fn recv(&self, buf: &mut Vec<u8>) -> io::Result<(usize, RxOffload)> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|fd| recv_one(fd.get_ref(), buf)) {
                Ok(Ok(Some(n))) => return Ok(n),
                Ok(Ok(None)) => continue,
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
    }

    /// Sends one frame with its offload header, without blocking; a full
    /// queue drops it (error).
    pub fn send(&self, hdr: &[u8; VNET_HDR_LEN], frame: &[u8]) -> io::Result<()> {
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
        let n = unsafe { libc::sendmsg(self.fd.get_ref().as_raw_fd(), &msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// One recvmsg: the frame into `buf` (resized), fixed up from the auxdata.
/// `Ok(None)`: nothing usable (e.g. an outgoing frame on old kernels).
fn recv_one(fd: &OwnedFd, buf: &mut Vec<u8>) -> io::Result<Option<(usize, RxOffload)>> {
    // Sized once: resizing after every truncate would zero 64 KiB per
    // frame (it was 8% of the forwarding CPU).
    if buf.len() < 65_536 + 4 {
        buf.resize(65_536 + 4, 0);
    }
    let mut hdr = [0u8; VNET_HDR_LEN];
    // Leave 4 bytes of room in front for a VLAN tag to put back.
    let mut iov = [
        libc::iovec {
            iov_base: hdr.as_mut_ptr().cast(),
            iov_len: hdr.len(),
        },
        libc::iovec {
            iov_base: buf[4..].as_mut_ptr().cast(),
            iov_len: buf.len() - 4,
        },
    ];
    let mut cbuf = [0u64; 16];
    // SAFETY: an all-zero msghdr is valid to fill in.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = 2;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
    // SAFETY: recvmsg with buffers that live through the call.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let Some(n) = (n as usize).checked_sub(VNET_HDR_LEN) else {
        return Ok(None);
    };
    if n > buf.len() - 4 || n < 14 {
        // Truncated (larger than any frame we accept) or runt: drop.
        return Ok(None);
    }
    let mut aux = None;
    // SAFETY: walking the control messages the kernel wrote, with the
    // libc CMSG macros, within `msg_controllen`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == PACKET_AUXDATA {
                let p = libc::CMSG_DATA(c) as *const AuxData;
                aux = Some(std::ptr::read_unaligned(p));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    let aux = aux.unwrap_or_default();
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
    let mut o = RxOffload::from_header(&hdr);
    if aux.tp_status & TP_STATUS_CSUMNOTREADY != 0 && !o.needs_csum {
        // Partial checksum reported only in the auxdata: finish it here.
        crate::packet::fill_l4_checksum(&mut buf[..len]);
        o = RxOffload::default();
    }
    to_complemented(&mut buf[..len], o);
    Ok(Some((len, o)))
}
