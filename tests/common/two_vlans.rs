//! The checks the two-VLAN controller tests share, whatever the switch
//! (`ofswitch` in tests/controller.rs, Open vSwitch in
//! tests/controller_ovs.rs): four namespace hosts on `SUBNET.1`-`.4`, hosts
//! 1 and 2 in one VLAN, 3 and 4 in another.
//!
//! Every check takes `ctx`, which turns what failed into the failure
//! message (with the logs the test has).

use super::{ab_policy, wait_for, Controller, Netns};
use std::path::Path;
use std::time::{Duration, Instant};

/// Same-VLAN pairs, both ways.
pub const SAME_VLAN: [(usize, usize); 4] = [(0, 1), (1, 0), (2, 3), (3, 2)];
/// Pairs across the VLANs.
pub const ACROSS: [(usize, usize); 4] = [(0, 2), (0, 3), (1, 2), (3, 0)];

/// The policy: VLAN 10 ("a") on `ports[0]` and `ports[1]`, VLAN 20
/// ("b") on `ports[3]`, `ports[2]` in `third_in` ("a" or "b"), on the
/// switch with datapath id `dpid`.
pub fn two_vlans_policy(dpid: u64, ports: &[String], third_in: &str) -> String {
    let roles = ["a", "a", third_in, "b"];
    let ports: Vec<(&str, &str)> = ports.iter().map(String::as_str).zip(roles).collect();
    ab_policy(dpid, &ports)
}

/// The four hosts.
pub struct FourHosts<'a> {
    pub ns: &'a [Netns],
    /// The first three bytes of their /24, e.g. `10.237.0`.
    pub subnet: &'a str,
}

impl FourHosts<'_> {
    /// Host `i`'s address (0-based: host 1 is `SUBNET.1`).
    pub fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// Hosts of one VLAN reach each other (each pair within 20 tries, the
    /// first of which may wait for learning and flows).
    pub fn same_vlan_pings(&self, ctx: &dyn Fn(&str) -> String) {
        let t = Instant::now();
        for (a, b) in SAME_VLAN {
            let ok = (0..20).any(|_| self.ns[a].ping(&self.ip(b), 1));
            let what = format!("ping {} -> {}", self.ip(a), self.ip(b));
            assert!(ok, "{}", ctx(&what));
        }
        eprintln!("same-VLAN pings {:?}", t.elapsed());
    }

    /// Across VLANs: no ping, and no ARP answer.
    pub fn isolated(&self, ctx: &dyn Fn(&str) -> String) {
        for (a, b) in ACROSS {
            let (from, to) = (self.ip(a), self.ip(b));
            let ns = &self.ns[a];
            assert!(!ns.ping(&to, 1), "{}", ctx(&format!("{from} reached {to}")));
            assert!(
                !ns.resolved(&to),
                "{}",
                ctx(&format!("{from} resolved {to}"))
            );
        }
    }

    /// Warm: pings between known hosts cost no packet-in, as `packet_ins`
    /// (the switch's count so far) shows. Retried, since a stray frame (an
    /// IPv6 neighbour solicitation from a new address) may legitimately be
    /// learned in the middle of one window.
    pub fn warm_without_packet_ins(
        &self,
        packet_ins: &mut dyn FnMut() -> u64,
        ctx: &dyn Fn(&str) -> String,
    ) {
        for _ in 0..5 {
            let before = packet_ins();
            for (a, b) in SAME_VLAN {
                let out =
                    self.ns[a].exec(&["ping", "-c", "3", "-i", "0.2", "-W", "2", &self.ip(b)]);
                assert!(out.status.success(), "{}", ctx("warm ping"));
            }
            let after = packet_ins();
            eprintln!("packet-ins during warm pings: {}", after - before);
            if after == before {
                return;
            }
        }
        panic!("{}", ctx("known hosts still cause packet-ins"));
    }

    /// After a controller restart: every same-VLAN pair pings again within
    /// 15 s.
    pub fn pings_recover(&self, ctx: &dyn Fn(&str) -> String) {
        let mut back = true;
        for (a, b) in SAME_VLAN {
            let t = Instant::now();
            let mut ok = false;
            while !ok && t.elapsed() < Duration::from_secs(15) {
                ok = self.ns[a].ping(&self.ip(b), 1);
            }
            back &= ok;
        }
        assert!(back, "{}", ctx("pings after the controller restart"));
    }

    /// SIGHUP reloads, with `ctl` running on policy `file` (the two VLANs,
    /// host 3 in VLAN 20): a broken file is refused and the running policy
    /// kept; then `moved` (host 3 in VLAN 10) is loaded, and host 3 reaches
    /// host 1 and no longer host 4, while a ping between hosts 1 and 2
    /// running across the reload loses nothing (the reload touches only the
    /// flows of what changed).
    pub fn reloads(
        &self,
        ctl: &Controller,
        file: &Path,
        moved: &str,
        ctx: &dyn Fn(&str) -> String,
    ) {
        std::fs::write(file, "[vlans.a]\nvid = 99999\n").expect("write policy");
        ctl.signal(libc::SIGHUP);
        wait_for("the refusal in the log", Duration::from_secs(10), || {
            ctl.log().contains("policy refused")
        });
        assert!(
            self.ns[0].ping(&self.ip(1), 3),
            "{}",
            ctx("ping after a bad reload")
        );
        assert!(
            !self.ns[0].ping(&self.ip(2), 1),
            "{}",
            ctx("isolation after a bad reload")
        );

        let steady = self.ns[0]
            .command(&["ping", "-c", "60", "-i", "0.05", "-W", "1", &self.ip(1)])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the steady ping");
        std::thread::sleep(Duration::from_millis(1000));
        std::fs::write(file, moved).expect("write policy");
        ctl.signal(libc::SIGHUP);
        wait_for("the reload in the log", Duration::from_secs(10), || {
            ctl.log().contains("policy reloaded")
        });
        let steady = steady.wait_with_output().expect("the steady ping");
        let summary = String::from_utf8_lossy(&steady.stdout);
        eprintln!("{}", summary.lines().rev().nth(1).unwrap_or_default());
        assert!(
            summary.contains("60 received"),
            "{}",
            ctx(&format!("the unrelated ping lost packets:\n{summary}"))
        );
        let t = Instant::now();
        let mut ok = false;
        while !ok && t.elapsed() < Duration::from_secs(15) {
            ok = self.ns[0].ping(&self.ip(2), 1);
        }
        assert!(ok, "{}", ctx("ping into the moved host's new VLAN"));
        assert!(
            !self.ns[2].ping(&self.ip(3), 1),
            "{}",
            ctx("moved host left its old VLAN")
        );
    }
}
