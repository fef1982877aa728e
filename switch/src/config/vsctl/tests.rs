//! Tests of the vsctl verbs against the model, without a daemon.

use super::*;
use crate::config::model::{FailMode, InterfaceType, PortVlanMode, OFPP_LOCAL};
use crate::config::runtime::{ControllerStatus, InterfaceStatus, NoRuntime};
use crate::pipeline::ports::VlanMode;
use std::collections::BTreeMap;

fn argv(line: &str) -> Vec<String> {
    line.split_whitespace().map(String::from).collect()
}

fn ok(cfg: &mut Config, line: &str) -> String {
    match execute(cfg, &argv(line), &NoRuntime) {
        Ok(out) => out.output,
        Err(e) => panic!("{line}: {e}"),
    }
}

fn err(cfg: &mut Config, line: &str) -> String {
    let before = cfg.clone();
    match execute(cfg, &argv(line), &NoRuntime) {
        Ok(out) => panic!("{line}: unexpectedly succeeded: {out:?}"),
        Err(e) => {
            assert_eq!(
                *cfg, before,
                "{line}: a failed transaction changed the config"
            );
            assert!(!e.message.contains('\n'), "not one line: {e}");
            e.message
        }
    }
}

fn setup() -> Config {
    let mut cfg = Config::default();
    ok(&mut cfg, "add-br br0");
    cfg
}

#[test]
fn bridges() {
    let mut cfg = Config::default();
    assert_eq!(ok(&mut cfg, "list-br"), "");
    ok(&mut cfg, "add-br br1 -- add-br br0");
    assert_eq!(ok(&mut cfg, "list-br"), "br0\nbr1\n");
    assert_eq!(
        err(&mut cfg, "add-br br0"),
        "cannot create a bridge named br0 because a bridge named br0 already exists"
    );
    ok(&mut cfg, "--may-exist add-br br0");
    ok(&mut cfg, "-- --may-exist add-br br0");
    assert_eq!(err(&mut cfg, "del-br br9"), "no bridge named br9");
    ok(&mut cfg, "--if-exists del-br br9");
    assert_eq!(
        err(&mut cfg, "--may-exist del-br br0"),
        "'del-br' command has no '--may-exist' option"
    );
    ok(&mut cfg, "del-br br1");
    assert_eq!(ok(&mut cfg, "list-br"), "br0\n");
    let b = &cfg.bridges["br0"];
    assert_eq!(
        b.datapath_id,
        crate::config::model::default_datapath_id("br0")
    );
    assert_eq!(b.effective_fail_mode(), FailMode::Standalone);
    assert!(err(&mut cfg, "add-br bad/name").contains("invalid bridge name"));
    assert!(err(&mut cfg, "add-br br5 br0 10").contains("fake bridges"));
}

#[test]
fn br_exists_exit_status() {
    let mut cfg = setup();
    let out = execute(&mut cfg, &argv("br-exists br0"), &NoRuntime).unwrap();
    assert_eq!(out.exit_code, 0);
    let out = execute(&mut cfg, &argv("br-exists br9"), &NoRuntime).unwrap();
    assert_eq!(out.exit_code, 2);
    assert!(!out.changed);
}

#[test]
fn command_syntax_errors() {
    let mut cfg = setup();
    assert_eq!(
        err(&mut cfg, "bogus-cmd"),
        "unknown command 'bogus-cmd'; use --help for help"
    );
    assert_eq!(
        err(&mut cfg, "add-br"),
        "'add-br' command requires at least 1 arguments"
    );
    assert_eq!(
        err(&mut cfg, "list-br foo"),
        "'list-br' command takes at most 0 arguments"
    );
    assert_eq!(
        err(&mut cfg, ""),
        "missing command name (use --help for help)"
    );
    assert_eq!(
        err(&mut cfg, "--"),
        "missing command name (use --help for help)"
    );
    assert!(err(&mut cfg, "--format=xml show").contains("unknown output format"));
}

#[test]
fn ports() {
    let mut cfg = setup();
    ok(&mut cfg, "add-br br1");
    ok(&mut cfg, "add-port br0 p1 -- add-port br0 p2 tag=10");
    assert_eq!(ok(&mut cfg, "list-ports br0"), "p1\np2\n");
    assert_eq!(ok(&mut cfg, "list-ifaces br0"), "p1\np2\n");
    assert_eq!(ok(&mut cfg, "port-to-br p2"), "br0\n");
    assert_eq!(ok(&mut cfg, "port-to-br br1"), "br1\n");
    assert_eq!(ok(&mut cfg, "iface-to-br p1"), "br0\n");
    assert_eq!(cfg.bridges["br0"].ports["p2"].tag, Some(10));
    assert_eq!(cfg.bridges["br0"].ports["p1"].ofport, 1);
    assert_eq!(cfg.bridges["br0"].ports["p2"].ofport, 2);

    let exists =
        "cannot create a port named p1 because a port named p1 already exists on bridge br0";
    assert_eq!(err(&mut cfg, "add-port br0 p1"), exists);
    assert_eq!(err(&mut cfg, "add-port br1 p1"), exists);
    ok(&mut cfg, "--may-exist add-port br0 p1");
    assert_eq!(
        err(&mut cfg, "--may-exist add-port br1 p1"),
        "\"--may-exist add-port br1 p1\" but p1 is actually attached to bridge br0"
    );
    assert_eq!(
        err(&mut cfg, "add-port br0 br1"),
        "cannot create a port named br1 because a bridge named br1 already exists"
    );
    assert_eq!(
        err(&mut cfg, "add-br p1"),
        "cannot create a bridge named p1 because a port named p1 already exists on bridge br0"
    );
    assert_eq!(err(&mut cfg, "add-port br9 p3"), "no bridge named br9");
    assert_eq!(err(&mut cfg, "list-ports br9"), "no bridge named br9");
    assert_eq!(err(&mut cfg, "port-to-br p9"), "no port named p9");

    assert_eq!(
        err(&mut cfg, "del-port br1 p1"),
        "bridge br1 does not have a port p1"
    );
    assert_eq!(err(&mut cfg, "del-port p9"), "no port named p9");
    assert_eq!(err(&mut cfg, "del-port br0 p9"), "no port named p9");
    assert!(err(&mut cfg, "del-port br0 br0")
        .starts_with("cannot delete port br0 because it is the local port"));
    ok(&mut cfg, "--if-exists del-port br0 p9");
    ok(&mut cfg, "del-port br0 p1");
    ok(&mut cfg, "del-port p2");
    assert_eq!(ok(&mut cfg, "list-ports br0"), "");
    // Deleting a bridge deletes its ports; their names are free again.
    ok(&mut cfg, "add-port br1 q -- del-br br1 -- add-port br0 q");
    assert_eq!(cfg.port_bridge("q"), Some("br0"));
}

#[test]
fn add_port_columns() {
    let mut cfg = setup();
    // ovs-vsctl's Port columns.
    ok(
        &mut cfg,
        "add-port br0 t1 trunks=10,20 vlan_mode=native-untagged",
    );
    let p = &cfg.bridges["br0"].ports["t1"];
    assert_eq!(p.trunks, [10, 20]);
    assert_eq!(p.vlan_mode, Some(PortVlanMode::NativeUntagged));
    // Interface columns too (extension).
    ok(
        &mut cfg,
        "add-port br0 vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=5 ofport_request=7",
    );
    let p = &cfg.bridges["br0"].ports["vx1"];
    assert_eq!(p.interface.kind, InterfaceType::Vxlan);
    assert_eq!(p.interface.options["key"], "5");
    assert_eq!(p.ofport, 7);
    assert_eq!(
        err(&mut cfg, "add-port br0 p9 foo=1"),
        "Port does not contain a column whose name matches \"foo\""
    );
}

#[test]
fn chaining_is_atomic() {
    let mut cfg = setup();
    ok(
        &mut cfg,
        "add-port br0 vx1 -- set interface vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=5",
    );
    assert_eq!(
        cfg.bridges["br0"].ports["vx1"].interface.options["remote_ip"],
        "10.0.0.2"
    );
    // The last command fails: nothing of the line happens.
    assert_eq!(
        err(&mut cfg, "add-br br5 -- add-port br5 zz -- del-br br9"),
        "no bridge named br9"
    );
    assert!(!cfg.bridges.contains_key("br5"));
    // Validation at the end of the transaction fails: nothing happens.
    let e = err(&mut cfg, "add-port br0 vx2 -- set interface vx2 type=vxlan");
    assert_eq!(e, "port vx2: a vxlan interface needs options:remote_ip");
    let e = err(&mut cfg, "add-port br0 pp -- set interface pp type=patch");
    assert_eq!(e, "port pp: a patch interface needs options:peer");
    // An intermediate invalid state is fine if the end is valid.
    ok(
        &mut cfg,
        "add-port br0 pp -- set interface pp type=patch -- set interface pp options:peer=qq",
    );
    // Later commands see the effects of earlier ones.
    assert_eq!(
        ok(&mut cfg, "add-br br7 -- list-br -- del-br br7"),
        "br0\nbr7\n"
    );
    assert!(!cfg.bridges.contains_key("br7"));
    // --dry-run checks but changes nothing.
    let out = execute(&mut cfg, &argv("--dry-run add-br br8"), &NoRuntime).unwrap();
    assert!(!out.changed);
    assert!(!cfg.bridges.contains_key("br8"));
}

#[test]
fn changed_flag() {
    let mut cfg = setup();
    assert!(
        !execute(&mut cfg, &argv("show"), &NoRuntime)
            .unwrap()
            .changed
    );
    assert!(
        !execute(&mut cfg, &argv("--may-exist add-br br0"), &NoRuntime)
            .unwrap()
            .changed
    );
    assert!(
        execute(&mut cfg, &argv("add-port br0 p1"), &NoRuntime)
            .unwrap()
            .changed
    );
}

#[test]
fn ofport_allocation_via_vsctl() {
    let mut cfg = setup();
    ok(
        &mut cfg,
        "add-port br0 a -- add-port br0 b -- add-port br0 c",
    );
    ok(&mut cfg, "del-port b");
    ok(&mut cfg, "add-port br0 d");
    let nums = |cfg: &Config| -> Vec<(String, u32)> {
        cfg.bridges["br0"]
            .ports
            .values()
            .map(|p| (p.name.clone(), p.ofport))
            .collect()
    };
    assert_eq!(
        nums(&cfg),
        [("a".into(), 1), ("c".into(), 3), ("d".into(), 2)]
    );
    // Requests are honoured at commit, whatever the order of commands.
    ok(
        &mut cfg,
        "add-port br0 e -- add-port br0 f -- set interface e ofport_request=4",
    );
    assert_eq!(cfg.bridges["br0"].ports["e"].ofport, 4);
    assert_eq!(cfg.bridges["br0"].ports["f"].ofport, 5);
    assert_eq!(
        err(&mut cfg, "set interface a ofport_request=3"),
        "ofport_request 3 of interface a is in use by interface c of bridge br0"
    );
    assert_eq!(
        err(&mut cfg, "set interface a ofport_request=70000"),
        "constraint violation: 70000 is not in the valid range 1 to 65279 (inclusive)"
    );
    assert_eq!(
        err(&mut cfg, "set interface a ofport_request=0"),
        "constraint violation: 0 is not in the valid range 1 to 65279 (inclusive)"
    );
    assert!(err(&mut cfg, "set interface a ofport=9").contains("read-only column ofport"));
    ok(&mut cfg, "set interface a ofport_request=100");
    assert_eq!(cfg.bridges["br0"].ports["a"].ofport, 100);
    // Clearing the request keeps the number.
    ok(&mut cfg, "clear interface a ofport_request");
    assert_eq!(cfg.bridges["br0"].ports["a"].ofport, 100);
    assert_eq!(
        ok(&mut cfg, "get interface a ofport ofport_request"),
        "100\n[]\n"
    );
    assert_eq!(
        ok(&mut cfg, "get interface br0 ofport"),
        "65534\n",
        "LOCAL as in Open vSwitch's database"
    );
    // Numbers are per bridge.
    ok(&mut cfg, "add-br br1 -- add-port br1 x");
    assert_eq!(cfg.bridges["br1"].ports["x"].ofport, 1);
}

#[test]
fn port_vlan_columns() {
    let mut cfg = setup();
    ok(&mut cfg, "add-port br0 p1");
    ok(&mut cfg, "set port p1 tag=10");
    assert_eq!(
        cfg.bridges["br0"].ports["p1"].pipeline_vlan_mode(),
        VlanMode::Access(10)
    );
    assert_eq!(
        err(&mut cfg, "set port p1 tag=5000"),
        "constraint violation: 5000 is not in the valid range 1 to 4095 (inclusive)"
    );
    assert_eq!(
        err(&mut cfg, "set port p1 tag=abc"),
        "\"abc\" is not a valid integer"
    );
    assert_eq!(
        err(&mut cfg, "set port p9 tag=3"),
        "no row \"p9\" in table Port"
    );
    ok(&mut cfg, "--if-exists set port p9 tag=3");
    assert_eq!(
        err(&mut cfg, "set port p1 tag:x=1"),
        "cannot specify key to set for non-map column tag"
    );
    ok(&mut cfg, "remove port p1 tag 11");
    assert_eq!(cfg.bridges["br0"].ports["p1"].tag, Some(10));
    ok(&mut cfg, "remove port p1 tag 10");
    assert_eq!(cfg.bridges["br0"].ports["p1"].tag, None);
    ok(&mut cfg, "set port p1 tag=10 -- clear port p1 tag");
    assert_eq!(cfg.bridges["br0"].ports["p1"].tag, None);

    ok(&mut cfg, "set port p1 trunks=[20,10,20]");
    assert_eq!(cfg.bridges["br0"].ports["p1"].trunks, [10, 20]);
    assert_eq!(ok(&mut cfg, "get port p1 trunks"), "[10, 20]\n");
    ok(&mut cfg, "set port p1 trunks=30,40");
    assert_eq!(cfg.bridges["br0"].ports["p1"].trunks, [30, 40]);
    ok(&mut cfg, "add port p1 trunks 50 10");
    assert_eq!(cfg.bridges["br0"].ports["p1"].trunks, [10, 30, 40, 50]);
    ok(&mut cfg, "remove port p1 trunks 30 40");
    assert_eq!(
        cfg.bridges["br0"].ports["p1"].pipeline_vlan_mode(),
        VlanMode::Trunks(vec![10, 50])
    );
    assert!(err(&mut cfg, "set port p1 trunks=1,4096").contains("4096 is not in the valid range"));
    ok(&mut cfg, "clear port p1 trunks");
    assert_eq!(
        cfg.bridges["br0"].ports["p1"].pipeline_vlan_mode(),
        VlanMode::TrunkAll
    );

    ok(&mut cfg, "set port p1 vlan_mode=access");
    assert_eq!(ok(&mut cfg, "get port p1 vlan_mode"), "access\n");
    assert_eq!(
        err(&mut cfg, "set port p1 vlan_mode=bogus"),
        "constraint violation: bogus is not one of the allowed values ([access, native-tagged, native-untagged, trunk])"
    );
    assert_eq!(
        err(&mut cfg, "set port p1 trunks=5"),
        "port p1: vlan_mode access does not allow trunks"
    );
    ok(&mut cfg, "clear port p1 vlan_mode");
    assert_eq!(cfg.bridges["br0"].ports["p1"].vlan_mode, None);
    assert_eq!(
        err(&mut cfg, "set port p1 foo=3"),
        "Port does not contain a column whose name matches \"foo\""
    );
    assert!(err(&mut cfg, "set port br0 tag=3").contains("local port of bridge br0"));
}

#[test]
fn interface_columns() {
    let mut cfg = setup();
    ok(&mut cfg, "add-port br0 vx1 -- set interface vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=flow");
    ok(
        &mut cfg,
        "set Interface vx1 mtu_request=1400 options:dst_port=4790",
    );
    let i = &cfg.bridges["br0"].ports["vx1"].interface;
    assert_eq!(i.mtu_request, Some(1400));
    assert_eq!(i.options["dst_port"], "4790");
    assert_eq!(ok(&mut cfg, "get interface vx1 options:key"), "flow\n");
    assert_eq!(
        ok(&mut cfg, "get interface vx1 options:remote_ip"),
        "\"10.0.0.2\"\n"
    );
    assert_eq!(
        err(&mut cfg, "get interface vx1 options:nokey"),
        "no key \"nokey\" in Interface record \"vx1\" column options"
    );
    assert_eq!(
        ok(&mut cfg, "--if-exists get interface vx1 options:nokey"),
        ""
    );
    assert!(err(&mut cfg, "set interface vx1 options:remote_ip=host").contains("IPv4 or IPv6"));
    assert!(err(&mut cfg, "set interface vx1 options:key=x").contains("options:key"));
    assert!(err(&mut cfg, "set interface vx1 type=geneve").contains("unsupported interface type"));
    assert!(err(&mut cfg, "set interface vx1 mtu_request=10").contains("68 to 65535"));
    ok(&mut cfg, "remove interface vx1 options dst_port");
    ok(&mut cfg, "remove interface vx1 options key=other");
    assert!(cfg.bridges["br0"].ports["vx1"]
        .interface
        .options
        .contains_key("key"));
    ok(&mut cfg, "remove interface vx1 options key=flow");
    assert_eq!(
        ok(&mut cfg, "get interface vx1 options"),
        "{remote_ip=\"10.0.0.2\"}\n"
    );
    // Whole-map and quoted values.
    ok(
        &mut cfg,
        r#"set interface vx1 options={remote_ip="fe80::1",key="7"}"#,
    );
    assert_eq!(
        cfg.bridges["br0"].ports["vx1"].interface.options["remote_ip"],
        "fe80::1"
    );
    ok(&mut cfg, "set interface vx1 mac=02:AA:bb:cc:dd:ee");
    assert_eq!(
        cfg.bridges["br0"].ports["vx1"].interface.mac.as_deref(),
        Some("02:aa:bb:cc:dd:ee")
    );
    assert!(err(&mut cfg, "set interface vx1 mac=nope").contains("not a valid MAC"));
    // Changing the type checks the options against the new type.
    assert!(err(&mut cfg, "set interface vx1 type=system").contains("unknown option"));
    ok(
        &mut cfg,
        "set interface vx1 type=system -- clear interface vx1 options",
    );
    assert_eq!(
        cfg.bridges["br0"].ports["vx1"].interface.kind,
        InterfaceType::System
    );
    ok(&mut cfg, "set interface vx1 type=\"\"");
    // The LOCAL interface: only mtu_request.
    ok(&mut cfg, "set interface br0 mtu_request=9000");
    assert_eq!(cfg.bridges["br0"].local_mtu_request, Some(9000));
    assert!(err(&mut cfg, "set interface br0 type=system").contains("read-only"));
    // Abbreviations and dashes, as ovs-vsctl.
    ok(&mut cfg, "set int vx1 mtu-request=1500");
    assert_eq!(
        cfg.bridges["br0"].ports["vx1"].interface.mtu_request,
        Some(1500)
    );
    assert_eq!(err(&mut cfg, "list foo"), "unknown table \"foo\"");
    assert!(err(&mut cfg, "list open_vswitch").contains("not supported"));
}

#[test]
fn bridge_columns_and_datapath_id() {
    let mut cfg = setup();
    ok(
        &mut cfg,
        "set bridge br0 other-config:datapath-id=0000000000000001",
    );
    assert_eq!(cfg.bridges["br0"].datapath_id, 1);
    assert_eq!(
        ok(&mut cfg, "get bridge br0 datapath_id"),
        "\"0000000000000001\"\n"
    );
    assert_eq!(
        ok(&mut cfg, "get bridge br0 other_config"),
        "{datapath-id=\"0000000000000001\"}\n"
    );
    ok(&mut cfg, "set bridge br0 datapath_id=00000000000000ab");
    assert_eq!(cfg.bridges["br0"].datapath_id, 0xab);
    assert!(err(&mut cfg, "set bridge br0 other-config:datapath-id=xyz")
        .contains("not a valid datapath id"));
    ok(&mut cfg, "remove bridge br0 other_config datapath-id");
    assert_eq!(
        cfg.bridges["br0"].datapath_id,
        crate::config::model::default_datapath_id("br0")
    );
    ok(
        &mut cfg,
        "set bridge br0 other_config:foo=bar fail_mode=secure",
    );
    assert_eq!(cfg.bridges["br0"].fail_mode, Some(FailMode::Secure));
    assert_eq!(ok(&mut cfg, "get bridge br0 ports"), "[br0]\n");
    assert!(err(&mut cfg, "set bridge br0 name=x").contains("read-only column name"));
    assert_eq!(
        err(&mut cfg, "set bridge br9 fail_mode=secure"),
        "no row \"br9\" in table Bridge"
    );
}

#[test]
fn controllers_and_fail_mode() {
    let mut cfg = setup();
    assert_eq!(ok(&mut cfg, "get-controller br0"), "");
    ok(&mut cfg, "set-controller br0 tcp:127.0.0.1:6653 ptcp:6634");
    assert_eq!(
        ok(&mut cfg, "get-controller br0"),
        "tcp:127.0.0.1:6653\nptcp:6634\n"
    );
    assert!(err(&mut cfg, "set-controller br0 foo:1")
        .starts_with("invalid controller target \"foo:1\""));
    assert_eq!(err(&mut cfg, "get-controller br9"), "no bridge named br9");
    ok(&mut cfg, "del-controller br0");
    assert!(cfg.bridges["br0"].controllers.is_empty());
    ok(&mut cfg, "set-controller br0 punix:/tmp/br0.sock");
    ok(&mut cfg, "set-controller br0");
    assert!(cfg.bridges["br0"].controllers.is_empty());

    assert_eq!(ok(&mut cfg, "get-fail-mode br0"), "");
    ok(&mut cfg, "set-fail-mode br0 secure");
    assert_eq!(ok(&mut cfg, "get-fail-mode br0"), "secure\n");
    assert_eq!(
        err(&mut cfg, "set-fail-mode br0 bogus"),
        "fail-mode must be \"standalone\" or \"secure\""
    );
    ok(&mut cfg, "del-fail-mode br0");
    assert_eq!(cfg.bridges["br0"].fail_mode, None);
}

#[test]
fn netns_port() {
    let mut cfg = setup();
    ok(
        &mut cfg,
        "add-netns-port br0 veth1 ns1 --ipaddress=10.1.1.5/24 --macaddress=02:00:00:00:00:01 --mtu=1450 --gateway=10.1.1.1",
    );
    let p = &cfg.bridges["br0"].ports["veth1"];
    assert_eq!(p.netns.as_deref(), Some("ns1"));
    assert_eq!(p.interface.kind, InterfaceType::System);
    assert_eq!(p.interface.mtu_request, Some(1450));
    let want: BTreeMap<String, String> = [
        ("container_id", "ns1"),
        ("container_iface", "eth0"),
        ("gateway", "10.1.1.1"),
        ("ip_address", "10.1.1.5/24"),
        ("mac_address", "02:00:00:00:00:01"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // On the interface, where ovs-docker puts them and looks for them.
    assert_eq!(p.interface.external_ids, want);
    assert!(p.external_ids.is_empty() && p.other_config.is_empty());
    assert_eq!(
        ok(&mut cfg, "get interface veth1 external_ids:container_id"),
        "ns1\n"
    );
    assert_eq!(
        ok(
            &mut cfg,
            "--data=bare --no-heading --columns=name find interface \
             external_ids:container_id=ns1 external_ids:container_iface=eth0"
        ),
        "veth1\n"
    );
    ok(&mut cfg, "set interface veth1 external_ids:owner=me");
    assert!(ok(&mut cfg, "get interface veth1 external_ids").contains("owner=me"));
    ok(&mut cfg, "remove interface veth1 external_ids owner");
    assert_eq!(
        cfg.bridges["br0"].ports["veth1"].interface.external_ids,
        want
    );
    // The port has its own.
    ok(&mut cfg, "set port veth1 external_ids:owner=me");
    assert_eq!(
        ok(&mut cfg, "--bare get port veth1 external_ids"),
        "owner=me\n"
    );
    assert!(err(
        &mut cfg,
        "add-netns-port br0 veth2 ns1 --ipaddress=10.1.1.5"
    )
    .contains("prefix length"));
    assert!(err(&mut cfg, "add-netns-port br0 veth2 ns1 --bogus=1").contains("unknown option"));
    assert!(err(&mut cfg, "add-netns-port br0 veth1 ns1").contains("already exists"));
    ok(&mut cfg, "--may-exist add-netns-port br0 veth1 ns1");
    assert!(ok(&mut cfg, "show").contains("            netns: ns1\n"));
    assert!(err(&mut cfg, "set interface veth1 type=internal").contains("network namespace"));
    ok(&mut cfg, "del-port veth1");
    // del-netns-port: every port of the bridge in that namespace, no other.
    ok(
        &mut cfg,
        "add-netns-port br0 a1 ns1 -- add-netns-port br0 a2 ns1 --ifname=eth1",
    );
    ok(&mut cfg, "add-netns-port br0 b1 ns2");
    ok(&mut cfg, "del-netns-port br0 ns1");
    let left: Vec<&String> = cfg.bridges["br0"].ports.keys().collect();
    assert!(!left.iter().any(|n| n.starts_with('a')), "{left:?}");
    assert!(cfg.bridges["br0"].ports.contains_key("b1"));
    assert!(err(&mut cfg, "del-netns-port br0 ns1").contains("no port in network namespace"));
    ok(&mut cfg, "--if-exists del-netns-port br0 ns1");
}

struct FakeRuntime;

impl RuntimeInfo for FakeRuntime {
    fn interface(&self, _bridge: &str, iface: &str) -> Option<InterfaceStatus> {
        (iface == "p1").then(|| InterfaceStatus {
            link_up: Some(true),
            mac_in_use: Some("02:00:00:00:00:01".into()),
            mtu: Some(1500),
            error: None,
            statistics: Some(
                [
                    ("rx_packets", 3),
                    ("tx_packets", 4),
                    ("rx_bytes", 300),
                    ("tx_bytes", 400),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            ),
        })
    }
    fn controller(&self, _bridge: &str, target: &str) -> Option<ControllerStatus> {
        (target == "tcp:127.0.0.1:6653").then(|| ControllerStatus {
            is_connected: true,
            role: Some("master".into()),
            status: [("packet_in_sent", "12"), ("packet_in_rate_limited", "3")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        })
    }
    fn bridge_status(&self, bridge: &str) -> Option<BTreeMap<String, String>> {
        (bridge == "br0").then(|| {
            [
                ("stp_bridge_id", "8000.020000000001"),
                ("stp_root_path_cost", "0"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        })
    }
    fn port_status(&self, _bridge: &str, port: &str) -> Option<BTreeMap<String, String>> {
        (port == "p1").then(|| {
            [("stp_state", "blocking"), ("stp_port_id", "8001")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }
}

#[test]
fn stp_enable_and_status_columns() {
    let mut cfg = show_config();
    let get = |cfg: &mut Config, line: &str| {
        execute(cfg, &argv(line), &FakeRuntime)
            .map(|r| r.output)
            .unwrap_or_else(|e| panic!("{line}: {e:?}"))
    };
    assert_eq!(get(&mut cfg, "get bridge br0 stp_enable"), "false\n");
    ok(
        &mut cfg,
        "set bridge br0 stp_enable=true other_config:stp-priority=4096",
    );
    assert!(cfg.bridges["br0"].stp_enable);
    assert_eq!(get(&mut cfg, "get bridge br0 stp_enable"), "true\n");
    assert!(err(&mut cfg, "set bridge br0 stp_enable=yes").contains("not a valid boolean"));
    assert_eq!(
        get(&mut cfg, "get bridge br0 status"),
        "{stp_bridge_id=\"8000.020000000001\", stp_root_path_cost=\"0\"}\n"
    );
    assert_eq!(get(&mut cfg, "get port p1 status:stp_state"), "blocking\n");
    assert_eq!(get(&mut cfg, "get port t1 status"), "{}\n");
    assert!(err(&mut cfg, "set port p1 status={}").contains("read-only"));
    // Persisted like the other columns, and absent from files when off.
    let json = serde_json::to_string(&cfg.bridges["br0"]).unwrap_or_default();
    assert!(json.contains("\"stp_enable\":true"), "{json}");
    ok(&mut cfg, "set bridge br0 stp_enable=false");
    let json = serde_json::to_string(&cfg.bridges["br0"]).unwrap_or_default();
    assert!(!json.contains("stp_enable"), "{json}");
}

fn show_config() -> Config {
    let mut cfg = Config::default();
    ok(
        &mut cfg,
        "add-br br1 -- add-port br1 patch1 -- set interface patch1 type=patch options:peer=patch0 \
         -- add-br br0 -- add-port br0 p1 tag=10 -- add-port br0 t1 trunks=10,20 vlan_mode=native-untagged \
         -- add-port br0 vx1 -- set interface vx1 type=vxlan options:remote_ip=10.0.0.2 options:key=5 ofport_request=7 \
         -- set-controller br0 tcp:127.0.0.1:6653 ptcp:6634 -- set-fail-mode br0 secure",
    );
    cfg
}

#[test]
fn show_layout_like_ovs() {
    let mut cfg = show_config();
    let out = execute(&mut cfg, &argv("show"), &FakeRuntime)
        .unwrap()
        .output;
    // `ovs-vsctl show` for the same configuration (OVS 3.1), without its
    // UUID line, plus `ofport:` lines, `vlan_mode:` and controller state.
    let want = r#"    Bridge br0
        Controller "tcp:127.0.0.1:6653"
            is_connected: true
            role: master
        Controller "ptcp:6634"
        fail_mode: secure
        Port br0
            Interface br0
                type: internal
                ofport: LOCAL
        Port p1
            tag: 10
            Interface p1
                ofport: 1
        Port t1
            trunks: [10, 20]
            vlan_mode: native-untagged
            Interface t1
                ofport: 2
        Port vx1
            Interface vx1
                type: vxlan
                options: {key="5", remote_ip="10.0.0.2"}
                ofport: 7
    Bridge br1
        Port br1
            Interface br1
                type: internal
                ofport: LOCAL
        Port patch1
            Interface patch1
                type: patch
                options: {peer=patch0}
                ofport: 1
"#;
    assert_eq!(out, want);
}

#[test]
fn show_json() {
    let mut cfg = show_config();
    let out = execute(&mut cfg, &argv("--format=json show"), &FakeRuntime)
        .unwrap()
        .output;
    let v: Json = serde_json::from_str(&out).unwrap();
    let br0 = &v["bridges"][0];
    assert_eq!(br0["name"], "br0");
    assert_eq!(br0["fail_mode"], "secure");
    assert_eq!(br0["controllers"][0]["is_connected"], true);
    assert_eq!(br0["controllers"][1]["is_connected"], Json::Null);
    assert_eq!(br0["ports"][0]["name"], "br0");
    assert_eq!(br0["ports"][0]["ofport"], OFPP_LOCAL);
    assert_eq!(br0["ports"][1]["tag"], 10);
    assert_eq!(br0["ports"][1]["interface"]["link_state"], "up");
    assert_eq!(br0["ports"][3]["interface"]["options"]["key"], "5");
    assert_eq!(br0["ports"][3]["ofport"], 7);
    // -f json and the request's format do the same.
    let out2 = execute(&mut cfg, &argv("-f json show"), &FakeRuntime)
        .unwrap()
        .output;
    let out3 = execute_with_format(&mut cfg, &argv("show"), Format::Json, &FakeRuntime)
        .unwrap()
        .output;
    assert_eq!(out, out2);
    assert_eq!(out, out3);
    let text = execute_with_format(
        &mut cfg,
        &argv("--format=text show"),
        Format::Json,
        &FakeRuntime,
    )
    .unwrap()
    .output;
    assert!(text.starts_with("    Bridge br0\n"));
}

#[test]
fn list_records() {
    let mut cfg = show_config();
    let out = execute(&mut cfg, &argv("list interface p1"), &FakeRuntime)
        .unwrap()
        .output;
    let want = r#"error               : []
external_ids        : {}
link_state          : up
mac                 : []
mac_in_use          : "02:00:00:00:00:01"
mtu                 : 1500
mtu_request         : []
name                : p1
ofport              : 1
ofport_request      : []
options             : {}
statistics          : {rx_bytes=300, rx_packets=3, tx_bytes=400, tx_packets=4}
type                : system
"#;
    assert_eq!(out, want);
    // ovs-vsctl's other layouts: a table, bare values.
    assert_eq!(
        ok(
            &mut cfg,
            "--format=table --columns=name,ofport,mtu_request list interface p1 t1"
        ),
        "name ofport mtu_request\n---- ------ -----------\np1   1      []\nt1   2      []\n"
    );
    assert_eq!(
        ok(
            &mut cfg,
            "--format=table --no-headings -d bare --columns=name,mtu_request list interface p1"
        ),
        "p1\n"
    );
    assert_eq!(
        ok(
            &mut cfg,
            "--bare --columns=name,ofport list interface p1 t1"
        ),
        "p1\n1\n\nt1\n2\n"
    );
    assert!(err(&mut cfg, "--data=json list interface").contains("unknown data format"));
    let out = ok(&mut cfg, "list port t1");
    let want = r#"external_ids        : {}
interfaces          : [t1]
name                : t1
netns               : []
other_config        : {}
status              : {}
tag                 : []
trunks              : [10, 20]
vlan_mode           : native-untagged
"#;
    assert_eq!(out, want);
    let out = ok(&mut cfg, "list bridge br0");
    assert!(
        out.contains("controller          : [\"tcp:127.0.0.1:6653\", \"ptcp:6634\"]\n"),
        "{out}"
    );
    assert!(out.contains("fail_mode           : secure\n"));
    assert!(out.contains("ports               : [br0, p1, t1, vx1]\n"));
    // Several records: separated by a blank line; --columns selects.
    let out = ok(&mut cfg, "--columns=name,tag list port p1 t1");
    assert_eq!(out, "name                : p1\ntag                 : 10\n\nname                : t1\ntag                 : []\n");
    // All records of a table include the LOCAL ports.
    let out = ok(&mut cfg, "--columns=name list interface");
    assert_eq!(out.matches("name ").count(), 6);
    assert_eq!(
        err(&mut cfg, "list bridge br9"),
        "no row \"br9\" in table Bridge"
    );
    assert_eq!(ok(&mut cfg, "--if-exists list bridge br9"), "");
    // JSON.
    let out = execute(
        &mut cfg,
        &argv("--format=json list interface p1"),
        &FakeRuntime,
    )
    .unwrap()
    .output;
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "p1");
    assert_eq!(v[0]["ofport"], 1);
    assert_eq!(v[0]["statistics"]["rx_packets"], 3);
    assert_eq!(v[0]["mtu_request"], Json::Null);
    let v: Json = serde_json::from_str(&ok(&mut cfg, "-f json list-br")).unwrap();
    assert_eq!(v, json!(["br0", "br1"]));
}

#[test]
fn find_records() {
    let mut cfg = show_config();
    assert_eq!(
        ok(&mut cfg, "--columns=name find interface type=vxlan"),
        "name                : vx1\n"
    );
    assert_eq!(
        ok(&mut cfg, "--columns=name find port tag=10"),
        "name                : p1\n"
    );
    assert_eq!(
        ok(&mut cfg, "--columns=name find port trunks=[20,10]"),
        "name                : t1\n"
    );
    assert_eq!(
        ok(
            &mut cfg,
            "--columns=name find interface options:remote_ip=10.0.0.2"
        ),
        "name                : vx1\n"
    );
    assert_eq!(ok(&mut cfg, "--columns=name find interface type=gre"), "");
    assert!(err(&mut cfg, "find interface bogus=1").contains("does not contain a column"));
}

#[test]
fn whole_config_stays_valid() {
    // Every successful line leaves a configuration that validates.
    let cfg = show_config();
    cfg.validate().unwrap();
    let v: Config = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(v, cfg);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    const WORDS: &[&str] = &[
        "--",
        "--may-exist",
        "--if-exists",
        "-f",
        "json",
        "--format=json",
        "add-br",
        "del-br",
        "add-port",
        "del-port",
        "set",
        "get",
        "clear",
        "add",
        "remove",
        "list",
        "find",
        "show",
        "br0",
        "br1",
        "p1",
        "p2",
        "port",
        "interface",
        "bridge",
        "tag=10",
        "tag=0",
        "trunks=[]",
        "trunks=1,2",
        "type=vxlan",
        "type=patch",
        "options:peer=p2",
        "options:remote_ip=1.2.3.4",
        "ofport_request=1",
        "ofport_request=2",
        "vlan_mode=access",
        "tag",
        "trunks",
        "options",
        "\"",
        "=",
        ":",
        "[",
        "{a=",
        "other_config:datapath-id=1",
        "set-controller",
        "ptcp:",
        "add-netns-port",
        "ns",
        "--mtu=1",
        "",
        "é",
        "{",
        "}",
        "10",
    ];

    proptest! {
        #[test]
        fn never_panics_and_stays_valid(
            lines in prop::collection::vec(prop::collection::vec(0..WORDS.len(), 0..12), 1..8)
        ) {
            let mut cfg = Config::default();
            for line in lines {
                let argv: Vec<String> = line.iter().map(|&i| WORDS[i].to_string()).collect();
                let before = cfg.clone();
                match execute(&mut cfg, &argv, &NoRuntime) {
                    Ok(_) => cfg.validate().map_err(|e| TestCaseError::fail(e.0))?,
                    Err(e) => {
                        prop_assert_eq!(&cfg, &before);
                        prop_assert!(!e.message.contains('\n'));
                    }
                }
            }
        }
    }
}

#[test]
fn ssl_settings() {
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| {
        let p = dir.path().join(n);
        std::fs::write(&p, "pem").unwrap();
        p.display().to_string()
    };
    let (key, cert, ca) = (f("key.pem"), f("cert.pem"), f("ca.pem"));
    let mut cfg = setup();
    assert_eq!(ok(&mut cfg, "get-ssl"), "");
    assert_eq!(ok(&mut cfg, "--format=json get-ssl"), "null\n");
    ok(&mut cfg, &format!("set-ssl {key} {cert} {ca}"));
    assert_eq!(
        ok(&mut cfg, "get-ssl"),
        format!(
            "Private key: {key}\nCertificate: {cert}\nCA Certificate: {ca}\nBootstrap: false\n"
        )
    );
    let v: Json = serde_json::from_str(&ok(&mut cfg, "-f json get-ssl")).unwrap();
    assert_eq!(v["ca_cert"], ca.as_str());
    let v: Json = serde_json::from_str(&ok(&mut cfg, "-f json show")).unwrap();
    assert_eq!(v["ssl"]["private_key"], key.as_str());
    // Like ovs-vsctl, the text show leaves SSL out.
    assert!(!ok(&mut cfg, "show").contains("key.pem"));

    let missing = dir.path().join("nope.pem").display().to_string();
    let e = err(&mut cfg, &format!("set-ssl {key} {missing} {ca}"));
    assert!(e.starts_with("set-ssl: cannot use the certificate"), "{e}");
    assert!(e.contains("nope.pem"), "{e}");
    let e = err(&mut cfg, &format!("set-ssl key.pem {cert} {ca}"));
    assert!(
        e.contains("private key path \"key.pem\" must be absolute"),
        "{e}"
    );
    let d = dir.path().display().to_string();
    let e = err(&mut cfg, &format!("set-ssl {key} {cert} {d}"));
    assert!(
        e.contains("CA certificate") && e.contains("not a regular file"),
        "{e}"
    );
    assert_eq!(
        err(&mut cfg, &format!("set-ssl {key} {cert}")),
        "'set-ssl' command requires at least 3 arguments"
    );
    assert_eq!(
        err(&mut cfg, &format!("--bootstrap set-ssl {key} {cert} {ca}")),
        "'set-ssl' command has no '--bootstrap' option"
    );

    ok(&mut cfg, "del-ssl");
    assert_eq!(cfg.ssl, None);
    assert_eq!(ok(&mut cfg, "get-ssl"), "");
}

#[test]
fn controller_rate_limits() {
    let mut cfg = setup();
    ok(&mut cfg, "set-controller br0 tcp:127.0.0.1:6653");
    // Named by bridge, as ovs-vsctl; unset by default (no limit).
    assert_eq!(
        ok(
            &mut cfg,
            "get controller br0 controller_rate_limit controller_burst_limit"
        ),
        "[]\n[]\n"
    );
    ok(
        &mut cfg,
        "set controller br0 controller_rate_limit=1000 controller_burst_limit=250",
    );
    let settings = cfg.bridges["br0"].controller_settings["tcp:127.0.0.1:6653"];
    assert_eq!(settings.packet_in_limit(), Some((1000, 250)));
    assert_eq!(
        ok(&mut cfg, "get controller br0 controller_rate_limit"),
        "1000\n"
    );
    // Named by target too.
    assert_eq!(
        ok(
            &mut cfg,
            "get controller tcp:127.0.0.1:6653 controller_burst_limit"
        ),
        "250\n"
    );
    // The minimums of OVS's schema; bad values name the key.
    ok(
        &mut cfg,
        "set controller br0 controller_rate_limit=100 controller_burst_limit=25",
    );
    for (line, key) in [
        (
            "set controller br0 controller_rate_limit=99",
            "controller_rate_limit",
        ),
        (
            "set controller br0 controller_burst_limit=24",
            "controller_burst_limit",
        ),
        (
            "set controller br0 controller_rate_limit=fast",
            "controller_rate_limit",
        ),
        (
            "set controller br0 controller_rate_limit=-5",
            "controller_rate_limit",
        ),
        (
            "set controller br0 controller_burst_limit=99999999999",
            "controller_burst_limit",
        ),
        (
            "set controller br0 controller_rate_limit",
            "controller_rate_limit",
        ),
    ] {
        let e = err(&mut cfg, line);
        assert!(e.starts_with(key), "{line}: {e}");
    }
    assert_eq!(
        err(&mut cfg, "set controller br0 controller_rate_limit=50"),
        "controller_rate_limit: constraint violation: 50 is not in the valid range 100 to 4294967295 (inclusive)"
    );
    assert_eq!(
        err(&mut cfg, "set controller br0 is_connected=true"),
        "cannot modify read-only column is_connected in table Controller"
    );
    // clear: back to no limit, and nothing left in the model.
    ok(
        &mut cfg,
        "clear controller br0 controller_rate_limit controller_burst_limit",
    );
    assert!(cfg.bridges["br0"].controller_settings.is_empty());
    // Records: not for a bridge without controllers; a bridge with two
    // says how to name one.
    ok(&mut cfg, "add-br br1");
    assert_eq!(
        err(&mut cfg, "set controller br1 controller_rate_limit=100"),
        "no row \"br1\" in table Controller"
    );
    ok(
        &mut cfg,
        "set-controller br1 tcp:127.0.0.1:1 tcp:127.0.0.1:2",
    );
    assert_eq!(
        err(&mut cfg, "get controller br1 target"),
        "bridge br1 has 2 controllers; name one by its target (tcp:127.0.0.1:1, tcp:127.0.0.1:2)"
    );
    ok(
        &mut cfg,
        "set controller tcp:127.0.0.1:2 controller_rate_limit=500",
    );
    assert_eq!(
        ok(
            &mut cfg,
            "--columns=target,controller_rate_limit list controller"
        ),
        "target              : \"tcp:127.0.0.1:1\"\ncontroller_rate_limit: []\n\n\
         target              : \"tcp:127.0.0.1:2\"\ncontroller_rate_limit: 500\n\n\
         target              : \"tcp:127.0.0.1:6653\"\ncontroller_rate_limit: []\n"
    );
    // set-controller makes new controllers (as OVS's new rows): their
    // settings start from the defaults; the controller column keeps those
    // of the targets it keeps.
    ok(&mut cfg, "set bridge br1 controller=tcp:127.0.0.1:2");
    assert_eq!(cfg.bridges["br1"].controller_settings.len(), 1);
    ok(&mut cfg, "set-controller br1 tcp:127.0.0.1:2");
    assert!(cfg.bridges["br1"].controller_settings.is_empty());
    ok(&mut cfg, "set controller br1 controller_rate_limit=500");
    ok(&mut cfg, "del-controller br1");
    assert!(cfg.bridges["br1"].controller_settings.is_empty());
}

#[test]
fn list_controller_with_the_daemons_view() {
    let mut cfg = show_config();
    ok(
        &mut cfg,
        "set controller tcp:127.0.0.1:6653 controller_rate_limit=1000",
    );
    let out = execute(
        &mut cfg,
        &argv("list controller tcp:127.0.0.1:6653"),
        &FakeRuntime,
    )
    .unwrap()
    .output;
    let want = r#"controller_burst_limit: []
controller_rate_limit: 1000
is_connected        : true
role                : master
status              : {packet_in_rate_limited="3", packet_in_sent="12"}
target              : "tcp:127.0.0.1:6653"
"#;
    assert_eq!(out, want);
    let out = execute(
        &mut cfg,
        &argv("--format=json list controller ptcp:6634"),
        &FakeRuntime,
    )
    .unwrap()
    .output;
    let v: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["is_connected"], false);
    assert_eq!(v[0]["controller_rate_limit"], Json::Null);
    assert_eq!(v[0]["target"], "ptcp:6634");
    // The settings survive the trip through conf.json.
    let back: Config = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
    assert_eq!(back, cfg);
}

/// Bridge columns scripts written for Open vSwitch set: `protocols` (must
/// keep OpenFlow13, the one version spoken), `datapath_type` (netdev, as
/// for OVS's userspace datapath), `external_ids` and its two commands.
#[test]
fn bridge_columns_from_ovs_scripts() {
    let mut cfg = Config::default();
    ok(
        &mut cfg,
        "add-br br0 -- set bridge br0 datapath_type=netdev protocols=OpenFlow13",
    );
    assert_eq!(ok(&mut cfg, "get bridge br0 datapath_type"), "netdev\n");
    ok(
        &mut cfg,
        "set bridge br0 protocols=OpenFlow15,OpenFlow13,OpenFlow10",
    );
    assert_eq!(
        ok(&mut cfg, "get bridge br0 protocols"),
        "[OpenFlow10, OpenFlow13, OpenFlow15]\n"
    );
    let e = err(&mut cfg, "set bridge br0 protocols=OpenFlow10");
    assert!(e.contains("leave out OpenFlow13"), "{e}");
    let e = err(&mut cfg, "set bridge br0 protocols=OpenFlow9");
    assert!(e.contains("unknown protocol \"OpenFlow9\""), "{e}");
    // Refused changes leave the configuration as it was.
    assert_eq!(cfg.bridges["br0"].protocols.len(), 3);
    ok(&mut cfg, "clear bridge br0 protocols");
    assert!(cfg.bridges["br0"].protocols.is_empty());
    let e = err(&mut cfg, "set bridge br0 datapath_type=dpdk");
    assert!(e.contains("unknown datapath_type"), "{e}");

    ok(&mut cfg, "br-set-external-id br0 bridge-id br-int");
    ok(&mut cfg, "br-set-external-id br0 owner me");
    assert_eq!(ok(&mut cfg, "br-get-external-id br0 bridge-id"), "br-int\n");
    assert_eq!(
        ok(&mut cfg, "br-get-external-id br0"),
        "bridge-id=br-int\nowner=me\n"
    );
    ok(&mut cfg, "br-set-external-id br0 owner");
    assert_eq!(
        ok(&mut cfg, "get bridge br0 external_ids"),
        "{bridge-id=br-int}\n"
    );
    assert_eq!(ok(&mut cfg, "br-get-external-id br0 nosuch"), "");
    assert_eq!(
        err(&mut cfg, "br-get-external-id br9"),
        "no bridge named br9"
    );
}
