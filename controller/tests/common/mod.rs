//! A scripted switch for the controller's tests: it speaks OpenFlow over
//! any byte stream (an in-memory pipe or TCP), one message at a time, so a
//! test decides what it answers and when.

#![allow(dead_code)]

use openflow::message::{Body, Message};
use openflow::messages::{ErrorMsg, Hello, PacketIn, SwitchFeatures};
use openflow::multipart::{MultipartReply, MultipartReplyBody, MultipartRequestBody, MORE};
use openflow::oxm::{Match, Oxm};
use openflow::port::Port;
use openflow::table_features::{TableFeatureProp, TableFeatures};
use openflow::OfError;
use openflow::{Framer, MacAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub struct FakeSwitch<S> {
    pub io: S,
    framer: Framer,
}

impl<S: AsyncRead + AsyncWrite + Unpin> FakeSwitch<S> {
    pub fn new(io: S) -> FakeSwitch<S> {
        FakeSwitch {
            io,
            framer: Framer::new(),
        }
    }

    pub async fn send(&mut self, xid: u32, body: Body) {
        let bytes = Message::new(xid, body).to_bytes();
        self.io.write_all(&bytes).await.expect("write");
    }

    /// The next message, or `None` if nothing comes within `wait`.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(raw) = self.framer.next_message().expect("framing") {
                return Some(Message::decode(&raw).expect("decodes"));
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout_at(deadline, self.io.read(&mut buf))
                .await
                .ok()?
                .expect("read");
            assert!(n > 0, "the controller closed the connection");
            self.framer.push(&buf[..n]);
        }
    }

    pub async fn recv(&mut self) -> Message {
        self.recv_within(Duration::from_secs(10))
            .await
            .expect("a message from the controller")
    }

    /// Whether the controller closes the connection within `wait`
    /// (whatever it sends before is read and ignored).
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        let mut buf = [0u8; 4096];
        loop {
            match tokio::time::timeout_at(deadline, self.io.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Connects as switch `dpid` with `ports`: HELLO, FEATURES, PORT_DESC,
    /// SET_CONFIG, the controller's resync (deletes, barrier, flows,
    /// barrier) and its naming of the tables answered, echo requests
    /// included.
    pub async fn handshake(&mut self, dpid: u64, ports: Vec<Port>) {
        self.handshake_naming(dpid, ports, tables(), None).await;
    }

    /// [`FakeSwitch::handshake`] reporting `tables` and taking the
    /// naming set or, with `refuse`, refusing it; returns the set's tables.
    pub async fn handshake_naming(
        &mut self,
        dpid: u64,
        ports: Vec<Port>,
        tables: Vec<TableFeatures>,
        refuse: Option<OfError>,
    ) -> Vec<TableFeatures> {
        assert!(matches!(self.recv().await.body, Body::Hello(_)));
        self.send(1, Body::Hello(Hello::with_versions(&[4]))).await;
        let mut barriers = 0;
        while barriers < 2 {
            let m = self.recv().await;
            match m.body {
                Body::FeaturesRequest => {
                    let f = SwitchFeatures {
                        datapath_id: dpid,
                        n_buffers: 0,
                        n_tables: 254,
                        auxiliary_id: 0,
                        capabilities: 0,
                        reserved: 0,
                    };
                    self.send(m.xid, Body::FeaturesReply(f)).await;
                }
                Body::MultipartRequest(r) if r.body == MultipartRequestBody::PortDesc => {
                    let reply = MultipartReplyBody::PortDesc(ports.clone());
                    self.send(m.xid, Body::MultipartReply(MultipartReply::new(reply)))
                        .await;
                }
                Body::BarrierRequest => {
                    barriers += 1;
                    self.send(m.xid, Body::BarrierReply).await;
                }
                Body::EchoRequest(d) => self.send(m.xid, Body::EchoReply(d)).await,
                _ => {}
            }
        }
        self.answer_naming(tables, refuse).await
    }

    /// Answers the controller's naming of the tables: its TABLE_FEATURES
    /// request with `tables`, then (unless it finds nothing to change) its
    /// set, every part, which is taken or, with `refuse`, refused with that
    /// error. Returns the tables the set asked for (empty if none came).
    pub async fn answer_naming(
        &mut self,
        tables: Vec<TableFeatures>,
        refuse: Option<OfError>,
    ) -> Vec<TableFeatures> {
        let get = loop {
            let m = self.recv().await;
            match m.body {
                Body::MultipartRequest(r)
                    if r.body == MultipartRequestBody::TableFeatures(Vec::new()) =>
                {
                    break m.xid
                }
                Body::EchoRequest(d) => self.send(m.xid, Body::EchoReply(d)).await,
                other => panic!("expected the TABLE_FEATURES request, got {other:?}"),
            }
        };
        let reply = MultipartReplyBody::TableFeatures(tables);
        self.send(get, Body::MultipartReply(MultipartReply::new(reply)))
            .await;
        let mut set = Vec::new();
        let Some(first) = self.recv_within(Duration::from_millis(500)).await else {
            return set;
        };
        let mut m = first;
        loop {
            let Body::MultipartRequest(r) = &m.body else {
                panic!("expected the TABLE_FEATURES set, got {m:?}")
            };
            let MultipartRequestBody::TableFeatures(t) = &r.body else {
                panic!("expected the TABLE_FEATURES set, got {m:?}")
            };
            assert!(!t.is_empty(), "a set part with no table");
            set.extend(t.iter().cloned());
            if r.flags & MORE == 0 {
                break;
            }
            let next = self.recv().await;
            assert_eq!(next.xid, m.xid, "every part of the set has one xid");
            m = next;
        }
        match refuse {
            Some(e) => {
                let err = ErrorMsg::reply_to(e, &m.to_bytes());
                self.send(m.xid, Body::Error(err)).await;
            }
            None => {
                let reply = MultipartReplyBody::TableFeatures(set.clone());
                self.send(m.xid, Body::MultipartReply(MultipartReply::new(reply)))
                    .await;
            }
        }
        set
    }
}

/// The tables a fake switch reports: five, unnamed, each able to go to
/// the later ones.
pub fn tables() -> Vec<TableFeatures> {
    (0..5u8)
        .map(|id| TableFeatures {
            table_id: id,
            name: String::new(),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries: 1000,
            properties: vec![TableFeatureProp::NextTables {
                miss: false,
                tables: (id + 1..5).collect(),
            }],
        })
        .collect()
}

pub fn port(no: u32) -> Port {
    Port {
        port_no: no,
        hw_addr: MacAddr([2, 0, 0, 0, 0, no as u8]),
        name: format!("p{no}"),
        ..Port::default()
    }
}

/// A packet-in as table 1 sends it for an unknown source: the frame
/// tagged with VLAN 1 (table 0 pushed it), from `in_port`.
pub fn packet_in(in_port: u32, src: MacAddr) -> PacketIn {
    let mut data = vec![0xff; 6];
    data.extend(src.0);
    data.extend([0x81, 0, 0, 1, 0x08, 0x00]);
    data.resize(60, 0);
    PacketIn {
        buffer_id: openflow::types::NO_BUFFER,
        total_len: data.len() as u16,
        reason: 0,
        table_id: 1,
        cookie: 0,
        match_: Match::new().with(Oxm::InPort(in_port)),
        data,
    }
}
