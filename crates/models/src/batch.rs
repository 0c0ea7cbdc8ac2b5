//! One forward pass worth of work: the new tokens of one or more sequences, where their K/V go in the
//! paged cache, and which rows need logits.

use crate::error::{Error, Result};

/// The new tokens of one sequence inside a `ForwardBatch`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSlice {
    /// First row of this sequence in `ForwardBatch::tokens`.
    pub token_start: usize,
    /// Number of new tokens (rows `token_start..token_start + n_tokens`).
    pub n_tokens: usize,
    /// Tokens of the sequence after this step (cached + new); the new ones sit at positions
    /// `ctx_len - n_tokens .. ctx_len`.
    pub ctx_len: usize,
    /// Physical block of each logical block of the sequence, in order; covers at least `ctx_len` tokens.
    pub block_table: Vec<u32>,
}

/// The input of `Model::forward`. Sequences tile the token rows in order: sequence `s` owns rows
/// `seqs[s].token_start .. + n_tokens`, and the first sequence starts at row 0.
///
/// Built with [`ForwardBatch::clear`] + [`ForwardBatch::push_seq`] each step, it allocates nothing
/// once its buffers have grown: `clear` keeps the sequences' block-table vectors for the next
/// `push_seq` calls.
#[derive(Clone, Debug, Default)]
pub struct ForwardBatch {
    /// `[n_tokens]` token ids, all sequences concatenated.
    pub tokens: Vec<u32>,
    /// `[n_tokens]` position of each token in its sequence.
    pub positions: Vec<u32>,
    pub seqs: Vec<SeqSlice>,
    /// `[n_tokens]` cache slot (`block_id * block_size + offset`) receiving each token's K/V.
    pub slot_mapping: Vec<u32>,
    /// Rows of `tokens` whose logits are returned, in this order (may be empty).
    pub logits_rows: Vec<usize>,
    /// Emptied block-table vectors of cleared sequences, reused by `push_seq`.
    spare_tables: Vec<Vec<u32>>,
}

/// Equal batches describe the same work (the spare buffers do not count).
impl PartialEq for ForwardBatch {
    fn eq(&self, other: &Self) -> bool {
        self.tokens == other.tokens
            && self.positions == other.positions
            && self.seqs == other.seqs
            && self.slot_mapping == other.slot_mapping
            && self.logits_rows == other.logits_rows
    }
}

impl Eq for ForwardBatch {}

impl ForwardBatch {
    /// Empties the batch, keeping its buffers (the block tables' too, for `push_seq`).
    pub fn clear(&mut self) {
        self.tokens.clear();
        self.positions.clear();
        for seq in self.seqs.drain(..) {
            let mut table = seq.block_table;
            table.clear();
            self.spare_tables.push(table);
        }
        self.slot_mapping.clear();
        self.logits_rows.clear();
    }

    /// Appends a sequence whose first `n_cached` tokens already have K/V in the cache and whose next
    /// tokens are `new_tokens`. Fills positions and slots from `block_table`; when `want_logits`, the
    /// last new token's row is added to `logits_rows`. The sequence's copy of `block_table` reuses
    /// a vector kept by `clear` when there is one.
    pub fn push_seq(
        &mut self,
        new_tokens: &[u32],
        n_cached: usize,
        block_table: &[u32],
        block_size: usize,
        want_logits: bool,
    ) -> Result<()> {
        let ctx_len = n_cached + new_tokens.len();
        if new_tokens.is_empty() {
            return Err(Error::Batch("push_seq with no new tokens".into()));
        }
        if block_size == 0 || block_table.len().saturating_mul(block_size) < ctx_len {
            return Err(Error::Batch(format!(
                "block table of {} blocks of {block_size} cannot hold {ctx_len} tokens",
                block_table.len()
            )));
        }
        let token_start = self.tokens.len();
        for (j, &t) in new_tokens.iter().enumerate() {
            let pos = n_cached + j;
            let pos32 = u32::try_from(pos)
                .map_err(|_| Error::Batch(format!("position {pos} exceeds u32")))?;
            let slot = slot_of(block_table, block_size, pos)?;
            self.tokens.push(t);
            self.positions.push(pos32);
            self.slot_mapping.push(slot);
        }
        let mut table = self.spare_tables.pop().unwrap_or_default();
        table.extend_from_slice(block_table);
        self.seqs.push(SeqSlice {
            token_start,
            n_tokens: new_tokens.len(),
            ctx_len,
            block_table: table,
        });
        if want_logits {
            self.logits_rows.push(self.tokens.len() - 1);
        }
        Ok(())
    }

    /// Checks the batch against itself and against a pool of `num_blocks` blocks of `block_size`
    /// tokens: equal lengths, sequences tiling the rows in order, `ctx_len ≥ n_tokens ≥ 1`, block
    /// tables long enough and inside the pool, positions `ctx_len - n_tokens ..`, each slot the one the
    /// block table gives for its position, logits rows in range.
    pub fn validate(&self, num_blocks: usize, block_size: usize) -> Result<()> {
        let n = self.tokens.len();
        if n == 0 {
            return Err(Error::Batch("no tokens".into()));
        }
        if self.positions.len() != n || self.slot_mapping.len() != n {
            return Err(Error::Batch(format!(
                "{n} tokens but {} positions and {} slots",
                self.positions.len(),
                self.slot_mapping.len()
            )));
        }
        if block_size == 0 {
            return Err(Error::Batch("block size 0".into()));
        }
        let mut next_row = 0usize;
        for (s, seq) in self.seqs.iter().enumerate() {
            if seq.token_start != next_row {
                return Err(Error::Batch(format!(
                    "sequence {s} starts at row {}, expected {next_row} (sequences must tile the rows in order)",
                    seq.token_start
                )));
            }
            if seq.n_tokens == 0 {
                return Err(Error::Batch(format!("sequence {s} has no new tokens")));
            }
            let end = seq
                .token_start
                .checked_add(seq.n_tokens)
                .filter(|&e| e <= n)
                .ok_or_else(|| {
                    Error::Batch(format!(
                        "sequence {s} rows {}+{} exceed the {n} tokens",
                        seq.token_start, seq.n_tokens
                    ))
                })?;
            if seq.ctx_len < seq.n_tokens {
                return Err(Error::Batch(format!(
                    "sequence {s}: ctx_len {} < n_tokens {}",
                    seq.ctx_len, seq.n_tokens
                )));
            }
            if seq.block_table.len().saturating_mul(block_size) < seq.ctx_len {
                return Err(Error::Batch(format!(
                    "sequence {s}: block table of {} blocks of {block_size} cannot hold ctx_len {}",
                    seq.block_table.len(),
                    seq.ctx_len
                )));
            }
            let used_blocks = seq.ctx_len.div_ceil(block_size);
            if let Some(&b) = seq
                .block_table
                .iter()
                .take(used_blocks)
                .find(|&&b| b as usize >= num_blocks)
            {
                return Err(Error::Batch(format!(
                    "sequence {s}: block {b} outside the pool of {num_blocks}"
                )));
            }
            let first_pos = seq.ctx_len - seq.n_tokens;
            for row in seq.token_start..end {
                let pos = first_pos + (row - seq.token_start);
                if self.positions[row] as usize != pos {
                    return Err(Error::Batch(format!(
                        "row {row} (sequence {s}) has position {}, expected {pos}",
                        self.positions[row]
                    )));
                }
                let slot = slot_of(&seq.block_table, block_size, pos)?;
                if self.slot_mapping[row] != slot {
                    return Err(Error::Batch(format!(
                        "row {row} (sequence {s}, position {pos}) has slot {}, its block table gives {slot}",
                        self.slot_mapping[row]
                    )));
                }
            }
            next_row = end;
        }
        if next_row != n {
            return Err(Error::Batch(format!(
                "sequences cover {next_row} of the {n} tokens"
            )));
        }
        if let Some(&r) = self.logits_rows.iter().find(|&&r| r >= n) {
            return Err(Error::Batch(format!(
                "logits row {r} out of the {n} tokens"
            )));
        }
        Ok(())
    }
}

/// The cache slot of position `pos` of a sequence with this block table.
fn slot_of(block_table: &[u32], block_size: usize, pos: usize) -> Result<u32> {
    let block = block_table
        .get(pos / block_size)
        .ok_or_else(|| Error::Batch(format!("position {pos} beyond the block table")))?;
    (*block as usize)
        .checked_mul(block_size)
        .and_then(|b| b.checked_add(pos % block_size))
        .and_then(|s| u32::try_from(s).ok())
        .ok_or_else(|| {
            Error::Batch(format!(
                "slot of block {block} offset {} exceeds u32",
                pos % block_size
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_seqs() -> ForwardBatch {
        let mut b = ForwardBatch::default();
        b.push_seq(&[1, 2, 3], 0, &[5, 2], 2, true).unwrap();
        b.push_seq(&[7], 4, &[0, 1, 3], 2, true).unwrap();
        b
    }

    #[test]
    fn push_seq_fills_positions_and_slots() {
        let b = two_seqs();
        assert_eq!(b.tokens, vec![1, 2, 3, 7]);
        assert_eq!(b.positions, vec![0, 1, 2, 4]);
        // seq 0: pos 0,1 -> block 5 (slots 10, 11); pos 2 -> block 2 (slot 4). seq 1: pos 4 -> block 3.
        assert_eq!(b.slot_mapping, vec![10, 11, 4, 6]);
        assert_eq!(b.logits_rows, vec![2, 3]);
        assert_eq!(b.seqs[1].token_start, 3);
        assert_eq!(b.seqs[1].ctx_len, 5);
        b.validate(6, 2).unwrap();
    }

    #[test]
    fn clear_then_push_seq_reuses_the_block_tables() {
        let mut b = two_seqs();
        let ptrs: Vec<*const u32> = b.seqs.iter().map(|s| s.block_table.as_ptr()).collect();
        b.clear();
        assert_eq!(
            b,
            ForwardBatch::default(),
            "cleared = empty, spares do not count"
        );
        b.push_seq(&[4], 3, &[1, 0], 2, true).unwrap();
        b.push_seq(&[8, 9], 0, &[2], 2, false).unwrap();
        assert!(ptrs.contains(&b.seqs[0].block_table.as_ptr()));
        assert!(ptrs.contains(&b.seqs[1].block_table.as_ptr()));
        // The same batch as one built from scratch.
        let mut fresh = ForwardBatch::default();
        fresh.push_seq(&[4], 3, &[1, 0], 2, true).unwrap();
        fresh.push_seq(&[8, 9], 0, &[2], 2, false).unwrap();
        assert_eq!(b, fresh);
        assert_eq!(b.slot_mapping, vec![1, 4, 5]);
        b.validate(3, 2).unwrap();
    }

    #[test]
    fn validate_rejects_inconsistencies() {
        let ok = two_seqs();
        let check = |f: &dyn Fn(&mut ForwardBatch), needle: &str| {
            let mut b = ok.clone();
            f(&mut b);
            let e = b.validate(6, 2).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should contain {needle:?}");
        };
        check(&|b| b.positions.pop().map(drop).unwrap_or(()), "positions");
        check(&|b| b.slot_mapping[0] = 11, "slot");
        check(&|b| b.seqs[0].ctx_len = 2, "ctx_len 2 < n_tokens 3");
        check(&|b| b.seqs[1].token_start = 2, "starts at row 2");
        check(&|b| b.seqs[0].block_table = vec![5], "cannot hold");
        check(&|b| b.logits_rows.push(4), "logits row 4");
        check(&|b| b.positions[3] = 3, "position 3, expected 4");
        check(&|b| drop(b.seqs.pop()), "cover 3 of the 4");
        check(&|b| b.clear(), "no tokens");
        // A block outside the pool (the pool has 6 blocks).
        let mut b = ok.clone();
        b.seqs[1].block_table[2] = 9;
        b.slot_mapping[3] = 18;
        assert!(b
            .validate(6, 2)
            .unwrap_err()
            .to_string()
            .contains("block 9 outside"));
    }
}
