//! Internal ports: a TAP device named after the port, created by the
//! switch, so the host (or a namespace the device is moved into) can use
//! it, as Open vSwitch's `type=internal`; the bridge's LOCAL port is one.
//!
//! The device is the switch's own: it lives as long as the port holds it,
//! and OpenFlow's `PORT_DOWN` sets its link down. Frames cross it with a
//! `virtio_net_hdr`, so checksum offload and TSO super-segments pass
//! through both ways ([`crate::datapath::vnet`]).

use super::{with_offload, Ingress, OpenedPort, PortContext, PortSpec};
use crate::datapath::forward::PortSink;
use crate::datapath::tap::Tap;
use crate::datapath::workers::{RxSource, Scratch};
use crate::datapath::{sys, vnet};
use crate::pipeline::ports::PortCounters;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

/// Opens internal port `spec`; the error is what its status shows.
pub fn open(spec: &PortSpec, ctx: &PortContext) -> Result<OpenedPort, String> {
    open_tap(spec, ctx).map_err(|e| format!("could not open TAP: {e}"))
}

/// Creates the TAP device of `spec` with the MAC asked for (else the one
/// derived from its name) and the MTU asked for, and starts receiving on
/// it. The bridge's LOCAL port is opened here too: it fails with the
/// device's own error.
pub fn open_tap(spec: &PortSpec, ctx: &PortContext) -> io::Result<OpenedPort> {
    let name = spec.name.as_str();
    let mac = spec.mac_or_default();
    let tap = Arc::new(Tap::open_with_mac(name, Some(mac))?);
    if let Some(mtu) = spec.mtu_request {
        let _ = sys::set_mtu(name, mtu);
    }
    let mac = sys::mac_address(name).unwrap_or(mac);
    let rx = ctx.registry.threads.add(Box::new(TapRx {
        tap: tap.clone(),
        port: Ingress::new(spec, ctx),
    }));
    let mtu = sys::mtu(name).unwrap_or(1500);
    let sink = TapSink {
        tap,
        mtu: AtomicU32::new(mtu),
        counters: ctx.counters.clone(),
    };
    Ok(OpenedPort {
        sink: Arc::new(sink),
        rx: Some(rx),
        mac,
        up: true,
        own_device: true,
        detach: None,
    })
}

/// A TAP port's sink; `mtu` is read when the port is opened and follows
/// an `mtu_request` the bridge applies in place (a TAP made again would
/// lose the addresses the host gave it).
pub struct TapSink {
    pub tap: Arc<Tap>,
    pub mtu: AtomicU32,
    pub counters: Arc<PortCounters>,
}

impl PortSink for TapSink {
    fn send(&self, frame: Vec<u8>, _tunnel_id: u64) -> io::Result<()> {
        with_offload(
            frame,
            self.mtu.load(Relaxed),
            &self.counters,
            |hdr, mut f, flip| {
                vnet::flip_checksum(&mut f, flip);
                self.tap.send(hdr, &f)
            },
        )
    }

    fn follow_mtu(&self, mtu: u32) -> bool {
        self.mtu.store(mtu, Relaxed);
        true
    }
}

/// The receiving side of a TAP port, on a forwarding thread: one frame
/// per read.
struct TapRx {
    tap: Arc<Tap>,
    port: Ingress,
}

impl RxSource for TapRx {
    fn fd(&self) -> RawFd {
        self.tap.fd()
    }

    fn name(&self) -> &str {
        &self.port.name
    }

    fn receive(&mut self, scratch: &mut Scratch, budget: usize) -> io::Result<usize> {
        let mut k = 0;
        while k < budget {
            match self.tap.try_recv(&mut scratch.buf)? {
                Some((n, o)) => {
                    self.port.forward(scratch.buf[..n].to_vec(), o);
                    k += 1;
                }
                None => break,
            }
        }
        Ok(k)
    }
}
