//! The radix tree's node arena: slots reused after eviction, ids carrying a generation so a
//! stale `NodeId` is detected instead of naming whatever node reuses the slot.

use std::collections::HashMap;

use crate::BlockId;

/// A node of the prefix tree. The root (one per tree) stands for the empty prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeId {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

pub(crate) const ROOT: u32 = 0;

/// One full block of the cache: its `block_size` token ids and the physical block holding
/// their KV. The root has no tokens and no block.
#[derive(Debug)]
pub(crate) struct Node {
    pub tokens: Box<[u32]>,
    pub block: Option<BlockId>,
    pub parent: u32,
    /// Children keyed by their block of token ids.
    pub children: HashMap<Box<[u32]>, u32>,
    /// LRU clock value of the last match or insert that went through this node.
    pub last_access: u64,
    /// Pins through this node: a pin on a node counts on it and every ancestor.
    pub pins: u64,
}

#[derive(Debug)]
pub(crate) struct Slot {
    pub generation: u32,
    pub node: Option<Node>,
}

/// Slots of nodes; slot 0 is the root and is never freed.
#[derive(Debug)]
pub(crate) struct Arena {
    pub slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Arena {
    pub fn new() -> Self {
        let root = Node {
            tokens: Box::new([]),
            block: None,
            parent: ROOT,
            children: HashMap::new(),
            last_access: 0,
            pins: 0,
        };
        Self {
            slots: vec![Slot {
                generation: 0,
                node: Some(root),
            }],
            free: Vec::new(),
            live: 0,
        }
    }

    /// Nodes other than the root.
    pub fn live(&self) -> usize {
        self.live
    }

    pub fn get(&self, index: u32) -> Option<&Node> {
        self.slots.get(index as usize)?.node.as_ref()
    }

    pub fn get_mut(&mut self, index: u32) -> Option<&mut Node> {
        self.slots.get_mut(index as usize)?.node.as_mut()
    }

    pub fn id(&self, index: u32) -> NodeId {
        let generation = self.slots.get(index as usize).map_or(0, |s| s.generation);
        NodeId { index, generation }
    }

    /// The live node a `NodeId` names, if it still exists.
    pub fn resolve(&self, id: NodeId) -> Option<&Node> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.node.as_ref()
    }

    pub fn insert(&mut self, node: Node) -> u32 {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            if let Some(slot) = self.slots.get_mut(index as usize) {
                slot.node = Some(node);
                return index;
            }
        }
        self.slots.push(Slot {
            generation: 0,
            node: Some(node),
        });
        (self.slots.len() - 1) as u32
    }

    /// Frees a non-root slot; its generation moves on so old ids go stale.
    pub fn remove(&mut self, index: u32) -> Option<Node> {
        if index == ROOT {
            return None;
        }
        let slot = self.slots.get_mut(index as usize)?;
        let node = slot.node.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(index);
        self.live -= 1;
        Some(node)
    }
}
