//! Sharing identical instruction lists between flow entries.
//!
//! Why: most flows of a big table carry one of a few instruction lists
//! (`goto_table:1`; `pop_vlan,output:3`: a learning controller installs one
//! per port), and a list of its own costs a flow 100 to 150 bytes of heap
//! (the shared slice and each instruction's action vector): a third of what
//! a flow costs in all. Sharing one list among every flow that carries it
//! brings 100,000 flows under 400 bytes each in the daemon.
//!
//! How: a direct-mapped cache of `SLOTS` (4,096) slots, indexed by a hash of the
//! encoded list, each holding a `Weak` to a list in use. A slot that still
//! holds an equal list gives it out; otherwise a new list is made and takes
//! the slot. The cache has a fixed size and needs no cleaning: a list no
//! flow uses any more just fails to upgrade. Tables whose flows all have
//! different lists pay one hash per FLOW_MOD and nothing per flow.

use openflow::instruction::Instruction;
use std::sync::{Arc, Weak};

/// Number of cached lists.
const SLOTS: usize = 4096;

/// The cache; only the control plane uses it.
#[derive(Debug, Default)]
pub struct InstructionInterner {
    /// Allocated on first use.
    slots: Vec<Option<Weak<[Instruction]>>>,
    /// Reused buffer for encoding the list to hash it.
    scratch: Vec<u8>,
}

impl InstructionInterner {
    /// A shared list equal to `list`.
    pub fn intern(&mut self, list: &[Instruction]) -> Arc<[Instruction]> {
        if self.slots.is_empty() {
            self.slots = vec![None; SLOTS];
        }
        self.scratch.clear();
        Instruction::encode_list(list, &mut self.scratch);
        let slot = (hash(&self.scratch) % SLOTS as u64) as usize;
        if let Some(shared) = self.slots[slot].as_ref().and_then(Weak::upgrade) {
            if *shared == *list {
                return shared;
            }
        }
        let fresh: Arc<[Instruction]> = list.to_vec().into();
        self.slots[slot] = Some(Arc::downgrade(&fresh));
        fresh
    }
}

/// A fast hash of encoded bytes (FNV-style multiply-xor over 8-byte words).
fn hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ (h >> 32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openflow::Action;

    fn output(port: u32) -> Vec<Instruction> {
        vec![Instruction::ApplyActions(vec![
            Action::PopVlan,
            Action::output(port),
        ])]
    }

    #[test]
    fn equal_lists_are_shared_and_different_ones_are_not() {
        let mut i = InstructionInterner::default();
        let a = i.intern(&output(1));
        let b = i.intern(&output(1));
        let c = i.intern(&output(2));
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, &output(2)[..]);
        assert!(i.intern(&[]).is_empty());
    }

    #[test]
    fn a_list_nobody_uses_is_made_again() {
        let mut i = InstructionInterner::default();
        let weak = Arc::downgrade(&i.intern(&output(7)));
        assert!(weak.upgrade().is_none());
        assert_eq!(&*i.intern(&output(7)), &output(7)[..]);
    }
}
