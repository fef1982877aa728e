//! 802.1D BPDUs on the wire: configuration and topology change
//! notification BPDUs, in 802.3 frames with an LLC header (DSAP = SSAP =
//! 0x42, UI), sent to the bridge group address 01:80:c2:00:00:00.
//!
//! [`Bpdu::decode`] takes a whole Ethernet frame and checks every length
//! before it reads a field, so no input can make it panic; anything it
//! cannot use is a [`BpduError`] the caller counts and drops.
//! [`Bpdu::encode`] writes the frame Linux and Open vSwitch send: the
//! 802.3 length covers LLC and BPDU, and the frame is padded to 60 bytes.
//!
//! Times travel in 1/256 s; this module converts them to milliseconds so
//! the state machine never sees the wire unit.

use thiserror::Error;

/// The bridge group address every BPDU is sent to.
pub const STP_GROUP: [u8; 6] = [0x01, 0x80, 0xc2, 0x00, 0x00, 0x00];

/// LLC header of a BPDU: DSAP, SSAP (the spanning tree SAP) and UI.
const LLC: [u8; 3] = [0x42, 0x42, 0x03];

/// Byte offsets in the frame.
mod field {
    pub const DST: std::ops::Range<usize> = 0..6;
    pub const LEN: std::ops::Range<usize> = 12..14;
    pub const LLC: std::ops::Range<usize> = 14..17;
    /// Where the BPDU proper starts.
    pub const BPDU: usize = 17;
    // Offsets inside the BPDU.
    pub const PROTOCOL: std::ops::Range<usize> = 0..2;
    pub const TYPE: usize = 3;
    pub const FLAGS: usize = 4;
    pub const ROOT: std::ops::Range<usize> = 5..13;
    pub const COST: std::ops::Range<usize> = 13..17;
    pub const BRIDGE: std::ops::Range<usize> = 17..25;
    pub const PORT: std::ops::Range<usize> = 25..27;
    pub const MESSAGE_AGE: std::ops::Range<usize> = 27..29;
    pub const MAX_AGE: std::ops::Range<usize> = 29..31;
    pub const HELLO: std::ops::Range<usize> = 31..33;
    pub const FORWARD_DELAY: std::ops::Range<usize> = 33..35;
}

/// Length of a configuration BPDU.
pub const CONFIG_LEN: usize = 35;
/// Length of a topology change notification BPDU.
pub const TCN_LEN: usize = 4;
/// Shortest Ethernet frame (without FCS); BPDUs are padded to it.
const MIN_FRAME: usize = 60;

const TYPE_CONFIG: u8 = 0x00;
const TYPE_TCN: u8 = 0x80;
/// Configuration BPDU flags.
pub const FLAG_TC: u8 = 0x01;
pub const FLAG_TCA: u8 = 0x80;

/// Why a frame is not a BPDU this bridge can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum BpduError {
    #[error("frame too short for its BPDU")]
    Truncated,
    #[error("not sent to the bridge group address")]
    NotGroupAddress,
    #[error("not an 802.3 frame with the spanning tree LLC header")]
    NotLlc,
    #[error("unknown protocol identifier {0:#06x}")]
    Protocol(u16),
    #[error("BPDU type {0:#04x} is not 802.1D (RSTP/MSTP BPDUs are not supported)")]
    Type(u8),
    #[error("message age {message_age} ms not below max age {max_age} ms")]
    Aged { message_age: u32, max_age: u32 },
}

/// The priority vector and timers of a configuration BPDU (times in ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub flags: u8,
    pub root: u64,
    pub root_path_cost: u32,
    pub bridge: u64,
    pub port: u16,
    pub message_age: u32,
    pub max_age: u32,
    pub hello_time: u32,
    pub forward_delay: u32,
}

/// One BPDU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bpdu {
    Config(Config),
    /// Topology change notification.
    Tcn,
}

fn to_ms(v: u16) -> u32 {
    u32::from(v) * 1000 / 256
}

fn from_ms(ms: u32) -> u16 {
    // Round to the nearest 1/256 s so that whole seconds survive a round
    // trip exactly.
    u16::try_from((u64::from(ms) * 256 + 500) / 1000).unwrap_or(u16::MAX)
}

fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[r]);
    u16::from_be_bytes(a)
}

fn be32(b: &[u8], r: std::ops::Range<usize>) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[r]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8], r: std::ops::Range<usize>) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[r]);
    u64::from_be_bytes(a)
}

/// Whether `frame` is addressed to the bridge group address: the one test
/// the forwarding path makes before handing a frame to spanning tree.
#[inline]
pub fn is_bpdu_frame(frame: &[u8]) -> bool {
    frame.get(field::DST) == Some(&STP_GROUP[..])
}

impl Bpdu {
    /// Parses an Ethernet frame.
    pub fn decode(frame: &[u8]) -> Result<Bpdu, BpduError> {
        if frame.len() < field::BPDU + TCN_LEN {
            return Err(BpduError::Truncated);
        }
        if !is_bpdu_frame(frame) {
            return Err(BpduError::NotGroupAddress);
        }
        let len = usize::from(be16(frame, field::LEN));
        if len > 1500 || frame[field::LLC] != LLC || len < LLC.len() {
            return Err(BpduError::NotLlc);
        }
        // The 802.3 length bounds the BPDU: what follows is padding.
        let end = (field::LEN.end + len).min(frame.len());
        let b = &frame[field::BPDU..end];
        if b.len() < TCN_LEN {
            return Err(BpduError::Truncated);
        }
        let protocol = be16(b, field::PROTOCOL);
        if protocol != 0 {
            return Err(BpduError::Protocol(protocol));
        }
        match b[field::TYPE] {
            TYPE_TCN => Ok(Bpdu::Tcn),
            TYPE_CONFIG if b.len() < CONFIG_LEN => Err(BpduError::Truncated),
            TYPE_CONFIG => {
                let c = Config {
                    flags: b[field::FLAGS],
                    root: be64(b, field::ROOT),
                    root_path_cost: be32(b, field::COST),
                    bridge: be64(b, field::BRIDGE),
                    port: be16(b, field::PORT),
                    message_age: to_ms(be16(b, field::MESSAGE_AGE)),
                    max_age: to_ms(be16(b, field::MAX_AGE)),
                    hello_time: to_ms(be16(b, field::HELLO)),
                    forward_delay: to_ms(be16(b, field::FORWARD_DELAY)),
                };
                // 802.1D-2004 9.3.4: such a BPDU is discarded (a looped
                // or stale one), as Linux does.
                if c.message_age >= c.max_age {
                    return Err(BpduError::Aged {
                        message_age: c.message_age,
                        max_age: c.max_age,
                    });
                }
                Ok(Bpdu::Config(c))
            }
            t => Err(BpduError::Type(t)),
        }
    }

    /// The frame carrying this BPDU from a port whose address is `src`.
    pub fn encode(&self, src: [u8; 6]) -> Vec<u8> {
        let mut f = Vec::with_capacity(MIN_FRAME);
        f.extend_from_slice(&STP_GROUP);
        f.extend_from_slice(&src);
        let body = match self {
            Bpdu::Config(_) => CONFIG_LEN,
            Bpdu::Tcn => TCN_LEN,
        };
        f.extend_from_slice(&((LLC.len() + body) as u16).to_be_bytes());
        f.extend_from_slice(&LLC);
        f.extend_from_slice(&[0, 0, 0]); // protocol 0, version 0
        match self {
            Bpdu::Tcn => f.push(TYPE_TCN),
            Bpdu::Config(c) => {
                f.push(TYPE_CONFIG);
                f.push(c.flags);
                f.extend_from_slice(&c.root.to_be_bytes());
                f.extend_from_slice(&c.root_path_cost.to_be_bytes());
                f.extend_from_slice(&c.bridge.to_be_bytes());
                f.extend_from_slice(&c.port.to_be_bytes());
                for t in [c.message_age, c.max_age, c.hello_time, c.forward_delay] {
                    f.extend_from_slice(&from_ms(t).to_be_bytes());
                }
            }
        }
        f.resize(MIN_FRAME, 0);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration BPDU as a Linux bridge sends it (captured layout):
    /// root 8000.02:00:00:00:00:01, cost 4, bridge 8000.02:00:00:00:00:02,
    /// port 0x8001, message age 1 s, max age 20 s, hello 2 s, forward
    /// delay 15 s, topology change flag set.
    const CONFIG_FRAME: [u8; 60] = [
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, // dst
        0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // src
        0x00, 0x26, // 802.3 length 38
        0x42, 0x42, 0x03, // LLC
        0x00, 0x00, 0x00, 0x00, // protocol, version, type config
        0x01, // flags: TC
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // root
        0x00, 0x00, 0x00, 0x04, // root path cost
        0x80, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // bridge
        0x80, 0x01, // port
        0x01, 0x00, // message age 1 s
        0x14, 0x00, // max age 20 s
        0x02, 0x00, // hello 2 s
        0x0f, 0x00, // forward delay 15 s
        0, 0, 0, 0, 0, 0, 0, 0, // padding
    ];

    fn config() -> Config {
        Config {
            flags: FLAG_TC,
            root: 0x8000_0200_0000_0001,
            root_path_cost: 4,
            bridge: 0x8000_0200_0000_0002,
            port: 0x8001,
            message_age: 1000,
            max_age: 20_000,
            hello_time: 2000,
            forward_delay: 15_000,
        }
    }

    #[test]
    fn config_bytes_both_ways() {
        assert_eq!(Bpdu::decode(&CONFIG_FRAME), Ok(Bpdu::Config(config())));
        let src = [0x02, 0, 0, 0, 0, 0x02];
        assert_eq!(Bpdu::Config(config()).encode(src), CONFIG_FRAME.to_vec());
    }

    #[test]
    fn tcn_bytes_both_ways() {
        let src = [0x02, 0, 0, 0, 0, 0x09];
        let f = Bpdu::Tcn.encode(src);
        assert_eq!(f.len(), 60);
        assert_eq!(
            &f[..21],
            &[
                0x01, 0x80, 0xc2, 0, 0, 0, 0x02, 0, 0, 0, 0, 0x09, 0x00, 0x07, 0x42, 0x42, 0x03, 0,
                0, 0, 0x80
            ]
        );
        assert!(f[21..].iter().all(|&b| b == 0));
        assert_eq!(Bpdu::decode(&f), Ok(Bpdu::Tcn));
    }

    #[test]
    fn odd_times_round_trip_to_the_nearest_256th() {
        let mut c = config();
        c.hello_time = 1000;
        c.max_age = 6000;
        c.forward_delay = 4000;
        c.message_age = 0;
        let back = Bpdu::decode(&Bpdu::Config(c).encode([2, 0, 0, 0, 0, 1]));
        assert_eq!(back, Ok(Bpdu::Config(c)));
    }

    #[test]
    fn malformed_frames_are_errors() {
        // Every truncation of a valid frame, and never a panic.
        for n in 0..field::BPDU + CONFIG_LEN {
            assert!(Bpdu::decode(&CONFIG_FRAME[..n]).is_err(), "length {n}");
        }
        let mut f = CONFIG_FRAME;
        f[5] = 0x02; // LACP's address
        assert_eq!(Bpdu::decode(&f), Err(BpduError::NotGroupAddress));
        let mut f = CONFIG_FRAME;
        f[12] = 0x08; // an Ethernet II type, not an 802.3 length
        assert_eq!(Bpdu::decode(&f), Err(BpduError::NotLlc));
        let mut f = CONFIG_FRAME;
        f[15] = 0xaa;
        assert_eq!(Bpdu::decode(&f), Err(BpduError::NotLlc));
        let mut f = CONFIG_FRAME;
        f[18] = 1;
        assert_eq!(Bpdu::decode(&f), Err(BpduError::Protocol(1)));
        let mut f = CONFIG_FRAME;
        f[19] = 2;
        f[20] = 2; // an RST BPDU
        assert_eq!(Bpdu::decode(&f), Err(BpduError::Type(2)));
        // The 802.3 length says the BPDU is cut short, whatever follows.
        let mut f = CONFIG_FRAME;
        f[13] = 0x20;
        assert_eq!(Bpdu::decode(&f), Err(BpduError::Truncated));
        let mut f = CONFIG_FRAME;
        f[44] = 0x15; // message age 21 s > max age
        assert!(matches!(Bpdu::decode(&f), Err(BpduError::Aged { .. })));
        assert!(is_bpdu_frame(&CONFIG_FRAME));
        assert!(!is_bpdu_frame(&CONFIG_FRAME[..5]));
    }
}
