//! The datapath: real ports and the loop that runs their frames through
//! the pipeline. The devices and sockets are the modules below; what a
//! port of each kind makes of them is in [`port`].
//!
//! - [`sys`]: the few Linux interface calls the ports need (TAP creation,
//!   link flags, MTU, MAC), as small safe wrappers over `ioctl`.
//! - [`afpacket`]: any Linux interface (veth, NIC) through an `AF_PACKET`
//!   socket: VLAN tags put back, offloaded checksums completed.
//! - [`pnet`]: the same through the `pnet_datalink` crate
//!   (`options:backend=pnet`), a baseline to measure `afpacket` against.
//! - [`tap`]: a TAP device (the device of internal ports, with the host's
//!   IP on it, as Open vSwitch's `type=internal`).
//! - [`forward`]: receive a frame on a port, run it through the published
//!   pipeline with a per-port microflow cache, send the outputs, pass the
//!   packet-ins to the control plane.
//! - [`port`]: one module per kind of port (system, internal, patch,
//!   VXLAN, GRE), each with its receive side, its sink and its counting,
//!   behind the one call the bridge makes to open a port.
//! - [`mmsg`]: the tunnels' batched receive; [`tcp_join`]: the software
//!   GRO that joins decapsulated TCP segments back together.
//! - [`workers`]: the forwarding threads that wait on every port's
//!   descriptor and drain them in batches; [`txbatch`]: their batched sends.
//! - [`vnet`]: checksum offload and TSO super-segments across the switch
//!   (`virtio_net_hdr` in and out).
//! - [`link`]: links, addresses and namespaces through rtnetlink (the veth
//!   pairs of namespace ports), without running `ip`.

pub mod afpacket;
pub mod forward;
pub mod link;
pub mod mmsg;
pub mod pnet;
pub mod port;
pub mod rxring;
pub mod sys;
pub mod tap;
pub mod tcp_join;
#[cfg(test)]
mod test_support;
pub mod txbatch;
pub mod vnet;
pub mod workers;
