//! `out[n, m] = x[n, k] · w[m, k]ᵀ` for every weight dtype the quant crate can dot.
//!
//! - F32 / F16 / BF16 weights: f32 math on the upcast values, register-blocked SIMD kernels
//!   ([`super::float_kernel`]).
//! - Quantized weights: each activation row is quantized once into `quant::vec_dot_type(w.dtype)`
//!   (kept in [`MatmulScratch`]), then every (row, output) is one `quant::vec_dot`.
//!
//! Work is split over output columns (weight rows) in chunks taken from the pool's atomic counter;
//! a small product runs on the calling thread alone. No output is ever split over `k`, and each
//! output's arithmetic is the same whatever `n` is and wherever its row sits in `x`, so results are
//! batch invariant (bit-identical for a row alone or in any batch).

use quant::GgmlType;

use super::float_kernel::{self, Bf16W, Upcast, WeightFmt, F16W, F32W};
use super::matmul_quant;
use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::{Error, Tensor, ThreadPool};

/// Below this many multiply-adds a matmul runs on the calling thread alone.
const PARALLEL_MIN_MACS: usize = 1 << 16;
/// Weight rows per task are a multiple of this.
const CHUNK_ALIGN: usize = 16;
/// Aim for this many tasks per thread (load balance with an atomic counter).
const TASKS_PER_THREAD: usize = 4;

/// Reused buffers for [`matmul`]: the quantized activations. Grows to the largest batch seen, then
/// is reused, so steady-state decode allocates nothing.
#[derive(Debug, Default)]
pub struct MatmulScratch {
    /// `[n, row_bytes(vec_dot_type, k)]` quantized activation rows.
    pub(crate) act: quant::AlignedBytes,
    /// An aligned copy of a misaligned quantized weight (hand-built storage only; GGUF data is
    /// aligned), refilled on every call that needs it.
    pub(crate) misaligned_weight: quant::AlignedBytes,
    /// `[n, act_row_bytes]` activation rows in the interleaved kernels' layout.
    pub(crate) packed_act: quant::AlignedBytes,
}

impl MatmulScratch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes currently held for quantized activations.
    pub fn act_bytes(&self) -> usize {
        self.act.len() + self.packed_act.len()
    }
}

/// The `[m, k]` of a 2-D weight and its bytes per row, with its byte length checked.
pub(crate) fn weight_dims(w: &Tensor, op: &'static str) -> Result<(usize, usize, usize), Error> {
    let (m, k) = match w.shape.as_slice() {
        [m, k] => (*m, *k),
        other => {
            return Err(Error::Shape(format!(
                "{op}: weight must be 2-D [out, in], got {other:?}"
            )))
        }
    };
    let row = w.dtype.row_bytes(k).ok_or_else(|| {
        Error::Shape(format!(
            "{op}: row of {k} values is not whole {} blocks",
            w.dtype
        ))
    })?;
    let need = row
        .checked_mul(m)
        .ok_or_else(|| Error::Shape(format!("{op}: weight [{m}, {k}] overflows")))?;
    if w.bytes().len() != need {
        return Err(Error::Shape(format!(
            "{op}: {} weight [{m}, {k}] needs {need} bytes, storage has {}",
            w.dtype,
            w.bytes().len()
        )));
    }
    Ok((m, k, row))
}

/// `out[n, m] = x[n, k] · w[m, k]ᵀ` (a linear layer without bias), `n = x.len() / k`.
pub fn matmul(
    pool: &ThreadPool,
    x: &[f32],       // [n, k]
    w: &Tensor,      // [m, k]
    out: &mut [f32], // [n, m]
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    matmul_with_isa(Isa::detect(), pool, x, w, out, scratch)
}

/// [`matmul`] with an explicit instruction set for the F32/F16/BF16 kernels (tests and benchmarks
/// compare tiers; quantized weights use the quant crate's own choice). A tier this CPU does not
/// support is an error.
pub fn matmul_with_isa(
    isa: Isa,
    pool: &ThreadPool,
    x: &[f32],
    w: &Tensor,
    out: &mut [f32],
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    if isa > Isa::best_supported() {
        return Err(Error::UnsupportedIsa { op: "matmul", isa });
    }
    let (m, k, _) = weight_dims(w, "matmul")?;
    if k == 0 {
        return Err(Error::Shape("matmul: weight has k = 0".into()));
    }
    if !x.len().is_multiple_of(k) {
        return Err(Error::Shape(format!(
            "matmul: x has {} values, not a multiple of k = {k}",
            x.len()
        )));
    }
    let n = x.len() / k;
    if Some(out.len()) != n.checked_mul(m) {
        return Err(Error::Shape(format!(
            "matmul: out has {} values, expected n*m = {n}*{m}",
            out.len()
        )));
    }
    if n == 0 || m == 0 {
        return Ok(());
    }
    let plan = ChunkPlan::new(pool.n_threads(), n, m, k);
    match w.dtype {
        GgmlType::F32 => float_matmul::<F32W>(isa, pool, plan, x, n, k, w.bytes(), out, m),
        GgmlType::F16 => float_matmul::<F16W>(isa, pool, plan, x, n, k, w.bytes(), out, m),
        GgmlType::BF16 => float_matmul::<Bf16W>(isa, pool, plan, x, n, k, w.bytes(), out, m),
        wt => {
            return matmul_quant::quant_matmul(pool, plan, x, n, k, wt, w.bytes(), out, m, scratch)
        }
    }
    Ok(())
}

/// How the `m` output columns are split into tasks.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ChunkPlan {
    pub(crate) chunk: usize,
    pub(crate) n_chunks: usize,
}

impl ChunkPlan {
    pub(crate) fn new(threads: usize, n: usize, m: usize, k: usize) -> Self {
        let macs = n.saturating_mul(m).saturating_mul(k);
        if threads <= 1 || macs < PARALLEL_MIN_MACS {
            return ChunkPlan {
                chunk: m,
                n_chunks: 1,
            };
        }
        let target = threads * TASKS_PER_THREAD;
        let chunk = m.div_ceil(target).div_ceil(CHUNK_ALIGN).max(1) * CHUNK_ALIGN;
        ChunkPlan {
            chunk,
            n_chunks: m.div_ceil(chunk),
        }
    }

    /// Columns `j0..j1` of task `t`.
    pub(crate) fn range(&self, t: usize, m: usize) -> (usize, usize) {
        let j0 = (t * self.chunk).min(m);
        (j0, (j0 + self.chunk).min(m))
    }
}

#[allow(clippy::too_many_arguments)]
fn float_matmul<W: WeightFmt + Upcast>(
    isa: Isa,
    pool: &ThreadPool,
    plan: ChunkPlan,
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    out: &mut [f32],
    m: usize,
) {
    let out = DisjointMut::new(out);
    pool.run(plan.n_chunks, |t| {
        let (j0, j1) = plan.range(t, m);
        // SAFETY: shapes were checked by the caller (x is n*k, w is m rows of k, out is n*m);
        // tasks own disjoint column ranges j0..j1; `isa` was checked against the CPU.
        unsafe { float_kernel::float_panel::<W>(isa, x, n, k, w, j0, j1, out.as_mut_ptr(), m) };
    });
}
