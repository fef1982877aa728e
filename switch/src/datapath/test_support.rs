//! What the datapath's root-only unit tests share: running `ip`, the root
//! check (a test that needs root fails under `CI=true` instead of
//! skipping), and a guard that removes what a test made even when it fails.

use std::process::Command;

/// Runs `ip ARGS`; whether it succeeded.
pub fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Whether the test can go on: true as root; otherwise it says it skips,
/// and fails when `CI=true` (CI runs as root, so a skip there is a bug).
pub fn have_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true: this test needs root"
    );
    eprintln!("skipping: needs root");
    false
}

/// Runs `ip ARGS` when dropped (a `link del`, a `netns del`), so a failed
/// test leaves nothing behind.
pub struct IpOnDrop(pub Vec<String>);

impl IpOnDrop {
    pub fn new(args: &[&str]) -> IpOnDrop {
        IpOnDrop(args.iter().map(|a| a.to_string()).collect())
    }
}

impl Drop for IpOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(&self.0).status();
    }
}
