//! Linux interface calls by `ioctl`, wrapped so the rest of the datapath
//! never touches raw file descriptors or `unsafe`.
//!
//! Why not a netlink crate: the ports need four calls (create a TAP, set
//! a link up, read its MAC, set its MTU), all available as classic
//! `SIOC*`/`TUNSETIFF` ioctls with fixed-size structs; netlink (addresses,
//! routes, veth pairs, namespaces) comes with the ports that need it.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const MAX_IFNAME: usize = 15;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;
const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const TUN_F_TSO_ECN: libc::c_uint = 0x08;

/// `struct ifreq` with the union members we use.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    data: IfReqData,
}

#[repr(C)]
union IfReqData {
    flags: libc::c_short,
    mtu: libc::c_int,
    hwaddr: libc::sockaddr,
    _pad: [u8; 24],
}

impl IfReq {
    fn new(name: &str) -> io::Result<IfReq> {
        check_name(name)?;
        let mut r = IfReq {
            name: [0; libc::IFNAMSIZ],
            data: IfReqData { _pad: [0; 24] },
        };
        for (d, s) in r.name.iter_mut().zip(name.bytes()) {
            *d = s as libc::c_char;
        }
        Ok(r)
    }

    fn name(&self) -> String {
        // SAFETY: `name` is NUL-terminated: at most IFNAMSIZ-1 bytes are
        // ever written into it, by us or by the kernel.
        let c = unsafe { CStr::from_ptr(self.name.as_ptr()) };
        c.to_string_lossy().into_owned()
    }
}

/// Checks an interface name the way the kernel will (length, no `/`,
/// whitespace or NUL), so the error names the problem.
pub fn check_name(name: &str) -> io::Result<()> {
    let bad = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad interface name {name:?}: {why}"),
        ))
    };
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_IFNAME {
        return bad("longer than 15 bytes");
    }
    if name
        .bytes()
        .any(|b| b == b'/' || b == 0 || b.is_ascii_whitespace() || b == b':')
    {
        return bad("contains '/', ':', a space or NUL");
    }
    Ok(())
}

fn ioctl_sock(req: libc::c_ulong, ifr: &mut IfReq) -> io::Result<()> {
    // SAFETY: plain socket(2); the result is checked and owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: `ifr` is a valid, properly sized `struct ifreq` for every
    // request used here (SIOC[GS]IFFLAGS, SIOC[GS]IFMTU, SIOCGIFHWADDR).
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), req as _, ifr as *mut IfReq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Creates (or attaches to) the TAP device `name`; returns its file
/// descriptor (non-blocking, close-on-exec) and the name the kernel gave
/// it. Every frame read or written is preceded by a `virtio_net_hdr`
/// (IFF_VNET_HDR), and the host may hand us checksum-offloaded and TSO
/// frames (TUNSETOFFLOAD): see `datapath::vnet`.
pub fn open_tap(name: &str) -> io::Result<(OwnedFd, String)> {
    let path = c"/dev/net/tun";
    // SAFETY: open(2) with a valid C string; the result is checked.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("/dev/net/tun: {e}")));
    }
    // SAFETY: fresh descriptor, owned from here on.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut ifr = IfReq::new(name)?;
    ifr.data.flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    // SAFETY: TUNSETIFF takes a `struct ifreq`, which `ifr` is.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETIFF as _, &mut ifr as *mut IfReq) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    let offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
    // SAFETY: TUNSETOFFLOAD takes an unsigned int by value.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), TUNSETOFFLOAD as _, offloads) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("TUNSETOFFLOAD {name}: {e}"),
        ));
    }
    Ok((fd, ifr.name()))
}

/// Sets the link up or down.
pub fn set_up(name: &str, up: bool) -> io::Result<()> {
    let mut ifr = IfReq::new(name)?;
    ioctl_sock(libc::SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: SIOCGIFFLAGS filled the `flags` member.
    let mut flags = unsafe { ifr.data.flags };
    if up {
        flags |= libc::IFF_UP as libc::c_short;
    } else {
        flags &= !(libc::IFF_UP as libc::c_short);
    }
    ifr.data.flags = flags;
    ioctl_sock(libc::SIOCSIFFLAGS, &mut ifr)
}

/// Whether the link is up and running (carrier).
pub fn is_running(name: &str) -> io::Result<bool> {
    let mut ifr = IfReq::new(name)?;
    ioctl_sock(libc::SIOCGIFFLAGS, &mut ifr)?;
    // SAFETY: SIOCGIFFLAGS filled the `flags` member.
    let flags = i32::from(unsafe { ifr.data.flags });
    Ok(flags & libc::IFF_UP != 0 && flags & libc::IFF_RUNNING != 0)
}

/// A link's administrative and operational state, from SIOCGIFFLAGS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkFlags {
    /// IFF_UP: administratively up (`ip link set X up`).
    pub up: bool,
    /// IFF_RUNNING: operationally up, i.e. up with carrier (a veth whose
    /// peer is down has none). Never set while the link is admin down.
    pub running: bool,
}

impl LinkFlags {
    /// From the `ifr_flags` of SIOCGIFFLAGS.
    pub fn from_bits(flags: libc::c_short) -> LinkFlags {
        let flags = i32::from(flags);
        LinkFlags {
            up: flags & libc::IFF_UP != 0,
            running: flags & libc::IFF_RUNNING != 0,
        }
    }
}

/// A socket kept open to read link flags again and again: one ioctl per
/// read, no allocation (what [`is_running`] does with a socket of its own
/// per call).
#[derive(Debug)]
pub struct FlagsReader {
    sock: OwnedFd,
}

impl FlagsReader {
    pub fn open() -> io::Result<FlagsReader> {
        // SAFETY: plain socket(2); the result is checked and owned at once.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(FlagsReader { sock })
    }

    /// The link's flags; ENODEV when there is no such link in the
    /// daemon's network namespace (deleted, or moved to another one).
    pub fn link_flags(&self, name: &str) -> io::Result<LinkFlags> {
        let mut ifr = IfReq::new(name)?;
        // SAFETY: `ifr` is a valid, properly sized `struct ifreq`, which
        // SIOCGIFFLAGS reads the name from and writes the flags into.
        let rc = unsafe {
            libc::ioctl(
                self.sock.as_raw_fd(),
                libc::SIOCGIFFLAGS as _,
                &mut ifr as *mut IfReq,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: SIOCGIFFLAGS filled the `flags` member.
        Ok(LinkFlags::from_bits(unsafe { ifr.data.flags }))
    }
}

/// The link's MAC address.
pub fn mac_address(name: &str) -> io::Result<[u8; 6]> {
    let mut ifr = IfReq::new(name)?;
    ioctl_sock(libc::SIOCGIFHWADDR, &mut ifr)?;
    // SAFETY: SIOCGIFHWADDR filled the `hwaddr` member.
    let sa = unsafe { ifr.data.hwaddr };
    let mut mac = [0u8; 6];
    for (m, b) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *m = *b as u8;
    }
    Ok(mac)
}

/// Sets the link's MAC address (the link should be down, or a TAP).
pub fn set_mac_address(name: &str, mac: [u8; 6]) -> io::Result<()> {
    let mut ifr = IfReq::new(name)?;
    // SAFETY: an all-zero sockaddr is a valid value to fill in.
    let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
    sa.sa_family = libc::ARPHRD_ETHER;
    for (d, b) in sa.sa_data.iter_mut().zip(mac.iter()) {
        *d = *b as libc::c_char;
    }
    ifr.data.hwaddr = sa;
    ioctl_sock(libc::SIOCSIFHWADDR, &mut ifr)
}

/// Sets the link's MTU.
pub fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let mut ifr = IfReq::new(name)?;
    ifr.data.mtu = libc::c_int::try_from(mtu)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "MTU out of range"))?;
    ioctl_sock(libc::SIOCSIFMTU, &mut ifr)
}

/// The link's MTU.
pub fn mtu(name: &str) -> io::Result<u32> {
    let mut ifr = IfReq::new(name)?;
    ioctl_sock(libc::SIOCGIFMTU, &mut ifr)?;
    // SAFETY: SIOCGIFMTU filled the `mtu` member.
    let m = unsafe { ifr.data.mtu };
    Ok(u32::try_from(m).unwrap_or(0))
}

/// The pending error of socket `fd` (`SO_ERROR`, which also clears it),
/// e.g. ENETDOWN on a packet socket whose interface went away; `None`
/// when there is none or `fd` is no socket (a TAP).
pub fn take_socket_error(fd: std::os::fd::RawFd) -> Option<io::Error> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt(2) into a live int of the length given; a bad or
    // non-socket descriptor only makes it fail.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    (rc == 0 && err != 0).then(|| io::Error::from_raw_os_error(err))
}

/// An error for a failed call (`rc < 0`) naming `what`, with the
/// kernel's reason.
pub fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// setsockopt(2) of a plain value; the raw return code.
pub fn setsockopt<T>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    opt: libc::c_int,
    v: &T,
) -> libc::c_int {
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

/// Sets a socket's buffer (`SO_RCVBUF` or `SO_SNDBUF` with their
/// `...FORCE` variant, which root may take past `net.core.*mem_max`) to
/// `bytes`; best effort (the kernel doubles it for its bookkeeping).
pub fn set_socket_buffer(
    fd: &impl AsRawFd,
    force: libc::c_int,
    plain: libc::c_int,
    bytes: libc::c_int,
) {
    if setsockopt(fd, libc::SOL_SOCKET, force, &bytes) < 0 {
        let _ = setsockopt(fd, libc::SOL_SOCKET, plain, &bytes);
    }
}

/// Free heap memory the allocator may keep for reuse before it gives any
/// back to the kernel.
pub const KEPT_FREE_MEMORY: usize = 32 << 20;

/// Makes the C allocator keep the memory the datapath frees, to reuse it,
/// instead of handing it back to the kernel at once.
///
/// Why: a tunnel's TSO frames are 64 KiB buffers, allocated and freed
/// thousands of times a second (received, cut or joined, sent). glibc's
/// defaults return the top of a heap to the kernel once more than
/// 128 KiB of it is free, and its mmap threshold moves with the sizes it
/// sees, so each new buffer was fresh memory to fault in, zero and charge:
/// page faults, page clearing and memory-cgroup accounting were a tenth
/// of the VXLAN TCP profile, and TCP across a VXLAN pair went from about
/// 5 to 7 Gbit/s without them. The cost is bounded: at most
/// [`KEPT_FREE_MEMORY`] of free heap per arena stays resident after a
/// burst, and an idle port allocates nothing, so the per-port figure does
/// not move. Does nothing with another C library.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let kept = libc::c_int::try_from(KEPT_FREE_MEMORY).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt(3) only sets allocator parameters; a value it
        // refuses leaves the default in place.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, kept);
            // Fixed (which also ends the threshold's drift): buffers up to
            // 1 MiB come from the heap, where freed ones are reused.
            libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_pending_error_on_a_fresh_socket_or_a_non_socket() {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        assert!(take_socket_error(s.as_raw_fd()).is_none());
        let f = std::fs::File::open("/dev/null").expect("/dev/null");
        assert!(take_socket_error(f.as_raw_fd()).is_none());
    }

    #[test]
    fn link_flags_from_bits() {
        let up = libc::IFF_UP as libc::c_short;
        let running = libc::IFF_RUNNING as libc::c_short;
        let bcast = libc::IFF_BROADCAST as libc::c_short;
        let cases = [
            (0, false, false),
            (up, true, false),
            (up | running, true, true),
            (up | running | bcast, true, true),
        ];
        for (bits, want_up, want_running) in cases {
            let f = LinkFlags::from_bits(bits);
            assert_eq!((f.up, f.running), (want_up, want_running), "{bits:#x}");
        }
    }

    #[test]
    fn flags_of_loopback_and_of_a_missing_link() {
        let r = FlagsReader::open().expect("an AF_INET datagram socket");
        // Loopback exists in every network namespace; it may be down in a
        // fresh one, so only the call is checked.
        assert!(r.link_flags("lo").is_ok());
        let e = r.link_flags("nosuchlink0x").expect_err("no such link");
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV), "{e}");
        assert!(r.link_flags("a/b").is_err());
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("br0").is_ok());
        assert!(check_name("a23456789012345").is_ok());
        for bad in ["", "a234567890123456", "a/b", "a b", "a:1"] {
            let e = check_name(bad).expect_err(bad);
            assert!(e.to_string().contains("bad interface name"), "{e}");
        }
    }
}
