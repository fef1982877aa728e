//! Free TCP ports for tests, shared by the end-to-end suite and the
//! `switch` crate's CLI tests (included with `#[path]`, so no imports
//! beyond std).

use std::sync::atomic::{AtomicU32, Ordering};

/// A TCP port on 127.0.0.1 nobody listens on right now, for a controller
/// or a passive listener a test starts later.
///
/// Taken from outside the kernel's ephemeral range
/// (`net.ipv4.ip_local_port_range`): a port from `bind(0)` is an ephemeral
/// port, and between releasing it and binding it again any outgoing
/// connection (another test's switch reconnecting, say) may take it as its
/// local port, so the later `bind` fails with "Address already in use".
/// Ports outside that range are never handed out by `connect`. A
/// per-process counter starting at a pid-derived offset keeps the tests of
/// one binary (threads) and of separate binaries apart.
pub fn free_port() -> u16 {
    let listener = free_listener();
    listener
        .local_addr()
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("address of a bound listener: {e}"))
}

/// A listener on 127.0.0.1, bound to a port [`free_port`] would hand out,
/// and kept: for a controller the test runs itself, so that no other
/// process can take the port between choosing it and listening on it.
pub fn free_listener() -> std::net::TcpListener {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let (lo, hi) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|v| v.parse::<u32>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999));
    // The larger of the two gaps around the ephemeral range.
    let (first, last) = if lo.saturating_sub(10_000) >= 65_535u32.saturating_sub(hi) {
        (10_000, lo.saturating_sub(1))
    } else {
        (hi + 1, 65_535)
    };
    let span = last.saturating_sub(first) + 1;
    assert!(
        span >= 1000,
        "no room outside the ephemeral ports {lo}-{hi}"
    );
    let base = std::process::id().wrapping_mul(7919) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = first + (base + n) % span;
        if let Ok(port) = u16::try_from(port) {
            if let Ok(listener) = std::net::TcpListener::bind(("127.0.0.1", port)) {
                return listener;
            }
        }
    }
    panic!("no free TCP port in {first}-{last}")
}
