//! What the switch tells controllers it can do: FEATURES_REPLY,
//! OFPMP_TABLE_FEATURES, OFPMP_GROUP_FEATURES and OFPMP_METER_FEATURES,
//! derived from what the pipeline really implements, and the check of a
//! TABLE_FEATURES "set" request against it.
//!
//! Tables: the pipeline has [`N_TABLES`] = 255 tables (ids 0..=254, 254
//! being OFPTT_MAX). Open vSwitch reports 254 because it hides its table
//! 254; ours is an ordinary table that FLOW_MODs may use, so FEATURES_REPLY,
//! OFPMP_TABLE and OFPMP_TABLE_FEATURES all report 255 consistently.
//!
//! TABLE_FEATURES set: a request that asks of each table it lists only a
//! subset of what that table supports, and no more entries than it holds,
//! is accepted; the switch keeps doing a superset, which the spec allows:
//! only the listed tables' names change, capacities stay, and tables the
//! request leaves out stay as they are (a controller that redefines its
//! pipeline as tables 0-3, as Faucet's "GenericTFM" hardware does, simply
//! never uses the others). Anything else is OFPTFFC_EPERM (or BAD_TABLE,
//! BAD_METADATA). Tables have no name (an empty one) until a set gives them
//! one, as in Open vSwitch; `ofcontroller` names its pipeline's tables this
//! way.

use crate::pipeline::group::MAX_GROUPS;
use crate::pipeline::meter::{MAX_BANDS, MAX_METERS};
use crate::pipeline::table::N_TABLES;
use crate::pipeline::Pipeline;
use openflow::action::action_type;
use openflow::group::group_type;
use openflow::instruction::instruction_type;
use openflow::messages::{capabilities, SwitchFeatures};
use openflow::meter::{band_type, flags as meter_flags};
use openflow::multipart::{group_capabilities, GroupFeatures, MeterFeatures};
use openflow::oxm::OxmField;
use openflow::table_features::{OxmId, TableFeatureProp, TableFeatures, TlvId};
use openflow::OfError;

/// FEATURES_REPLY `capabilities`: the statistics Open vSwitch offers.
pub const CAPABILITIES: u32 = capabilities::FLOW_STATS
    | capabilities::TABLE_STATS
    | capabilities::PORT_STATS
    | capabilities::GROUP_STATS
    | capabilities::QUEUE_STATS;

/// FEATURES_REPLY for a bridge.
pub fn switch_features(datapath_id: u64) -> SwitchFeatures {
    SwitchFeatures {
        datapath_id,
        n_buffers: 0,
        n_tables: N_TABLES as u8,
        auxiliary_id: 0,
        capabilities: CAPABILITIES,
        reserved: 0,
    }
}

/// Bitmap of every standard action type (all are implemented).
fn action_bitmap() -> u32 {
    action_type::ALL.iter().fold(0, |m, t| m | (1 << t))
}

/// OFPMP_GROUP_FEATURES: all four group types, weighted and live-checked
/// selection, chaining; every action in every group type.
pub fn group_features() -> GroupFeatures {
    let max = MAX_GROUPS as u32;
    let a = action_bitmap();
    GroupFeatures {
        types: (1 << group_type::ALL)
            | (1 << group_type::SELECT)
            | (1 << group_type::INDIRECT)
            | (1 << group_type::FF),
        capabilities: group_capabilities::SELECT_WEIGHT
            | group_capabilities::SELECT_LIVENESS
            | group_capabilities::CHAINING,
        max_groups: [max; 4],
        actions: [a; 4],
    }
}

/// OFPMP_METER_FEATURES: DROP and DSCP_REMARK bands, kbps or pps, bursts,
/// statistics.
pub fn meter_features() -> MeterFeatures {
    MeterFeatures {
        max_meter: MAX_METERS,
        band_types: (1 << band_type::DROP) | (1 << band_type::DSCP_REMARK),
        capabilities: u32::from(
            meter_flags::KBPS | meter_flags::PKTPS | meter_flags::BURST | meter_flags::STATS,
        ),
        max_bands: MAX_BANDS as u8,
        max_color: 0,
    }
}

/// Fields set_field may change (the pipeline refuses in_port, in_phy_port
/// and ipv6_exthdr).
fn settable(f: OxmField) -> bool {
    !matches!(
        f,
        OxmField::InPort | OxmField::InPhyPort | OxmField::Ipv6Exthdr
    )
}

/// The properties of table `id`, for the miss entry (`miss`) or the others.
/// Both are the same: a table-miss entry may do anything another may.
fn props_for(id: u8, miss: bool) -> Vec<TableFeatureProp> {
    let last = usize::from(id) + 1 >= N_TABLES;
    let instructions = instruction_type::ALL
        .iter()
        .filter(|t| !(last && **t == instruction_type::GOTO_TABLE))
        .map(|t| TlvId::new(*t))
        .collect();
    let next: Vec<u8> = ((usize::from(id) + 1)..N_TABLES).map(|t| t as u8).collect();
    let actions: Vec<TlvId> = action_type::ALL.iter().map(|t| TlvId::new(*t)).collect();
    let setfields: Vec<OxmId> = OxmField::ALL
        .iter()
        .filter(|f| settable(**f))
        .map(|f| OxmId::basic(*f, false))
        .collect();
    vec![
        TableFeatureProp::Instructions {
            miss,
            ids: instructions,
        },
        TableFeatureProp::NextTables { miss, tables: next },
        TableFeatureProp::WriteActions {
            miss,
            ids: actions.clone(),
        },
        TableFeatureProp::ApplyActions { miss, ids: actions },
        TableFeatureProp::WriteSetfield {
            miss,
            ids: setfields.clone(),
        },
        TableFeatureProp::ApplySetfield {
            miss,
            ids: setfields,
        },
    ]
}

/// One table's features: every OpenFlow-basic field matchable (masked
/// where the field allows arbitrary masks, as Open vSwitch marks them) and
/// wildcardable, every instruction, action and settable field.
pub fn table_features_of(p: &Pipeline, id: u8) -> TableFeatures {
    let (name, max_entries) = p
        .table(id)
        .map(|t| (t.name.clone(), t.max_entries))
        .unwrap_or_else(|| (String::new(), 0));
    let mut properties = Vec::new();
    let (a, b) = (props_for(id, false), props_for(id, true));
    // Spec order: each property followed by its _MISS twin.
    for (x, y) in a.into_iter().zip(b) {
        properties.push(x);
        properties.push(y);
    }
    // MATCH and WILDCARDS come after the action properties, by type number.
    let pos = properties
        .iter()
        .position(|p| matches!(p, TableFeatureProp::WriteSetfield { .. }))
        .unwrap_or(properties.len());
    let matches = OxmField::ALL
        .iter()
        .map(|f| OxmId::basic(*f, f.maskable()))
        .collect();
    let wildcards = OxmField::ALL
        .iter()
        .map(|f| OxmId::basic(*f, false))
        .collect();
    properties.insert(pos, TableFeatureProp::Wildcards(wildcards));
    properties.insert(pos, TableFeatureProp::Match(matches));
    TableFeatures {
        table_id: id,
        name,
        metadata_match: u64::MAX,
        metadata_write: u64::MAX,
        config: 0,
        max_entries,
        properties,
    }
}

/// Every table's features.
pub fn all_table_features(p: &Pipeline) -> Vec<TableFeatures> {
    (0..N_TABLES)
        .map(|t| table_features_of(p, t as u8))
        .collect()
}

/// Whether the requested property asks for no more than `ours` offers.
fn prop_subset(req: &TableFeatureProp, ours: &[TableFeatureProp]) -> Result<(), OfError> {
    use TableFeatureProp as P;
    let Some(have) = ours.iter().find(|o| o.prop_type() == req.prop_type()) else {
        return match req {
            P::Experimenter { .. } | P::Unknown { .. } => Err(OfError::TFFC_BAD_TYPE),
            _ => Err(OfError::TFFC_EPERM),
        };
    };
    let tlv_sub = |a: &[TlvId], b: &[TlvId]| a.iter().all(|x| b.iter().any(|y| y.typ == x.typ));
    // A field asked for with a mask needs our mask; without, any entry does.
    // In WILDCARDS the mask bit means nothing (a field may be left out of a
    // match or not): Faucet sets it on eth_dst there, Open vSwitch reports
    // none, so it is not compared.
    let oxm_sub = |a: &[OxmId], b: &[OxmId], masks: bool| {
        a.iter().all(|x| {
            b.iter().any(|y| {
                y.class() == x.class()
                    && y.field() == x.field()
                    && y.experimenter == x.experimenter
                    && (!masks || y.hasmask() || !x.hasmask())
            })
        })
    };
    let ok = match (req, have) {
        (P::Instructions { ids: a, .. }, P::Instructions { ids: b, .. })
        | (P::WriteActions { ids: a, .. }, P::WriteActions { ids: b, .. })
        | (P::ApplyActions { ids: a, .. }, P::ApplyActions { ids: b, .. }) => tlv_sub(a, b),
        (P::NextTables { tables: a, .. }, P::NextTables { tables: b, .. }) => {
            a.iter().all(|t| b.contains(t))
        }
        (P::Wildcards(a), P::Wildcards(b)) => oxm_sub(a, b, false),
        (P::Match(a), P::Match(b))
        | (P::WriteSetfield { ids: a, .. }, P::WriteSetfield { ids: b, .. })
        | (P::ApplySetfield { ids: a, .. }, P::ApplySetfield { ids: b, .. }) => oxm_sub(a, b, true),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(OfError::TFFC_EPERM)
    }
}

/// Checks a TABLE_FEATURES set request (not empty: an empty one is a
/// get); on success returns the new names of the tables it lists (the only
/// thing a set changes).
pub fn check_table_features_set(
    p: &Pipeline,
    req: &[TableFeatures],
) -> Result<Vec<(u8, String)>, OfError> {
    let mut seen = [false; 256];
    for t in req {
        if usize::from(t.table_id) >= N_TABLES {
            return Err(OfError::TFFC_BAD_TABLE);
        }
        if std::mem::replace(&mut seen[usize::from(t.table_id)], true) {
            return Err(OfError::TFFC_EPERM);
        }
    }
    let mut names = Vec::with_capacity(req.len());
    for t in req {
        let ours = table_features_of(p, t.table_id);
        // Fewer entries than the table holds is a subset too (the table
        // keeps its capacity); more is not.
        if t.max_entries > ours.max_entries {
            return Err(OfError::TFFC_EPERM);
        }
        if t.metadata_match & !ours.metadata_match != 0
            || t.metadata_write & !ours.metadata_write != 0
        {
            return Err(OfError::TFFC_BAD_METADATA);
        }
        for prop in &t.properties {
            prop_subset(prop, &ours.properties)?;
        }
        names.push((t.table_id, t.name.clone()));
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::table_features::prop_type;

    #[test]
    fn table_features_shape() {
        let p = Pipeline::new();
        let all = all_table_features(&p);
        assert_eq!(all.len(), 255);
        let t0 = &all[0];
        let types: Vec<u16> = t0.properties.iter().map(|x| x.prop_type()).collect();
        assert_eq!(
            types,
            vec![
                prop_type::INSTRUCTIONS,
                prop_type::INSTRUCTIONS_MISS,
                prop_type::NEXT_TABLES,
                prop_type::NEXT_TABLES_MISS,
                prop_type::WRITE_ACTIONS,
                prop_type::WRITE_ACTIONS_MISS,
                prop_type::APPLY_ACTIONS,
                prop_type::APPLY_ACTIONS_MISS,
                prop_type::MATCH,
                prop_type::WILDCARDS,
                prop_type::WRITE_SETFIELD,
                prop_type::WRITE_SETFIELD_MISS,
                prop_type::APPLY_SETFIELD,
                prop_type::APPLY_SETFIELD_MISS,
            ]
        );
        let last = &all[254];
        assert!(last.properties.iter().any(|x| matches!(
            x,
            TableFeatureProp::NextTables { tables, .. } if tables.is_empty()
        )));
        assert!(!last.properties.iter().any(|x| matches!(
            x,
            TableFeatureProp::Instructions { ids, .. }
                if ids.iter().any(|i| i.typ == instruction_type::GOTO_TABLE)
        )));
        // The set of our own features is accepted, and so is one table
        // less (the others stay as they are); more entries than a table
        // holds are not, fewer are.
        assert!(check_table_features_set(&p, &all).is_ok());
        assert_eq!(check_table_features_set(&p, &all[1..]).unwrap().len(), 254);
        let mut more = all.clone();
        more[3].max_entries += 1;
        assert_eq!(
            check_table_features_set(&p, &more),
            Err(OfError::TFFC_EPERM)
        );
        more[3].max_entries = 5;
        assert!(check_table_features_set(&p, &more).is_ok());
        let mut twice = all[..2].to_vec();
        twice[1].table_id = 0;
        assert_eq!(
            check_table_features_set(&p, &twice),
            Err(OfError::TFFC_EPERM)
        );
        let mut fewer = all.clone();
        fewer[7].properties.truncate(3);
        fewer[7].name = "seven".into();
        assert_eq!(
            check_table_features_set(&p, &fewer).map(|n| n[7].clone()),
            Ok((7, "seven".to_string()))
        );
        let mut bad = all;
        bad[254].properties.push(TableFeatureProp::NextTables {
            miss: false,
            tables: vec![3],
        });
        assert_eq!(check_table_features_set(&p, &bad), Err(OfError::TFFC_EPERM));
    }

    /// Faucet's "GenericTFM" request, as captured: it redefines tables 0-3
    /// only (vlan, eth_src, eth_dst, flood), with 32-96 entries each,
    /// config 3 and masked OXM ids of length 0; accepted, naming the four.
    #[test]
    fn faucet_generic_tfm_set_is_accepted() {
        let hex: String = include_str!("testdata/faucet_table_features_set.hex")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        assert_eq!(bytes.len(), 880);
        let m = openflow::Message::decode(&bytes).expect("Faucet's request decodes");
        let openflow::message::Body::MultipartRequest(r) = m.body else {
            panic!("not a multipart request: {m:?}");
        };
        let openflow::multipart::MultipartRequestBody::TableFeatures(tables) = r.body else {
            panic!("not TABLE_FEATURES: {r:?}");
        };
        let entries: Vec<u32> = tables.iter().map(|t| t.max_entries).collect();
        assert_eq!(entries, [32, 64, 64, 96]);
        let p = Pipeline::new();
        let names = check_table_features_set(&p, &tables).expect("accepted");
        assert_eq!(
            names,
            [
                (0, "vlan".to_string()),
                (1, "eth_src".to_string()),
                (2, "eth_dst".to_string()),
                (3, "flood".to_string())
            ]
        );
    }

    #[test]
    fn features_match_ovs_where_alike() {
        assert_eq!(CAPABILITIES, 0x4f);
        let g = group_features();
        assert_eq!(g.types, 0xf);
        assert_eq!(g.capabilities, 7);
        let m = meter_features();
        assert_eq!(m.band_types, 0b110);
        assert_eq!(m.capabilities, 0xf);
    }
}
