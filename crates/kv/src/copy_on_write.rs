//! Copy-on-write of a shared, partly filled block: before a sequence writes token position
//! `n_tokens`, the block that position falls into must be its own. Full blocks shared through
//! the prefix cache are never written again; a partly filled block becomes shared through
//! `BlockTable::fork`, and a cached full block becomes "partly filled" again when a table is
//! truncated into it (rollback).

use crate::{BlockId, BlockPool, BlockTable, Error};

/// A KV copy the engine must perform before writing: every slot of `src` into `dst` (at least
/// the filled ones, positions `0..n_tokens % block_size` of the block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCopy {
    pub src: BlockId,
    pub dst: BlockId,
}

/// What [`BlockTable::ensure_writable`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyOnWrite {
    /// Nothing to do: the next write starts a new block, or the block is this table's alone.
    InPlace,
    /// The table now holds `dst` instead of the shared `src`; copy before writing.
    Copy(BlockCopy),
    /// The block is shared and no block is free: wait or preempt (nothing changed).
    NoFreeBlock,
}

impl BlockTable {
    /// Makes the block holding token position `n_tokens` (the next write) private when it is
    /// partly filled and shared with another holder.
    pub fn ensure_writable(
        &mut self,
        pool: &mut BlockPool,
        n_tokens: usize,
    ) -> Result<CopyOnWrite, Error> {
        let bs = self.block_size();
        if n_tokens % bs == 0 {
            return Ok(CopyOnWrite::InPlace);
        }
        let index = n_tokens / bs;
        let Some(&src) = self.blocks().get(index) else {
            return Ok(CopyOnWrite::InPlace); // not allocated yet: `append_slots` gives a fresh one
        };
        if pool.ref_count(src) <= 1 {
            return Ok(CopyOnWrite::InPlace);
        }
        let Some(dst) = pool.allocate() else {
            return Ok(CopyOnWrite::NoFreeBlock);
        };
        self.replace_block(index, dst);
        pool.decref(src)?;
        Ok(CopyOnWrite::Copy(BlockCopy { src, dst }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fork_then_both_write_the_shared_partial_block() {
        let mut pool = BlockPool::new(4);
        let mut a = BlockTable::new(4).unwrap();
        a.append_slots(&mut pool, 6).unwrap(); // blocks 0 (full), 1 (2 of 4 slots)
        let mut b = a.fork(&mut pool, 6).unwrap();
        assert_eq!(b.blocks(), a.blocks());
        // The first writer copies; the full block stays shared.
        assert_eq!(
            b.ensure_writable(&mut pool, 6),
            Ok(CopyOnWrite::Copy(BlockCopy {
                src: BlockId(1),
                dst: BlockId(2)
            }))
        );
        assert_eq!(b.blocks(), &[BlockId(0), BlockId(2)]);
        assert_eq!(pool.ref_count(BlockId(0)), 2);
        assert_eq!(pool.ref_count(BlockId(1)), 1);
        // The other one now owns block 1 alone and writes in place.
        assert_eq!(a.ensure_writable(&mut pool, 6), Ok(CopyOnWrite::InPlace));
        // Block boundary: the next write opens a new block, nothing to copy.
        assert_eq!(a.ensure_writable(&mut pool, 8), Ok(CopyOnWrite::InPlace));
    }

    #[test]
    fn no_free_block_changes_nothing() {
        let mut pool = BlockPool::new(2);
        let mut a = BlockTable::new(4).unwrap();
        a.append_slots(&mut pool, 6).unwrap();
        let mut b = a.fork(&mut pool, 5).unwrap();
        assert_eq!(
            b.ensure_writable(&mut pool, 5),
            Ok(CopyOnWrite::NoFreeBlock)
        );
        assert_eq!(b.blocks(), a.blocks());
        assert_eq!(pool.ref_count(BlockId(1)), 2);
    }

    #[test]
    fn fork_shares_only_the_blocks_holding_tokens() {
        let mut pool = BlockPool::new(4);
        let mut a = BlockTable::new(4).unwrap();
        a.append_slots(&mut pool, 12).unwrap(); // 3 blocks reserved, 5 tokens written
        let b = a.fork(&mut pool, 5).unwrap();
        assert_eq!(b.blocks(), &a.blocks()[..2]);
        assert_eq!(pool.ref_count(a.blocks()[2]), 1);
    }
}
