//! The output head: final RMSNorm of the rows that need logits, then `logits = h · Wᵀ` with the
//! LM head (or the tied token embedding).

use tensor::ops::{rms_norm, MatmulScratch};
use tensor::ThreadPool;

use crate::error::Result;
use crate::linear::Linear;

#[allow(clippy::too_many_arguments)]
pub(crate) fn logits_of_rows(
    pool: &ThreadPool,
    scratch: &mut MatmulScratch,
    x: &[f32], // [n, hidden] residual stream after the last layer
    rows: &[usize],
    norm: &[f32], // [hidden]
    eps: f32,
    head: &Linear,      // [vocab, hidden]
    rows_x: &mut [f32], // [rows.len(), hidden]
    rows_h: &mut [f32], // [rows.len(), hidden]
    logits: &mut [f32], // [rows.len(), vocab]
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let hidden = norm.len();
    for (dst, &r) in rows_x.chunks_exact_mut(hidden).zip(rows) {
        dst.copy_from_slice(&x[r * hidden..(r + 1) * hidden]);
    }
    rms_norm(rows_x, norm, eps, rows_h);
    head.forward(pool, rows_h, logits, scratch)
}
