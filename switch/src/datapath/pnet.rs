//! A system port through the `pnet_datalink` crate instead of our own
//! `AF_PACKET` code (`options:backend=pnet`), kept as a portable,
//! independent baseline to measure [`super::afpacket`] against.
//!
//! What it gives up, by the crate's design (one `poll` plus one
//! `recvfrom`/`sendto` per frame, no socket options beyond promiscuous
//! mode): no batching, no VLAN tag reinsertion (the kernel strips 802.1Q
//! tags on receive and pnet does not read `PACKET_AUXDATA`, so tagged
//! frames arrive untagged), no offload metadata (hosts must turn checksum
//! offload off: `ethtool -K eth0 tx off`). We create the socket ourselves,
//! to set `PACKET_IGNORE_OUTGOING` (without it every frame we send would
//! be received again), and hand it to pnet, which owns it from then on.

use super::sys;
use std::io;
use std::os::fd::RawFd;
use std::sync::Mutex;
use std::time::Duration;

const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

/// One interface opened through pnet.
pub struct PnetPort {
    name: String,
    /// pnet's socket (pnet closes it when both halves are dropped).
    fd: RawFd,
    tx: Mutex<Box<dyn pnet_datalink::DataLinkSender>>,
    rx: Mutex<Box<dyn pnet_datalink::DataLinkReceiver>>,
}

impl std::fmt::Debug for PnetPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PnetPort")
            .field("name", &self.name)
            .finish()
    }
}

impl PnetPort {
    /// Opens interface `name` in promiscuous mode. Needs CAP_NET_RAW.
    pub fn open(name: &str) -> io::Result<PnetPort> {
        sys::check_name(name)?;
        let iface = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no interface named {name}"),
                )
            })?;
        // SAFETY: plain socket(2); handed to pnet below, which owns it
        // (and closes it on its error paths).
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(0x0003u16.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let one: libc::c_int = 1;
        // SAFETY: setsockopt(2) with a live int.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            // SAFETY: our descriptor, not yet handed over.
            unsafe { libc::close(fd) };
            return Err(e);
        }
        let config = pnet_datalink::Config {
            read_buffer_size: 65_536,
            write_buffer_size: 65_536,
            // Never block: a forwarding thread polls, and a full queue
            // drops the frame.
            read_timeout: Some(Duration::ZERO),
            write_timeout: Some(Duration::ZERO),
            promiscuous: true,
            socket_fd: Some(fd),
            ..Default::default()
        };
        let (tx, rx) = match pnet_datalink::channel(&iface, config)? {
            pnet_datalink::Channel::Ethernet(tx, rx) => (tx, rx),
            _ => return Err(io::Error::other("pnet returned a non-Ethernet channel")),
        };
        let _ = sys::set_up(name, true);
        Ok(PnetPort {
            name: name.to_string(),
            fd,
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.fd
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls `f` with the next waiting frame; false when there is none.
    pub fn try_recv(&self, f: impl FnOnce(&[u8])) -> io::Result<bool> {
        let mut rx = self
            .rx
            .lock()
            .map_err(|_| io::Error::other("pnet receiver poisoned"))?;
        match rx.next() {
            Ok(frame) => {
                f(frame);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends one frame, without blocking (a full queue is an error).
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        let mut tx = self
            .tx
            .lock()
            .map_err(|_| io::Error::other("pnet sender poisoned"))?;
        tx.send_to(frame, None)
            .unwrap_or_else(|| Err(io::Error::other("pnet could not send")))
    }
}
