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
/// pid) by [`OfCapture::check`] or when dropped.
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
            // Each packet handed over and written as it comes (without
            // --immediate-mode the kernel delivers them in blocks, and a
            // short session may still sit there when tcpdump is stopped).
            .args(["-i", "lo", "-n", "--immediate-mode", "-U", "-s", "0", "-w"])
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

    fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            // The session's last segments (the close) a moment to arrive.
            std::thread::sleep(Duration::from_millis(200));
            super::stop_child(c, libc::SIGINT);
        }
    }

    fn tshark(&self, filter: &str, fields: &[&str]) -> String {
        let decode = format!("tcp.port=={},openflow", self.port);
        let mut cmd = Command::new("tshark");
        cmd.arg("-r")
            .arg(&self.pcap)
            .args(["-d", &decode, "-Y", filter]);
        if !fields.is_empty() {
            cmd.args(["-T", "fields"]);
            for f in fields {
                cmd.args(["-e", f]);
            }
        }
        let out = cmd.output().expect("run tshark");
        assert!(
            out.status.success(),
            "tshark -r {} -Y {filter} failed: {}",
            self.pcap.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the capture (call it after the controller's session ended)
    /// and checks it: no packet tshark calls malformed, and at least one
    /// OpenFlow 1.3 message. Panics with the offending packets otherwise;
    /// the pcap stays in the test's directory.
    pub fn check(mut self) -> OfSummary {
        self.stop();
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
