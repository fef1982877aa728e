//! The networked controller against a scripted switch over an in-memory
//! pipe: the setup sequence (HELLO, FEATURES, PORT_DESC, SET_CONFIG), the
//! resync honouring its barriers (nothing after a barrier is sent before
//! the switch answered it), a packet-in turned into flows, and two apps
//! composed as one.

use ofcontroller::app::{App, Switch};
use ofcontroller::learning::Timeouts;
use ofcontroller::net::{serve_stream, Shared};
use ofcontroller::policy::Policy;
use ofcontroller::vlans::VlanApp;
use openflow::channel::ChannelConfig;
use openflow::message::Body;
use openflow::messages::{Hello, PacketIn, SwitchFeatures};
use openflow::multipart::{MultipartReply, MultipartReplyBody, MultipartRequestBody};
use openflow::table_features::TableFeatures;
use openflow::{MacAddr, OfError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::{packet_in, port, tables, FakeSwitch};

/// Records the events it sees.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn seen(&self) -> Vec<String> {
        self.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl App for Recorder {
    async fn switch_up(&self, sw: &Switch) {
        if let Ok(mut v) = self.0.lock() {
            v.push(format!("up {:x} {} ports", sw.dpid, sw.ports.len()));
        }
    }
    async fn packet_in(&self, sw: &Switch, _pi: &PacketIn) {
        if let Ok(mut v) = self.0.lock() {
            v.push(format!("packet_in {:x}", sw.dpid));
        }
    }
    async fn switch_down(&self, sw: &Switch) {
        if let Ok(mut v) = self.0.lock() {
            v.push(format!("down {:x}", sw.dpid));
        }
    }
}

#[tokio::test]
async fn setup_resync_with_barriers_then_learning() {
    let rec = Recorder::default();
    let app = Arc::new((
        VlanApp::new(Policy::learning_only(), Timeouts::default()),
        rec.clone(),
    ));
    let shared = Shared::new(app, ChannelConfig::default());
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let task = tokio::spawn(serve_stream(shared, theirs, "pipe".to_string()));
    let mut sw = FakeSwitch::new(ours);

    // HELLO both ways, then the description of the switch.
    assert!(matches!(sw.recv().await.body, Body::Hello(_)));
    sw.send(1, Body::Hello(Hello::with_versions(&[4]))).await;
    let m = sw.recv().await;
    assert_eq!(m.body, Body::FeaturesRequest);
    let features = SwitchFeatures {
        datapath_id: 0x77,
        n_buffers: 0,
        n_tables: 254,
        auxiliary_id: 0,
        capabilities: 0,
        reserved: 0,
    };
    sw.send(m.xid, Body::FeaturesReply(features)).await;
    let m = sw.recv().await;
    assert!(
        matches!(&m.body, Body::MultipartRequest(r) if r.body == MultipartRequestBody::PortDesc),
        "{m:?}"
    );
    sw.send(
        m.xid,
        Body::MultipartReply(MultipartReply::new(MultipartReplyBody::PortDesc(vec![
            port(1),
            port(2),
        ]))),
    )
    .await;
    assert!(matches!(sw.recv().await.body, Body::SetConfig(c) if c.miss_send_len == 128));

    // The resync: deletes, a barrier, and nothing more until it is answered.
    assert!(matches!(sw.recv().await.body, Body::FlowMod(_)));
    assert!(matches!(sw.recv().await.body, Body::GroupMod(_)));
    let barrier = sw.recv().await;
    assert_eq!(barrier.body, Body::BarrierRequest);
    let early = sw.recv_within(Duration::from_millis(300)).await;
    assert!(early.is_none(), "sent before the barrier reply: {early:?}");
    sw.send(barrier.xid, Body::BarrierReply).await;
    let mut flows = 0;
    let last = loop {
        let m = sw.recv().await;
        match m.body {
            Body::FlowMod(_) => flows += 1,
            _ => break m,
        }
    };
    assert!(flows > 0);
    assert_eq!(last.body, Body::BarrierRequest);
    sw.send(last.xid, Body::BarrierReply).await;

    // The tables get their names: the switch's own list, renamed and sent
    // back whole (the names are all that changes).
    let set = sw.answer_naming(tables(), None).await;
    let names: Vec<&str> = set.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["vlan", "eth_src", "eth_dst", "flood", ""]);
    let unnamed: Vec<_> = set
        .into_iter()
        .map(|t| TableFeatures {
            name: String::new(),
            ..t
        })
        .collect();
    assert_eq!(unnamed, tables());

    // A packet-in from an unknown source: its two flows, no barrier.
    let pi = packet_in(1, MacAddr([2, 0, 0, 0, 0, 9]));
    sw.send(0, Body::PacketIn(pi)).await;
    assert!(matches!(sw.recv().await.body, Body::FlowMod(_)));
    assert!(matches!(sw.recv().await.body, Body::FlowMod(_)));
    assert!(sw.recv_within(Duration::from_millis(200)).await.is_none());

    // The switch goes away: both apps hear of it, the task ends.
    drop(sw);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the connection task ends")
        .expect("no panic");
    assert_eq!(rec.seen(), ["up 77 2 ports", "packet_in 77", "down 77"]);
}

/// Naming the tables is for people only: a switch that refuses it, or
/// whose tables already have their names, is resynced all the same and
/// its packet-ins are answered.
#[tokio::test]
async fn table_names_refused_or_already_there_change_nothing_else() {
    for (tables, refuse) in [
        (tables(), Some(OfError::TFFC_EPERM)),
        (
            tables()
                .into_iter()
                .zip(["vlan", "eth_src", "eth_dst", "flood", "x"])
                .map(|(t, n)| TableFeatures {
                    name: n.to_string(),
                    ..t
                })
                .collect(),
            None,
        ),
    ] {
        let named = tables[0].name == "vlan";
        let app = Arc::new(VlanApp::new(Policy::learning_only(), Timeouts::default()));
        let shared = Shared::new(app, ChannelConfig::default());
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let task = tokio::spawn(serve_stream(shared, theirs, "pipe".to_string()));
        let mut sw = FakeSwitch::new(ours);
        let set = sw
            .handshake_naming(0x78, vec![port(1), port(2)], tables, refuse)
            .await;
        assert_eq!(set.is_empty(), named, "a set only where a name changes");
        let pi = packet_in(1, MacAddr([2, 0, 0, 0, 0, 9]));
        sw.send(0, Body::PacketIn(pi)).await;
        assert!(matches!(sw.recv().await.body, Body::FlowMod(_)));
        assert!(matches!(sw.recv().await.body, Body::FlowMod(_)));
        drop(sw);
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("the connection task ends")
            .expect("no panic");
    }
}
