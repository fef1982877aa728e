//! Naming a switch's flow tables, so that a person reading the switch sees
//! what each table is for: `ovs-ofctl --names dump-flows` (and `ofswitch
//! ofctl --names dump-flows`) print `table=vlan`, `table="eth_src"`,
//! `goto_table:flood` instead of bare numbers.
//!
//! Why a TABLE_FEATURES "set", and why read-modify-write: OpenFlow 1.3 has
//! one way to name a table, the `name` of its `ofp_table_features`, and a
//! TABLE_FEATURES request with a body *replaces* the switch's whole table
//! configuration (spec 7.3.5.5.1). A set naming only our four tables would
//! ask the switch to drop every other table and every capability we did
//! not list; Open vSwitch 3.1 refuses any set that changes the number of
//! tables, `max_entries`, or asks for a capability it lacks (OFPTFFC_EPERM),
//! and otherwise changes only the names (`handle_table_features_change` in
//! ofproto.c; `ofswitch` does the same, and also takes a set of fewer
//! tables or entries, keeping the rest as it is). So the controller asks for the
//! switch's own list (an empty-bodied request), changes the names of the
//! pipeline's tables, and sends the whole list back, which is what
//! `ovs-ofctl -O OpenFlow13 mod-table BR N name:NAME` does too. The list is big
//! (Open vSwitch's 254 tables take about 1.3 MB), so the set goes out as
//! several messages under one xid, each but the last flagged
//! OFPMPF_REQ_MORE ([`openflow::multipart::MultipartRequest::table_features_set`]),
//! and the switch answers it once (with its new list, or an error).
//!
//! Why it is best effort: names are for people; forwarding does not depend
//! on them. A switch may refuse the set (a hardware pipeline, Open vSwitch
//! with names already set through OVSDB's Flow_Table, a switch without
//! TABLE_FEATURES support), and then the resync goes on as if nothing had
//! happened, with one log line. The naming runs after the pipeline's flows
//! are installed, so it never delays forwarding.
//!
//! Why the set is skipped when nothing changes: a controller that
//! reconnects to a switch finds its tables already named and need not
//! rewrite a megabyte of features.
//!
//! Faucet names its tables the same way where it programs a pipeline
//! through TABLE_FEATURES (its "table features message" hardware); it does
//! not on Open vSwitch, where `dump-flows` then shows numbers.

use crate::app::Switch;
use crate::net::driver::RequestError;
use openflow::message::{Body, Message, MAX_MESSAGE_LEN};
use openflow::multipart::{MultipartReplyBody, MultipartRequest, MultipartRequestBody};
use openflow::table_features::TableFeatures;

/// What naming did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Naming {
    /// The switch took the set: the names are there now.
    Named {
        /// How many messages the set took.
        parts: usize,
    },
    /// Every table already had its name; nothing was sent.
    Unchanged,
}

/// Why the tables are not named.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum NamingError {
    /// The switch refused the request or the set, or the connection failed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The switch's reply lists none of the tables to name.
    #[error("the switch has no table {0}")]
    NoSuchTable(u8),
    /// A table description does not fit in one message (it cannot be sent
    /// back).
    #[error("a table's features do not fit in one OpenFlow message")]
    TooBig,
}

/// The longest name OpenFlow carries (`OFP_MAX_TABLE_NAME_LEN` less the
/// terminating NUL).
pub const MAX_NAME_LEN: usize = 31;

/// Gives the tables in `tables` the names in `names`; whether anything
/// changed. A name longer than [`MAX_NAME_LEN`] bytes is cut there (on a
/// character boundary). A table of `names` that `tables` lacks is an error.
pub fn rename(tables: &mut [TableFeatures], names: &[(u8, &str)]) -> Result<bool, NamingError> {
    let mut changed = false;
    for &(id, name) in names {
        let name = truncate(name);
        let t = tables
            .iter_mut()
            .find(|t| t.table_id == id)
            .ok_or(NamingError::NoSuchTable(id))?;
        if t.name != name {
            t.name = name.to_string();
            changed = true;
        }
    }
    Ok(changed)
}

fn truncate(name: &str) -> &str {
    let mut end = name.len().min(MAX_NAME_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Every table description in a TABLE_FEATURES reply (all its parts).
pub fn tables_of(reply: Vec<Message>) -> Vec<TableFeatures> {
    let mut all = Vec::new();
    for m in reply {
        if let Body::MultipartReply(r) = m.body {
            if let MultipartReplyBody::TableFeatures(t) = r.body {
                all.extend(t);
            }
        }
    }
    all
}

/// The messages of a TABLE_FEATURES set carrying `tables`.
pub fn set_parts(tables: Vec<TableFeatures>) -> Result<Vec<Body>, NamingError> {
    Ok(
        MultipartRequest::table_features_set(tables, MAX_MESSAGE_LEN)
            .ok_or(NamingError::TooBig)?
            .into_iter()
            .map(Body::MultipartRequest)
            .collect(),
    )
}

/// Names the switch's tables `names` (table id, name): asks for its table
/// features, renames, and sends them all back as a set, awaiting the
/// switch's answer. See the module docs.
pub async fn name_tables(sw: &Switch, names: &[(u8, &str)]) -> Result<Naming, NamingError> {
    let reply = sw
        .request(Body::MultipartRequest(MultipartRequest::new(
            MultipartRequestBody::TableFeatures(Vec::new()),
        )))
        .await?;
    let mut tables = tables_of(reply);
    if !rename(&mut tables, names)? {
        return Ok(Naming::Unchanged);
    }
    let parts = set_parts(tables)?;
    let n = parts.len();
    sw.request_parts(parts).await?;
    Ok(Naming::Named { parts: n })
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::multipart::{MultipartReply, MORE};
    use openflow::table_features::TableFeatureProp;

    fn table(id: u8, name: &str) -> TableFeatures {
        TableFeatures {
            table_id: id,
            name: name.into(),
            metadata_match: u64::MAX,
            metadata_write: u64::MAX,
            config: 0,
            max_entries: 1_000_000,
            properties: vec![
                TableFeatureProp::NextTables {
                    miss: false,
                    tables: (id.saturating_add(1)..=253).collect(),
                },
                // Room for the fields and actions a real switch lists.
                TableFeatureProp::Unknown {
                    typ: 0x7fff,
                    data: vec![0; 400],
                },
            ],
        }
    }

    const NAMES: [(u8, &str); 2] = [(0, "vlan"), (1, "eth_src")];

    #[test]
    fn only_names_change_and_only_when_needed() {
        let mut tables: Vec<_> = (0..=253).map(|i| table(i, "")).collect();
        let before = tables.clone();
        assert_eq!(rename(&mut tables, &NAMES), Ok(true));
        assert_eq!(
            (tables[0].name.as_str(), tables[1].name.as_str()),
            ("vlan", "eth_src")
        );
        for (a, b) in tables.iter().zip(&before) {
            assert_eq!(
                (a.table_id, &a.properties, a.max_entries),
                (b.table_id, &b.properties, b.max_entries)
            );
        }
        assert!(tables[2..] == before[2..]);
        // Already named: nothing to send.
        assert_eq!(rename(&mut tables, &NAMES), Ok(false));
        // A table the switch does not have.
        assert_eq!(
            rename(&mut tables[..1], &NAMES),
            Err(NamingError::NoSuchTable(1))
        );
        // Names are cut to what OpenFlow carries.
        let long = "é".repeat(20);
        rename(&mut tables, &[(5, long.as_str())]).expect("renamed");
        assert_eq!(tables[5].name, "é".repeat(15));
    }

    #[test]
    fn replies_are_read_and_sets_split() {
        let all: Vec<_> = (0..=253).map(|i| table(i, "")).collect();
        let reply: Vec<Message> = all
            .chunks(100)
            .map(|c| {
                Message::new(
                    3,
                    Body::MultipartReply(MultipartReply {
                        flags: MORE,
                        body: MultipartReplyBody::TableFeatures(c.to_vec()),
                    }),
                )
            })
            .chain([Message::new(3, Body::BarrierReply)])
            .collect();
        assert_eq!(tables_of(reply), all);
        let parts = set_parts(all).expect("fits");
        assert!(parts.len() > 1);
        assert!(parts
            .iter()
            .all(|b| Message::new(1, b.clone()).to_bytes().len() <= MAX_MESSAGE_LEN));
    }
}
