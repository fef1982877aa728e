//! `ofswitch ofctl` as a command, end to end.
//!
//! - Without a switch: usage errors, bad flow syntax and unreachable
//!   targets give one-line errors and exit status 1.
//! - Against a private userspace Open vSwitch (scripts/ovs-userspace.sh,
//!   under the machine-wide lock /tmp/ofswitch-ovs.lock): our add-flow,
//!   add-group and add-meter program it through `tcp:127.0.0.1:PORT`, then
//!   every dump verb's output is compared with real
//!   `ovs-ofctl -O OpenFlow13` output, durations and xids masked.
//!
//! The OVS test needs root, Open vSwitch and `ip`; without them it skips
//! with a message, except under `CI=true`, where it fails.

#[path = "../../tests/common/ports.rs"]
mod ports;
use ports::free_port;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn ofswitch(state_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ofswitch"))
        .arg("--state-dir")
        .arg(state_dir)
        .arg("ofctl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ofswitch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A one-line error on stderr, nothing on stdout, exit status 1.
fn assert_one_line_error(o: &Output, contains: &str) -> String {
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "status; stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("ofswitch ofctl: "), "{err}");
    assert!(err.contains(contains), "expected {contains:?} in {err:?}");
    assert!(o.stdout.is_empty(), "stdout: {}", text(&o.stdout));
    err
}

#[test]
fn errors_without_a_switch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let e = assert_one_line_error(&ofswitch(d, &["show", "br0"]), "cannot connect to br0 (");
    assert!(
        e.trim_end()
            .ends_with("No such file or directory — is the daemon running and the bridge created?"),
        "{e}"
    );
    assert_one_line_error(
        &ofswitch(
            d,
            &["add-flow", "br0", "priority=1,nosuchfield=3,actions=drop"],
        ),
        "nosuchfield",
    );
    let port = free_port();
    assert_one_line_error(
        &ofswitch(d, &["dump-flows", &format!("tcp:127.0.0.1:{port}")]),
        "Connection refused",
    );
    assert_one_line_error(
        &ofswitch(d, &["-O", "OpenFlow10", "show", "br0"]),
        "OpenFlow10",
    );
    assert_one_line_error(&ofswitch(d, &["frobnicate", "br0"]), "unknown command");
    assert_one_line_error(&ofswitch(d, &["show"]), "needs a switch");
}

// ---------------------------------------------------------------------------
// Against Open vSwitch
// ---------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn missing_requirements() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("root".into());
    }
    for tool in [
        "ovs-vswitchd",
        "ovsdb-server",
        "ovs-vsctl",
        "ovs-ofctl",
        "ip",
    ] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !found {
            return Some(format!("{tool} (scripts/install-deps.sh installs it)"));
        }
    }
    None
}

/// The machine-wide lock: one userspace OVS at a time. Released on drop
/// (closing the file).
struct OvsLock {
    _file: std::fs::File,
}

impl OvsLock {
    fn take() -> OvsLock {
        use std::os::fd::AsRawFd;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open("/tmp/ofswitch-ovs.lock")
            .expect("open the OVS lock file");
        // SAFETY: a valid open descriptor; flock only blocks.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock /tmp/ofswitch-ovs.lock");
        OvsLock { _file: f }
    }
}

/// A private OVS; torn down on drop, whatever happened.
struct Ovs {
    dir: tempfile::TempDir,
    target: String,
    bridge: String,
}

impl Ovs {
    fn script() -> PathBuf {
        repo().join("scripts/ovs-userspace.sh")
    }

    fn up() -> Ovs {
        let dir = tempfile::Builder::new()
            .prefix("ofctl-cli-ovs")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let bridge = format!("oc{}", std::process::id());
        let ovs = Ovs {
            dir,
            target: format!("tcp:127.0.0.1:{port}"),
            bridge: bridge.clone(),
        };
        let run = |args: &[&str]| {
            let o = Command::new(Self::script())
                .args(args)
                .env("OFCTL_PORT", port.to_string())
                .output()
                .expect("run ovs-userspace.sh");
            assert!(
                o.status.success(),
                "ovs-userspace.sh {args:?} failed: {}{}",
                text(&o.stdout),
                text(&o.stderr)
            );
        };
        let d = ovs.dir.path().to_str().expect("utf-8 temp dir").to_string();
        run(&["up", &d, &bridge]);
        for (i, ip) in [(1, "10.91.0.1/24"), (2, "10.91.0.2/24")] {
            let ns = format!("{bridge}-h{i}");
            run(&["addhost", &d, &bridge, &ns, ip, &i.to_string()]);
        }
        ovs
    }
}

impl Drop for Ovs {
    fn drop(&mut self) {
        let _ = Command::new(Self::script())
            .arg("down")
            .arg(self.dir.path())
            .output();
    }
}

/// Durations and xids differ between runs; everything else must not.
fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let next = ["duration=", "duration:", "xid=0x"]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, *k)))
            .min();
        let Some((i, key)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..i + key.len()]);
        out.push('#');
        rest =
            rest[i + key.len()..].trim_start_matches(|c: char| c.is_ascii_hexdigit() || c == '.');
        rest = rest.strip_prefix('s').unwrap_or(rest);
    }
    out
}

fn ovs_ofctl(verb: &str, target: &str, args: &[&str]) -> Output {
    Command::new("ovs-ofctl")
        .args(["-O", "OpenFlow13", verb, target])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ovs-ofctl")
}

#[test]
fn verbs_print_what_ovs_ofctl_prints() {
    if let Some(what) = missing_requirements() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("CI=true but this test cannot run: missing {what}");
        }
        eprintln!("skipping the ofctl-vs-ovs-ofctl test: missing {what}");
        return;
    }
    let _lock = OvsLock::take();
    let ovs = Ovs::up();
    let sd = ovs.dir.path();
    let t = ovs.target.as_str();

    // The passive listener comes up shortly after the bridge.
    let mut up = false;
    for _ in 0..50 {
        if ofswitch(sd, &["show", t]).status.success() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(up, "OVS's listener {t} did not come up");

    let ok = |args: &[&str]| {
        let o = ofswitch(sd, args);
        assert!(
            o.status.success(),
            "ofswitch ofctl {args:?}: {}",
            text(&o.stderr)
        );
        o
    };
    for g in [
        "group_id=1,type=all,bucket=output:1,bucket=output:2",
        "group_id=2,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2",
        "group_id=3,type=ff,bucket=watch_port:1,actions=output:1",
    ] {
        ok(&["add-group", t, g]);
    }
    for m in [
        "meter=1,kbps,burst,band=type=drop,rate=1000,burst_size=100",
        "meter=2,pktps,stats,band=type=drop,rate=50",
    ] {
        ok(&["-O", "OpenFlow13", "add-meter", t, m]);
    }
    let flows = [
        "priority=100,ip,nw_dst=10.0.0.0/8,actions=output:2",
        "table=1,priority=5,tcp,tp_dst=80,actions=drop",
        "cookie=0x12,priority=7,in_port=1,dl_vlan=5,actions=strip_vlan,output:LOCAL",
        "priority=200,arp,arp_tpa=10.91.0.2,actions=output:2",
        "priority=50,udp,nw_src=192.168.1.0/24,tp_src=53,actions=set_field:10.1.1.1->ip_dst,output:1",
        "priority=60,ipv6,ipv6_dst=2001:db8::/32,actions=dec_ttl,output:2",
        "table=2,priority=1,dl_src=00:11:22:33:44:55,actions=mod_vlan_vid:6,output:1",
        "priority=10,in_port=2,actions=group:1",
        "priority=11,in_port=1,actions=meter:1,output:2",
        "priority=12,tcp,tp_src=22,actions=write_actions(output:1),goto_table:1",
        "idle_timeout=300,hard_timeout=600,send_flow_rem,priority=13,icmp,actions=CONTROLLER:65535",
    ];
    for f in &flows[..8] {
        ok(&["add-flow", t, f]);
    }
    // add-flows from stdin, with a comment and a blank line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ofswitch"))
        .arg("--state-dir")
        .arg(sd)
        .args(["ofctl", "add-flows", t, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn add-flows");
    let input = format!("# more flows\n\n{}\n", flows[8..].join("\n"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write flows");
    let o = child.wait_with_output().expect("add-flows");
    assert!(o.status.success(), "add-flows: {}", text(&o.stderr));

    // Every dump verb prints what ovs-ofctl prints. Counters can move
    // between the two commands (the hosts send IPv6 router solicitations),
    // so a verb is retried a few times before it counts as different.
    let compare = |verb: &str, args: &[&str]| {
        let mut last = String::new();
        for _ in 0..5 {
            let mut our_args = vec![verb, t];
            our_args.extend_from_slice(args);
            let ours = ok(&our_args);
            let theirs = ovs_ofctl(verb, t, args);
            assert!(
                theirs.status.success(),
                "ovs-ofctl {verb}: {}",
                text(&theirs.stderr)
            );
            let (a, b) = (mask(&text(&ours.stdout)), mask(&text(&theirs.stdout)));
            if a == b {
                assert!(!a.is_empty(), "{verb} printed nothing");
                return;
            }
            last = format!("ours:\n{a}\novs-ofctl:\n{b}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{verb} {args:?} differs from ovs-ofctl:\n{last}");
    };
    for verb in [
        "show",
        "dump-desc",
        "dump-flows",
        "dump-aggregate",
        "dump-tables",
        "dump-ports",
        "dump-ports-desc",
        "dump-groups",
        "dump-group-stats",
        "dump-group-features",
        "dump-meters",
        "meter-stats",
    ] {
        compare(verb, &[]);
    }
    compare("dump-flows", &["table=1"]);
    compare("dump-flows", &["cookie=0x12/-1"]);
    compare("dump-flows", &["tcp"]);
    compare("dump-aggregate", &["table=0,ip"]);
    compare("dump-ports", &["1"]);
    compare("dump-group-stats", &["group_id=2"]);
    compare("dump-meters", &["meter=1"]);
    let ours = ok(&["--no-stats", "dump-flows", t]);
    let theirs = ovs_ofctl("dump-flows", t, &["--no-stats"]);
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "dump-flows --no-stats"
    );
    let n_flows = text(&ours.stdout).lines().count();
    assert_eq!(n_flows, flows.len(), "all flows were added");

    // del-flows --strict removes exactly the flow with that priority and match.
    ok(&[
        "del-flows",
        "--strict",
        t,
        "table=1,priority=4,tcp,tp_dst=80",
    ]);
    ok(&[
        "del-flows",
        t,
        "--strict",
        "table=1,priority=5,tcp,tp_dst=80",
    ]);
    let after = text(&ok(&["--no-stats", "dump-flows", t]).stdout);
    assert_eq!(after.lines().count(), flows.len() - 1, "{after}");
    assert!(!after.contains("tp_dst=80"), "{after}");
    compare("dump-flows", &[]);
    ok(&[
        "mod-flows",
        t,
        "priority=7,in_port=1,dl_vlan=5,actions=output:2",
    ]);
    compare("dump-flows", &[]);

    // Errors from the switch, after the barrier: one line naming the error.
    let o = ofswitch(sd, &["add-flow", t, "priority=3,actions=group:99"]);
    assert_one_line_error(&o, "OFPBAC_BAD_OUT_GROUP");
    let o = ofswitch(sd, &["add-group", t, "group_id=1,type=all,bucket=output:1"]);
    assert_one_line_error(&o, "OFPGMFC_GROUP_EXISTS");
    // Bad syntax never reaches the switch.
    assert_one_line_error(
        &ofswitch(sd, &["add-flow", t, "table=300,actions=drop"]),
        "300",
    );

    // Deletions.
    ok(&["del-groups", t, "group_id=3"]);
    ok(&["del-meter", t, "meter=2"]);
    compare("dump-groups", &[]);
    compare("dump-meters", &[]);
    ok(&["del-flows", t]);
    assert_eq!(text(&ok(&["--no-stats", "dump-flows", t]).stdout), "");

    // packet-out is accepted (output to a port that exists).
    ok(&[
        "packet-out",
        t,
        "LOCAL",
        "output:1",
        "ffffffffffff000000000001080600010800060400010000000000010a5b00010000000000000a5b0002",
    ]);
    eprintln!(
        "ofctl: every dump verb printed what ovs-ofctl 3.1 prints ({} bridge)",
        ovs.bridge
    );
}

#[test]
fn mask_hides_durations_and_xids() {
    assert_eq!(
        mask("OFPST_FLOW reply (OF1.3) (xid=0x2a):\n cookie=0x0, duration=1.5s, table=0"),
        "OFPST_FLOW reply (OF1.3) (xid=0x#):\n cookie=0x0, duration=#, table=0"
    );
    assert_eq!(
        mask("meter:1 duration:0.113s bands:"),
        "meter:1 duration:# bands:"
    );
}
