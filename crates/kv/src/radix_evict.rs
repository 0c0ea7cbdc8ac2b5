//! Eviction from the prefix cache: least-recently-used unpinned leaves first.
//!
//! Only nodes whose block the tree alone holds (count 1) are taken: dropping the tree's
//! reference on a block a sequence still uses would free no memory and only lose the cache
//! entry. Evicting a leaf can make its parent a leaf, which then competes by its own LRU stamp.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::radix_node::{Node, ROOT};
use crate::{BlockPool, Error, RadixTree};

impl RadixTree {
    /// Frees up to `n_blocks_wanted` blocks; returns how many went back to the pool's free list.
    /// O(nodes · log nodes) per call.
    pub fn evict(&mut self, pool: &mut BlockPool, n_blocks_wanted: usize) -> Result<usize, Error> {
        if n_blocks_wanted == 0 {
            return Ok(0);
        }
        // Min-heap on (last access, slot).
        let mut heap: BinaryHeap<Reverse<(u64, u32)>> = self
            .arena
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let n = s.node.as_ref()?;
                (i as u32 != ROOT && evictable(n, pool))
                    .then_some(Reverse((n.last_access, i as u32)))
            })
            .collect();
        let mut freed = 0;
        while freed < n_blocks_wanted {
            let Some(Reverse((_, index))) = heap.pop() else {
                break;
            };
            if !self.arena.get(index).is_some_and(|n| evictable(n, pool)) {
                continue;
            }
            let Some(node) = self.arena.remove(index) else {
                continue;
            };
            if let Some(parent) = self.arena.get_mut(node.parent) {
                parent.children.remove(&node.tokens);
            }
            if let Some(block) = node.block {
                pool.decref(block)?;
            }
            freed += 1;
            if node.parent != ROOT {
                if let Some(parent) = self.arena.get(node.parent) {
                    if evictable(parent, pool) {
                        heap.push(Reverse((parent.last_access, node.parent)));
                    }
                }
            }
        }
        Ok(freed)
    }

    /// Blocks that `evict(pool, usize::MAX)` would free now: nodes whose whole subtree is
    /// unpinned and held by the tree alone. For admission checks (`free + evictable`).
    pub fn num_evictable(&self, pool: &BlockPool) -> usize {
        // Pre-order from the root, then children before parents.
        let mut order = Vec::with_capacity(self.arena.live() + 1);
        let mut stack = vec![ROOT];
        while let Some(i) = stack.pop() {
            order.push(i);
            if let Some(n) = self.arena.get(i) {
                stack.extend(n.children.values().copied());
            }
        }
        let mut subtree_ok = vec![false; self.arena.slots.len()];
        let mut count = 0;
        for &i in order.iter().rev() {
            let Some(n) = self.arena.get(i) else { continue };
            let children_ok = n
                .children
                .values()
                .all(|&c| subtree_ok.get(c as usize).copied().unwrap_or(false));
            let self_ok =
                i != ROOT && n.pins == 0 && n.block.is_some_and(|b| pool.ref_count(b) == 1);
            if let Some(ok) = subtree_ok.get_mut(i as usize) {
                *ok = self_ok && children_ok;
            }
            if self_ok && children_ok {
                count += 1;
            }
        }
        count
    }
}

fn evictable(n: &Node, pool: &BlockPool) -> bool {
    n.children.is_empty() && n.pins == 0 && n.block.is_some_and(|b| pool.ref_count(b) == 1)
}
