//! Packet parsing and rewriting: the bytes side of the pipeline.
//!
//! [`parse()`] reads an Ethernet frame into a [`FlowKey`](crate::flow_key::FlowKey)
//! and returns a [`Layout`] (where each header starts); [`apply`] executes
//! one packet-changing OpenFlow action on the frame and keeps key and layout
//! in step with the new bytes. Both are sans-IO, allocation-free on the fast
//! path (only tag pushes/pops grow or shrink the `Vec`), and panic-free on
//! any input: every read and write goes through bounds-checked fixed-size
//! windows ([`bytes::arr`]), so a header that does not fit is simply "not
//! there".
//!
//! # Layout decisions
//!
//! - **Offsets, not pointers.** [`Layout`] stores `u16` offsets into the
//!   frame (frames are parsed up to 65 535 bytes, the largest an IP datagram
//!   can describe). The editor needs exactly these positions: the outer VLAN
//!   tag, the Ethertype after the tags (where MPLS is inserted), the top MPLS
//!   entry, the PBB I-TAG, L3, L4, the ND link-layer option, and the end of
//!   the IP datagram (so Ethernet padding is not checksummed).
//! - **What the key holds follows Open vSwitch**: the outer VLAN tag of a
//!   stack, the Ethertype after all tags, 802.3 length frames as Ethertype
//!   `0x05ff`, no L3 parsing under MPLS or PBB, no L4 in later fragments,
//!   IPv6 extension headers walked (hop-by-hop, routing, fragment, AH,
//!   destination options; ESP and "no next header" end the walk).
//!   A header is parsed into the key only when it is complete; a truncated
//!   header leaves its fields zero and the earlier layers intact.
//! - **Tags are pushed where OVS and Linux put them**: VLAN tags and the PBB
//!   encapsulation right after the Ethernet addresses (outermost), MPLS
//!   between the VLAN tags and the network header (what `ovs-vswitchd`
//!   does, VLAN being link layer and MPLS "layer 2.5").
//!
//! # Checksums
//!
//! Field rewrites update checksums incrementally (RFC 1624, eqn. 3:
//! `HC' = ~(~HC + ~m + m')`), over the 16-bit words the field occupies, so
//! the cost does not depend on the payload and a checksum that was wrong
//! stays wrong by the same amount instead of being "repaired" (as OVS and
//! Linux do). Affected: the IPv4 header checksum (DSCP/ECN, addresses, TTL),
//! the TCP, UDP and ICMPv6 checksums through the pseudo-header (IPv4/IPv6
//! addresses) and their own fields (ports, ICMP type/code, ND target and
//! link-layer options), the ICMPv4 checksum. A UDP checksum of zero (none)
//! stays zero; a computed zero becomes `0xffff`. Changing the IPv6
//! destination of a packet with a routing header that still has segments
//! left does not touch the L4 checksum (its pseudo-header uses the final
//! destination). SCTP's CRC32c cannot be updated by arithmetic on the
//! words, so it is recomputed over the SCTP packet before and after the
//! change and the stored value is adjusted by the difference
//! (`stored ^ crc_old ^ crc_new`, OVS's trick: again a wrong CRC stays
//! wrong); in IP fragments it cannot be recomputed and is left as is.

pub mod bytes;
pub(crate) mod csum;
pub mod edit;
pub mod offload;
pub mod parse;

#[cfg(test)]
mod testutil;

pub use edit::{apply, EditError};
pub use offload::{fill_l4_checksum, finish_if_partial, leave_l4_checksum_partial};
pub use parse::{parse, Frag, Layout, MAX_FRAME};
