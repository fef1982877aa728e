//! The group table (spec 5.6): ALL, SELECT, INDIRECT and FAST_FAILOVER
//! groups, their counters, and GROUP_MOD semantics (chaining allowed, loops
//! refused).
//!
//! A SELECT bucket of weight 0 is never used (spec 7.3.4.2: a bucket's
//! share is its weight over the sum of the weights), and, as in Open
//! vSwitch (`bucket_is_alive` in `ofproto/ofproto-dpif-xlate.c`: "In
//! "select" groups, buckets with weight 0 are not used"), it counts as
//! dead: a SELECT group whose buckets all weigh 0 has no live bucket and
//! drops the packet (the group counter still counts it), and a fast-failover
//! bucket watching such a group is dead too. The group itself is accepted,
//! as Open vSwitch accepts it: a controller may set the weights later.

use super::flow_entry::Counters;
use super::ports::Ports;
use openflow::group::{command, group_type, Bucket, GroupMod};
use openflow::types::{group_no, port_no};
use openflow::{Action, OfError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One group.
#[derive(Debug)]
pub struct Group {
    pub id: u32,
    pub group_type: u8,
    pub buckets: Vec<Bucket>,
    pub created: u64,
    pub counters: Counters,
    pub bucket_counters: Vec<Counters>,
}

impl Group {
    /// Groups this group's buckets send to.
    pub fn children(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.iter().flat_map(|b| {
            b.actions.iter().filter_map(|a| match a {
                Action::Group(g) => Some(*g),
                _ => None,
            })
        })
    }

    /// Whether a bucket may be used now: its watched port and group are
    /// live, and in a SELECT group its weight is not 0.
    pub fn bucket_live(&self, b: &Bucket, ports: &Ports, groups: &GroupTable, depth: u8) -> bool {
        if depth > 8 {
            return false;
        }
        if self.group_type == group_type::SELECT && b.weight == 0 {
            return false;
        }
        let port_ok =
            b.watch_port == port_no::ANY || ports.get(&b.watch_port).is_some_and(|p| p.is_live());
        let group_ok = b.watch_group == group_no::ANY
            || groups.get(b.watch_group).is_some_and(|g| {
                g.buckets
                    .iter()
                    .any(|cb| g.bucket_live(cb, ports, groups, depth + 1))
            });
        port_ok && group_ok
    }
}

/// All groups, by id.
#[derive(Clone, Debug, Default)]
pub struct GroupTable {
    groups: BTreeMap<u32, Arc<Group>>,
}

/// Largest number of groups and of buckets per group we accept.
pub const MAX_GROUPS: usize = 65536;
pub const MAX_BUCKETS: usize = 1024;

impl GroupTable {
    pub fn get(&self, id: u32) -> Option<&Arc<Group>> {
        self.groups.get(&id)
    }

    pub fn contains(&self, id: u32) -> bool {
        self.groups.contains_key(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Group>> {
        self.groups.values()
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Whether `from` reaches `target` through bucket group actions.
    fn reaches(&self, from: u32, target: u32, depth: usize) -> bool {
        if from == target {
            return true;
        }
        if depth > MAX_GROUPS {
            return true;
        }
        self.groups
            .get(&from)
            .is_some_and(|g| g.children().any(|c| self.reaches(c, target, depth + 1)))
    }

    /// Checks a GROUP_MOD's group type and buckets (actions are checked by
    /// the caller, which knows ports and tables).
    fn check_shape(&self, gm: &GroupMod) -> Result<(), OfError> {
        if gm.group_id > group_no::MAX {
            return Err(OfError::GMFC_INVALID_GROUP);
        }
        if gm.group_type > group_type::FF {
            return Err(OfError::GMFC_BAD_TYPE);
        }
        if gm.buckets.len() > MAX_BUCKETS {
            return Err(OfError::GMFC_OUT_OF_BUCKETS);
        }
        if gm.group_type == group_type::INDIRECT && gm.buckets.len() != 1 {
            return Err(OfError::GMFC_INVALID_GROUP);
        }
        for b in &gm.buckets {
            if gm.group_type != group_type::SELECT && b.weight != 0 {
                return Err(OfError::GMFC_BAD_BUCKET);
            }
            if gm.group_type == group_type::FF {
                if b.watch_port == port_no::ANY && b.watch_group == group_no::ANY {
                    return Err(OfError::GMFC_BAD_WATCH);
                }
                if b.watch_group != group_no::ANY && !self.contains(b.watch_group) {
                    return Err(OfError::GMFC_BAD_WATCH);
                }
            }
            for a in &b.actions {
                if let Action::Group(g) = a {
                    if !self.contains(*g) && *g != gm.group_id {
                        return Err(OfError::GMFC_CHAINING_UNSUPPORTED);
                    }
                    if *g == gm.group_id || self.reaches(*g, gm.group_id, 0) {
                        return Err(OfError::GMFC_LOOP);
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies a GROUP_MOD whose bucket actions the caller has validated.
    /// Returns the ids of the groups deleted (flows using them must go).
    pub fn apply(&mut self, gm: &GroupMod, now: u64, ports: &Ports) -> Result<Vec<u32>, OfError> {
        let _ = ports;
        let make = |gm: &GroupMod| {
            Arc::new(Group {
                id: gm.group_id,
                group_type: gm.group_type,
                buckets: gm.buckets.clone(),
                created: now,
                counters: Counters::default(),
                bucket_counters: gm.buckets.iter().map(|_| Counters::default()).collect(),
            })
        };
        match gm.command {
            command::ADD => {
                self.check_shape(gm)?;
                if self.groups.contains_key(&gm.group_id) {
                    return Err(OfError::GMFC_GROUP_EXISTS);
                }
                if self.groups.len() >= MAX_GROUPS {
                    return Err(OfError::GMFC_OUT_OF_GROUPS);
                }
                self.groups.insert(gm.group_id, make(gm));
                Ok(vec![])
            }
            command::MODIFY => {
                self.check_shape(gm)?;
                if !self.groups.contains_key(&gm.group_id) {
                    return Err(OfError::GMFC_UNKNOWN_GROUP);
                }
                self.groups.insert(gm.group_id, make(gm));
                Ok(vec![])
            }
            command::DELETE => {
                let doomed: Vec<u32> = if gm.group_id == group_no::ALL {
                    self.groups.keys().copied().collect()
                } else if self.groups.contains_key(&gm.group_id) {
                    vec![gm.group_id]
                } else {
                    vec![]
                };
                // A group another group chains to cannot go alone.
                for id in &doomed {
                    let referenced = self
                        .groups
                        .values()
                        .filter(|g| !doomed.contains(&g.id))
                        .any(|g| g.children().any(|c| c == *id));
                    if referenced {
                        return Err(OfError::GMFC_CHAINED_GROUP);
                    }
                }
                for id in &doomed {
                    self.groups.remove(id);
                }
                Ok(doomed)
            }
            _ => Err(OfError::GMFC_BAD_COMMAND),
        }
    }

    /// Picks a SELECT bucket by a flow hash, honouring weights and skipping
    /// dead buckets.
    pub fn select_bucket<'g>(
        &self,
        g: &'g Group,
        hash: u64,
        ports: &Ports,
    ) -> Option<(usize, &'g Bucket)> {
        let live = |b: &Bucket| g.bucket_live(b, ports, self, 0);
        let candidates: Vec<(usize, &Bucket)> = g
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| live(b))
            .collect();
        let total: u64 = candidates.iter().map(|(_, b)| u64::from(b.weight)).sum();
        // No live bucket (every weight 0 counts as none): the packet is
        // dropped, as in Open vSwitch.
        if total == 0 {
            return None;
        }
        let mut point = hash % total;
        for (i, b) in candidates {
            let w = u64::from(b.weight);
            if point < w {
                return Some((i, b));
            }
            point -= w;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(weights: &[u16]) -> GroupMod {
        GroupMod {
            command: command::ADD,
            group_type: group_type::SELECT,
            group_id: 1,
            buckets: weights
                .iter()
                .enumerate()
                .map(|(i, w)| Bucket {
                    weight: *w,
                    ..Bucket::new(vec![Action::output(i as u32 + 2)])
                })
                .collect(),
        }
    }

    #[test]
    fn select_group_of_zero_weights_is_accepted_and_has_no_live_bucket() {
        let ports = Ports::new();
        let mut t = GroupTable::default();
        assert_eq!(t.apply(&select(&[0, 0]), 0, &ports), Ok(vec![]));
        let g = t.get(1).cloned().expect("group added");
        for hash in [0, 1, 7, u64::MAX] {
            assert!(t.select_bucket(&g, hash, &ports).is_none(), "hash {hash}");
        }
        assert!(!g.buckets.iter().any(|b| g.bucket_live(b, &ports, &t, 0)));
        // A fast-failover bucket watching it is dead too.
        let ff = GroupMod {
            group_id: 2,
            group_type: group_type::FF,
            buckets: vec![Bucket {
                watch_group: 1,
                ..Bucket::new(vec![Action::Group(1)])
            }],
            command: command::ADD,
        };
        assert_eq!(t.apply(&ff, 0, &ports), Ok(vec![]));
        let g2 = t.get(2).cloned().expect("group added");
        assert!(!g2.bucket_live(&g2.buckets[0], &ports, &t, 0));
        // One weight above 0: that bucket takes everything.
        let mut m = select(&[0, 3]);
        m.command = command::MODIFY;
        assert_eq!(t.apply(&m, 0, &ports), Ok(vec![]));
        let g = t.get(1).cloned().expect("group modified");
        for hash in 0..50 {
            assert_eq!(t.select_bucket(&g, hash, &ports).map(|(i, _)| i), Some(1));
        }
    }
}
