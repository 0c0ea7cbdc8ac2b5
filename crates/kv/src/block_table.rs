//! `BlockTable`: the physical blocks of one sequence, in token order.
//!
//! Token position `pos` of the sequence lives in block `blocks[pos / block_size]`, at slot
//! `block * block_size + pos % block_size` of the KV tensors. The table owns one pool reference
//! per entry (shared prefix blocks included) and gives them back in [`BlockTable::free`].

use crate::{BlockId, BlockPool, Error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockTable {
    blocks: Vec<BlockId>,
    block_size: usize,
}

impl BlockTable {
    /// An empty table; `block_size` tokens per block, at least 1.
    pub fn new(block_size: usize) -> Result<Self, Error> {
        if block_size == 0 {
            return Err(Error::ZeroBlockSize);
        }
        Ok(Self {
            blocks: Vec::new(),
            block_size,
        })
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }

    pub fn blocks(&self) -> &[BlockId] {
        &self.blocks
    }

    pub fn num_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Token slots the table's blocks hold.
    pub fn capacity(&self) -> usize {
        self.blocks.len() * self.block_size
    }

    /// Blocks to allocate before the sequence can hold `n_tokens_total` tokens (0 if it can).
    pub fn blocks_needed(&self, n_tokens_total: usize) -> usize {
        n_tokens_total
            .div_ceil(self.block_size)
            .saturating_sub(self.blocks.len())
    }

    /// Grows the table to hold `new_total_len` tokens. Returns the number of blocks added, or
    /// `None` when the pool has too few free blocks (then nothing changed: wait or preempt).
    pub fn append_slots(&mut self, pool: &mut BlockPool, new_total_len: usize) -> Option<usize> {
        let n = self.blocks_needed(new_total_len);
        pool.allocate_into(n, &mut self.blocks).then_some(n)
    }

    /// Appends blocks someone else holds (a prefix-cache hit), taking one reference on each.
    /// On error the references taken so far are given back and the table is unchanged.
    pub fn extend_shared(&mut self, pool: &mut BlockPool, blocks: &[BlockId]) -> Result<(), Error> {
        for (i, &b) in blocks.iter().enumerate() {
            if let Err(e) = pool.incref(b) {
                for &taken in blocks.iter().take(i) {
                    // Undo: each of these was just incref'd, so the decref cannot fail.
                    let _ = pool.decref(taken);
                }
                return Err(e);
            }
        }
        self.blocks.extend_from_slice(blocks);
        Ok(())
    }

    /// A second table for the same first `n_tokens` tokens (`n > 1` completions of one
    /// prompt), sharing the blocks that hold them (one more reference each); blocks reserved
    /// past them are not shared. A shared, partly filled last block must be made private with
    /// [`ensure_writable`](Self::ensure_writable) before either table writes into it.
    pub fn fork(&self, pool: &mut BlockPool, n_tokens: usize) -> Result<BlockTable, Error> {
        let n_blocks = n_tokens.div_ceil(self.block_size).min(self.blocks.len());
        let mut t = BlockTable::new(self.block_size)?;
        t.extend_shared(pool, &self.blocks[..n_blocks])?;
        Ok(t)
    }

    /// KV slot of token position `pos`; `None` past the table's capacity or past `u32`.
    pub fn slot(&self, pos: usize) -> Option<u32> {
        let block = self.blocks.get(pos / self.block_size)?;
        let slot = (block.0 as u64)
            .checked_mul(self.block_size as u64)?
            .checked_add((pos % self.block_size) as u64)?;
        u32::try_from(slot).ok()
    }

    /// Appends the slots of positions `start..end` to `out` (the batch's slot mapping); `None`
    /// (and `out` as it was) when a position has no slot.
    pub fn slots_into(&self, start: usize, end: usize, out: &mut Vec<u32>) -> Option<()> {
        let before = out.len();
        for pos in start..end {
            match self.slot(pos) {
                Some(s) => out.push(s),
                None => {
                    out.truncate(before);
                    return None;
                }
            }
        }
        Some(())
    }

    /// Puts `block` at `index` without touching reference counts (the caller moves them).
    pub(crate) fn replace_block(&mut self, index: usize, block: BlockId) {
        if let Some(b) = self.blocks.get_mut(index) {
            *b = block;
        }
    }

    /// The block ids as plain `u32`s (`ForwardBatch`'s block table).
    pub fn block_ids_u32(&self) -> Vec<u32> {
        self.blocks.iter().map(|b| b.0).collect()
    }

    /// Drops the blocks not needed for the first `n_tokens_total` tokens (rollback of rejected
    /// speculative tokens, or partial preemption). Returns the number of blocks dropped.
    pub fn truncate(
        &mut self,
        pool: &mut BlockPool,
        n_tokens_total: usize,
    ) -> Result<usize, Error> {
        let keep = n_tokens_total.div_ceil(self.block_size);
        if keep >= self.blocks.len() {
            return Ok(0);
        }
        let dropped: Vec<BlockId> = self.blocks.drain(keep..).collect();
        release(pool, &dropped)?;
        Ok(dropped.len())
    }

    /// Gives back every reference and empties the table. Every block is released even when one
    /// fails (a bookkeeping bug); the first error is returned.
    pub fn free(&mut self, pool: &mut BlockPool) -> Result<(), Error> {
        let blocks = std::mem::take(&mut self.blocks);
        release(pool, &blocks)
    }
}

fn release(pool: &mut BlockPool, blocks: &[BlockId]) -> Result<(), Error> {
    let mut first = Ok(());
    for &b in blocks {
        if let Err(e) = pool.decref(b) {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_block_size_is_an_error() {
        assert_eq!(BlockTable::new(0), Err(Error::ZeroBlockSize));
    }

    #[test]
    fn grows_block_by_block_and_maps_slots() {
        let mut pool = BlockPool::new(8);
        let _skip = pool.allocate_n(3).unwrap(); // so the table's blocks are not 0, 1, ...
        let mut t = BlockTable::new(4).unwrap();
        assert_eq!(t.blocks_needed(0), 0);
        assert_eq!(t.append_slots(&mut pool, 0), Some(0));
        assert_eq!(t.blocks_needed(1), 1);
        assert_eq!(t.append_slots(&mut pool, 3), Some(1));
        assert_eq!(t.append_slots(&mut pool, 4), Some(0), "exact multiple");
        assert_eq!(t.append_slots(&mut pool, 5), Some(1));
        assert_eq!(t.blocks(), &[BlockId(3), BlockId(4)]);
        // slot = block * block_size + pos % block_size
        assert_eq!(t.slot(0), Some(12));
        assert_eq!(t.slot(3), Some(15));
        assert_eq!(t.slot(4), Some(16));
        assert_eq!(t.slot(7), Some(19));
        assert_eq!(t.slot(8), None);
        let mut slots = vec![99];
        assert_eq!(t.slots_into(2, 6, &mut slots), Some(()));
        assert_eq!(slots, vec![99, 14, 15, 16, 17]);
        assert_eq!(t.slots_into(6, 9, &mut slots), None);
        assert_eq!(slots.len(), 5);
        assert_eq!(t.block_ids_u32(), vec![3, 4]);
    }

    #[test]
    fn append_fails_whole_when_pool_is_short() {
        let mut pool = BlockPool::new(2);
        let mut t = BlockTable::new(2).unwrap();
        assert_eq!(t.append_slots(&mut pool, 5), None);
        assert_eq!(t.num_blocks(), 0);
        assert_eq!(pool.num_free(), 2);
        assert_eq!(t.append_slots(&mut pool, 4), Some(2));
    }

    #[test]
    fn shared_fork_truncate_and_free_balance() {
        let mut pool = BlockPool::new(6);
        let mut a = BlockTable::new(2).unwrap();
        a.append_slots(&mut pool, 6).unwrap();
        let mut b = a.fork(&mut pool, 6).unwrap();
        assert!(a.blocks().iter().all(|&x| pool.ref_count(x) == 2));
        let mut c = BlockTable::new(2).unwrap();
        c.extend_shared(&mut pool, &a.blocks()[..1]).unwrap();
        assert_eq!(pool.ref_count(a.blocks()[0]), 3);
        assert_eq!(b.truncate(&mut pool, 3), Ok(1));
        assert_eq!(pool.ref_count(a.blocks()[2]), 1);
        a.free(&mut pool).unwrap();
        b.free(&mut pool).unwrap();
        assert_eq!(pool.num_free(), 5);
        c.free(&mut pool).unwrap();
        assert_eq!(pool.num_free(), 6);
        assert_eq!(a.num_blocks(), 0);
    }

    #[test]
    fn extend_shared_with_a_free_block_undoes() {
        let mut pool = BlockPool::new(3);
        let held = pool.allocate().unwrap();
        let mut t = BlockTable::new(4).unwrap();
        let err = t.extend_shared(&mut pool, &[held, BlockId(2)]);
        assert!(matches!(err, Err(Error::BlockIsFree { .. })));
        assert_eq!(pool.ref_count(held), 1);
        assert_eq!(t.num_blocks(), 0);
    }

    #[test]
    fn slot_overflowing_u32_is_none() {
        let mut pool = BlockPool::new(1 << 20);
        let all = pool.allocate_n(1 << 20).unwrap();
        let mut t = BlockTable::new(1 << 13).unwrap();
        t.extend_shared(&mut pool, &all[(1 << 20) - 1..]).unwrap();
        // block 2^20 - 1 times 2^13 exceeds u32
        assert_eq!(t.slot(0), None);
    }
}
