//! Matmul over a weight whose rows were interleaved once at load ([`PackedWeight`]): the prefill
//! and decode path for the quantized types `quant::packed` has kernels for.
//!
//! Activations are quantized once per call (one row per task) into the interleaved activation
//! layout, then each task takes a chunk of 16-row weight groups and runs every group against the
//! activation rows four at a time (one kernel call reuses the unpacked weights for all four), the
//! last `n % 4` rows in one smaller call. Every output follows the one reduction order of
//! `quant::packed::dot_reference` whatever the call it lands in, so results are bit-identical for
//! any batch size and any thread count.

use std::sync::{Arc, Mutex};

use quant::packed::{self, ROWS};
use quant::{AlignedBytes, GgmlType};

use super::matmul::{weight_dims, ChunkPlan, MatmulScratch};
use crate::disjoint::DisjointMut;
use crate::{Error, Tensor, ThreadPool};

/// Quantize activation rows on the pool only when there are at least this many.
const PARALLEL_QUANTIZE_MIN_ROWS: usize = 8;

/// A quantized `[m, k]` weight with its rows interleaved in groups of 16 (see `quant::packed`),
/// built once from a [`Tensor`]; cheap to clone (the bytes are shared).
#[derive(Clone, Debug)]
pub struct PackedWeight {
    dtype: GgmlType,
    m: usize,
    k: usize,
    /// bytes of one group of 16 rows
    group_bytes: usize,
    /// `[ceil(m / 16)]` groups
    groups: Arc<AlignedBytes>,
}

impl PackedWeight {
    /// Whether packing weights of `dtype` pays off on this CPU: the type has an interleaved
    /// layout and this CPU has SIMD group kernels (the portable ones are slower than the row
    /// kernels, so without SIMD a loader keeps the usual layout). [`PackedWeight::new`] works
    /// for every interleavable type regardless.
    pub fn supports(dtype: GgmlType) -> bool {
        packed::can_interleave(dtype) && packed::group_kernels().level != quant::SimdLevel::Scalar
    }

    /// Interleaves a 2-D quantized weight `[m, k]` (a copy of its bytes; the tensor is not kept).
    /// Errors for types without an interleaved layout and for malformed shapes.
    pub fn new(w: &Tensor) -> Result<PackedWeight, Error> {
        if !packed::can_interleave(w.dtype) {
            return Err(Error::UnsupportedDtype {
                op: "PackedWeight",
                dtype: w.dtype,
            });
        }
        let (m, k, _) = weight_dims(w, "PackedWeight")?;
        let groups = packed::pack_rows(w.dtype, w.bytes(), m, k)?;
        Ok(PackedWeight {
            dtype: w.dtype,
            m,
            k,
            group_bytes: packed::group_bytes(w.dtype, k)?,
            groups: Arc::new(groups),
        })
    }

    /// A packed weight from groups interleaved elsewhere (e.g. chunk by chunk in parallel with
    /// `quant::packed::pack_rows`): `groups` must hold exactly `ceil(m / 16)` groups of
    /// `quant::packed::group_bytes(dtype, k)` bytes in the layout [`PackedWeight::new`] makes.
    pub fn from_groups(
        dtype: GgmlType,
        m: usize,
        k: usize,
        groups: AlignedBytes,
    ) -> Result<PackedWeight, Error> {
        if !packed::can_interleave(dtype) {
            return Err(Error::UnsupportedDtype {
                op: "PackedWeight",
                dtype,
            });
        }
        let group_bytes = packed::group_bytes(dtype, k)?;
        if Some(groups.len()) != m.div_ceil(ROWS).checked_mul(group_bytes) {
            return Err(Error::Shape(format!(
                "PackedWeight::from_groups: {} bytes for [{m}, {k}] {} (groups of {group_bytes} bytes)",
                groups.len(),
                dtype.name()
            )));
        }
        Ok(PackedWeight {
            dtype,
            m,
            k,
            group_bytes,
            groups: Arc::new(groups),
        })
    }

    pub fn dtype(&self) -> GgmlType {
        self.dtype
    }

    /// `[m, k]`
    pub fn shape(&self) -> [usize; 2] {
        [self.m, self.k]
    }

    /// Row `j` as f32 (what `quant::dequantize_row` gives for it in the usual layout): an
    /// embedding lookup from a packed table. `out` holds `k` values.
    pub fn dequantize_row(&self, j: usize, out: &mut [f32]) -> Result<(), Error> {
        if j >= self.m || out.len() != self.k {
            return Err(Error::Shape(format!(
                "PackedWeight::dequantize_row: row {j} of [{}, {}] into {} values",
                self.m,
                self.k,
                out.len()
            )));
        }
        let g = j / ROWS;
        let group = &self.groups.as_bytes()[g * self.group_bytes..(g + 1) * self.group_bytes];
        packed::dequantize_group_row(self.dtype, group, j % ROWS, out)?;
        Ok(())
    }

    /// Bytes held (groups padded to 16 rows).
    pub fn len_bytes(&self) -> usize {
        self.groups.len()
    }
}

/// `out[n, m] = x[n, k] · w[m, k]ᵀ` for a packed weight, `n = x.len() / k`. Bit-identical per row
/// whatever `n` and the pool size.
pub fn matmul_packed(
    pool: &ThreadPool,
    x: &[f32], // [n, k]
    w: &PackedWeight,
    out: &mut [f32], // [n, m]
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    matmul_packed_many(pool, x, [w], [out], scratch)
}

/// Several products of the same input at once (q/k/v, gate/up): `outs[i][n, m_i] = x · ws[i]ᵀ`.
/// One activation quantization and one pool job for all of them when the weights share their
/// activation format (otherwise one call per weight). Each output is exactly what
/// [`matmul_packed`] gives for its weight alone.
pub fn matmul_packed_many<const N: usize>(
    pool: &ThreadPool,
    x: &[f32], // [n, k]
    ws: [&PackedWeight; N],
    mut outs: [&mut [f32]; N], // [n, m_i]
    scratch: &mut MatmulScratch,
) -> Result<(), Error> {
    let Some(w0) = ws.first() else {
        return Ok(());
    };
    let (k, ty0) = (w0.k, w0.dtype);
    if k == 0 || !x.len().is_multiple_of(k) {
        return Err(Error::Shape(format!(
            "matmul_packed: x has {} values, not a multiple of k = {k}",
            x.len()
        )));
    }
    let n = x.len() / k;
    for (w, out) in ws.iter().zip(outs.iter()) {
        if w.k != k {
            return Err(Error::Shape(format!(
                "matmul_packed_many: weights of k = {k} and k = {}",
                w.k
            )));
        }
        if Some(out.len()) != n.checked_mul(w.m) {
            return Err(Error::Shape(format!(
                "matmul_packed: out has {} values, expected n*m = {n}*{}",
                out.len(),
                w.m
            )));
        }
    }
    if ws
        .iter()
        .any(|w| quant::vec_dot_type(w.dtype) != quant::vec_dot_type(ty0))
    {
        for (w, out) in ws.iter().zip(outs.iter_mut()) {
            matmul_packed_many(pool, x, [*w], [&mut **out], scratch)?;
        }
        return Ok(());
    }
    if n == 0 {
        return Ok(());
    }
    // Tasks of every weight, back to back: weight i owns tasks starts[i]..starts[i + 1].
    let plans: [ChunkPlan; N] =
        std::array::from_fn(|i| ChunkPlan::new(pool.n_threads(), n, ws[i].m, k));
    let mut starts = [0usize; N];
    let mut total = 0;
    for (s, p) in starts.iter_mut().zip(&plans) {
        *s = total;
        total += if p.chunk == 0 { 0 } else { p.n_chunks };
    }
    let parallel = plans.iter().any(|p| p.n_chunks > 1);
    let act_row = packed::act_row_bytes(ty0, k)?;
    let act_len = act_row.checked_mul(n).ok_or_else(|| {
        Error::Shape(format!(
            "matmul_packed: {n} rows of {act_row} bytes overflow"
        ))
    })?;

    // 1. Quantize each activation row once.  // [n, act_row] bytes
    scratch.packed_act.resize(act_len);
    let first_err: Mutex<Option<quant::Error>> = Mutex::new(None);
    let record = |e: quant::Error| {
        first_err
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    };
    {
        let act = DisjointMut::new(scratch.packed_act.as_bytes_mut());
        let quantize = |i: usize| {
            // SAFETY: task i writes only activation row i.
            let dst = unsafe { act.part(i * act_row, act_row) };
            if let Err(e) = packed::quantize_act_row(ty0, &x[i * k..(i + 1) * k], dst) {
                record(e);
            }
        };
        if n >= PARALLEL_QUANTIZE_MIN_ROWS && parallel {
            pool.run(n, quantize);
        } else {
            (0..n).for_each(quantize);
        }
    }

    // 2. Per task: a chunk of one weight's 16-row groups × tiles of up to 4 activation rows.
    let act = scratch.packed_act.as_bytes();
    let kern = packed::group_kernels();
    let outd: [DisjointMut<f32>; N] = outs.map(DisjointMut::new);
    let task = |t: usize| {
        let i = starts.iter().rposition(|&s| s <= t).unwrap_or(0);
        let (w, plan, out) = (ws[i], plans[i], &outd[i]);
        let (m, gb, ty) = (w.m, w.group_bytes, w.dtype);
        let (j0, j1) = plan.range(t - starts[i], m);
        // Chunks are multiples of 16 columns, so j0 starts a group.
        let (g0, g1) = (j0 / ROWS, j1.div_ceil(ROWS));
        let groups = &w.groups.as_bytes()[g0 * gb..g1 * gb];
        let res = kern.for_each_tile(ty, k, groups, act, n, |g, r0, tile| {
            let c0 = (g0 + g) * ROWS;
            let cols = (c0..(c0 + ROWS).min(j1)).len();
            for (q, o) in tile.iter().enumerate() {
                // SAFETY: this task owns columns j0..j1 of every row of weight i's output;
                // c0 .. c0 + cols lies inside them.
                let dst = unsafe { out.part((r0 + q) * m + c0, cols) };
                dst.copy_from_slice(&o[..cols]);
            }
        });
        if let Err(e) = res {
            record(e);
        }
    };
    if parallel {
        pool.run(total, task);
    } else {
        (0..total).for_each(task);
    }
    match first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
