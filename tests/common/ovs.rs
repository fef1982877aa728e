//! A private Open vSwitch 3.x in userspace (`datapath_type=netdev`), run by
//! `scripts/ovs-userspace.sh` in its own network namespace and state
//! directory; `down` (and the namespace's deletion) when dropped, even when
//! the test fails.
//!
//! Why a namespace each: two userspace instances in one namespace collide
//! (each opens the TAP device `ovs-netdev`; the second bridge fails to
//! come up), and other tests or worktrees may run one at the same time.
//! The namespace's 127.0.0.1 is private too, so the controller runs in it
//! ([`Controller::start_in`](super::Controller::start_in)) and `ovs-ofctl`
//! reaches the bridge's passive port there.

use super::{have, require, sh, unique, Netns};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The tools the script and the tests call.
const TOOLS: [&str; 6] = [
    "ovs-vswitchd",
    "ovsdb-server",
    "ovs-vsctl",
    "ovs-ofctl",
    "ovs-appctl",
    "ethtool",
];

/// Skips, or fails under CI=true, without Open vSwitch's tools.
pub fn require_ovs() -> bool {
    require(
        "Open vSwitch (ovs-vswitchd, ovsdb-server, ovs-vsctl, ovs-ofctl, ovs-appctl) and ethtool",
        TOOLS.iter().all(|t| have(t)),
    )
}

/// One OVS instance with one bridge.
pub struct Ovs {
    pub dir: tempfile::TempDir,
    /// Where ovs-vswitchd, the bridge and the controller run.
    pub ns: Netns,
    pub bridge: String,
    pub dpid: u64,
    /// The bridge's passive OpenFlow port (for ovs-ofctl), in `ns`.
    pub ofctl_port: u16,
}

impl Ovs {
    /// The state directory and namespace (loopback up), not started yet:
    /// start the controller in [`Ovs::ns`] first, then [`Ovs::up`] (OVS
    /// retries a controller that is not listening only every 8 s).
    pub fn new(dpid: u64) -> Ovs {
        let dir = tempfile::Builder::new()
            .prefix("ofswitch-ovs")
            .tempdir()
            .expect("OVS state dir");
        let ns = Netns::new(&unique("ovs"));
        sh(&["ip", "-n", &ns.0, "link", "set", "lo", "up"]);
        Ovs {
            dir,
            ns,
            bridge: unique("br"),
            dpid,
            ofctl_port: 6634,
        }
    }

    fn script(&self, args: &[&str]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ovs-userspace.sh");
        let out = Command::new(script)
            .args(args)
            .env("DPID", format!("{:#x}", self.dpid))
            .env("OFCTL_PORT", self.ofctl_port.to_string())
            .env("OVS_NETNS", &self.ns.0)
            .output()
            .expect("run ovs-userspace.sh");
        assert!(
            out.status.success(),
            "ovs-userspace.sh {args:?} failed: {}{}\n--- ovs-vswitchd.log\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts OVS with the bridge, connected to `controller` (e.g.
    /// `tcp:127.0.0.1:PORT`, in [`Ovs::ns`]).
    pub fn up(&self, controller: &str) {
        let dir = self.dir_str();
        self.script(&["up", &dir, &self.bridge, controller]);
    }

    /// A host: namespace `name` (its veth on the bridge, named alike) with
    /// address `cidr`; removed by `down`, or by the returned guard.
    pub fn addhost(&self, name: &str, cidr: &str) -> Netns {
        let dir = self.dir_str();
        self.script(&["addhost", &dir, &self.bridge, name, cidr]);
        Netns(name.to_string())
    }

    fn dir_str(&self) -> String {
        self.dir.path().to_string_lossy().into_owned()
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// `ovs-ofctl -O OpenFlow13 VERB tcp:127.0.0.1:PORT ARGS` in the
    /// namespace; must succeed.
    pub fn ofctl(&self, verb: &str, args: &[&str]) -> String {
        let target = format!("tcp:127.0.0.1:{}", self.ofctl_port);
        let mut all = vec![
            "ip",
            "netns",
            "exec",
            &self.ns.0,
            "ovs-ofctl",
            "-O",
            "OpenFlow13",
            verb,
            &target,
        ];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// `ovs-appctl -t ovs-vswitchd ARGS` (found through the pidfile in the
    /// state directory); must succeed.
    pub fn appctl(&self, args: &[&str]) -> String {
        let rundir = format!("OVS_RUNDIR={}", self.dir_str());
        let mut all = vec!["env", &rundir, "ovs-appctl", "-t", "ovs-vswitchd"];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// ovs-vswitchd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("ovs-vswitchd.log")).unwrap_or_default()
    }

    /// The log's warnings and errors (`|WARN|`, `|ERR|`, `|EMER|`).
    pub fn alarms(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| ["|WARN|", "|ERR|", "|EMER|"].iter().any(|k| l.contains(k)))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ovs-userspace.sh");
        let _ = Command::new(script)
            .arg("down")
            .arg(self.dir.path())
            .env("OVS_NETNS", &self.ns.0)
            .output();
    }
}

/// One line of `ovs-ofctl dump-flows`: the fields the tests look at.
#[derive(Clone, Debug, PartialEq)]
pub struct DumpedFlow {
    pub cookie: u64,
    pub table: u8,
    pub priority: u16,
    pub n_packets: u64,
    pub line: String,
}

/// The flows of a `dump-flows` reply.
pub fn parse_flows(dump: &str) -> Vec<DumpedFlow> {
    dump.lines()
        .filter(|l| l.contains("cookie="))
        .map(|l| {
            let field = |k: &str| {
                l.split([' ', ','])
                    .find_map(|f| f.strip_prefix(k))
                    .unwrap_or_else(|| panic!("no {k} in {l:?}"))
            };
            let cookie = field("cookie=");
            DumpedFlow {
                cookie: u64::from_str_radix(cookie.trim_start_matches("0x"), 16)
                    .unwrap_or_else(|e| panic!("cookie {cookie}: {e}")),
                table: field("table=").parse().expect("table"),
                // OVS leaves out priority=32768, the default.
                priority: l
                    .split([' ', ','])
                    .find_map(|f| f.strip_prefix("priority="))
                    .map_or(32768, |p| p.parse().expect("priority")),
                n_packets: field("n_packets=").parse().expect("n_packets"),
                line: l.trim().to_string(),
            }
        })
        .collect()
}
