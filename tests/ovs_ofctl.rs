//! Real `ovs-ofctl -O OpenFlow13` drives the switch over its passive TCP
//! port (`set-controller BR ptcp:PORT:127.0.0.1`): every verb it has for
//! flows, ports, tables, groups, meters and packet-out gives sensible output
//! and exit status 0, errors from the switch come back as the right
//! OFPT_ERROR, and our own `ofswitch ofctl` prints exactly what ovs-ofctl
//! prints for the same bridge (durations and xids aside).
//!
//! The bridge has two internal ports moved into two namespaces
//! (10.77.0.1 and 10.77.0.2, the addresses the fixture flows use) and
//! pings run between them so that counters move.

mod common;

use common::*;
use std::process::{Command, Output};
use std::time::Duration;

/// Fixture flows the switch refuses, each with the error it answers and
/// why (the rest of `flows.txt` must install).
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "controller(reason=no_match",
        "OFPBAC_BAD_VENDOR",
        "an Open vSwitch extension action (NXAST_CONTROLLER2): not OpenFlow 1.3",
    ),
    (
        "tcp_flags=",
        "OFPBMC_BAD_FIELD",
        "tcp_flags is an Open vSwitch extension match field (NXM_NX_TCP_FLAGS) in OpenFlow 1.3",
    ),
];

/// A bridge with a passive OpenFlow port, two internal ports in namespaces,
/// groups 1-4 and meters 1-2.
struct Bed {
    d: Daemon,
    br: String,
    p1: String,
    target: String,
    ns1: Netns,
    _ns2: Netns,
}

impl Bed {
    fn new() -> Bed {
        let d = Daemon::start(&[]);
        let br = unique("br");
        let (p1, p2) = (unique("p"), unique("p"));
        d.vsctl(&["add-br", &br]);
        for p in [&p1, &p2] {
            d.add_port_of_type(&br, p, "internal");
        }
        let port = free_port();
        d.vsctl(&["set-controller", &br, &format!("ptcp:{port}:127.0.0.1")]);
        wait_for("the passive OpenFlow port", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        // No IPv6 chatter (router solicitations, MLD) on our ports, so that
        // counters only move with the pings.
        let _ = Command::new("sysctl")
            .args(["-qw", &format!("net.ipv6.conf.{br}.disable_ipv6=1")])
            .status();
        let ns1 = Netns::new(&unique("n"));
        let ns2 = Netns::new(&unique("n"));
        for (ns, p, ip) in [(&ns1, &p1, "10.77.0.1/24"), (&ns2, &p2, "10.77.0.2/24")] {
            for k in ["all", "default"] {
                ns.exec(&[
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
                ]);
            }
            ns.take(p, ip);
        }
        Bed {
            target: format!("tcp:127.0.0.1:{port}"),
            d,
            br,
            p1,
            ns1,
            _ns2: ns2,
        }
    }

    /// `ovs-ofctl -O OpenFlow13 VERB TARGET ARGS...`.
    fn ovs(&self, verb: &str, args: &[&str]) -> Output {
        self.ovs_opts(&[], verb, args)
    }

    fn ovs_opts(&self, opts: &[&str], verb: &str, args: &[&str]) -> Output {
        Command::new("ovs-ofctl")
            .args(["-O", "OpenFlow13", "--timeout=10"])
            .args(opts)
            .arg(verb)
            .arg(&self.target)
            .args(args)
            .output()
            .expect("run ovs-ofctl")
    }

    /// ovs-ofctl that must succeed; returns stdout.
    fn ok(&self, verb: &str, args: &[&str]) -> String {
        self.ok_opts(&[], verb, args)
    }

    fn ok_opts(&self, opts: &[&str], verb: &str, args: &[&str]) -> String {
        let o = self.ovs_opts(opts, verb, args);
        assert!(
            o.status.success(),
            "ovs-ofctl {opts:?} {verb} {args:?} failed ({}):\n{}{}\ndaemon log:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr),
            self.d.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// ovs-ofctl that must fail with an OFPT_ERROR naming `code`.
    fn refused(&self, verb: &str, args: &[&str], code: &str) {
        let o = self.ovs(verb, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{verb} {args:?} should fail");
        assert!(
            err.contains("OFPT_ERROR (OF1.3)") && err.contains(code),
            "{verb} {args:?}: expected an OFPT_ERROR {code}, got:\n{err}"
        );
    }

    /// `ofswitch ofctl OPTS VERB BR ARGS...`, which must succeed.
    fn ours_opts(&self, opts: &[&str], verb: &str, args: &[&str]) -> String {
        let mut all = vec!["ofctl"];
        all.extend_from_slice(opts);
        all.extend_from_slice(&[verb, &self.br]);
        all.extend_from_slice(args);
        let o = self.d.run(&all);
        assert!(
            o.status.success(),
            "ofswitch ofctl {verb} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `ofswitch ofctl VERB BR ARGS...`, which must fail; returns stderr.
    fn ours_fails(&self, verb: &str, args: &[&str]) -> String {
        let mut all = vec!["ofctl", verb, &self.br];
        all.extend_from_slice(args);
        let o = self.d.run(&all);
        assert!(
            !o.status.success(),
            "ofswitch ofctl {verb} {args:?} should fail"
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    fn groups_and_meters(&self) {
        for g in [
            "group_id=1,type=all,bucket=output:1,bucket=output:2",
            "group_id=2,type=select,bucket=weight:50,output:1,bucket=weight:50,output:2",
            "group_id=3,type=indirect,bucket=output:2",
            "group_id=4,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2",
        ] {
            self.ok("add-group", &[g]);
        }
        for m in [
            "meter=1,kbps,band=type=drop,rate=10000",
            "meter=2,pktps,burst,stats,band=type=drop,rate=1000,burst_size=100",
        ] {
            self.ok("add-meter", &[m]);
        }
    }

    /// Installs the fixture flows one by one with ovs-ofctl add-flow;
    /// returns how many installed. Refusals must be the known ones.
    fn fixture_flows(&self) -> usize {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/openflow/tests/fixtures/flows/flows.txt"
        ))
        .expect("flows.txt");
        let mut installed = 0;
        let mut refused = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let o = self.ovs("add-flow", &[line]);
            if o.status.success() {
                installed += 1;
                continue;
            }
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            let known = REFUSED
                .iter()
                .find(|(pat, _, _)| line.contains(pat))
                .unwrap_or_else(|| panic!("the switch refused fixture flow {line}:\n{err}"));
            assert!(
                err.contains("OFPT_ERROR (OF1.3)") && err.contains(known.1),
                "{line}: expected {} ({}), got:\n{err}",
                known.1,
                known.2
            );
            refused.push(line.to_string());
        }
        assert_eq!(refused.len(), REFUSED.len(), "refused: {refused:?}");
        eprintln!(
            "{installed} fixture flows installed; refused as expected: {}",
            REFUSED
                .iter()
                .map(|r| format!("{} ({})", r.0, r.1))
                .collect::<Vec<_>>()
                .join(", ")
        );
        installed
    }

    /// Pings both ways so that port, flow and table counters move.
    fn traffic(&self) {
        assert!(
            self.ns1.ping("10.77.0.2", 3),
            "ping 10.77.0.2 failed\n{}",
            self.d.log()
        );
    }
}

fn need() -> bool {
    require_root() && require("ovs-ofctl", have("ovs-ofctl"))
}

/// Masks what differs between two dumps taken a moment apart: durations
/// (`duration=1.234s`, `duration:1.234s`) and xids.
fn mask(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let next = ["duration=", "duration:", "xid=0x"]
            .iter()
            .filter_map(|k| rest.find(k).map(|i| (i, *k)))
            .min();
        let Some((i, key)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..i + key.len()]);
        out.push('*');
        rest = &rest[i + key.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || c == '.'))
            .unwrap_or(rest.len());
        rest = &rest[end..];
        if key.starts_with("duration") {
            rest = rest.strip_prefix('s').unwrap_or(rest);
        }
    }
}

#[test]
fn mask_hides_durations_and_xids() {
    assert_eq!(
        mask("X (xid=0x1a): a, duration=1.020s, b duration:0.5s\n"),
        "X (xid=0x*): a, duration=*, b duration:*\n"
    );
}

#[test]
fn ovs_ofctl_drives_the_passive_port() {
    if !need() {
        return;
    }
    let bed = Bed::new();
    bed.traffic();
    let mut verbs = std::collections::BTreeSet::new();
    let mut check = |verb: &'static str| {
        verbs.insert(verb);
    };

    // show: features, port descriptions (names), config.
    let show = bed.ok("show", &[]);
    assert!(show.contains("OFPT_FEATURES_REPLY (OF1.3)"), "{show}");
    assert!(show.contains("n_tables:"), "{show}");
    assert!(show.contains(&format!(" 1({}): addr:", bed.p1)), "{show}");
    assert!(show.contains(&format!("LOCAL({})", bed.br)), "{show}");
    assert!(show.contains("OFPT_GET_CONFIG_REPLY"), "{show}");
    check("show");

    let desc = bed.ok("dump-desc", &[]);
    assert!(desc.contains("OFPST_DESC reply (OF1.3)"), "{desc}");
    assert!(
        desc.contains("Manufacturer:") && desc.contains("Software:"),
        "{desc}"
    );
    check("dump-desc");

    // The default flow of a standalone bridge carried the pings.
    let flows = bed.ok("dump-flows", &[]);
    assert!(flows.starts_with("OFPST_FLOW reply (OF1.3)"), "{flows}");
    assert!(flows.contains("priority=0 actions=NORMAL"), "{flows}");
    assert!(!flows.contains("n_packets=0,"), "counters moved:\n{flows}");
    check("dump-flows");

    // Ports: stats with counters that moved, descriptions.
    let ports = bed.ok("dump-ports", &[]);
    assert!(ports.contains("OFPST_PORT reply (OF1.3)"), "{ports}");
    assert!(ports.contains(": 3 ports"), "{ports}");
    assert!(
        ports.contains("port  1: rx pkts=") && ports.contains("port LOCAL:"),
        "{ports}"
    );
    let rx1 = counter(&ports, "port  1: rx pkts=");
    assert!(rx1 >= 2, "port 1 received the pings:\n{ports}");
    let one = bed.ok("dump-ports", &["1"]);
    assert!(
        one.contains(": 1 ports") && one.contains("port  1:"),
        "{one}"
    );
    // A port by name, with ovs-ofctl and with ours; an unknown name is a
    // one-line error.
    for by_name in [
        bed.ok("dump-ports", &[&bed.p1]),
        bed.ours_opts(&[], "dump-ports", &[&bed.p1]),
    ] {
        assert!(
            by_name.contains(": 1 ports") && by_name.contains("port  1:"),
            "{by_name}"
        );
    }
    let missing = bed.ours_fails("dump-ports", &["nosuchport"]);
    assert!(
        missing.contains("couldn't find port `nosuchport'"),
        "{missing}"
    );
    check("dump-ports");
    let pd = bed.ok("dump-ports-desc", &[]);
    assert!(pd.contains("OFPST_PORT_DESC reply (OF1.3)"), "{pd}");
    assert!(pd.contains(&format!(" 1({}): addr:", bed.p1)), "{pd}");
    assert!(pd.contains("state:      LIVE"), "{pd}");
    check("dump-ports-desc");

    // Tables: stats and features (ovs-ofctl also asks TABLE_FEATURES for
    // table names before add-flow, below).
    let tables = bed.ok("dump-tables", &[]);
    assert!(tables.contains("OFPST_TABLE reply (OF1.3)"), "{tables}");
    assert!(
        tables.contains("  table 0:\n    active=1, lookup="),
        "{tables}"
    );
    check("dump-tables");
    let tf = bed.ok("dump-table-features", &[]);
    assert!(
        tf.contains("OFPST_TABLE_FEATURES reply") || tf.contains("table 0"),
        "{tf}"
    );
    assert!(
        tf.contains("max_entries=") && tf.contains("instructions"),
        "{tf}"
    );
    assert!(
        tf.contains("goto_table") && tf.contains("apply_actions"),
        "{tf}"
    );
    check("dump-table-features");

    // Groups and meters.
    bed.groups_and_meters();
    check("add-group");
    check("add-meter");
    let groups = bed.ok("dump-groups", &[]);
    assert!(
        groups.contains("OFPST_GROUP_DESC reply (OF1.3)"),
        "{groups}"
    );
    for want in [
        "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
        "group_id=2,type=select,bucket=weight:50,actions=output:1",
        "group_id=3,type=indirect,bucket=actions=output:2",
        "group_id=4,type=ff,bucket=watch_port:1,actions=output:1",
    ] {
        assert!(groups.contains(want), "{want}:\n{groups}");
    }
    check("dump-groups");
    let meters = bed.ok("dump-meters", &[]);
    assert!(
        meters.contains("OFPST_METER_CONFIG reply (OF1.3)"),
        "{meters}"
    );
    assert!(
        meters.contains("meter=1 kbps bands=\ntype=drop rate=10000"),
        "{meters}"
    );
    assert!(
        meters.contains("meter=2 pktps burst stats bands=\ntype=drop rate=1000 burst_size=100"),
        "{meters}"
    );
    check("dump-meters");
    let ms = bed.ok("meter-stats", &[]);
    assert!(
        ms.contains("OFPST_METER reply (OF1.3)") && ms.contains("meter:2 flow_count:0"),
        "{ms}"
    );
    check("meter-stats");

    // Errors from the switch come back as OFPT_ERRORs ovs-ofctl prints.
    bed.refused(
        "add-flow",
        &["priority=5,actions=group:99"],
        "OFPBAC_BAD_OUT_GROUP",
    );
    bed.refused(
        "add-flow",
        &["priority=5,actions=meter:9,output:1"],
        "OFPMMFC_UNKNOWN_METER",
    );
    bed.refused(
        "add-group",
        &["group_id=1,type=all,bucket=output:1"],
        "OFPGMFC_GROUP_EXISTS",
    );
    bed.refused(
        "add-meter",
        &["meter=1,kbps,band=type=drop,rate=1"],
        "OFPMMFC_METER_EXISTS",
    );
    bed.refused(
        "add-flow",
        &["table=1,priority=5,actions=output:0"],
        "OFPBAC_BAD_OUT_PORT",
    );

    // add-flow: a flow that sends the pings through group 1 and meter 1.
    bed.ok(
        "add-flow",
        &["priority=500,icmp,in_port=1,actions=meter:1,group:3"],
    );
    check("add-flow");
    // add-flows from a file.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("flows.txt");
    std::fs::write(
        &file,
        "# comment\ntable=7,priority=1,ip,actions=drop\ntable=7,priority=2,arp,actions=drop\n\
         table=7,priority=3,cookie=0x77,udp,tp_dst=53,actions=output:2\n",
    )
    .expect("write flows");
    bed.ok("add-flows", &[file.to_str().expect("utf-8 path")]);
    let t7 = bed.ok("dump-flows", &["table=7"]);
    assert_eq!(t7.lines().count(), 4, "{t7}");
    assert!(
        t7.contains("cookie=0x77,") && t7.contains("priority=3,udp,tp_dst=53 actions=output:2"),
        "{t7}"
    );
    check("add-flows");
    bed.traffic();
    let f = bed.ok("dump-flows", &["icmp"]);
    let line = f
        .lines()
        .find(|l| l.contains("priority=500"))
        .unwrap_or_else(|| panic!("{f}"));
    assert!(
        !line.contains("n_packets=0,"),
        "the ping went through the new flow: {line}"
    );
    let gs = bed.ok("dump-group-stats", &[]);
    assert!(gs.contains("OFPST_GROUP reply (OF1.3)"), "{gs}");
    let g3 = gs
        .lines()
        .find(|l| l.contains("group_id=3,"))
        .unwrap_or_else(|| panic!("{gs}"));
    assert!(
        g3.contains("ref_count=1") && !g3.contains("packet_count=0,"),
        "{g3}"
    );
    check("dump-group-stats");
    let agg = bed.ok("dump-aggregate", &[]);
    assert!(agg.contains("OFPST_AGGREGATE reply (OF1.3)"), "{agg}");
    assert!(
        agg.contains("flow_count=5"),
        "NORMAL + 1 + 3 in table 7:\n{agg}"
    );
    let agg7 = bed.ok("dump-aggregate", &["table=7"]);
    assert!(
        agg7.contains("packet_count=0 byte_count=0 flow_count=3"),
        "{agg7}"
    );
    check("dump-aggregate");

    // mod-flows (loose, then strict).
    bed.ok("mod-flows", &["table=7,ip,actions=output:1"]);
    let t7 = bed.ok("dump-flows", &["table=7"]);
    assert!(t7.contains("priority=1,ip actions=output:1"), "{t7}");
    assert!(
        t7.contains("priority=3,udp,tp_dst=53 actions=output:1"),
        "{t7}"
    );
    assert!(t7.contains("priority=2,arp actions=drop"), "{t7}");
    check("mod-flows");
    bed.ok_opts(
        &["--strict"],
        "mod-flows",
        &["table=7,priority=1,ip,actions=LOCAL"],
    );
    let t7 = bed.ok("dump-flows", &["table=7"]);
    assert!(t7.contains("priority=1,ip actions=LOCAL"), "{t7}");
    assert!(
        t7.contains("priority=3,udp,tp_dst=53 actions=output:1"),
        "{t7}"
    );
    check("mod-flows --strict");
    // del-flows --strict removes exactly one, del-flows a whole table.
    bed.ok_opts(&["--strict"], "del-flows", &["table=7,priority=2,arp"]);
    let t7 = bed.ok("dump-flows", &["table=7"]);
    assert_eq!(t7.lines().count(), 3, "{t7}");
    assert!(!t7.contains("arp"), "{t7}");
    bed.ok_opts(&["--strict"], "del-flows", &["table=7,ip"]);
    assert_eq!(
        bed.ok("dump-flows", &["table=7"]).lines().count(),
        3,
        "no such strict flow"
    );
    check("del-flows --strict");
    bed.ok("del-flows", &["table=7"]);
    let t7 = bed.ok("dump-flows", &["table=7"]);
    assert_eq!(t7.lines().count(), 1, "{t7}");
    bed.ok("del-flows", &[]);
    let none = bed.ok("dump-flows", &[]);
    assert_eq!(none.lines().count(), 1, "{none}");
    check("del-flows");

    // packet-out: a broadcast ARP request from CONTROLLER out of port 1
    // (both syntaxes); port 1's transmit counter moves by at least two.
    let arp =
        "ffffffffffff020000000001080600010800060400010200000000010a4d00630000000000000a4d0001";
    let tx = |b: &Bed| counter(&b.ok("dump-ports", &["1"]), "tx pkts=");
    let before = tx(&bed);
    bed.ok(
        "packet-out",
        &[&format!("in_port=CONTROLLER,packet={arp},actions=output:1")],
    );
    bed.ok("packet-out", &["CONTROLLER", "output:1", arp]);
    wait_for("two packet-outs on port 1", Duration::from_secs(5), || {
        tx(&bed) >= before + 2
    });
    check("packet-out");

    // mod-port: ovs-ofctl's and ours (by name and by number) change the
    // port's config as PORT_DESC shows it; ours names a bad command or
    // port in one line.
    let config = |b: &Bed| {
        let pd = b.ok("dump-ports-desc", &["1"]);
        pd.lines()
            .find_map(|l| l.trim().strip_prefix("config:"))
            .map(|c| c.trim().to_string())
            .unwrap_or_else(|| panic!("no config line:\n{pd}"))
    };
    bed.ok("mod-port", &[&bed.p1, "no-packet-in"]);
    assert_eq!(config(&bed), "NO_PACKET_IN");
    bed.ours_opts(&[], "mod-port", &[&bed.p1, "packet-in"]);
    assert_eq!(config(&bed), "0");
    bed.ours_opts(&[], "mod-port", &["1", "down"]);
    assert_eq!(config(&bed), "PORT_DOWN");
    bed.ours_opts(&[], "mod-port", &[&bed.p1, "no-forward"]);
    assert_eq!(config(&bed), "PORT_DOWN NO_FWD");
    bed.ok("mod-port", &["1", "forward"]);
    bed.ok("mod-port", &["1", "up"]);
    assert_eq!(config(&bed), "0");
    let bad = bed.ours_fails("mod-port", &[&bed.p1, "sideways"]);
    assert!(bad.contains("unknown mod-port command 'sideways'"), "{bad}");
    let bad = bed.ours_fails("mod-port", &["nosuchport", "down"]);
    assert!(bad.contains("couldn't find port `nosuchport'"), "{bad}");
    // Up again and forwarding (del-flows above left no flow: NORMAL back).
    bed.ok("add-flow", &["priority=0,actions=NORMAL"]);
    bed.traffic();
    check("mod-port");

    // The switch is still in a good state.
    let show = bed.ok("show", &[]);
    assert!(show.contains("OFPT_FEATURES_REPLY"), "{show}");
    eprintln!("ovs-ofctl verbs checked ({}): {verbs:?}", verbs.len());
    assert_eq!(verbs.len(), 22, "{verbs:?}");
}

/// The number after `key` in `text` (first occurrence).
fn counter(text: &str, key: &str) -> u64 {
    let i = text
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in:\n{text}"));
    text[i + key.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in:\n{text}"))
}

#[test]
fn our_ofctl_prints_what_ovs_ofctl_prints() {
    if !need() {
        return;
    }
    let bed = Bed::new();
    bed.traffic();
    bed.groups_and_meters();
    let installed = bed.fixture_flows();
    assert!(installed >= 30, "only {installed} fixture flows installed");
    // A few more, varied: timeouts, cookies, tables, masks, set_field.
    for f in [
        "table=8,priority=7,cookie=0xabc,in_port=1,dl_vlan=5,dl_vlan_pcp=3,actions=output:2",
        "table=8,priority=8,ip,nw_src=10.0.0.0/8,nw_dst=10.1.2.3,actions=set_field:3->ip_ecn,output:1",
        "table=8,priority=9,udp6,ipv6_label=0x12345,udp_src=1000,actions=output:LOCAL",
        "table=9,priority=10,idle_timeout=1000,arp,arp_sha=02:00:00:00:00:01,arp_tha=02:00:00:00:00:00/ff:ff:ff:00:00:00,actions=CONTROLLER:65535",
        "table=9,priority=11,mpls,mpls_label=100,mpls_tc=3,mpls_bos=1,actions=pop_mpls:0x0800,output:2",
    ] {
        bed.ok("add-flow", &[f]);
    }
    bed.traffic();

    // Tables 8 and 9 named as ovs-ofctl names them (mod-table: the
    // switch's TABLE_FEATURES sent back as a set with one name changed),
    // for the --names dumps below.
    bed.ok("mod-table", &["8", "name:acl"]);
    bed.ok("mod-table", &["9", "name:l2_fwd"]);

    // Each pair is taken a moment apart; background traffic could move a
    // counter in between, so a pair is retried a few times.
    let mut compared = Vec::new();
    for (opts, verb) in [
        (&[][..], "dump-flows"),
        (&["--names"][..], "dump-flows"),
        (&["--names", "--no-stats"][..], "dump-flows"),
        (&[][..], "dump-ports"),
        (&[][..], "dump-tables"),
        (&[][..], "dump-groups"),
        (&[][..], "dump-group-stats"),
        (&[][..], "dump-meters"),
        (&[][..], "meter-stats"),
        (&[][..], "dump-ports-desc"),
        (&[][..], "dump-desc"),
        (&[][..], "dump-aggregate"),
    ] {
        let mut last = (String::new(), String::new());
        let same = (0..5).any(|_| {
            let theirs = mask(&bed.ok_opts(opts, verb, &[]));
            let ours = mask(&bed.ours_opts(opts, verb, &[]));
            let eq = theirs == ours;
            last = (theirs, ours);
            if !eq {
                std::thread::sleep(Duration::from_millis(200));
            }
            eq
        });
        if !same {
            let (t, o) = &last;
            let diff: Vec<String> = t
                .lines()
                .zip(o.lines())
                .filter(|(a, b)| a != b)
                .map(|(a, b)| format!("ovs-ofctl: {a}\nofswitch:  {b}"))
                .collect();
            panic!(
                "{opts:?} {verb}: our output differs from ovs-ofctl's ({} vs {} lines):\n{}",
                t.lines().count(),
                o.lines().count(),
                diff.join("\n")
            );
        }
        if verb == "dump-flows" && opts.is_empty() {
            let n = last.0.lines().count() - 1;
            assert!(n >= 35, "{n} flows");
            eprintln!("dump-flows identical for {n} flows");
        }
        if opts.contains(&"--names") {
            // Port and table names, quoted where OVS quotes them.
            let names = &last.0;
            assert!(
                names.contains("table=acl, ")
                    && names.contains("table=\"l2_fwd\", ")
                    && names.contains(&format!("in_port={}", bed.p1)),
                "{names}"
            );
        }
        compared.push(format!("{} {verb}", opts.join(" ")));
    }
    eprintln!("identical output (masked) for {compared:?}");

    // Sorted dumps: the same flows, in the same order of the sort key
    // (flows with equal keys may come in any order: ovs-ofctl's qsort).
    for (sort, field) in [
        ("--sort", "priority"),
        ("--rsort", "priority"),
        ("--sort=nw_dst", "nw_dst"),
        ("--rsort=tp_dst", "tp_dst"),
        ("--sort=in_port", "in_port"),
    ] {
        let opts = [sort, "--no-stats"];
        let theirs = bed.ok_opts(&opts, "dump-flows", &[]);
        let ours = bed.ours_opts(&opts, "dump-flows", &[]);
        let key = |line: &str| -> String {
            let matched = line.split(" actions=").next().unwrap_or("");
            // ovs-ofctl takes tp_dst for tcp_dst: other flows lack it.
            let tcp = matched.split(',').any(|t| t.trim() == "tcp" || t == "tcp6");
            if field == "tp_dst" && !tcp {
                return "-".into();
            }
            matched
                .split([',', ' '])
                .find_map(|t| t.strip_prefix(&format!("{field}=")))
                .map(str::to_string)
                .unwrap_or_else(|| {
                    if field == "priority" {
                        "32768".into()
                    } else {
                        "-".into()
                    }
                })
        };
        let keys = |text: &str| text.lines().map(key).collect::<Vec<_>>();
        let set = |text: &str| {
            let mut v: Vec<String> = text.lines().map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(set(&ours), set(&theirs), "{sort}: not the same flows");
        assert_eq!(keys(&ours), keys(&theirs), "{sort}: another order\n{ours}");
    }
}

/// `replace-flows` and `diff-flows`, ours beside ovs-ofctl's on the same
/// bridge and files: replace-flows leaves the switch holding exactly the
/// file's flows and does not touch those it already held (their counters
/// go on); diff-flows prints the same lines as ovs-ofctl (in another
/// order: ovs-ofctl's is its hash table's) and exits 2 when the sources
/// differ, 0 when they agree, between a switch and a file or two files.
#[test]
fn replace_flows_and_diff_flows_as_ovs_ofctl() {
    if !need() {
        return;
    }
    let bed = Bed::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write a flow file");
        p.to_str().expect("utf-8 path").to_string()
    };
    let a = write(
        "a.txt",
        "# the bridge as a file\npriority=0,actions=NORMAL\n\
         priority=10,ip,nw_dst=10.77.0.9,actions=drop\n\
         table=2,priority=5,cookie=0x7,tcp,tp_dst=80,idle_timeout=300,actions=output:2\n",
    );
    let b = write(
        "b.txt",
        "priority=0,actions=NORMAL\n\
         priority=10,ip,nw_dst=10.77.0.9,actions=output:2\n\
         table=3,arp,actions=drop\n",
    );
    let ours = |args: &[&str]| {
        let mut all = vec!["ofctl"];
        all.extend_from_slice(args);
        bed.d.run(&all)
    };
    let lines = |o: &Output| -> std::collections::BTreeSet<String> {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };

    // ovs-ofctl's replace-flows: the switch holds a.txt.
    bed.ok("replace-flows", &[&a]);
    for o in [
        bed.ovs("diff-flows", &[&a]),
        ours(&["diff-flows", &bed.br, &a]),
    ] {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
        assert!(o.stdout.is_empty());
    }
    bed.traffic();
    let normal_packets = |b: &Bed| {
        let f = b.ok("dump-flows", &["table=0"]);
        let line = f
            .lines()
            .find(|l| l.contains("priority=0 actions=NORMAL"))
            .unwrap_or_else(|| panic!("no NORMAL flow:\n{f}"))
            .to_string();
        counter(&line, "n_packets=")
    };
    let before = normal_packets(&bed);
    assert!(before > 0, "the pings went through NORMAL");

    // Ours: the switch moves to b.txt; the NORMAL flow, the same in both,
    // keeps its counters.
    let o = ours(&["replace-flows", &bed.br, &b]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = bed.ovs("diff-flows", &[&b]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        normal_packets(&bed) >= before,
        "the unchanged flow was touched"
    );
    let table2 = bed.ok("dump-flows", &["table=2"]);
    assert_eq!(table2.lines().count(), 1, "table 2 emptied:\n{table2}");

    // The differences, switch against file and file against file: the
    // same lines from both tools, exit status 2.
    for (theirs, mine) in [
        (
            bed.ovs("diff-flows", &[&a]),
            ours(&["diff-flows", &bed.br, &a]),
        ),
        (
            Command::new("ovs-ofctl")
                .args(["-O", "OpenFlow13", "diff-flows", &a, &b])
                .output()
                .expect("ovs-ofctl diff-flows"),
            ours(&["diff-flows", &a, &b]),
        ),
    ] {
        assert_eq!(theirs.status.code(), Some(2));
        assert_eq!(mine.status.code(), Some(2));
        assert_eq!(lines(&mine), lines(&theirs));
        assert_eq!(lines(&mine).len(), 4, "{:?}", lines(&mine));
    }
    // --readd adds every flow again (an ADD over the same flow keeps its
    // counters, as OpenFlow 1.3 says without reset_counts).
    let o = ours(&["--readd", "replace-flows", &bed.br, &b]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A bad line is refused before anything is sent, naming file and line.
    let bad = write(
        "bad.txt",
        "priority=1,actions=drop\nnw_dst=10.0.0.1,ip,bogus=1,actions=drop\n",
    );
    let o = ours(&["replace-flows", &bed.br, &bad]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("bad.txt:2:"), "{err}");
    let o = ours(&["diff-flows", &bed.br, &b]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "nothing changed: {}",
        String::from_utf8_lossy(&o.stdout)
    );

    // Ports by name in our flows, as ovs-ofctl takes them (asked of the
    // switch only when a flow names one); an unknown one is named.
    let flow = format!(
        "table=4,in_port={},actions=output:{},{}",
        bed.p1, bed.br, bed.p1
    );
    let o = ours(&["add-flow", &bed.br, &flow]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t4 = bed.ok("dump-flows", &["table=4"]);
    assert!(t4.contains(" in_port=1 actions=LOCAL,output:1"), "{t4}");
    // From standard input too (read once, parsed again with the names),
    // and in group buckets.
    let mut child = Command::new(ofswitch_bin())
        .arg("--state-dir")
        .arg(bed.d.dir())
        .args(["ofctl", "add-flows", &bed.br, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ofswitch ofctl add-flows -");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "table=5,priority=1,in_port={},actions=drop", bed.p1).expect("write");
        writeln!(
            stdin,
            "table=5,priority=2,in_port=1,actions=output:{}",
            bed.br
        )
        .expect("write");
    }
    let o = child.wait_with_output().expect("add-flows");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let t5 = bed.ok("dump-flows", &["table=5"]);
    assert_eq!(t5.lines().count(), 3, "both lines installed:\n{t5}");
    let group = format!(
        "group_id=9,type=ff,bucket=watch_port:{p},output:{p}",
        p = bed.p1
    );
    let o = ours(&["add-group", &bed.br, &group]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let groups = bed.ok("dump-groups", &[]);
    assert!(
        groups.contains("group_id=9,type=ff,bucket=watch_port:1,actions=output:1"),
        "{groups}"
    );
    let o = ours(&["add-flow", &bed.br, "table=4,in_port=nosuch,actions=drop"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("unknown port \"nosuch\" in in_port"),
        "{err}"
    );
}
