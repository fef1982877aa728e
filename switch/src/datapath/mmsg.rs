//! Receiving datagrams in batches (`recvmmsg(2)`) on the tunnel sockets:
//! one system call for up to [`RECV_MSGS`] datagrams, each with its
//! sender's address and, on a UDP socket with `UDP_GRO` on, the size of
//! the datagrams the kernel coalesced into it.
//!
//! The buffers are one allocation per socket, zeroed, which the allocator
//! takes from `mmap` and so leaves unmapped until the kernel writes into
//! it: an idle tunnel costs address space, not memory.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

/// Datagrams one call takes at most.
pub const RECV_MSGS: usize = 64;
/// One buffer: the largest UDP payload (a GRO batch is at most that).
const BUF: usize = 65_536;
/// `UDP_GRO`, from `linux/udp.h`.
pub const UDP_GRO: libc::c_int = 104;

/// Receive memory and results of one `recvmmsg` call.
pub struct RecvMmsg {
    /// [`RECV_MSGS`] buffers of [`BUF`] bytes, back to back.
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    cmsgs: Vec<[u64; 8]>,
    /// Per received message: length and coalesced datagram size (0: one).
    got: Vec<(usize, usize)>,
}

impl Default for RecvMmsg {
    fn default() -> Self {
        RecvMmsg::new()
    }
}

impl RecvMmsg {
    pub fn new() -> RecvMmsg {
        RecvMmsg {
            bufs: vec![0u8; RECV_MSGS * BUF],
            // SAFETY: an all-zero sockaddr_storage is valid.
            names: vec![unsafe { std::mem::zeroed() }; RECV_MSGS],
            cmsgs: vec![[0; 8]; RECV_MSGS],
            got: Vec::with_capacity(RECV_MSGS),
        }
    }

    /// Receives what is waiting on `fd`, at most `max` messages, without
    /// blocking; how many came (0 when none was waiting).
    pub fn recv(&mut self, fd: RawFd, max: usize) -> io::Result<usize> {
        let max = max.clamp(1, RECV_MSGS);
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .chunks_mut(BUF)
            .take(max)
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(max);
        // `max` of each: `bufs`, `names` and `cmsgs` hold RECV_MSGS.
        let slots = iovs.iter_mut().zip(&mut self.names).zip(&mut self.cmsgs);
        for ((iov, name), cmsg) in slots {
            // SAFETY: an all-zero mmsghdr is valid to fill in.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (name as *mut libc::sockaddr_storage).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            m.msg_hdr.msg_control = cmsg.as_mut_ptr().cast();
            m.msg_hdr.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
            msgs.push(m);
        }
        self.got.clear();
        // SAFETY: recvmmsg(2) into headers whose buffers, names and
        // control areas live through the call.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(0),
                _ => Err(e),
            };
        }
        for m in &msgs[..n as usize] {
            let len = (m.msg_len as usize).min(BUF);
            self.got.push((len, gro_size(&m.msg_hdr)));
        }
        Ok(n as usize)
    }

    /// How many messages the last call got.
    pub fn len(&self) -> usize {
        self.got.len()
    }

    pub fn is_empty(&self) -> bool {
        self.got.is_empty()
    }

    /// Message `i`'s bytes.
    pub fn data(&self, i: usize) -> &[u8] {
        &self.bufs[i * BUF..i * BUF + self.got[i].0]
    }

    /// Message `i`'s datagrams: the coalesced ones one by one.
    pub fn datagrams(&self, i: usize) -> std::slice::Chunks<'_, u8> {
        let d = self.data(i);
        let size = match self.got[i].1 {
            0 => d.len().max(1),
            s => s,
        };
        d.chunks(size)
    }

    /// The sender of message `i` (IPv4-mapped addresses unmapped).
    pub fn from(&self, i: usize) -> Option<IpAddr> {
        sockaddr_ip(&self.names[i])
    }
}

/// The datagram size of a UDP GRO batch, from its control message.
fn gro_size(h: &libc::msghdr) -> usize {
    // SAFETY: walking the control messages recvmmsg filled in, within
    // msg_controllen, with the libc macros.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(h);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_UDP && (*c).cmsg_type == UDP_GRO {
                let mut v: libc::c_int = 0;
                std::ptr::copy_nonoverlapping(
                    libc::CMSG_DATA(c),
                    (&mut v as *mut libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>(),
                );
                return usize::try_from(v).unwrap_or(0);
            }
            c = libc::CMSG_NXTHDR(h, c);
        }
    }
    0
}

/// The IP address in a socket address (IPv4-mapped IPv6 as IPv4).
pub fn sockaddr_ip(s: &libc::sockaddr_storage) -> Option<IpAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this is a sockaddr_in.
            let sin: &libc::sockaddr_in = unsafe { &*(s as *const _ as *const libc::sockaddr_in) };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this is a sockaddr_in6.
            let sin6: &libc::sockaddr_in6 =
                unsafe { &*(s as *const _ as *const libc::sockaddr_in6) };
            let v6 = Ipv6Addr::from(sin6.sin6_addr.s6_addr);
            Some(
                v6.to_ipv4_mapped()
                    .map(IpAddr::V4)
                    .unwrap_or(IpAddr::V6(v6)),
            )
        }
        _ => None,
    }
}

/// Turns UDP GRO on for a UDP socket: the kernel then hands over a train
/// of datagrams of one size from one sender as one message.
pub fn enable_udp_gro(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt(2) with a live int.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_UDP,
            UDP_GRO,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_of_datagrams_with_their_senders() {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = rx.local_addr().expect("addr");
        for i in 0..3u8 {
            tx.send_to(&[i; 10], to).expect("send");
        }
        let mut b = RecvMmsg::new();
        assert_eq!(b.recv(rx.as_raw_fd(), RECV_MSGS).expect("recv"), 3);
        for i in 0..3 {
            assert_eq!(b.data(i), &[i as u8; 10]);
            assert_eq!(b.datagrams(i).count(), 1);
            assert_eq!(b.from(i), Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        }
        assert_eq!(b.recv(rx.as_raw_fd(), RECV_MSGS).expect("recv"), 0);
    }
}
