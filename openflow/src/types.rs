//! Small value types shared by many messages: MAC addresses, reserved port and
//! group numbers, and other constants of the spec.

use std::fmt;
use std::str::FromStr;

/// An Ethernet address.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const ZERO: MacAddr = MacAddr([0; 6]);
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    pub fn to_u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b[2..].copy_from_slice(&self.0);
        u64::from_be_bytes(b)
    }

    pub fn from_u64(v: u64) -> Self {
        let b = v.to_be_bytes();
        let mut m = [0u8; 6];
        m.copy_from_slice(&b[2..]);
        MacAddr(m)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Error from parsing a MAC address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Ethernet address {0:?} (expected xx:xx:xx:xx:xx:xx)")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in out.iter_mut() {
            let p = parts.next().ok_or_else(|| MacParseError(s.to_string()))?;
            if p.is_empty() || p.len() > 2 {
                return Err(MacParseError(s.to_string()));
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| MacParseError(s.to_string()))?;
        }
        if parts.next().is_some() {
            return Err(MacParseError(s.to_string()));
        }
        Ok(MacAddr(out))
    }
}

/// Reserved port numbers (`ofp_port_no`).
pub mod port_no {
    /// Highest number of a physical port.
    pub const MAX: u32 = 0xffff_ff00;
    pub const IN_PORT: u32 = 0xffff_fff8;
    pub const TABLE: u32 = 0xffff_fff9;
    pub const NORMAL: u32 = 0xffff_fffa;
    pub const FLOOD: u32 = 0xffff_fffb;
    pub const ALL: u32 = 0xffff_fffc;
    pub const CONTROLLER: u32 = 0xffff_fffd;
    pub const LOCAL: u32 = 0xffff_fffe;
    pub const ANY: u32 = 0xffff_ffff;

    /// The name ovs-ofctl gives a reserved port, if `port` is one.
    pub fn reserved_name(port: u32) -> Option<&'static str> {
        Some(match port {
            IN_PORT => "IN_PORT",
            TABLE => "TABLE",
            NORMAL => "NORMAL",
            FLOOD => "FLOOD",
            ALL => "ALL",
            CONTROLLER => "CONTROLLER",
            LOCAL => "LOCAL",
            ANY => "ANY",
            _ => return None,
        })
    }
}

/// Reserved group numbers (`ofp_group`).
pub mod group_no {
    pub const MAX: u32 = 0xffff_ff00;
    pub const ALL: u32 = 0xffff_fffc;
    pub const ANY: u32 = 0xffff_ffff;
}

/// Reserved meter numbers (`ofp_meter`).
pub mod meter_no {
    pub const MAX: u32 = 0xffff_0000;
    pub const SLOWPATH: u32 = 0xffff_fffd;
    pub const CONTROLLER: u32 = 0xffff_fffe;
    pub const ALL: u32 = 0xffff_ffff;
}

/// Table numbers (`ofp_table`).
pub mod table_no {
    pub const MAX: u8 = 0xfe;
    pub const ALL: u8 = 0xff;
}

/// `ofp_controller_max_len`: send the whole packet, do not buffer.
pub const CONTROLLER_NO_BUFFER: u16 = 0xffff;
/// "No buffer" buffer id.
pub const NO_BUFFER: u32 = 0xffff_ffff;

/// VLAN id values (`ofp_vlan_id`).
pub mod vlan {
    /// Bit set in OXM VLAN_VID when a VLAN tag is present.
    pub const PRESENT: u16 = 0x1000;
    /// No VLAN tag.
    pub const NONE: u16 = 0x0000;
}

/// Well-known Ethernet types.
pub mod eth_type {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    pub const IPV6: u16 = 0x86dd;
    pub const MPLS: u16 = 0x8847;
    pub const MPLS_MCAST: u16 = 0x8848;
    pub const PBB: u16 = 0x88e7;
}

/// The OpenFlow version this crate speaks.
pub const OFP_VERSION: u8 = 0x04;
/// The IANA port for OpenFlow.
pub const OFP_TCP_PORT: u16 = 6653;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parse_print() {
        let m: MacAddr = "00:1A:2b:3c:4d:5e".parse().unwrap();
        assert_eq!(m.to_string(), "00:1a:2b:3c:4d:5e");
        assert_eq!(MacAddr::from_u64(m.to_u64()), m);
        assert!("00:11:22:33:44".parse::<MacAddr>().is_err());
        assert!("00:11:22:33:44:55:66".parse::<MacAddr>().is_err());
        assert!("00:11:22:33:44:zz".parse::<MacAddr>().is_err());
        assert!(MacAddr::BROADCAST.is_multicast());
    }
}
