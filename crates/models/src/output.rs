//! The output head: final RMSNorm of the rows that need logits, then `logits = h · Wᵀ` with the
//! LM head (or the tied token embedding).

use tensor::ops::rms_norm;
use tensor::ThreadPool;

use crate::error::Result;
use crate::linear::Linear;
use crate::scratch::Views;
use crate::trace::Tracer;

/// `s.logits [rows.len(), vocab]` of the residual rows `rows` of `s.x` (every row's final norm is
/// computed only for a trace).
pub(crate) fn logits_of_rows(
    pool: &ThreadPool,
    s: &mut Views<'_>,
    rows: &[usize],
    norm: &[f32], // [hidden]
    eps: f32,
    head: &Linear, // [vocab, hidden]
    tr: &mut Tracer<'_, '_>,
) -> Result<()> {
    if tr.is_on() {
        rms_norm(s.x, norm, eps, s.h); // [n, hidden]
        tr.emit("final_norm_out", s.h);
    }
    if rows.is_empty() {
        return Ok(());
    }
    let hidden = norm.len();
    for (dst, &r) in s.out_x.chunks_exact_mut(hidden).zip(rows) {
        dst.copy_from_slice(&s.x[r * hidden..(r + 1) * hidden]); // [rows.len(), hidden]
    }
    rms_norm(s.out_x, norm, eps, s.out_h);
    head.forward(pool, s.out_h, s.logits, s.matmul) // [rows.len(), vocab]
}
