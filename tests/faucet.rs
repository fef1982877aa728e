//! Faucet 1.10.12 (the SDN controller, on os-ken 3.1.0, from
//! `.venv-faucet`, made by scripts/install-deps.sh) drives an `ofswitch
//! daemon` bridge with four namespace hosts: the two-VLAN configuration of
//! /work/shared/anchors/faucet-two-vlans.yaml (VLAN 100 "office" on hosts
//! 1-2, VLAN 200 "guest" on hosts 3-4, untagged), with our bridge's
//! datapath id and its OpenFlow port numbers.
//!
//! Checks, for each of three `hardware` settings of Faucet ("Open
//! vSwitch"; "Generic", which adds barriers; "GenericTFM", which first
//! sends a TABLE_FEATURES set request redefining tables 0-3): same-VLAN
//! pings pass, cross-VLAN ones do not (no ARP answer either); Faucet's
//! pipeline lands in tables 0-3 with exactly as many flows per table as on
//! Open vSwitch (see [`OVS_STATIC`], [`OVS_LEARNED`]); Faucet's log shows
//! no error from the switch (and with "GenericTFM" the switch took the
//! set: the tables carry Faucet's names); and a capture of the whole OpenFlow session
//! has no packet Wireshark's dissector calls malformed.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Faucet's static pipeline per table 0-3 (vlan, eth_src, eth_dst, flood),
/// flows without a timeout: 26. Recorded from Open vSwitch 3.1.0
/// (userspace, `scripts/ovs-userspace.sh up` with DPID=0x10, four
/// `addhost`s on OpenFlow ports 1-4) driven by Faucet 1.10.12 with the
/// anchors' faucet-two-vlans.yaml, counting `ovs-ofctl -O OpenFlow13
/// dump-flows` lines per `table=`; the same for all three hardware
/// settings. Table 0: 4 port->VLAN + miss; 1: 3 drops, 2 VLAN->controller,
/// miss; 2: miss; 3: 6 per VLAN + 2 CDP drops + 1 BPDU drop + miss.
const OVS_STATIC: [usize; 4] = [5, 6, 1, 14];

/// The same after the four hosts pinged (each learned once: one eth_src
/// flow with a hard timeout in table 1 and one eth_dst flow with an idle
/// timeout in table 2 per host): 34 flows, recorded the same way.
const OVS_LEARNED: [usize; 4] = [5, 10, 5, 14];

const SUBNET: &str = "10.238.0";

fn faucet_venv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv-faucet")
}

fn have_faucet() -> bool {
    faucet_venv().join("bin/faucet").exists()
        && faucet_venv().join("bin/osken-manager").exists()
        && Command::new(faucet_venv().join("bin/python"))
            .args(["-c", "import faucet, os_ken"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

/// The anchors' two-VLAN configuration for datapath `dpid`, hosts 1-4 on
/// OpenFlow ports `ofports`, Faucet's `hardware` as given.
fn faucet_yaml(dpid: u64, ofports: &[u32], hardware: &str) -> String {
    let vlans = ["office", "office", "guest", "guest"];
    let mut s = format!(
        "vlans:\n  office:\n    vid: 100\n    description: \"hosts 1-2\"\n  \
         guest:\n    vid: 200\n    description: \"hosts 3-4\"\n\
         dps:\n  sw1:\n    dp_id: {dpid:#x}\n    hardware: \"{hardware}\"\n    interfaces:\n"
    );
    for (i, (p, v)) in ofports.iter().zip(vlans).enumerate() {
        s += &format!("      {p}: {{name: h{}, native_vlan: {v}}}\n", i + 1);
    }
    s
}

/// A running Faucet (`faucet` execs `osken-manager`, same pid); killed by
/// its pid when dropped.
struct Faucet {
    child: Child,
    dir: PathBuf,
}

impl Faucet {
    /// Starts Faucet on 127.0.0.1:`port` with configuration `config`, logs
    /// in `dir`, as /work/shared/anchors/interop.md does it: the venv's
    /// bin on PATH (Faucet runs `osken-manager` from there), Prometheus on
    /// 127.0.0.1 and a free port. Returns once it listens.
    fn start(dir: &Path, config: &Path, port: u16) -> Faucet {
        let bin = faucet_venv().join("bin");
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = std::fs::File::create(dir.join("faucet.out")).expect("faucet.out");
        let child = Command::new(bin.join("faucet"))
            .arg("--ryu-ofp-listen-host=127.0.0.1")
            .arg(format!("--ryu-ofp-tcp-listen-port={port}"))
            .env("PATH", path)
            .env("FAUCET_CONFIG", config)
            .env("FAUCET_LOG", dir.join("faucet.log"))
            .env("FAUCET_EXCEPTION_LOG", dir.join("faucet_exception.log"))
            .env("FAUCET_PROMETHEUS_ADDR", "127.0.0.1")
            .env("FAUCET_PROMETHEUS_PORT", free_port().to_string())
            .current_dir(dir)
            .stdout(out.try_clone().expect("log fd"))
            .stderr(out)
            .spawn()
            .expect("start faucet");
        let mut f = Faucet {
            child,
            dir: dir.to_path_buf(),
        };
        let t0 = Instant::now();
        while !tcp_listening(port) {
            if let Ok(Some(st)) = f.child.try_wait() {
                panic!("faucet exited ({st}):\n{}", f.logs());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "faucet does not listen on {port}:\n{}",
                f.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("faucet listens after {:?}", t0.elapsed());
        f
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("faucet.log")).unwrap_or_default()
    }

    fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
        format!(
            "--- faucet.log\n{}\n--- faucet.out\n{}\n--- faucet_exception.log\n{}",
            read("faucet.log"),
            read("faucet.out"),
            read("faucet_exception.log")
        )
    }

    /// Errors in Faucet's log: an OFPT_ERROR from the switch (os-ken logs
    /// it as `OFError`), or any ERROR line but the harmless `DP not up`
    /// Faucet logs before the switch connects.
    fn errors(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| {
                l.contains("OFError")
                    || l.contains("OFPT_ERROR")
                    || (l.contains(" ERROR ") && !l.contains("DP not up"))
            })
            .map(str::to_string)
            .collect()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Faucet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Flows per table 0-3 (and that there are none elsewhere): all of them,
/// and those without a timeout (Faucet's static pipeline).
fn per_table(dump: &str) -> ([usize; 4], [usize; 4]) {
    let (mut all, mut fixed) = ([0; 4], [0; 4]);
    for f in parse_flows(dump) {
        let t = usize::from(f.table);
        assert!(t < 4, "a flow outside tables 0-3: {}", f.line);
        all[t] += 1;
        if !f.line.contains("hard_timeout=") && !f.line.contains("idle_timeout=") {
            fixed[t] += 1;
        }
    }
    (all, fixed)
}

fn faucet_drives_ofswitch(hardware: &str) {
    if !require_root()
        || !require("ping", have("ping"))
        || !require_capture_tools()
        || !require(
            "Faucet 1.10.12 in .venv-faucet (scripts/install-deps.sh)",
            have_faucet(),
        )
    {
        return;
    }
    let t_start = Instant::now();
    let d = Daemon::start(&[]);
    let br = d.secure_bridge();
    let dpid = d.datapath_id(&br);
    let hosts: Vec<(String, String)> = (1..=4)
        .map(|i| (format!("{SUBNET}.{i}/24"), format!("02:00:00:0f:ac:0{i}")))
        .collect();
    let (ns, ports) = d.netns_hosts(&br, &hosts);
    let ofports: Vec<u32> = ports
        .iter()
        .map(|p| {
            let v = d.vsctl(&["get", "interface", p, "ofport"]);
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("ofport of {p}: {v:?}"))
        })
        .collect();
    let config = d.dir().join("faucet.yaml");
    std::fs::write(&config, faucet_yaml(dpid, &ofports, hardware)).expect("write faucet.yaml");

    let port = free_port();
    let cap = OfCapture::start(d.dir(), "faucet-session", port);
    let mut faucet = Faucet::start(d.dir(), &config, port);
    let t0 = Instant::now();
    d.vsctl(&["set-controller", &br, &format!("tcp:127.0.0.1:{port}")]);
    let dump = || {
        let out = d.run(&["ofctl", "dump-flows", &br]);
        assert!(out.status.success(), "dump-flows failed");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let ctx = |what: &str| {
        format!(
            "{what}\n--- flows\n{}\n{}\n--- daemon\n{}\n(files in {})",
            dump(),
            faucet.logs(),
            d.log(),
            d.dir().display()
        )
    };

    // Faucet's static pipeline, table by table as on Open vSwitch.
    let t = Instant::now();
    while per_table(&dump()).1 != OVS_STATIC {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{}",
            ctx(&format!(
                "the static pipeline per table {:?}, on OVS {OVS_STATIC:?}",
                per_table(&dump()).1
            ))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!(
        "[{hardware}] Faucet's pipeline {OVS_STATIC:?} in {:?} after set-controller",
        t0.elapsed()
    );

    let four = FourHosts {
        ns: &ns,
        subnet: SUBNET,
    };
    four.same_vlan_pings(&ctx);
    four.isolated(&ctx);

    // Each host learned once: the flow counts of Open vSwitch after the
    // same pings.
    let t = Instant::now();
    while per_table(&dump()).0 != OVS_LEARNED {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "{}",
            ctx(&format!(
                "flows per table {:?}, on OVS {OVS_LEARNED:?}",
                per_table(&dump()).0
            ))
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let errors = faucet.errors();
    assert!(
        errors.is_empty(),
        "{}",
        ctx(&format!("errors in Faucet's log:\n{}", errors.join("\n")))
    );
    let exceptions =
        std::fs::read_to_string(d.dir().join("faucet_exception.log")).unwrap_or_default();
    assert!(
        exceptions.trim().is_empty(),
        "{}",
        ctx("Faucet's exception log")
    );
    if hardware == "GenericTFM" {
        // The set named tables 0-3 as Faucet calls them (quoted as
        // ovs-ofctl quotes names with an underscore).
        let out = d.run(&["ofctl", "--names", "dump-flows", &br]);
        let named = String::from_utf8_lossy(&out.stdout);
        for t in [
            "table=vlan,",
            "table=\"eth_src\",",
            "table=\"eth_dst\",",
            "table=flood,",
        ] {
            assert!(named.contains(t), "{}", ctx(&format!("no {t} in\n{named}")));
        }
    }
    let flows = dump();

    // The whole session, captured: nothing malformed.
    faucet.stop();
    let summary = cap.check();
    if hardware.starts_with("Generic") {
        // BARRIER_REQUEST (20) answered by BARRIER_REPLY (21).
        assert!(
            summary.types.get(&20).copied().unwrap_or(0) > 0
                && summary.types.get(&20) == summary.types.get(&21),
            "barriers in the session: {:?}",
            summary.types
        );
    }
    assert_eq!(
        summary.types.get(&1),
        None,
        "OFPT_ERROR in the session: {:?}",
        summary.types
    );
    eprintln!(
        "[{hardware}] flows per table {OVS_LEARNED:?} as on OVS; {:?} in all:\n{flows}",
        t_start.elapsed()
    );
}

#[test]
fn faucet_open_vswitch_hardware() {
    faucet_drives_ofswitch("Open vSwitch");
}

#[test]
fn faucet_generic_hardware() {
    faucet_drives_ofswitch("Generic");
}

#[test]
fn faucet_generic_tfm_hardware() {
    faucet_drives_ofswitch("GenericTFM");
}
