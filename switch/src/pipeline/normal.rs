//! The NORMAL action: a VLAN-aware learning switch, as Open vSwitch's
//! `xlate_normal` behaves.
//!
//! - A packet's VLAN inside the bridge comes from its input port: an access
//!   port (`tag`) puts every untagged (or priority-tagged) packet in its
//!   VLAN and drops tagged ones; a trunk takes the packet's own VLAN (0 when
//!   untagged) and drops VLANs outside its `trunks` list.
//! - Source addresses are learned per VLAN; unicast destinations known in
//!   that VLAN go out their port, everything else floods to the ports that
//!   carry the VLAN, never back out the input port.
//! - On the way out an access port sends untagged, a trunk tags with the
//!   VLAN (untagged for VLAN 0).
//! - Reserved multicast (01:80:c2:00:00:0x: STP, LACP, LLDP...) is dropped,
//!   as a bridge without STP/LACP does (with STP on, BPDUs never get here:
//!   the pipeline hands them to spanning tree first).
//! - Spanning tree gates each port ([`StpGate`](super::ports::StpGate)): nothing is learned from
//!   a disabled, blocking or listening port, a learning port learns but
//!   forwards nothing, and nothing goes out of a port that is not
//!   forwarding, flooding included.
//! - Learned addresses age out after [`MAC_AGING_NS`], or after the
//!   spanning tree forward delay while a topology change is under way
//!   ([`MacTable::set_aging`], 802.1D's short aging).
//!
//! The MAC table is the one piece of forwarding state written by the data
//! path; it is shared by every pipeline snapshot and guarded by a lock that
//! is only taken for writing when something new is learned.

use super::ports::{Ports, VlanMode};
use openflow::types::{port_no, MacAddr};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::RwLock;

/// How long a learned address lives without traffic (Open vSwitch: 300 s).
pub const MAC_AGING_NS: u64 = 300 * 1_000_000_000;
/// Most addresses kept (Open vSwitch's default `mac-table-size`).
pub const MAC_TABLE_MAX: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Learned {
    port: u32,
    seen: u64,
}

/// Learned (VLAN, MAC) → port bindings.
#[derive(Debug)]
pub struct MacTable {
    map: RwLock<HashMap<(u16, MacAddr), Learned>>,
    /// How long an entry lives without traffic (ns).
    aging: AtomicU64,
}

impl Default for MacTable {
    fn default() -> Self {
        MacTable {
            map: RwLock::default(),
            aging: AtomicU64::new(MAC_AGING_NS),
        }
    }
}

impl MacTable {
    /// Sets the aging time: `Some(ns)` for spanning tree's short aging
    /// during a topology change, `None` for the normal [`MAC_AGING_NS`].
    pub fn set_aging(&self, ns: Option<u64>) {
        self.aging.store(ns.unwrap_or(MAC_AGING_NS), Relaxed);
    }

    fn aging(&self) -> u64 {
        self.aging.load(Relaxed)
    }

    /// Records that `mac` in `vlan` was seen on `port` at `now`.
    pub fn learn(&self, vlan: u16, mac: MacAddr, port: u32, now: u64) {
        if mac.is_multicast() {
            return;
        }
        // Most packets confirm what is known: a read is enough unless the
        // port changed or the stamp is over a second old.
        if let Ok(map) = self.map.read() {
            if let Some(l) = map.get(&(vlan, mac)) {
                if l.port == port && now.saturating_sub(l.seen) < 1_000_000_000 {
                    return;
                }
            }
        }
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= MAC_TABLE_MAX && !map.contains_key(&(vlan, mac)) {
            let aging = self.aging();
            map.retain(|_, l| now.saturating_sub(l.seen) < aging);
            if map.len() >= MAC_TABLE_MAX {
                // Evict the stalest entry.
                if let Some(k) = map.iter().min_by_key(|(_, l)| l.seen).map(|(k, _)| *k) {
                    map.remove(&k);
                }
            }
        }
        map.insert((vlan, mac), Learned { port, seen: now });
    }

    /// The port `mac` was last seen on in `vlan`, if not aged out.
    pub fn lookup(&self, vlan: u16, mac: MacAddr, now: u64) -> Option<u32> {
        let aging = self.aging();
        let map = self.map.read().ok()?;
        map.get(&(vlan, mac))
            .filter(|l| now.saturating_sub(l.seen) < aging)
            .map(|l| l.port)
    }

    /// Forgets everything learned on `port` (the port went away).
    pub fn forget_port(&self, port: u32) {
        if let Ok(mut map) = self.map.write() {
            map.retain(|_, l| l.port != port);
        }
    }

    /// Forgets everything.
    pub fn flush(&self) {
        if let Ok(mut map) = self.map.write() {
            map.clear();
        }
    }

    /// Entries not aged out as (vlan, mac, port, age in seconds), for
    /// `fdb/show`.
    pub fn entries(&self, now: u64) -> Vec<(u16, MacAddr, u32, u64)> {
        let aging = self.aging();
        let Ok(map) = self.map.read() else {
            return Vec::new();
        };
        let mut v: Vec<_> = map
            .iter()
            .filter(|(_, l)| now.saturating_sub(l.seen) < aging)
            .map(|((vlan, mac), l)| {
                (
                    *vlan,
                    *mac,
                    l.port,
                    now.saturating_sub(l.seen) / 1_000_000_000,
                )
            })
            .collect();
        v.sort();
        v
    }

    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One output NORMAL chose: the port and the VLAN the frame must carry on
/// it (`None`: untagged).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NormalOutput {
    pub port: u32,
    pub vlan: Option<u16>,
}

/// The VLAN a packet belongs to inside the bridge, given the port it came
/// in on and its own tag (`vid` without OFPVID_PRESENT, `None` untagged);
/// `None` when the port must drop it.
pub fn ingress_vlan(mode: &VlanMode, vid: Option<u16>) -> Option<u16> {
    let vid = vid.unwrap_or(0);
    match mode {
        VlanMode::Access(tag) => (vid == 0).then_some(*tag),
        VlanMode::TrunkAll => Some(vid),
        VlanMode::Trunks(list) => (vid == 0 || list.contains(&vid)).then_some(vid),
    }
}

/// The tag a frame of `vlan` carries when it leaves by a port in `mode`.
fn egress_tag(mode: &VlanMode, vlan: u16) -> Option<u16> {
    match mode {
        VlanMode::Access(_) => None,
        _ if vlan == 0 => None,
        _ => Some(vlan),
    }
}

fn is_reserved_multicast(mac: MacAddr) -> bool {
    let b = mac.0;
    b[..5] == [0x01, 0x80, 0xc2, 0x00, 0x00] && b[5] & 0xf0 == 0
}

/// Decides where NORMAL sends a packet from `in_port` with these addresses
/// and tag, learning its source address on the way.
pub fn normal(
    ports: &Ports,
    macs: &MacTable,
    in_port: u32,
    src: MacAddr,
    dst: MacAddr,
    vid: Option<u16>,
    now: u64,
) -> Vec<NormalOutput> {
    let Some(input) = ports.get(&in_port) else {
        return Vec::new();
    };
    if is_reserved_multicast(dst) || !input.can_receive() || !input.stp.learns() {
        return Vec::new();
    }
    let Some(vlan) = ingress_vlan(&input.vlan, vid) else {
        return Vec::new();
    };
    macs.learn(vlan, src, in_port, now);
    if !input.stp.forwards() {
        return Vec::new();
    }
    let out = |p: u32| {
        ports.get(&p).and_then(|info| {
            (p != in_port && info.can_forward() && info.vlan.carries(vlan)).then(|| NormalOutput {
                port: p,
                vlan: egress_tag(&info.vlan, vlan),
            })
        })
    };
    if !dst.is_multicast() {
        if let Some(p) = macs.lookup(vlan, dst, now) {
            // Known on the input port itself: the destination is behind
            // the port it came from, so there is nothing to do.
            return if p == in_port {
                Vec::new()
            } else {
                out(p).into_iter().collect()
            };
        }
    }
    ports
        .keys()
        .copied()
        .filter(|&p| p <= port_no::MAX || p == port_no::LOCAL)
        .filter_map(out)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::ports::{PortInfo, StpGate};

    fn mac(last: u8) -> MacAddr {
        MacAddr([0, 0, 0, 0, 0, last])
    }

    fn ports(modes: &[(u32, VlanMode)]) -> Ports {
        modes
            .iter()
            .map(|(n, m)| {
                let mut p = PortInfo::new(*n);
                p.vlan = m.clone();
                (*n, p)
            })
            .collect()
    }

    fn port_list(v: &[NormalOutput]) -> Vec<(u32, Option<u16>)> {
        v.iter().map(|o| (o.port, o.vlan)).collect()
    }

    #[test]
    fn floods_then_learns() {
        let p = ports(&[
            (1, VlanMode::TrunkAll),
            (2, VlanMode::TrunkAll),
            (3, VlanMode::TrunkAll),
        ]);
        let t = MacTable::default();
        let o = normal(&p, &t, 1, mac(1), mac(2), None, 0);
        assert_eq!(port_list(&o), vec![(2, None), (3, None)]);
        let o = normal(&p, &t, 2, mac(2), mac(1), None, 1);
        assert_eq!(port_list(&o), vec![(1, None)]);
        let o = normal(&p, &t, 1, mac(1), mac(2), None, 2);
        assert_eq!(port_list(&o), vec![(2, None)]);
        // Destination behind the input port: dropped.
        let o = normal(&p, &t, 2, mac(1), mac(2), None, 3);
        assert!(o.is_empty(), "{o:?}");
    }

    #[test]
    fn access_ports_isolate_vlans() {
        let p = ports(&[
            (1, VlanMode::Access(10)),
            (2, VlanMode::Access(10)),
            (3, VlanMode::Access(20)),
            (4, VlanMode::TrunkAll),
            (5, VlanMode::Trunks(vec![20])),
        ]);
        let t = MacTable::default();
        let o = normal(&p, &t, 1, mac(1), MacAddr::BROADCAST, None, 0);
        assert_eq!(port_list(&o), vec![(2, None), (4, Some(10))]);
        // Tagged traffic on an access port is dropped.
        assert!(normal(&p, &t, 1, mac(1), MacAddr::BROADCAST, Some(10), 0).is_empty());
        // Trunk input in VLAN 20 reaches the VLAN 20 access port untagged.
        let o = normal(&p, &t, 4, mac(9), MacAddr::BROADCAST, Some(20), 0);
        assert_eq!(port_list(&o), vec![(3, None), (5, Some(20))]);
        // A VLAN a trunk does not carry is dropped there.
        assert!(normal(&p, &t, 5, mac(9), MacAddr::BROADCAST, Some(10), 0).is_empty());
        // Same MAC learned separately per VLAN.
        assert_eq!(t.lookup(10, mac(1), 1), Some(1));
        assert_eq!(t.lookup(20, mac(1), 1), None);
    }

    #[test]
    fn aging_and_forgetting() {
        let t = MacTable::default();
        t.learn(0, mac(1), 7, 0);
        assert_eq!(t.lookup(0, mac(1), MAC_AGING_NS - 1), Some(7));
        assert_eq!(t.lookup(0, mac(1), MAC_AGING_NS), None);
        t.learn(0, mac(2), 8, 0);
        t.forget_port(8);
        assert_eq!(t.lookup(0, mac(2), 1), None);
        // Multicast sources are never learned.
        t.learn(0, MacAddr([1, 0, 0x5e, 0, 0, 1]), 3, 0);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn spanning_tree_gates_learning_and_forwarding() {
        let mut p = ports(&[
            (1, VlanMode::TrunkAll),
            (2, VlanMode::TrunkAll),
            (3, VlanMode::TrunkAll),
        ]);
        let set = |p: &mut Ports, n: u32, g: StpGate| {
            if let Some(i) = p.get_mut(&n) {
                i.stp = g;
            }
        };
        set(&mut p, 2, StpGate::Discard);
        set(&mut p, 3, StpGate::Forward);
        let t = MacTable::default();
        // Flooding skips the blocked port.
        let o = normal(&p, &t, 1, mac(1), MacAddr::BROADCAST, None, 0);
        assert_eq!(port_list(&o), vec![(3, None)]);
        // A blocked port neither learns nor forwards.
        assert!(normal(&p, &t, 2, mac(2), MacAddr::BROADCAST, None, 0).is_empty());
        assert_eq!(t.lookup(0, mac(2), 1), None);
        // A learning port learns and forwards nothing.
        set(&mut p, 2, StpGate::Learn);
        assert!(normal(&p, &t, 2, mac(2), mac(1), None, 0).is_empty());
        assert_eq!(t.lookup(0, mac(2), 1), Some(2));
        // Known unicast towards a non-forwarding port goes nowhere.
        assert!(normal(&p, &t, 1, mac(1), mac(2), None, 0).is_empty());
    }

    #[test]
    fn short_aging_during_topology_change() {
        let t = MacTable::default();
        t.learn(0, mac(1), 7, 0);
        t.set_aging(Some(4_000_000_000));
        assert_eq!(t.lookup(0, mac(1), 3_999_999_999), Some(7));
        assert_eq!(t.lookup(0, mac(1), 4_000_000_000), None);
        t.set_aging(None);
        assert_eq!(t.lookup(0, mac(1), 4_000_000_000), Some(7));
    }

    #[test]
    fn reserved_multicast_dropped() {
        let p = ports(&[(1, VlanMode::TrunkAll), (2, VlanMode::TrunkAll)]);
        let t = MacTable::default();
        let lldp = MacAddr([0x01, 0x80, 0xc2, 0, 0, 0x0e]);
        assert!(normal(&p, &t, 1, mac(1), lldp, None, 0).is_empty());
    }
}
