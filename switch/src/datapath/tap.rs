//! A TAP device as a switch port: the bridge's internal port (`LOCAL`),
//! where the host's own IP address lives, as Open vSwitch's
//! `type=internal` ports.
//!
//! The device exists as long as the port holds its file descriptor (not
//! persistent): when the daemon stops or the port is removed, the kernel
//! deletes the interface, so a crash leaves nothing behind.

use super::sys;
use super::vnet::{to_complemented, RxOffload, VNET_HDR_LEN};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// An open TAP device.
#[derive(Debug)]
pub struct Tap {
    fd: OwnedFd,
    name: String,
}

impl Tap {
    /// Creates the TAP device `name` with MAC `mac` (the kernel picks a
    /// random one when `None`) and sets it up. Needs CAP_NET_ADMIN.
    pub fn open_with_mac(name: &str, mac: Option<[u8; 6]>) -> io::Result<Tap> {
        let (fd, name) = sys::open_tap(name)?;
        if let Some(mac) = mac {
            sys::set_mac_address(&name, mac)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: set MAC: {e}")))?;
        }
        let tap = Tap { fd, name };
        sys::set_up(&tap.name, true)?;
        Ok(tap)
    }

    /// Creates the TAP device `name` (random MAC) and sets it up.
    pub fn open(name: &str) -> io::Result<Tap> {
        Tap::open_with_mac(name, None)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Takes the next frame the host sent into the device, without
    /// blocking, into `buf`; returns its length and its offload state (a
    /// partial checksum is already complemented, see `datapath::vnet`), or
    /// `None` when there is none.
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<(usize, RxOffload)>> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            },
        ];
        // SAFETY: readv(2) into live, writable buffers.
        let n = unsafe { libc::readv(self.fd.as_raw_fd(), iov.as_mut_ptr(), 2) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(e);
        }
        let n = (n as usize).saturating_sub(VNET_HDR_LEN);
        let o = RxOffload::from_header(&hdr);
        to_complemented(&mut buf[..n], o);
        Ok(Some((n, o)))
    }

    /// Hands one frame to the host with its offload header. Never blocks:
    /// when the device's queue is full the frame is dropped and the error
    /// says so (the caller counts it as tx_dropped), as a NIC would.
    pub fn send(&self, hdr: &[u8; VNET_HDR_LEN], frame: &[u8]) -> io::Result<()> {
        let iov = [
            libc::iovec {
                iov_base: hdr.as_ptr() as *mut libc::c_void,
                iov_len: hdr.len(),
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        // SAFETY: writev(2) from live buffers; the kernel only reads them.
        let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), 2) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datapath::test_support::{have_root, ip, IpOnDrop};
    use std::process::Command;

    /// The host side of a TAP in a namespace sends an ARP request for a
    /// neighbour; the port reads it; a reply written to the port reaches
    /// the host (its neighbour table learns the MAC).
    #[test]
    fn frames_flow_both_ways() {
        if !have_root() {
            return;
        }
        let tag = std::process::id();
        let name = format!("oftap{tag}");
        let ns = format!("oftapns{tag}");
        let _ns_guard = IpOnDrop::new(&["netns", "del", &ns]);
        let tap = Tap::open(&name).expect("open tap");
        assert_eq!(tap.name(), name);
        let mac = sys::mac_address(&name).expect("mac");
        assert!(ip(&["netns", "add", &ns]));
        assert!(ip(&["link", "set", &name, "netns", &ns]));
        assert!(ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            "192.0.2.1/24",
            "dev",
            &name
        ]));
        assert!(ip(&["-n", &ns, "link", "set", &name, "up"]));
        // Make the host ARP for 192.0.2.2.
        let _ = Command::new("ip")
            .args([
                "netns",
                "exec",
                &ns,
                "ping",
                "-c",
                "1",
                "-W",
                "1",
                "192.0.2.2",
            ])
            .spawn();
        let mut buf = vec![0u8; 2048];
        let t0 = std::time::Instant::now();
        let arp = loop {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(5),
                "a frame within 5 s"
            );
            let Some((n, _)) = tap.try_recv(&mut buf).expect("read") else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            let f = &buf[..n];
            if n >= 42 && f[12..14] == [0x08, 0x06] {
                break f.to_vec();
            }
        };
        assert_eq!(&arp[6..12], &mac, "sent by the device's MAC");
        assert_eq!(&arp[38..42], &[192, 0, 2, 2], "asks for 192.0.2.2");
        // Answer it.
        let peer = [0x02, 0, 0, 0, 0, 0x22];
        let mut reply = Vec::new();
        reply.extend_from_slice(&arp[6..12]);
        reply.extend_from_slice(&peer);
        reply.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
        reply.extend_from_slice(&peer);
        reply.extend_from_slice(&[192, 0, 2, 2]);
        reply.extend_from_slice(&arp[6..12]);
        reply.extend_from_slice(&[192, 0, 2, 1]);
        tap.send(&[0; VNET_HDR_LEN], &reply).expect("send");
        let mut learned = false;
        for _ in 0..50 {
            let out = Command::new("ip")
                .args(["-n", &ns, "neigh", "show", "192.0.2.2"])
                .output()
                .expect("ip neigh");
            if String::from_utf8_lossy(&out.stdout).contains("02:00:00:00:00:22") {
                learned = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert!(learned, "the host learned the MAC from our reply");
    }
}
