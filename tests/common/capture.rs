//! A controller's whole OpenFlow session captured on the loopback
//! (`tcpdump -i lo`, only TCP to or from the controller's port: the
//! loopback carries every other test's traffic too), then read by
//! Wireshark's OpenFlow dissector: no malformed packet, and some OpenFlow
//! 1.3 messages decoded at all.

use super::{have, require};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Skips, or fails under CI=true, without tcpdump and tshark.
pub fn require_capture_tools() -> bool {
    require("tcpdump", have("tcpdump")) && require("tshark", have("tshark"))
}

/// A running `tcpdump -i lo -w FILE tcp port PORT`; stopped (SIGINT, by
/// pid) by [`OfCapture::stop`], [`OfCapture::check`] or when dropped.
///
/// Not `--immediate-mode`: its ring has one snaplen-sized slot per packet
/// (about eight in the default buffer), so a burst of flow mods overflows
/// it and tcpdump reports "N packets dropped by kernel" while the session
/// itself lost nothing (a missing barrier reply once failed a Faucet test
/// that way). The default ring with a 16 MiB buffer keeps every packet,
/// at the price of a block that only retires after its 1 s timeout:
/// [`OfCapture::stop`] waits it out. [`OfCapture::check`] fails on any
/// drop, so a capture that missed packets is never read as the session.
pub struct OfCapture {
    child: Option<Child>,
    pub pcap: PathBuf,
    err: PathBuf,
    pub port: u16,
}

/// What tshark found in a capture.
#[derive(Debug)]
pub struct OfSummary {
    /// OpenFlow 1.3 messages decoded (several in one segment count one
    /// each).
    pub messages: usize,
    /// Messages per OFPT type number.
    pub types: BTreeMap<u8, usize>,
}

impl OfCapture {
    /// Starts capturing port `port` into `dir/NAME.pcap`; returns once
    /// tcpdump listens. Start it before the controller's session begins.
    pub fn start(dir: &Path, name: &str, port: u16) -> OfCapture {
        let pcap = dir.join(format!("{name}.pcap"));
        let err = dir.join(format!("{name}.tcpdump.txt"));
        let child = Command::new("tcpdump")
            // -Z root: tcpdump would otherwise drop to its own user before
            // creating the file in the test's private directory.
            .args([
                "-i", "lo", "-n", "-U", "-B", "16384", "-s", "0", "-Z", "root",
            ])
            .arg("-w")
            .arg(&pcap)
            .args(["tcp", "port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err).expect("tcpdump's log"))
            .spawn()
            .expect("start tcpdump");
        let mut cap = OfCapture {
            child: Some(child),
            pcap,
            err,
            port,
        };
        let t0 = Instant::now();
        loop {
            let e = std::fs::read_to_string(&cap.err).unwrap_or_default();
            if e.contains("listening on") {
                break;
            }
            let exited = cap.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || t0.elapsed() > Duration::from_secs(10) {
                panic!("tcpdump -i lo did not start ({exited:?}): {e}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cap
    }

    /// Stops the capture (idempotent), once the ring's last block
    /// retired: a SIGINT loses a block that has not.
    pub fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            std::thread::sleep(Duration::from_millis(1500));
            super::stop_child(c, libc::SIGINT);
        }
    }

    /// tcpdump's closing statistics ("N packets captured, ..., M packets
    /// dropped by kernel"), after [`OfCapture::stop`].
    pub fn stats(&self) -> String {
        std::fs::read_to_string(&self.err)
            .unwrap_or_default()
            .lines()
            .skip(1)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Packets the kernel dropped before tcpdump read them (None before
    /// the capture stopped, or if tcpdump did not say).
    pub fn dropped(&self) -> Option<u64> {
        let err = std::fs::read_to_string(&self.err).ok()?;
        err.lines()
            .find_map(|l| l.strip_suffix(" packets dropped by kernel"))
            .and_then(|n| n.trim().parse().ok())
    }

    /// Runs tshark over the capture, decoding the controller's port as
    /// OpenFlow, with `args` (a display filter, fields...); its output.
    pub fn tshark_args(&self, args: &[&str]) -> String {
        let decode = format!("tcp.port=={},openflow", self.port);
        let out = Command::new("tshark")
            .arg("-n")
            .arg("-r")
            .arg(&self.pcap)
            .args(["-d", &decode])
            .args(args)
            .output()
            .expect("run tshark");
        assert!(
            out.status.success(),
            "tshark -r {} {args:?} failed: {}",
            self.pcap.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn tshark(&self, filter: &str, fields: &[&str]) -> String {
        let mut args = vec!["-Y", filter];
        if !fields.is_empty() {
            args.extend(["-T", "fields"]);
            for f in fields {
                args.extend(["-e", f]);
            }
        }
        self.tshark_args(&args)
    }

    /// Stops the capture (call it after the controller's session ended)
    /// and checks it: no packet tshark calls malformed, and at least one
    /// OpenFlow 1.3 message. Panics with the offending packets otherwise;
    /// the pcap stays in the test's directory.
    pub fn check(mut self) -> OfSummary {
        self.stop();
        assert_eq!(
            self.dropped(),
            Some(0),
            "tcpdump did not keep the whole session ({}; {})",
            self.stats(),
            self.pcap.display()
        );
        let malformed = self.tshark("_ws.malformed", &[]);
        assert!(
            malformed.trim().is_empty(),
            "malformed OpenFlow in {} ({} packets):\n{malformed}",
            self.pcap.display(),
            malformed.lines().count()
        );
        let mut types = BTreeMap::new();
        let mut messages = 0;
        for t in self
            .tshark("openflow_v4", &["openflow_v4.type"])
            .split(['\n', ','])
            .filter_map(|t| t.trim().parse::<u8>().ok())
        {
            *types.entry(t).or_insert(0) += 1;
            messages += 1;
        }
        assert!(
            messages > 0,
            "no OpenFlow 1.3 message decoded in {} ({})",
            self.pcap.display(),
            std::fs::read_to_string(&self.err).unwrap_or_default()
        );
        eprintln!(
            "tshark: {messages} OpenFlow messages on port {}, none malformed; by type: {types:?}",
            self.port
        );
        OfSummary { messages, types }
    }
}

impl Drop for OfCapture {
    fn drop(&mut self) {
        self.stop();
    }
}
