//! `BlockPool`: the free list and reference counts of the physical KV blocks.
//!
//! A block is free exactly when its count is 0, and then it is on the free list exactly once.
//! Every holder (a sequence's block table, a radix-tree node) owns one reference; the block goes
//! back to the free list when the last one is dropped. Counts never go negative: a decref of a
//! free block is an error, and so is an incref (it would resurrect a block the free list owns).

use crate::{BlockId, Error};

#[derive(Debug, Clone)]
pub struct BlockPool {
    /// [num_blocks]
    ref_counts: Vec<u32>,
    /// Free blocks; `allocate` pops from the end (most recently freed first).
    free: Vec<BlockId>,
}

impl BlockPool {
    /// A pool of `num_blocks` free blocks, ids `0..num_blocks`; the first allocation gets 0.
    pub fn new(num_blocks: u32) -> Self {
        Self {
            ref_counts: vec![0; num_blocks as usize],
            free: (0..num_blocks).rev().map(BlockId).collect(),
        }
    }

    pub fn num_total(&self) -> usize {
        self.ref_counts.len()
    }

    pub fn num_free(&self) -> usize {
        self.free.len()
    }

    pub fn num_used(&self) -> usize {
        self.ref_counts.len() - self.free.len()
    }

    /// Takes a free block (count 1), `None` when none is left.
    pub fn allocate(&mut self) -> Option<BlockId> {
        let id = self.free.pop()?;
        if let Some(rc) = self.ref_counts.get_mut(id.index()) {
            *rc = 1;
        }
        Some(id)
    }

    /// Takes `n` blocks, all or nothing.
    pub fn allocate_n(&mut self, n: usize) -> Option<Vec<BlockId>> {
        let mut out = Vec::with_capacity(n.min(self.free.len()));
        self.allocate_into(n, &mut out).then_some(out)
    }

    /// Appends `n` newly allocated blocks to `out`, all or nothing; `false` (and `out`
    /// untouched) when fewer than `n` are free.
    pub fn allocate_into(&mut self, n: usize, out: &mut Vec<BlockId>) -> bool {
        if n > self.free.len() {
            return false;
        }
        for _ in 0..n {
            if let Some(id) = self.allocate() {
                out.push(id);
            }
        }
        true
    }

    /// Adds a reference to a block in use; returns the new count.
    pub fn incref(&mut self, id: BlockId) -> Result<u32, Error> {
        let rc = self.count_mut(id)?;
        if *rc == 0 {
            return Err(Error::BlockIsFree {
                block: id,
                op: "incref",
            });
        }
        *rc = rc
            .checked_add(1)
            .ok_or(Error::RefCountOverflow { block: id })?;
        Ok(*rc)
    }

    /// Drops a reference; at 0 the block returns to the free list. Returns the new count.
    pub fn decref(&mut self, id: BlockId) -> Result<u32, Error> {
        let rc = self.count_mut(id)?;
        if *rc == 0 {
            return Err(Error::BlockIsFree {
                block: id,
                op: "decref",
            });
        }
        *rc -= 1;
        let left = *rc;
        if left == 0 {
            self.free.push(id);
        }
        Ok(left)
    }

    /// The block's reference count; 0 for a free block or an id outside the pool.
    pub fn ref_count(&self, id: BlockId) -> u32 {
        self.ref_counts.get(id.index()).copied().unwrap_or(0)
    }

    /// Whether `id` is a block of this pool with no reference.
    pub fn is_free(&self, id: BlockId) -> bool {
        self.ref_counts.get(id.index()) == Some(&0)
    }

    /// The free list, for audits.
    pub fn free_blocks(&self) -> &[BlockId] {
        &self.free
    }

    fn count_mut(&mut self, id: BlockId) -> Result<&mut u32, Error> {
        let num_blocks = self.ref_counts.len();
        self.ref_counts
            .get_mut(id.index())
            .ok_or(Error::UnknownBlock {
                block: id,
                num_blocks,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_until_empty_then_none() {
        let mut p = BlockPool::new(3);
        assert_eq!(p.allocate(), Some(BlockId(0)));
        assert_eq!(p.allocate_n(2), Some(vec![BlockId(1), BlockId(2)]));
        assert_eq!(p.allocate(), None);
        assert_eq!((p.num_free(), p.num_used()), (0, 3));
    }

    #[test]
    fn allocate_n_is_all_or_nothing() {
        let mut p = BlockPool::new(4);
        let _a = p.allocate().unwrap();
        assert_eq!(p.allocate_n(4), None);
        assert_eq!(p.num_free(), 3);
        assert_eq!(p.allocate_n(0), Some(vec![]));
        assert_eq!(p.allocate_n(3).map(|v| v.len()), Some(3));
    }

    #[test]
    fn refcounts_free_at_zero_and_never_go_negative() {
        let mut p = BlockPool::new(2);
        let b = p.allocate().unwrap();
        assert_eq!(p.incref(b), Ok(2));
        assert_eq!(p.decref(b), Ok(1));
        assert!(!p.is_free(b));
        assert_eq!(p.decref(b), Ok(0));
        assert!(p.is_free(b));
        assert_eq!(p.num_free(), 2);
        assert_eq!(
            p.decref(b),
            Err(Error::BlockIsFree {
                block: b,
                op: "decref"
            })
        );
        assert_eq!(
            p.incref(b),
            Err(Error::BlockIsFree {
                block: b,
                op: "incref"
            })
        );
        assert_eq!(p.ref_count(b), 0);
        assert_eq!(p.num_free(), 2, "errors change nothing");
        assert_eq!(
            p.incref(BlockId(9)),
            Err(Error::UnknownBlock {
                block: BlockId(9),
                num_blocks: 2
            })
        );
        assert_eq!(p.ref_count(BlockId(9)), 0);
    }
}
