//! What a connection works on: the bridge's pipeline, its identity and port
//! descriptions, and its set of channels.
//!
//! The daemon owns all three and lends them to a connection for the time of
//! one call ([`SwitchState`]); nothing here is shared behind locks, so the
//! agent stays deterministic and testable. The port descriptions are the
//! OpenFlow view of the ports (name, MAC, state, speeds) that only the
//! daemon can know; the pipeline's [`crate::pipeline::ports::PortInfo`]
//! holds what forwarding needs. A PORT_MOD changes the config bits in both.

use super::controllers::Controllers;
use crate::pipeline::Pipeline;
use openflow::port::{config, state, Port};
use std::collections::BTreeMap;

/// OFPMP_DESC strings.
pub const MFR_DESC: &str = "ofswitch project";
pub const HW_DESC: &str = "ofswitch userspace datapath";
pub const SW_DESC: &str = concat!("ofswitch ", env!("CARGO_PKG_VERSION"));
pub const SERIAL_NUM: &str = "None";

/// The bridge's identity and ports, as the daemon configures them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BridgeInfo {
    pub datapath_id: u64,
    /// OFPMP_DESC `dp_desc` ("None" if empty, as Open vSwitch).
    pub dp_desc: String,
    /// Port descriptions by number, LOCAL included if the bridge has one.
    pub ports: BTreeMap<u32, Port>,
}

impl BridgeInfo {
    pub fn new(datapath_id: u64) -> BridgeInfo {
        BridgeInfo {
            datapath_id,
            ..BridgeInfo::default()
        }
    }

    /// Adds or replaces a port description.
    pub fn set_port(&mut self, p: Port) {
        self.ports.insert(p.port_no, p);
    }

    /// Applies new config bits to a port description, keeping `state`
    /// consistent (an administratively down port is not LIVE). Returns the
    /// updated description.
    pub(crate) fn apply_port_config(&mut self, port_no: u32, new_config: u32) -> Option<Port> {
        let p = self.ports.get_mut(&port_no)?;
        p.config = new_config;
        if new_config & config::PORT_DOWN != 0 || p.state & state::LINK_DOWN != 0 {
            p.state &= !state::LIVE;
        } else {
            p.state |= state::LIVE;
        }
        Some(p.clone())
    }
}

/// Everything one connection call may read or change.
#[derive(Debug)]
pub struct SwitchState<'a> {
    pub pipeline: &'a mut Pipeline,
    pub bridge: &'a mut BridgeInfo,
    pub controllers: &'a mut Controllers,
}

impl<'a> SwitchState<'a> {
    pub fn new(
        pipeline: &'a mut Pipeline,
        bridge: &'a mut BridgeInfo,
        controllers: &'a mut Controllers,
    ) -> SwitchState<'a> {
        SwitchState {
            pipeline,
            bridge,
            controllers,
        }
    }
}
