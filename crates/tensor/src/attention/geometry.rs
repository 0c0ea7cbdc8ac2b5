//! The sizes of one call and the query rows of one task; input validation.

use super::{AttnSeq, MAX_HEAD_DIM, MAX_ROWS, PART_KEYS, TASK_ACC_VALUES};
use crate::paged_kv::{KvLayout, PagedKvLayer};
use crate::Error;

/// Sizes shared by every task of one call.
#[derive(Clone, Copy)]
pub(super) struct Geometry {
    pub(super) n_heads: usize,
    pub(super) head_dim: usize,
    /// Query heads per kv head.
    pub(super) group: usize,
    pub(super) n_kv_heads: usize,
    pub(super) block_size: usize,
    /// Query rows per task.
    pub(super) rows_per_task: usize,
    /// Keys per partition (a multiple of block_size).
    pub(super) part_len: usize,
    pub(super) scale: f32,
}

impl Geometry {
    /// Row chunks of one sequence (per kv head).
    pub(super) fn chunks_of(&self, s: &AttnSeq) -> usize {
        (s.n_tokens * self.group).div_ceil(self.rows_per_task)
    }

    /// Unsplit tasks (kv heads × row chunks) of one sequence.
    pub(super) fn tasks_of(&self, s: &AttnSeq) -> usize {
        self.n_kv_heads * self.chunks_of(s)
    }
}

/// The query rows of one task: rows `r0..r0 + nr` of kv head `kv_head`'s group in a sequence.
#[derive(Clone, Copy)]
pub(super) struct Rows {
    pub(super) r0: usize,
    pub(super) nr: usize,
    /// Position of the sequence's first new token.
    pub(super) first_pos: usize,
    pub(super) token_start: usize,
    pub(super) kv_head: usize,
}

impl Rows {
    pub(super) fn new(geo: &Geometry, seq: &AttnSeq, kv_head: usize, chunk: usize) -> Rows {
        let r0 = chunk * geo.rows_per_task;
        let r1 = (r0 + geo.rows_per_task).min(seq.n_tokens * geo.group);
        Rows {
            r0,
            nr: r1 - r0,
            first_pos: seq.ctx_len - seq.n_tokens,
            token_start: seq.token_start,
            kv_head,
        }
    }

    /// Offset in `q` / `out` of row r: token (r0 + r) / g of the sequence, head
    /// kv_head * g + (r0 + r) % g.
    #[inline(always)]
    pub(super) fn q_off(&self, geo: &Geometry, r: usize) -> usize {
        let g = geo.group;
        let (t, gi) = ((self.r0 + r) / g, (self.r0 + r) % g);
        (self.token_start + t) * geo.n_heads * geo.head_dim + (self.kv_head * g + gi) * geo.head_dim
    }

    /// Position of row r's token (it sees keys `0..=pos`).
    #[inline(always)]
    pub(super) fn pos(&self, geo: &Geometry, r: usize) -> usize {
        self.first_pos + (self.r0 + r) / geo.group
    }

    /// Keys the last (latest) row sees.
    pub(super) fn n_keys(&self, geo: &Geometry) -> usize {
        self.pos(geo, self.nr - 1) + 1
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn validate(
    q: &[f32],
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[AttnSeq],
    n_heads: usize,
    scale: f32,
    out: &[f32],
) -> Result<Geometry, Error> {
    layout.check_layer(layer)?;
    let (hd, nkv, bs) = (layout.head_dim, layout.n_kv_heads, layout.block_size);
    if n_heads == 0 || !n_heads.is_multiple_of(nkv) {
        return Err(Error::Shape(format!(
            "paged_attention: n_heads {n_heads} is not a positive multiple of n_kv_heads {nkv}"
        )));
    }
    if hd > MAX_HEAD_DIM {
        return Err(Error::Shape(format!(
            "paged_attention: head_dim {hd} exceeds {MAX_HEAD_DIM}"
        )));
    }
    let q_stride = n_heads * hd;
    if !q.len().is_multiple_of(q_stride) || out.len() != q.len() {
        return Err(Error::Shape(format!(
            "paged_attention: q {} / out {} values, expected equal multiples of n_heads*head_dim = {q_stride}",
            q.len(),
            out.len()
        )));
    }
    let n_rows = q.len() / q_stride;
    for (si, s) in seqs.iter().enumerate() {
        let bad = |msg: String| Err(Error::BadSequence { seq: si, msg });
        match s.token_start.checked_add(s.n_tokens) {
            Some(end) if end <= n_rows => {}
            _ => {
                return bad(format!(
                    "tokens {}+{} exceed the {n_rows} rows of q",
                    s.token_start, s.n_tokens
                ))
            }
        }
        if s.n_tokens > s.ctx_len {
            return bad(format!(
                "{} new tokens exceed ctx_len {}",
                s.n_tokens, s.ctx_len
            ));
        }
        let need = s.ctx_len.div_ceil(bs);
        if s.block_table.len() < need {
            return bad(format!(
                "block table has {} blocks, ctx_len {} needs {need} of {bs} slots",
                s.block_table.len(),
                s.ctx_len
            ));
        }
        if let Some((index, &block)) = s.block_table[..need]
            .iter()
            .enumerate()
            .find(|(_, &b)| b as usize >= layout.num_blocks)
        {
            return Err(Error::BlockOutOfRange {
                seq: si,
                index,
                block,
                num_blocks: layout.num_blocks,
            });
        }
    }
    // Disjoint token ranges (tasks of different sequences write different rows of `out`).
    let sorted = seqs
        .windows(2)
        .all(|w| w[0].token_start + w[0].n_tokens <= w[1].token_start);
    if !sorted {
        for (i, a) in seqs.iter().enumerate() {
            for b in &seqs[..i] {
                let overlap = a.token_start < b.token_start + b.n_tokens
                    && b.token_start < a.token_start + a.n_tokens;
                if overlap && a.n_tokens > 0 && b.n_tokens > 0 {
                    return Err(Error::BadSequence {
                        seq: i,
                        msg: "token rows overlap another sequence's".into(),
                    });
                }
            }
        }
    }
    let rows_per_task = (TASK_ACC_VALUES / hd).clamp(1, MAX_ROWS);
    Ok(Geometry {
        part_len: (PART_KEYS / bs).max(1) * bs,
        n_heads,
        head_dim: hd,
        group: n_heads / nkv,
        n_kv_heads: nkv,
        block_size: bs,
        rows_per_task,
        scale,
    })
}
