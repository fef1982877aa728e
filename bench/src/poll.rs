//! Waiting on many sockets at once with `ppoll(2)`, a fine timer, and
//! non-blocking writes.
//!
//! Why ppoll and not mio or a tokio runtime: the event loop paces
//! packet-ins microseconds apart (--rate), and both epoll_wait (as mio
//! uses it) and tokio's timer round a wait up to whole milliseconds, which
//! would turn an even rate into a burst per millisecond. ppoll takes a
//! timespec; with the thread's timer slack lowered from the default 50 µs
//! ([`fine_timer_slack`]) it wakes close to when asked. A few dozen
//! sockets per thread make poll's linear scan no cost worth an epoll set.

use std::io::{self, Write};
use std::os::fd::RawFd;
use std::time::Duration;

/// Readiness to wait for on one socket.
pub fn interest(fd: RawFd, writable: bool) -> libc::pollfd {
    let mut events = libc::POLLIN;
    if writable {
        events |= libc::POLLOUT;
    }
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Waits until one of `fds` is ready or `timeout` passed; the `revents` of
/// each say what it is ready for. A signal counts as a timeout.
pub fn wait(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `fds` is a valid slice of pollfd for its length; `ts` lives
    // for the call; a null signal mask keeps the thread's mask.
    let r = unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

/// True if `p` may be read (data, end of stream or an error to report).
pub fn readable(p: &libc::pollfd) -> bool {
    p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0
}

/// Writes as much of `out` as `w` takes without blocking and removes it
/// from `out`; true if all of it went (else the rest waits for POLLOUT).
pub fn write_some(w: &mut impl Write, out: &mut Vec<u8>) -> io::Result<bool> {
    while !out.is_empty() {
        match w.write(out) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Lets this thread's timed waits end within 1 µs of their deadline
/// instead of the default 50 µs (a Linux thread attribute; ignored
/// elsewhere or if refused).
pub fn fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument, nanoseconds.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong);
    }
}
