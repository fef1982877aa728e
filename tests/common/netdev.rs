//! Network devices for the end-to-end tests: veth pairs that are deleted
//! even when a test fails, and raw frames sent out of an interface.

use super::{sh, unique, Netns};
use std::process::{Command, Stdio};

/// A veth pair made in the test's namespace with unique names; deleted
/// when dropped (deleting one end takes the other along, wherever it is).
pub struct Veth {
    /// The end a test usually gives the switch.
    pub end: String,
    /// The other end: stays here, or goes into a namespace.
    pub peer: String,
}

impl Veth {
    /// Makes the pair, both ends down.
    pub fn new() -> Veth {
        let (end, peer) = (unique("v"), unique("w"));
        sh(&[
            "ip", "link", "add", &end, "type", "veth", "peer", "name", &peer,
        ]);
        Veth { end, peer }
    }

    /// Turns IPv6 off on both ends, so that nothing but what the test sends
    /// (no router solicitations, no MLD reports) is on the wire.
    pub fn quiet(self) -> Veth {
        for dev in [&self.end, &self.peer] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
        }
        self
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.end])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Sends `frames`, as they are (an 802.1Q tag in the frame stays in the
/// frame), out of `dev` in namespace `ns` (`None`: the test's own): an
/// `AF_PACKET` socket opened by a thread that joined the namespace. This
/// stands for a VLAN-aware host on a trunk (this kernel has no 8021q
/// module for VLAN devices), or for many hosts at once (a flood of
/// distinct source MACs). A full transmit queue (ENOBUFS) is waited out.
pub fn inject(ns: Option<&Netns>, dev: &str, frames: Vec<Vec<u8>>) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let path = ns.map(|ns| format!("/var/run/netns/{}", ns.0));
    let name = dev.to_string();
    let r = std::thread::spawn(move || -> Result<(), String> {
        if let Some(path) = path {
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: setns(2) on an open namespace file; it moves only
            // this thread, which ends with this closure.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
        }
        let cname = std::ffi::CString::new(name.clone()).map_err(|e| e.to_string())?;
        // SAFETY: a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
        if ifindex == 0 {
            return Err(format!("no {name}: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: plain socket(2), owned at once. Protocol 0: send only.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(format!("socket: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: a fresh descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        for frame in frames {
            // SAFETY: an all-zero sockaddr_ll is valid to fill in.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = ifindex as i32;
            sll.sll_halen = 6;
            sll.sll_addr[..6].copy_from_slice(&frame[..6]);
            let mut tries = 0;
            loop {
                // SAFETY: sendto(2) from a live buffer with a sized address.
                let n = unsafe {
                    libc::sendto(
                        fd.as_raw_fd(),
                        frame.as_ptr().cast(),
                        frame.len(),
                        0,
                        (&sll as *const libc::sockaddr_ll).cast(),
                        std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                    )
                };
                if n >= 0 {
                    break;
                }
                let e = std::io::Error::last_os_error();
                tries += 1;
                if e.raw_os_error() != Some(libc::ENOBUFS) || tries > 1000 {
                    return Err(format!("sendto: {e}"));
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        Ok(())
    })
    .join()
    .expect("injecting thread");
    if let Err(e) = r {
        let ns = ns.map_or("the test's namespace", |ns| ns.0.as_str());
        panic!("injecting frames on {dev} in {ns}: {e}");
    }
}

/// Counts the frames containing a marker that arrive on `dev` in
/// namespace `ns`, from [`Capture::start`] until [`Capture::stop`]: an
/// `AF_PACKET` socket (all protocols) bound to the device, read by a thread
/// that joined the namespace. Frames the host itself sends are not counted.
/// The first [`Capture::KEEP`] of them are kept, bytes and all
/// ([`Capture::stop_frames`]).
pub struct Capture {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<Captured, String>>>,
}

/// How many frames matched, and the first [`Capture::KEEP`] of them.
type Captured = (usize, Vec<Vec<u8>>);

impl Capture {
    /// How many matching frames are kept.
    pub const KEEP: usize = 1000;

    /// Starts counting; returns once the socket is bound.
    pub fn start(ns: &Netns, dev: &str, marker: &[u8]) -> Capture {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::sync::atomic::Ordering;
        let path = format!("/var/run/netns/{}", ns.0);
        let name = dev.to_string();
        let marker = marker.to_vec();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || -> Result<Captured, String> {
            let f = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: setns(2) on an open namespace file; it moves only
            // this thread, which ends with this closure.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            let cname = std::ffi::CString::new(name.clone()).map_err(|e| e.to_string())?;
            // SAFETY: a valid C string.
            let ifindex = unsafe { libc::if_nametoindex(cname.as_ptr()) };
            if ifindex == 0 {
                return Err(format!("no {name}: {}", std::io::Error::last_os_error()));
            }
            let all = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: plain socket(2), owned at once.
            let raw = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    all as i32,
                )
            };
            if raw < 0 {
                return Err(format!("socket: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: a fresh descriptor.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: an all-zero sockaddr_ll is valid to fill in.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = all;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: bind(2) with a sized address.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sll as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if r != 0 {
                return Err(format!("bind: {}", std::io::Error::last_os_error()));
            }
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 100_000,
            };
            // SAFETY: setsockopt(2) with a sized timeval.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as libc::socklen_t,
                )
            };
            let _ = ready_tx.send(());
            let mut n = 0;
            let mut kept = Vec::new();
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::Relaxed) {
                // SAFETY: an all-zero sockaddr_ll is valid to fill in.
                let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                // SAFETY: recvfrom(2) into a live buffer and address.
                let got = unsafe {
                    libc::recvfrom(
                        fd.as_raw_fd(),
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        0,
                        (&mut from as *mut libc::sockaddr_ll).cast(),
                        &mut len,
                    )
                };
                if got <= 0 || from.sll_pkttype == libc::PACKET_OUTGOING {
                    continue;
                }
                let frame = &buf[..got as usize];
                if frame.windows(marker.len()).any(|w| w == marker.as_slice()) {
                    n += 1;
                    if kept.len() < Self::KEEP {
                        kept.push(frame.to_vec());
                    }
                }
            }
            Ok((n, kept))
        });
        let _ = ready_rx.recv_timeout(std::time::Duration::from_secs(10));
        Capture {
            stop,
            thread: Some(thread),
        }
    }

    /// Stops and returns how many frames with the marker arrived.
    pub fn stop(self) -> usize {
        self.finish().0
    }

    /// Stops and returns the frames with the marker, as they arrived.
    pub fn stop_frames(self) -> Vec<Vec<u8>> {
        self.finish().1
    }

    fn finish(mut self) -> Captured {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match self.thread.take().expect("capture thread").join() {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => panic!("capture: {e}"),
            Err(_) => panic!("capture thread panicked"),
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}
