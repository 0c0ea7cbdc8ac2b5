//! Self-attention over the paged KV cache, shared by the decoder architectures: write this step's
//! K/V into the cache slots, then causal (GQA) attention of every sequence's new queries over its
//! whole context.

use tensor::{paged_attention, write_kv, AttnSeq, KvLayout, PagedKvLayer, ThreadPool};

use crate::batch::ForwardBatch;
use crate::error::Result;

/// `ctx [n, n_heads * head_dim] = softmax(q·Kᵀ / sqrt(head_dim)) · V` per sequence, after storing
/// `k`, `v` at `batch.slot_mapping`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn paged_self_attention(
    pool: &ThreadPool,
    q: &[f32], // [n, n_heads, head_dim], after RoPE
    k: &[f32], // [n, n_kv_heads * head_dim], after RoPE
    v: &[f32], // [n, n_kv_heads * head_dim]
    cache: &mut PagedKvLayer,
    layout: &KvLayout,
    batch: &ForwardBatch,
    seqs: &[AttnSeq<'_>],
    n_heads: usize,
    ctx: &mut [f32], // [n, n_heads * head_dim]
) -> Result<()> {
    write_kv(cache, layout, k, v, &batch.slot_mapping)?;
    let scale = 1.0 / (layout.head_dim as f32).sqrt();
    paged_attention(pool, q, cache, layout, seqs, n_heads, scale, ctx)?;
    Ok(())
}

/// Keeps the allocation of the per-forward `AttnSeq` list between forwards (its lifetime is the
/// batch's, so the list itself cannot be stored).
#[derive(Default)]
pub(crate) struct AttnSeqBuf(Vec<AttnSeq<'static>>);

impl AttnSeqBuf {
    /// The batch's sequences as `AttnSeq`s, in the kept allocation.
    pub(crate) fn fill<'b>(&mut self, batch: &'b ForwardBatch) -> Vec<AttnSeq<'b>> {
        let mut v = relifetime(std::mem::take(&mut self.0));
        v.extend(batch.seqs.iter().map(|s| AttnSeq {
            token_start: s.token_start,
            n_tokens: s.n_tokens,
            ctx_len: s.ctx_len,
            block_table: &s.block_table,
        }));
        v
    }

    /// Returns the allocation for the next forward.
    pub(crate) fn keep(&mut self, v: Vec<AttnSeq<'_>>) {
        self.0 = relifetime(v);
    }
}

/// Empties `v` and reuses its allocation for another lifetime (an in-place collect of nothing).
/// `filter_map` (not `filter`) is what changes the element's lifetime.
#[allow(clippy::unnecessary_filter_map)]
fn relifetime<'x, 'y>(mut v: Vec<AttnSeq<'x>>) -> Vec<AttnSeq<'y>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_list_keeps_its_allocation() {
        let mut batch = ForwardBatch::default();
        batch.push_seq(&[1, 2], 0, &[0], 4, true).unwrap();
        batch.push_seq(&[3], 5, &[1, 2], 4, true).unwrap();
        let mut buf = AttnSeqBuf::default();
        let v = buf.fill(&batch);
        assert_eq!(v.len(), 2);
        assert_eq!(
            (
                v[1].token_start,
                v[1].n_tokens,
                v[1].ctx_len,
                v[1].block_table
            ),
            (2, 1, 6, &[1u32, 2][..])
        );
        let ptr = v.as_ptr() as usize;
        buf.keep(v);
        let again = buf.fill(&batch);
        assert_eq!(
            again.as_ptr() as usize,
            ptr,
            "the list must reuse its allocation"
        );
        assert_eq!(again.len(), 2);
    }
}
