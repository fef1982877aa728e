//! Port link state: the bridge follows the Linux interfaces behind its
//! device ports (system ports, internal ports and LOCAL) and reports their
//! changes the way Open vSwitch does.
//!
//! On every bridge tick (100 ms) one SIOCGIFFLAGS per such port reads the
//! interface's IFF_UP (admin state) and IFF_RUNNING (up with carrier: a
//! veth whose peer is down or gone has none), on one socket kept open, with
//! no allocation unless something changed. Then, as OVS:
//!
//! - admin down → `config` OFPPC_PORT_DOWN, admin up → cleared. Only on a
//!   change of the admin state (edge), because controllers set the same bit
//!   with PORT_MOD (on internal ports that also takes the device down, and
//!   the device then agrees); a PORT_MOD on a system port is not undone on
//!   the next tick. A port first seen admin down counts as a change: ports
//!   are brought up when they are opened.
//! - no carrier → `state` OFPPS_LINK_DOWN, and the pipeline's
//!   [`PortInfo::live`] false, which fast-failover groups watch
//!   ([`crate::pipeline::group::Group::bucket_live`]). This one is a level:
//!   the description always follows the interface.
//! - OFPPS_LIVE when neither LINK_DOWN nor PORT_DOWN (as
//!   `BridgeInfo::apply_port_config` keeps it for PORT_MOD).
//! - `Interface.link_state` (vsctl) follows the carrier.
//! - A changed description goes to every controller as PORT_STATUS with
//!   reason OFPPR_MODIFY; `show` and `dump-ports-desc` read the same
//!   descriptions.
//!
//! An interface that is gone from the daemon's namespace: a system port's
//! link is down (a veth goes with its peer), its device is closed, and when
//! an interface of that name comes back the port's device is opened again
//! on it, with back-off if that fails ([`super::reopen`] says when and what
//! is logged). An internal port's TAP stays ours wherever it is (tests and
//! container setups move it into another namespace with
//! `ip link set X netns`), so there its last state stays.
//!
//! Not followed: patch, tunnel and dummy ports, and ports whose device
//! could not be opened (their description is fixed when they are added).
//!
//! Why polling rather than an rtnetlink (RTNLGRP_LINK) subscription: one
//! ioctl per port per tick is cheap, needs no new event source in the
//! bridge task, cannot lose events to a full socket buffer (ENOBUFS) and
//! converges from any state; the cost is up to one tick of latency, and a
//! flap shorter than a tick may go unseen.

use super::reopen::{Reopen, MAX_DELAY};
use super::Bridge;
use crate::config::model::InterfaceType;
use crate::datapath::sys::{FlagsReader, LinkFlags};
use crate::pipeline::ports::PortInfo;
use openflow::port::{self, config, state, Port};
use std::collections::HashMap;

/// What one look at a port's interface found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// The interface, with its flags.
    Present(LinkFlags),
    /// No interface of that name in the daemon's network namespace.
    Gone,
}

impl Link {
    fn carrier(self) -> bool {
        matches!(self, Link::Present(f) if f.running)
    }
}

/// What the monitor knows of one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Watch {
    /// Followed; its interface was last seen like this.
    Seen(Link),
    /// Followed, not seen yet (an internal port in another namespace).
    Unseen,
    /// Not followed: no device behind it.
    Ignored,
}

/// The monitor's record of one port.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// The port's creation time in the pipeline: a port removed and added
    /// again under the same number (within one reconfiguration, so no tick
    /// saw it gone) is a new port.
    created: u64,
    watch: Watch,
}

/// The bridge's link monitor: the socket it reads flags with and the last
/// look at each port.
#[derive(Debug, Default)]
pub(super) struct LinkMonitor {
    /// Opened on the first tick; retried each tick if that failed.
    reader: Option<FlagsReader>,
    /// Opening the socket failed once already (logged once).
    open_failed: bool,
    ports: HashMap<u32, Entry>,
    /// System ports whose interface is gone, until their device is open
    /// again.
    lost: HashMap<u32, Reopen>,
}

/// A port's OpenFlow description and pipeline view after a look at its
/// link (`prev` is the look before, `None` the first one); `None` when
/// both already agree with the interface.
pub(super) fn apply(
    desc: &Port,
    info: &PortInfo,
    prev: Option<Link>,
    link: Link,
) -> Option<(Port, PortInfo)> {
    let mut cfg = desc.config;
    if let Link::Present(f) = link {
        let changed = match prev {
            Some(Link::Present(p)) => p.up != f.up,
            // Ports are brought up when opened: first seen up is no news.
            None => !f.up,
            // Back (or new) after being gone: the device decides.
            Some(Link::Gone) => true,
        };
        if changed {
            cfg = if f.up {
                cfg & !config::PORT_DOWN
            } else {
                cfg | config::PORT_DOWN
            };
        }
    }
    let carrier = link.carrier();
    let mut st = desc.state & !(state::LINK_DOWN | state::LIVE);
    if !carrier {
        st |= state::LINK_DOWN;
    } else if cfg & config::PORT_DOWN == 0 {
        st |= state::LIVE;
    }
    let info_cfg = (info.config & !config::PORT_DOWN) | (cfg & config::PORT_DOWN);
    if st == desc.state && cfg == desc.config && info.live == carrier && info.config == info_cfg {
        return None;
    }
    let mut desc = desc.clone();
    desc.config = cfg;
    desc.state = st;
    let mut info = info.clone();
    info.live = carrier;
    info.config = info_cfg;
    Some((desc, info))
}

impl Bridge {
    /// Looks at the link of every device port and reports what changed
    /// (see the module documentation). Called on every tick.
    pub(super) fn poll_links(&mut self) {
        let now = self.clock.now();
        let Bridge {
            name: br,
            links,
            ports,
            pipeline,
            info,
            status,
            ..
        } = self;
        if links.reader.is_none() {
            match FlagsReader::open() {
                Ok(r) => links.reader = Some(r),
                Err(e) => {
                    if !links.open_failed {
                        tracing::warn!("{br}: cannot follow port link states: {e}");
                        links.open_failed = true;
                    }
                    return;
                }
            }
        }
        let Some(reader) = links.reader.as_ref() else {
            return;
        };
        links.ports.retain(|n, _| ports.contains_key(n));
        links
            .lost
            .retain(|n, r| pipeline.port(*n).is_some_and(|p| p.created == r.created));
        let mut changed: Vec<(String, Port)> = Vec::new();
        // System ports whose interface just went, and those to open again.
        let mut lost: Vec<u32> = Vec::new();
        let mut reopen: Vec<u32> = Vec::new();
        for (&ofport, rt) in ports.iter() {
            if !matches!(rt.kind, InterfaceType::System | InterfaceType::Internal) {
                continue;
            }
            let Some(created) = pipeline.port(ofport).map(|p| p.created) else {
                continue;
            };
            let known = links.ports.get(&ofport).filter(|e| e.created == created);
            let prev = match known.map(|e| e.watch) {
                Some(Watch::Ignored) => continue,
                Some(Watch::Seen(l)) => Some(l),
                Some(Watch::Unseen) => None,
                None => {
                    // A port whose device could not be opened has an error.
                    let broken = status.lock().ok().is_some_and(|s| {
                        s.interfaces
                            .get(&rt.name)
                            .is_some_and(|st| st.error.is_some())
                    });
                    let watch = if broken {
                        Watch::Ignored
                    } else {
                        Watch::Unseen
                    };
                    links.ports.insert(ofport, Entry { created, watch });
                    if broken {
                        continue;
                    }
                    None
                }
            };
            let link = match reader.link_flags(&rt.name) {
                Ok(f) => Link::Present(f),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                    if rt.kind == InterfaceType::Internal {
                        continue;
                    }
                    Link::Gone
                }
                Err(e) => {
                    tracing::debug!("{br}: port {}: link flags: {e}", rt.name);
                    continue;
                }
            };
            let system = rt.kind == InterfaceType::System;
            if system && link == Link::Gone && prev != Some(Link::Gone) {
                tracing::warn!(
                    "{br}: port {} ({ofport}): {}; its device is closed until an interface \
                     of that name is back",
                    rt.name,
                    describe(link)
                );
                lost.push(ofport);
                links.lost.insert(ofport, Reopen::new(created, now));
            } else if system
                && link != Link::Gone
                && links.lost.get(&ofport).is_some_and(|r| r.due(now))
            {
                reopen.push(ofport);
            }
            if prev != Some(link) {
                let watch = Watch::Seen(link);
                links.ports.insert(ofport, Entry { created, watch });
                if prev.is_some() && !(system && link == Link::Gone) {
                    tracing::info!("{br}: port {} ({ofport}): {}", rt.name, describe(link));
                }
            }
            let (Some(desc), Some(pinfo)) = (info.ports.get(&ofport), pipeline.port(ofport)) else {
                continue;
            };
            if let Some((desc, pinfo)) = apply(desc, pinfo, prev, link) {
                pipeline.set_port(pinfo);
                info.set_port(desc.clone());
                changed.push((rt.name.clone(), desc));
            }
        }
        for ofport in lost {
            self.close_system_device(ofport);
        }
        for ofport in reopen {
            self.try_reopen(ofport, now);
        }
        if changed.is_empty() {
            return;
        }
        if let Ok(mut s) = self.status.lock() {
            for (name, desc) in &changed {
                if let Some(st) = s.interfaces.get_mut(name) {
                    st.link_up = Some(desc.state & state::LINK_DOWN == 0);
                }
            }
        }
        for (_, desc) in changed {
            self.port_status(port::reason::MODIFY, desc);
        }
    }

    /// Opens lost system port `ofport` on its interface, which is back;
    /// logs the first failure and the success (see [`super::reopen`]).
    fn try_reopen(&mut self, ofport: u32, now: u64) {
        let result = self.reopen_system_port(ofport);
        let name = self
            .ports
            .get(&ofport)
            .map(|rt| rt.name.clone())
            .unwrap_or_default();
        let br = &self.name;
        let error = match result {
            Ok(()) => {
                let failures = self.links.lost.remove(&ofport).map_or(0, |r| r.failures);
                let after = match failures {
                    0 => String::new(),
                    1 => " after 1 failed attempt".to_string(),
                    n => format!(" after {n} failed attempts"),
                };
                tracing::info!("{br}: port {name} ({ofport}): interface back, reopened{after}");
                None
            }
            Err(e) => {
                if let Some(r) = self.links.lost.get_mut(&ofport) {
                    if r.failed(now) {
                        tracing::warn!(
                            "{br}: port {name} ({ofport}): cannot reopen its interface: {e}; \
                             retrying quietly (back-off up to {} s)",
                            MAX_DELAY.as_secs()
                        );
                    } else {
                        tracing::debug!("{br}: port {name} ({ofport}): cannot reopen: {e}");
                    }
                }
                Some(format!("cannot reopen: {e}"))
            }
        };
        if let Ok(mut s) = self.status.lock() {
            if let Some(st) = s.interfaces.get_mut(&name) {
                st.error = error;
            }
        }
    }
}

fn describe(link: Link) -> &'static str {
    match link {
        Link::Gone => "interface gone, link down",
        Link::Present(LinkFlags { up: false, .. }) => "admin down",
        Link::Present(LinkFlags { running: false, .. }) => "link down (no carrier)",
        Link::Present(_) => "link up",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{MicroflowCache, Outcome, PacketMeta, Pipeline};
    use openflow::group::command as group_command;
    use openflow::messages::flow_mod_command;
    use openflow::ofctl::parse::{parse_flow_mod, parse_group_mod};
    use openflow::types::MacAddr;

    const UP: Link = Link::Present(LinkFlags {
        up: true,
        running: true,
    });
    const NO_CARRIER: Link = Link::Present(LinkFlags {
        up: true,
        running: false,
    });
    const ADMIN_DOWN: Link = Link::Present(LinkFlags {
        up: false,
        running: false,
    });

    fn desc(config: u32, state: u32) -> Port {
        Port {
            port_no: 1,
            hw_addr: MacAddr([2, 0, 0, 0, 0, 1]),
            name: "p1".to_string(),
            config,
            state,
            curr: 0,
            advertised: 0,
            supported: 0,
            peer: 0,
            curr_speed: 0,
            max_speed: 0,
        }
    }

    fn info(live: bool, config: u32) -> PortInfo {
        let mut i = PortInfo::new(1);
        i.live = live;
        i.config = config;
        i
    }

    #[test]
    fn link_changes_map_to_config_and_state_as_in_ovs() {
        use config::{NO_FWD, PORT_DOWN};
        use state::{LINK_DOWN, LIVE};
        struct Case {
            name: &'static str,
            /// desc config, desc state, PortInfo live, PortInfo config.
            before: (u32, u32, bool, u32),
            prev: Option<Link>,
            link: Link,
            /// desc config, desc state, PortInfo live; None: no change.
            want: Option<(u32, u32, bool)>,
        }
        let cases = [
            Case {
                name: "up and described up: nothing to do",
                before: (0, LIVE, true, 0),
                prev: Some(UP),
                link: UP,
                want: None,
            },
            Case {
                name: "first look agrees",
                before: (0, LIVE, true, 0),
                prev: None,
                link: UP,
                want: None,
            },
            Case {
                name: "carrier lost (veth peer down)",
                before: (0, LIVE, true, 0),
                prev: Some(UP),
                link: NO_CARRIER,
                want: Some((0, LINK_DOWN, false)),
            },
            Case {
                name: "carrier back",
                before: (0, LINK_DOWN, false, 0),
                prev: Some(NO_CARRIER),
                link: UP,
                want: Some((0, LIVE, true)),
            },
            Case {
                name: "admin down: PORT_DOWN and LINK_DOWN",
                before: (0, LIVE, true, 0),
                prev: Some(UP),
                link: ADMIN_DOWN,
                want: Some((PORT_DOWN, LINK_DOWN, false)),
            },
            Case {
                name: "admin up again",
                before: (PORT_DOWN, LINK_DOWN, false, PORT_DOWN),
                prev: Some(ADMIN_DOWN),
                link: UP,
                want: Some((0, LIVE, true)),
            },
            Case {
                name: "admin up without carrier yet",
                before: (PORT_DOWN, LINK_DOWN, false, PORT_DOWN),
                prev: Some(ADMIN_DOWN),
                link: NO_CARRIER,
                want: Some((0, LINK_DOWN, false)),
            },
            Case {
                name: "first seen admin down",
                before: (0, LIVE, true, 0),
                prev: None,
                link: ADMIN_DOWN,
                want: Some((PORT_DOWN, LINK_DOWN, false)),
            },
            Case {
                name: "a controller's PORT_DOWN stays while the device is up",
                before: (PORT_DOWN, 0, true, PORT_DOWN),
                prev: Some(UP),
                link: UP,
                want: None,
            },
            Case {
                name: "a controller's PORT_DOWN, then carrier lost",
                before: (PORT_DOWN, 0, true, PORT_DOWN),
                prev: Some(UP),
                link: NO_CARRIER,
                want: Some((PORT_DOWN, LINK_DOWN, false)),
            },
            Case {
                name: "carrier back under a controller's PORT_DOWN: not LIVE",
                before: (PORT_DOWN, LINK_DOWN, false, PORT_DOWN),
                prev: Some(NO_CARRIER),
                link: UP,
                want: Some((PORT_DOWN, 0, true)),
            },
            Case {
                name: "other config bits are kept",
                before: (NO_FWD, LIVE, true, NO_FWD),
                prev: Some(UP),
                link: ADMIN_DOWN,
                want: Some((NO_FWD | PORT_DOWN, LINK_DOWN, false)),
            },
            Case {
                name: "interface gone: link down, config kept",
                before: (0, LIVE, true, 0),
                prev: Some(UP),
                link: Link::Gone,
                want: Some((0, LINK_DOWN, false)),
            },
            Case {
                name: "still gone",
                before: (0, LINK_DOWN, false, 0),
                prev: Some(Link::Gone),
                link: Link::Gone,
                want: None,
            },
            Case {
                name: "back after gone, admin down",
                before: (0, LINK_DOWN, false, 0),
                prev: Some(Link::Gone),
                link: ADMIN_DOWN,
                want: Some((PORT_DOWN, LINK_DOWN, false)),
            },
            Case {
                name: "back after gone, up",
                before: (PORT_DOWN, LINK_DOWN, false, PORT_DOWN),
                prev: Some(Link::Gone),
                link: UP,
                want: Some((0, LIVE, true)),
            },
            Case {
                name: "a pipeline view out of step is put right",
                before: (0, LINK_DOWN, true, 0),
                prev: Some(NO_CARRIER),
                link: NO_CARRIER,
                want: Some((0, LINK_DOWN, false)),
            },
        ];
        let mut failures = Vec::new();
        for c in &cases {
            let (dc, ds, live, ic) = c.before;
            let got = apply(&desc(dc, ds), &info(live, ic), c.prev, c.link);
            let got_short = got.as_ref().map(|(d, i)| (d.config, d.state, i.live));
            if got_short != c.want {
                failures.push(format!("{}: got {got_short:?}, want {:?}", c.name, c.want));
            }
            if let Some((d, i)) = &got {
                // The pipeline's PORT_DOWN always matches the description.
                if (i.config ^ d.config) & config::PORT_DOWN != 0 {
                    failures.push(format!("{}: pipeline config {:#x}", c.name, i.config));
                }
                // And applying again is a no-op.
                if apply(d, i, Some(c.link), c.link).is_some() {
                    failures.push(format!("{}: not stable", c.name));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    /// A broadcast frame (ARP), enough to run through the pipeline.
    fn frame() -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 3, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
        f.resize(60, 0);
        f
    }

    fn out_ports(p: &Pipeline, cache: &mut MicroflowCache) -> Vec<u32> {
        let mut out = Vec::new();
        p.process(cache, frame(), PacketMeta::port(3), 1, &mut out);
        out.iter()
            .filter_map(|o| match o {
                Outcome::Output { port, .. } => Some(*port),
                _ => None,
            })
            .collect()
    }

    /// What the monitor does to a port's pipeline view makes a
    /// fast-failover group switch buckets, through the microflow cache.
    #[test]
    fn fast_failover_follows_the_link() {
        let mut p = Pipeline::new();
        for n in 1..=3 {
            p.set_port(PortInfo::new(n));
        }
        let gm = parse_group_mod(
            "group_id=1,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2",
            group_command::ADD,
        )
        .expect("group parses");
        p.group_mod(&gm, 1).expect("group added");
        let fm = parse_flow_mod("in_port=3,actions=group:1", flow_mod_command::ADD)
            .expect("flow parses");
        p.flow_mod(&fm, 1).expect("flow added");
        let mut cache = MicroflowCache::default();
        let mut descs: HashMap<u32, Port> = HashMap::new();
        for n in 1..=3 {
            let mut d = desc(0, state::LIVE);
            d.port_no = n;
            descs.insert(n, d);
        }
        let mut look = |p: &mut Pipeline, port: u32, prev: Link, link: Link| {
            let (Some(d), Some(i)) = (descs.get(&port), p.port(port)) else {
                panic!("port {port} is known");
            };
            let (d, i) = apply(d, i, Some(prev), link).expect("a change");
            descs.insert(port, d);
            p.set_port(i);
        };
        for _ in 0..2 {
            assert_eq!(out_ports(&p, &mut cache), vec![1], "all up: first bucket");
        }
        look(&mut p, 1, UP, NO_CARRIER);
        for _ in 0..2 {
            assert_eq!(out_ports(&p, &mut cache), vec![2], "port 1 no carrier");
        }
        look(&mut p, 1, NO_CARRIER, UP);
        assert_eq!(out_ports(&p, &mut cache), vec![1], "port 1 back");
        look(&mut p, 1, UP, ADMIN_DOWN);
        assert_eq!(out_ports(&p, &mut cache), vec![2], "port 1 admin down");
        look(&mut p, 2, UP, Link::Gone);
        assert_eq!(out_ports(&p, &mut cache), Vec::<u32>::new(), "none live");
        look(&mut p, 1, ADMIN_DOWN, UP);
        assert_eq!(out_ports(&p, &mut cache), vec![1], "port 1 up again");
    }

    #[test]
    fn log_lines_name_the_change() {
        assert_eq!(describe(UP), "link up");
        assert_eq!(describe(NO_CARRIER), "link down (no carrier)");
        assert_eq!(describe(ADMIN_DOWN), "admin down");
        assert_eq!(describe(Link::Gone), "interface gone, link down");
    }
}
