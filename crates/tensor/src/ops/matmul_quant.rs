//! The quantized-weight half of [`super::matmul`]: activations quantized once per call into
//! `quant::vec_dot_type(w.dtype)`, then one dot per (row, output) through the CPU's best
//! `quant::Kernels` entry for the pair of block types (no per-dot dispatch or length checks).

use std::sync::Mutex;

use quant::{cast_blocks, Block, GgmlType};
use quant::{
    BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8K, BlockQ8_0,
    BlockQ8_1,
};

use super::matmul::{ChunkPlan, MatmulScratch};
use crate::disjoint::DisjointMut;
use crate::tensor::block_align;
use crate::{Error, ThreadPool};

/// Weight rows kept hot in cache while every activation row passes over them.
const PANEL_ROWS: usize = 16;
/// Quantize activation rows on the pool only when there are at least this many.
const PARALLEL_QUANTIZE_MIN_ROWS: usize = 8;

/// See the module doc. Shapes were checked by the caller: `x` is `[n, k]`, `w` is `m` rows of `k`
/// values of `wt` in `w_bytes`, `out` is `[n, m]`, and `n, m, k > 0`.
///
/// Block data must be aligned for its block struct (GGUF data always is). Misaligned data (only
/// possible for hand-built storage) is copied into the scratch on every call: correct, but slow
/// (`Tensor::to_block_aligned` once at load avoids that).
#[allow(clippy::too_many_arguments)]
pub(crate) fn quant_matmul(
    pool: &ThreadPool,
    plan: ChunkPlan,
    x: &[f32], // [n, k]
    n: usize,
    k: usize,
    wt: GgmlType,
    w_bytes: &[u8],  // [m, k] in wt
    out: &mut [f32], // [n, m]
    m: usize,
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    let at = quant::vec_dot_type(wt);
    if !quant::can_vec_dot(wt) || at == GgmlType::F32 {
        return Err(Error::UnsupportedDtype {
            op: "matmul",
            dtype: wt,
        });
    }
    let act_row = at.row_bytes(k).ok_or_else(|| {
        Error::Shape(format!(
            "matmul: k = {k} is not whole {at} blocks (weight {wt})"
        ))
    })?;
    let act_len = act_row.checked_mul(n).ok_or_else(|| {
        Error::Shape(format!(
            "matmul: {n} activation rows of {act_row} bytes overflow"
        ))
    })?;

    // 1. Quantize each activation row once.  // [n, act_row] bytes of `at`
    scratch.act.resize(act_len);
    {
        let first_err: Mutex<Option<quant::Error>> = Mutex::new(None);
        let act = DisjointMut::new(scratch.act.as_bytes_mut());
        let quantize = |i: usize| {
            // SAFETY: task i writes only activation row i.
            let dst = unsafe { act.part(i * act_row, act_row) };
            if let Err(e) = quant::quantize_row_into(at, &x[i * k..(i + 1) * k], dst) {
                first_err
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
            }
        };
        if n >= PARALLEL_QUANTIZE_MIN_ROWS && plan.n_chunks > 1 {
            pool.run(n, quantize);
        } else {
            (0..n).for_each(quantize);
        }
        if let Some(e) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(e.into());
        }
    }

    // 2. The weight as blocks (copied into the scratch only if misaligned).
    let w_bytes = if is_aligned(wt, w_bytes) {
        w_bytes
    } else {
        scratch.misaligned_weight.resize(w_bytes.len());
        scratch
            .misaligned_weight
            .as_bytes_mut()
            .copy_from_slice(w_bytes);
        scratch.misaligned_weight.as_bytes()
    };
    let act = scratch.act.as_bytes();
    let kern = quant::kernels();
    let job = Job {
        pool,
        plan,
        n,
        m,
        out,
    };
    match wt {
        GgmlType::Q4_0 => job.run::<BlockQ4_0, BlockQ8_0>(kern.q4_0_q8_0, w_bytes, act),
        GgmlType::Q4_1 => job.run::<BlockQ4_1, BlockQ8_1>(kern.q4_1_q8_1, w_bytes, act),
        GgmlType::Q5_0 => job.run::<BlockQ5_0, BlockQ8_0>(kern.q5_0_q8_0, w_bytes, act),
        GgmlType::Q5_1 => job.run::<BlockQ5_1, BlockQ8_1>(kern.q5_1_q8_1, w_bytes, act),
        GgmlType::Q8_0 => job.run::<BlockQ8_0, BlockQ8_0>(kern.q8_0_q8_0, w_bytes, act),
        GgmlType::Q4K => job.run::<BlockQ4K, BlockQ8K>(kern.q4k_q8k, w_bytes, act),
        GgmlType::Q5K => job.run::<BlockQ5K, BlockQ8K>(kern.q5k_q8k, w_bytes, act),
        GgmlType::Q6K => job.run::<BlockQ6K, BlockQ8K>(kern.q6k_q8k, w_bytes, act),
        _ => Err(Error::UnsupportedDtype {
            op: "matmul",
            dtype: wt,
        }),
    }
}

/// Whether `bytes` can be viewed as blocks of `ty` in place.
fn is_aligned(ty: GgmlType, bytes: &[u8]) -> bool {
    (bytes.as_ptr() as usize).is_multiple_of(block_align(ty))
}

/// The parts of one quantized matmul that do not depend on the block types.
struct Job<'p, 'o> {
    pool: &'p ThreadPool,
    plan: ChunkPlan,
    n: usize,
    m: usize,
    out: &'o mut [f32], // [n, m]
}

impl Job<'_, '_> {
    /// `out[i, j] = kern(w row j, act row i)`, tasks over column chunks, panels of weight rows.
    fn run<W: Block, A: Block>(
        self,
        kern: fn(&[W], &[A]) -> f32,
        w_bytes: &[u8],
        act: &[u8],
    ) -> Result<(), Error> {
        let Job {
            pool,
            plan,
            n,
            m,
            out,
        } = self;
        let w: &[W] = cast_blocks(w_bytes)?;
        let a: &[A] = cast_blocks(act)?;
        let (w_row, a_row) = (w.len() / m, a.len() / n);
        if w_row * m != w.len() || a_row * n != a.len() {
            return Err(Error::Shape(format!(
                "matmul: {} weight blocks / {} activation blocks do not split into {m} / {n} rows",
                w.len(),
                a.len()
            )));
        }
        let outd = DisjointMut::new(out);
        pool.run(plan.n_chunks, |t| {
            let (j0, j1) = plan.range(t, m);
            let mut jb = j0;
            while jb < j1 {
                let je = (jb + PANEL_ROWS).min(j1);
                for i in 0..n {
                    let ai = &a[i * a_row..(i + 1) * a_row];
                    // SAFETY: this task owns columns j0..j1 of every row; jb..je lies inside them.
                    let o = unsafe { outd.part(i * m + jb, je - jb) };
                    for (j, o) in (jb..je).zip(o.iter_mut()) {
                        *o = kern(&w[j * w_row..(j + 1) * w_row], ai);
                    }
                }
                jb = je;
            }
        });
        Ok(())
    }
}
