//! The controller's flows run in the switch's own pipeline.
//!
//! Each simulated switch is an `ofswitch::pipeline::Pipeline` programmed only
//! with what `ofcontroller`'s pure functions return (`delete_all`, then
//! `switch_flows`; packet-ins go to `MacTable::packet_in` and its changes go
//! back). Tunnel ports are wired to each other: an output on a tunnel port
//! comes in on the peer's port with the tunnel id it was sent with. Real
//! frames then show where traffic goes: the isolation and split-horizon
//! properties are checked on behaviour, not on the flows' text.

use ofcontroller::learning::{parse_packet_in, MacTable, Verdict};
use ofcontroller::pipeline::{self, Changes};
use ofcontroller::policy::{Policy, PortRole, View, VlanInfo};
use ofswitch::pipeline::ports::PortInfo;
use ofswitch::pipeline::{MicroflowCache, Outcome, PacketMeta, Pipeline};
use openflow::messages::FlowMod;
use std::collections::BTreeMap;

const SEC: u64 = 1_000_000_000;

struct Sw {
    p: Pipeline,
    cache: MicroflowCache,
    view: View,
    macs: MacTable,
}

/// A delivery to a host port: (switch, port, frame).
type Delivery = (usize, u32, Vec<u8>);

struct Net {
    sws: Vec<Sw>,
    /// (switch, tunnel port) -> (switch, tunnel port).
    links: BTreeMap<(usize, u32), (usize, u32)>,
    now: u64,
    packet_ins: usize,
    verdicts: Vec<Verdict>,
    /// Tunnel hops taken, to catch storms.
    hops: usize,
}

fn apply(p: &mut Pipeline, fm: &FlowMod, now: u64) {
    if let Err(e) = p.flow_mod(fm, now) {
        panic!("switch refused {fm:?}: {:?}", e.name());
    }
}

impl Net {
    fn new(views: Vec<View>) -> Net {
        let mut sws = Vec::new();
        for view in views {
            let mut p = Pipeline::new();
            for port in view.ports.keys() {
                let mut info = PortInfo::new(*port);
                info.created = SEC;
                p.set_port(info);
            }
            let mut sw = Sw {
                p,
                cache: MicroflowCache::default(),
                view,
                macs: MacTable::default(),
            };
            apply(&mut sw.p, &pipeline::delete_all(), SEC);
            for f in pipeline::switch_flows(&sw.view) {
                apply(&mut sw.p, &f, SEC);
            }
            sws.push(sw);
        }
        Net {
            sws,
            links: BTreeMap::new(),
            now: SEC,
            packet_ins: 0,
            verdicts: Vec::new(),
            hops: 0,
        }
    }

    fn link(&mut self, a: (usize, u32), b: (usize, u32)) {
        self.links.insert(a, b);
        self.links.insert(b, a);
    }

    fn changes(&mut self, sw: usize, ch: &Changes) {
        let now = self.now;
        let p = &mut self.sws[sw].p;
        for f in ch.delete.iter().chain(&ch.add) {
            apply(p, f, now);
        }
    }

    /// Sends a frame in on a host port; returns the host-port deliveries.
    fn send(&mut self, sw: usize, port: u32, frame: Vec<u8>) -> Vec<Delivery> {
        self.send_meta(sw, PacketMeta::port(port), frame)
    }

    fn send_meta(&mut self, sw: usize, meta: PacketMeta, frame: Vec<u8>) -> Vec<Delivery> {
        let mut queue = vec![(sw, meta, frame)];
        let mut delivered = Vec::new();
        while let Some((s, meta, frame)) = queue.pop() {
            let mut out = Vec::new();
            {
                let sw = &mut self.sws[s];
                sw.p.process(&mut sw.cache, frame, meta, self.now, &mut out);
            }
            for o in out {
                match o {
                    Outcome::Output {
                        port,
                        tunnel_id,
                        frame,
                        ..
                    } => match self.links.get(&(s, port)) {
                        Some(&(peer, peer_port)) => {
                            self.hops += 1;
                            assert!(self.hops < 1000, "broadcast storm");
                            queue.push((
                                peer,
                                PacketMeta {
                                    in_port: peer_port,
                                    in_phy_port: peer_port,
                                    tunnel_id,
                                },
                                frame,
                            ));
                        }
                        None => delivered.push((s, port, frame)),
                    },
                    Outcome::PacketIn(pi) => {
                        self.packet_ins += 1;
                        let info = parse_packet_in(&pi)
                            .unwrap_or_else(|| panic!("unparsable packet-in {pi:?}"));
                        let now_s = self.now / SEC;
                        let sw = &mut self.sws[s];
                        let (verdict, ch) = sw.macs.packet_in(&sw.view, &info, now_s);
                        self.verdicts.push(verdict);
                        self.changes(s, &ch);
                    }
                    // Spanning tree is off on these bridges.
                    Outcome::Bpdu { .. } => {}
                }
            }
        }
        delivered.sort();
        delivered
    }

    /// Changes a switch's view as a reload or PORT_STATUS would: the
    /// pipeline diff and the MACs of the ports concerned.
    fn reload(&mut self, sw: usize, new: View) {
        let old = self.sws[sw].view.clone();
        let mut ch = pipeline::diff(&old, &new);
        let forget = pipeline::ports_to_forget(&old, &new);
        ch.extend(self.sws[sw].macs.forget_ports(&forget));
        self.sws[sw].view = new;
        self.changes(sw, &ch);
    }
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

const BCAST: [u8; 6] = [0xff; 6];

/// An Ethernet frame with these tags (tpid, vid), outermost first, carrying
/// an IPv4-typed payload of zeros.
fn frame(dst: [u8; 6], src: [u8; 6], tags: &[(u16, u16)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend(dst);
    f.extend(src);
    for (tpid, vid) in tags {
        f.extend(tpid.to_be_bytes());
        f.extend(vid.to_be_bytes());
    }
    f.extend(0x0800u16.to_be_bytes());
    f.extend([0u8; 46]);
    f
}

fn untagged(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    frame(dst, src, &[])
}

/// The 802.1Q VLAN of a delivered frame, if tagged.
fn tag(f: &[u8]) -> Option<u16> {
    (f.get(12..14) == Some(&[0x81, 0x00])).then(|| u16::from_be_bytes([f[14], f[15]]) & 0xfff)
}

fn ports(d: &[Delivery]) -> Vec<(usize, u32)> {
    d.iter().map(|(s, p, _)| (*s, *p)).collect()
}

fn view(ports: &[(u32, PortRole)], vlans: &[(u16, u64, Option<usize>)]) -> View {
    let mut v = View::default();
    for (p, r) in ports {
        v.ports.insert(*p, r.clone());
    }
    for (vid, tid, max) in vlans {
        v.vlans.insert(
            *vid,
            VlanInfo {
                tunnel_id: *tid,
                max_hosts: *max,
            },
        );
    }
    v
}

/// The Faucet anchor's switch plus a trunk: 1-2 VLAN 100, 3-4 VLAN 200, 5 trunk of both.
fn one_switch() -> Net {
    let policy = Policy::parse(
        r#"
[vlans.office]
vid = 100
[vlans.guest]
vid = 200
[vlans.other]
vid = 300
[switches.sw1]
dpid = 0x10
[switches.sw1.ports]
h1 = { access = "office" }
h2 = { access = "office" }
h3 = { access = "guest" }
h4 = { access = "guest" }
5 = { trunk = ["office", "guest"] }
"#,
    )
    .expect("valid policy");
    let v = policy.view(
        0x10,
        [
            (1, "h1"),
            (2, "h2"),
            (3, "h3"),
            (4, "h4"),
            (5, "trunk"),
            (6, "stray"),
        ],
    );
    assert!(!v.ports.contains_key(&6), "an unnamed port gets no role");
    Net::new(vec![v])
}

#[test]
fn broadcast_and_unknown_unicast_stay_in_their_vlan() {
    let mut n = one_switch();
    let d = n.send(0, 1, untagged(BCAST, mac(1)));
    assert_eq!(ports(&d), vec![(0, 2), (0, 5)]);
    assert_eq!(tag(&d[0].2), None, "access ports get untagged frames");
    assert_eq!(tag(&d[1].2), Some(100), "trunks keep the tag");
    // Unknown unicast from VLAN 200.
    let d = n.send(0, 3, untagged(mac(99), mac(3)));
    assert_eq!(ports(&d), vec![(0, 4), (0, 5)]);
    assert_eq!(tag(&d[1].2), Some(200));
    // A frame to a MAC known in VLAN 100 sent from VLAN 200 is not delivered
    // to it: it floods in 200.
    let d = n.send(0, 4, untagged(mac(1), mac(4)));
    assert_eq!(ports(&d), vec![(0, 3), (0, 5)]);
    // The stray port 6 reaches nobody.
    assert!(n.send(0, 6, untagged(BCAST, mac(6))).is_empty());
    // Multicast from a trunk in VLAN 200.
    let d = n.send(
        0,
        5,
        frame([1, 0, 0x5e, 0, 0, 1], mac(55), &[(0x8100, 200)]),
    );
    assert_eq!(ports(&d), vec![(0, 3), (0, 4)]);
    assert!(d.iter().all(|(_, _, f)| tag(f).is_none()));
}

#[test]
fn forged_and_double_tags_from_access_ports_are_dropped() {
    let mut n = one_switch();
    // Learn the targets first so a leak would be visible as unicast too.
    n.send(0, 3, untagged(BCAST, mac(3)));
    n.send(0, 1, untagged(BCAST, mac(1)));
    for f in [
        frame(BCAST, mac(1), &[(0x8100, 200)]),
        frame(mac(3), mac(1), &[(0x8100, 200)]),
        frame(BCAST, mac(1), &[(0x8100, 100)]),
        frame(BCAST, mac(1), &[(0x8100, 100), (0x8100, 200)]),
        frame(BCAST, mac(1), &[(0x8100, 200), (0x8100, 100)]),
        frame(BCAST, mac(1), &[(0x88a8, 200), (0x8100, 200)]),
        frame(mac(3), mac(1), &[(0x88a8, 200)]),
        frame(BCAST, mac(1), &[(0x8100, 0)]),
    ] {
        assert!(n.send(0, 1, f.clone()).is_empty(), "{f:02x?} got through");
    }
    // A trunk may only send its own VLANs, tagged.
    assert!(n
        .send(0, 5, frame(BCAST, mac(50), &[(0x8100, 300)]))
        .is_empty());
    assert!(n.send(0, 5, untagged(BCAST, mac(50))).is_empty());
}

#[test]
fn after_warm_up_known_hosts_cause_no_packet_ins() {
    let mut n = one_switch();
    n.send(0, 1, untagged(BCAST, mac(1)));
    n.send(0, 2, untagged(mac(1), mac(2)));
    n.send(0, 5, frame(mac(2), mac(5), &[(0x8100, 100)]));
    let before = n.packet_ins;
    assert_eq!(before, 3);
    for _ in 0..3 {
        let d = n.send(0, 1, untagged(mac(2), mac(1)));
        assert_eq!(ports(&d), vec![(0, 2)]);
        let d = n.send(0, 2, untagged(mac(5), mac(2)));
        assert_eq!(ports(&d), vec![(0, 5)]);
        assert_eq!(tag(&d[0].2), Some(100));
        let d = n.send(0, 5, frame(mac(1), mac(5), &[(0x8100, 100)]));
        assert_eq!(ports(&d), vec![(0, 1)]);
        assert_eq!(tag(&d[0].2), None);
    }
    assert_eq!(n.packet_ins, before);
    // Broadcasts from known hosts still flood, still without packet-ins.
    assert_eq!(
        ports(&n.send(0, 1, untagged(BCAST, mac(1)))),
        vec![(0, 2), (0, 5)]
    );
    assert_eq!(n.packet_ins, before);
}

#[test]
fn a_moved_mac_is_followed_at_once() {
    let mut n = one_switch();
    n.send(0, 1, untagged(BCAST, mac(1)));
    n.send(0, 2, untagged(mac(1), mac(2)));
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 1)]);
    // mac(1) turns up on the trunk.
    n.send(0, 5, frame(BCAST, mac(1), &[(0x8100, 100)]));
    assert!(matches!(
        n.verdicts.last(),
        Some(Verdict::Moved { from: 1 })
    ));
    let d = n.send(0, 2, untagged(mac(1), mac(2)));
    assert_eq!(ports(&d), vec![(0, 5)]);
    assert_eq!(tag(&d[0].2), Some(100));
    // And back: the old eth_src flow on port 1 is gone, so this is seen too.
    n.send(0, 1, untagged(BCAST, mac(1)));
    assert!(matches!(
        n.verdicts.last(),
        Some(Verdict::Moved { from: 5 })
    ));
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 1)]);
}

#[test]
fn port_down_forgets_its_macs_and_the_mac_limit_holds() {
    let mut n = one_switch();
    n.send(0, 1, untagged(BCAST, mac(1)));
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 1)]);
    // Port 1 goes down: the view loses it.
    let mut v = n.sws[0].view.clone();
    v.ports.remove(&1);
    n.reload(0, v);
    assert_eq!(n.sws[0].macs.lookup(100, openflow::MacAddr(mac(1))), None);
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 5)]);
    assert!(n.send(0, 1, untagged(BCAST, mac(1))).is_empty());

    // A VLAN with room for one MAC.
    let mut n = Net::new(vec![view(
        &[
            (1, PortRole::Access(7)),
            (2, PortRole::Access(7)),
            (3, PortRole::Access(7)),
        ],
        &[(7, 7, Some(1))],
    )]);
    n.send(0, 1, untagged(BCAST, mac(1)));
    // The second source is reported once, then dropped.
    n.send(0, 2, untagged(BCAST, mac(2)));
    assert_eq!(n.verdicts, vec![Verdict::Learned, Verdict::LimitReached]);
    assert!(n.send(0, 2, untagged(BCAST, mac(2))).is_empty());
    assert!(n.send(0, 2, untagged(mac(1), mac(2))).is_empty());
    assert_eq!(n.packet_ins, 2);
    // The drop is temporary.
    n.now += 61 * SEC;
    n.sws[0].p.expire(n.now);
    assert!(!n.send(0, 2, untagged(BCAST, mac(2))).is_empty());
}

#[test]
fn reload_touches_only_what_changed() {
    let mut n = Net::new(vec![view(
        &[
            (1, PortRole::Access(100)),
            (2, PortRole::Access(100)),
            (3, PortRole::Access(100)),
            (4, PortRole::Access(200)),
        ],
        &[(100, 100, None), (200, 200, None)],
    )]);
    n.send(0, 1, untagged(BCAST, mac(1)));
    n.send(0, 3, untagged(mac(1), mac(3)));
    n.send(0, 2, untagged(BCAST, mac(2)));
    let before = n.packet_ins;
    // Port 2 moves to VLAN 200.
    let mut v = n.sws[0].view.clone();
    v.ports.insert(2, PortRole::Access(200));
    let ch = pipeline::diff(&n.sws[0].view, &v);
    assert!(ch.add.len() + ch.delete.len() < pipeline::switch_flows(&v).len() / 2 + 2);
    n.reload(0, v.clone());
    // The reloaded switch has exactly the flows a fresh one would (plus
    // the learned ones that survive: mac 1 and 3, two flows each).
    let fresh = pipeline::switch_flows(&v).len();
    assert_eq!(n.sws[0].p.flow_count(), fresh + 4);
    // Hosts 1 and 3 still talk without packet-ins; port 2 is now in 200.
    assert_eq!(ports(&n.send(0, 1, untagged(mac(3), mac(1)))), vec![(0, 3)]);
    assert_eq!(n.packet_ins, before);
    assert_eq!(ports(&n.send(0, 1, untagged(BCAST, mac(1)))), vec![(0, 3)]);
    assert_eq!(ports(&n.send(0, 4, untagged(BCAST, mac(4)))), vec![(0, 2)]);
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 4)]);
}

/// Three switches in a full mesh of tunnels; each has a host of VLAN 100 on
/// port 1 and one of VLAN 200 on port 2; tunnels are ports 10 and 11.
fn mesh() -> Net {
    let vlans = [(100, 5100, None), (200, 5200, None)];
    let sw = || {
        view(
            &[
                (1, PortRole::Access(100)),
                (2, PortRole::Access(200)),
                (10, PortRole::Tunnel),
                (11, PortRole::Tunnel),
            ],
            &vlans,
        )
    };
    let mut n = Net::new(vec![sw(), sw(), sw()]);
    n.link((0, 10), (1, 10));
    n.link((1, 11), (2, 10));
    n.link((2, 11), (0, 11));
    n
}

#[test]
fn a_full_mesh_of_tunnels_floods_once_per_host_without_a_storm() {
    let mut n = mesh();
    let d = n.send(0, 1, untagged(BCAST, mac(1)));
    assert_eq!(
        ports(&d),
        vec![(1, 1), (2, 1)],
        "each VLAN 100 host once, no VLAN 200 host"
    );
    assert!(d.iter().all(|(_, _, f)| tag(f).is_none()));
    assert_eq!(n.hops, 2, "one tunnel hop per remote switch, no transit");
    let d = n.send(2, 2, untagged(BCAST, mac(22)));
    assert_eq!(ports(&d), vec![(0, 2), (1, 2)]);
    // Unknown unicast likewise.
    let d = n.send(1, 1, untagged(mac(77), mac(11)));
    assert_eq!(ports(&d), vec![(0, 1), (2, 1)]);
}

#[test]
fn tunnels_carry_the_vlan_by_tunnel_id_and_learn_across() {
    let mut n = mesh();
    n.send(0, 1, untagged(BCAST, mac(1)));
    n.send(1, 1, untagged(mac(1), mac(11)));
    n.send(0, 1, untagged(mac(11), mac(1)));
    let before = n.packet_ins;
    let hops = n.hops;
    for _ in 0..3 {
        assert_eq!(
            ports(&n.send(0, 1, untagged(mac(11), mac(1)))),
            vec![(1, 1)]
        );
        assert_eq!(
            ports(&n.send(1, 1, untagged(mac(1), mac(11)))),
            vec![(0, 1)]
        );
    }
    assert_eq!(n.packet_ins, before, "known hosts: no packet-ins");
    assert_eq!(
        n.hops,
        hops + 6,
        "unicast takes the one tunnel to its switch"
    );

    // A frame on a tunnel with VLAN 200's tunnel id reaches VLAN 200 only,
    // even addressed to a VLAN 100 host.
    let meta = |tunnel_id| PacketMeta {
        in_port: 10,
        in_phy_port: 10,
        tunnel_id,
    };
    let d = n.send_meta(1, meta(5200), untagged(mac(11), mac(200)));
    assert_eq!(ports(&d), vec![(1, 2)]);
    // An unknown tunnel id, or a tagged frame inside the tunnel: dropped.
    assert!(n
        .send_meta(1, meta(9999), untagged(BCAST, mac(201)))
        .is_empty());
    assert!(n
        .send_meta(1, meta(5100), frame(BCAST, mac(202), &[(0x8100, 200)]))
        .is_empty());
    // Unicast split horizon: switch 1 knows mac(1) behind tunnel 10; the
    // same MAC addressed from tunnel 11 is not sent back into a tunnel.
    let hops = n.hops;
    let d = n.send_meta(
        1,
        PacketMeta {
            in_port: 11,
            in_phy_port: 11,
            tunnel_id: 5100,
        },
        untagged(mac(1), mac(33)),
    );
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(n.hops, hops);
}

#[test]
fn the_no_policy_default_is_one_vlan_with_named_tunnels() {
    let p = Policy::learning_only();
    let v = p.view(1, [(1, "p1"), (2, "p2"), (3, "vx1")]);
    let w = p.view(2, [(1, "p1"), (3, "vx1")]);
    let mut n = Net::new(vec![v, w]);
    n.link((0, 3), (1, 3));
    let d = n.send(0, 1, untagged(BCAST, mac(1)));
    assert_eq!(ports(&d), vec![(0, 2), (1, 1)]);
    n.send(1, 1, untagged(mac(1), mac(2)));
    let before = n.packet_ins;
    assert_eq!(ports(&n.send(0, 1, untagged(mac(2), mac(1)))), vec![(1, 1)]);
    assert_eq!(n.packet_ins, before);
}

#[test]
fn no_frame_of_any_tag_crosses_vlans() {
    let mut n = one_switch();
    let vlan_of = |port: u32, t: Option<u16>| -> Option<u16> {
        match (port, t) {
            (1 | 2, None) => Some(100),
            (3 | 4, None) => Some(200),
            (5, Some(v)) if v == 100 || v == 200 => Some(v),
            _ => None,
        }
    };
    let mut src = 100u8;
    for round in 0..2 {
        for in_port in 1..=6u32 {
            for t in [None, Some(100), Some(200), Some(300), Some(0)] {
                for dst in [BCAST, [1, 0, 0x5e, 0, 0, 1], mac(1), mac(3), mac(200)] {
                    src = src.wrapping_add(1);
                    let tags: Vec<(u16, u16)> = t.map(|v| (0x8100, v)).into_iter().collect();
                    let d = n.send(0, in_port, frame(dst, mac(src), &tags));
                    let want = vlan_of(in_port, t);
                    for (_, out, f) in &d {
                        let got = match tag(f) {
                            Some(v) => Some(v),
                            None => vlan_of(*out, None),
                        };
                        assert!(
                            want.is_some() && got == want && vlan_of(*out, tag(f)) == want,
                            "round {round}: in {in_port} tag {t:?} -> out {out} {got:?}"
                        );
                    }
                    if want.is_none() {
                        assert!(d.is_empty());
                    }
                }
            }
        }
        // Second round with hosts 1 and 3 learned.
        n.send(0, 1, untagged(BCAST, mac(1)));
        n.send(0, 3, untagged(BCAST, mac(3)));
    }
}

#[test]
fn faucets_two_vlan_anchor_isolates_the_same_way() {
    let text = "\
vlans:
  office: {vid: 100}
  guest: {vid: 200}
dps:
  sw1:
    dp_id: 0x10
    interfaces:
      1: {name: h1, native_vlan: office}
      2: {name: h2, native_vlan: office}
      3: {name: h3, native_vlan: guest}
      4: {name: h4, native_vlan: guest}
";
    let p = ofcontroller::faucet::parse(text).unwrap_or_else(|e| panic!("{e}"));
    let v = p.view(0x10, [(1, "h1"), (2, "h2"), (3, "h3"), (4, "h4")]);
    let mut n = Net::new(vec![v]);
    assert_eq!(ports(&n.send(0, 1, untagged(BCAST, mac(1)))), vec![(0, 2)]);
    assert_eq!(ports(&n.send(0, 3, untagged(BCAST, mac(3)))), vec![(0, 4)]);
    assert_eq!(ports(&n.send(0, 3, untagged(mac(1), mac(3)))), vec![(0, 4)]);
    assert_eq!(ports(&n.send(0, 2, untagged(mac(1), mac(2)))), vec![(0, 1)]);
}
