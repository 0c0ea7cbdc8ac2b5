//! The quantized-weight half of [`super::matmul`]: activations quantized once per call into
//! `quant::vec_dot_type(w.dtype)`, then one `quant::vec_dot` per (row, output).

use std::sync::Mutex;

use super::matmul::{ChunkPlan, MatmulScratch};
use crate::disjoint::DisjointMut;
use crate::{Error, Tensor, ThreadPool};

/// Weight rows kept hot in cache while every activation row passes over them.
const PANEL_ROWS: usize = 16;
/// Quantize activation rows on the pool only when there are at least this many.
const PARALLEL_QUANTIZE_MIN_ROWS: usize = 8;

/// See the module doc. Shapes were checked by the caller: `x` is `[n, k]`, `w` is `[m, k]` with
/// whole blocks per row, `out` is `[n, m]`, and `n, m, k > 0`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn quant_matmul(
    pool: &ThreadPool,
    plan: ChunkPlan,
    x: &[f32],          // [n, k]
    n: usize,
    k: usize,
    w: &Tensor,         // [m, k]
    out: &mut [f32],    // [n, m]
    m: usize,
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    let wt = w.dtype;
    let at = quant::vec_dot_type(wt);
    if at == quant::GgmlType::F32 {
        return Err(Error::UnsupportedDtype { op: "matmul", dtype: wt });
    }
    let act_row = at
        .row_bytes(k)
        .ok_or_else(|| Error::Shape(format!("matmul: k = {k} is not whole {at} blocks (weight {wt})")))?;
    let w_row = w.bytes().len() / m;
    let act_len = act_row
        .checked_mul(n)
        .ok_or_else(|| Error::Shape(format!("matmul: {n} activation rows of {act_row} bytes overflow")))?;

    // 1. Quantize each activation row once: act[i] = quantize(x[i]).  // [n, act_row] bytes
    scratch.act.resize(act_len);
    let first_err: Mutex<Option<Error>> = Mutex::new(None);
    let record = |e: Error| {
        let mut slot = first_err.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(e);
    };
    {
        let act = DisjointMut::new(scratch.act.as_bytes_mut());
        let quantize = |i: usize| {
            // SAFETY: task i writes only activation row i.
            let dst = unsafe { act.part(i * act_row, act_row) };
            if let Err(e) = quant::quantize_row_into(at, &x[i * k..(i + 1) * k], dst) {
                record(e.into());
            }
        };
        if n >= PARALLEL_QUANTIZE_MIN_ROWS && plan.n_chunks > 1 {
            pool.run(n, quantize);
        } else {
            (0..n).for_each(quantize);
        }
    }
    if let Some(e) = take(&first_err) {
        return Err(e);
    }

    // 2. out[i, j] = vec_dot(w[j], act[i]), tasks over column chunks, panels of weight rows.
    let act = scratch.act.as_bytes();
    let wb = w.bytes();
    let outd = DisjointMut::new(out);
    pool.run(plan.n_chunks, |t| {
        let (j0, j1) = plan.range(t, m);
        let mut jb = j0;
        while jb < j1 {
            let je = (jb + PANEL_ROWS).min(j1);
            for i in 0..n {
                let a = &act[i * act_row..(i + 1) * act_row];
                // SAFETY: this task owns columns j0..j1 of every row; jb..je lies inside them.
                let o = unsafe { outd.part(i * m + jb, je - jb) };
                for (j, o) in (jb..je).zip(o.iter_mut()) {
                    match quant::vec_dot(wt, &wb[j * w_row..(j + 1) * w_row], a, k) {
                        Ok(v) => *o = v,
                        Err(e) => {
                            record(e.into());
                            return;
                        }
                    }
                }
            }
            jb = je;
        }
    });
    match take(&first_err) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn take(slot: &Mutex<Option<Error>>) -> Option<Error> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}
