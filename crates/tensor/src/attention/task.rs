//! One task: ISA / dtype dispatch, then its rows over the partitions it runs.

use std::mem::MaybeUninit;

use super::dots::HSums;
use super::geometry::{Geometry, Rows};
use super::merge::{finish_row, merge_part};
use super::partition::run_partition;
use super::split::Part;
use super::{AttnSeq, MAX_ROWS, TASK_ACC_VALUES};
use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::kv_convert::KvDtype;
use crate::paged_kv::PagedKvLayer;
use crate::simd::{Bf16W, Portable, Upcast, WeightFmt, F16W, F32W};

/// Dispatches [`task_body`] on the instruction set and the cache's dtype.
///
/// # Safety
/// `isa` is supported by this CPU; the inputs passed `validate`; `rows` is a chunk of `seq`; no
/// other task writes this task's rows of `out` (`Part::All`) or its range of `partials`
/// (`Part::One`, which lies inside `partials`).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run_task(
    isa: Isa,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match layer.dtype() {
            KvDtype::F32 => run_task_w::<F32W>(isa, geo, q, layer, seq, rows, part, out, partials),
            KvDtype::F16 => run_task_w::<F16W>(isa, geo, q, layer, seq, rows, part, out, partials),
            KvDtype::Bf16 => {
                run_task_w::<Bf16W>(isa, geo, q, layer, seq, rows, part, out, partials)
            }
        }
    }
}

/// [`run_task`] for one stored format `W`.
///
/// # Safety
/// As [`run_task`]; `W` is the layer's dtype.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn run_task_w<W: WeightFmt + Upcast>(
    isa: Isa,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::x86::{Avx2, Avx512};
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx512<W: WeightFmt + Upcast>(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            r: &Rows,
            p: Part,
            o: &DisjointMut<f32>,
            pa: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx512, W>(g, q, l, s, r, p, o, pa) }
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx2<W: WeightFmt + Upcast>(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            r: &Rows,
            p: Part,
            o: &DisjointMut<f32>,
            pa: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx2, W>(g, q, l, s, r, p, o, pa) }
        }
        // SAFETY: the tier is supported (caller's promise); contract forwarded.
        unsafe {
            match isa {
                Isa::Avx512 => return avx512::<W>(geo, q, layer, seq, rows, part, out, partials),
                Isa::Avx2 => return avx2::<W>(geo, q, layer, seq, rows, part, out, partials),
                Isa::Scalar => {}
            }
        }
    }
    let _ = isa;
    // SAFETY: forwarded contract.
    unsafe { task_body::<Portable, W>(geo, q, layer, seq, rows, part, out, partials) }
}

/// Per-row online-softmax state of one partition, and the tiles it reads through.
pub(super) struct PartState<'a> {
    /// Running max per row.
    pub(super) m: &'a mut [f32; MAX_ROWS],
    /// Running softmax denominator per row.
    pub(super) l: &'a mut [f32; MAX_ROWS],
    /// `[nr, head_dim]` accumulators.
    pub(super) acc: &'a mut [f32],
}

/// One task: the rows of `rows`, over the partitions `part` names.
///
/// Per row, partition and key tile: scores `s_j = scale · q·k_j` (one vector accumulator per dot,
/// keys four at a time), `m' = max(m, max_j s_j)`, `α = e^(m − m')`, `p_j = e^(s_j − m')`,
/// `l ← l·α + Σ p_j`, `acc ← acc·α + Σ_j p_j·v_j` (in key order); partitions are folded with
/// [`merge_part`], and at the end `out = acc / l`.
///
/// # Safety
/// As [`run_task_w`] (minus the ISA).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn task_body<S: HSums, W: WeightFmt + Upcast>(
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    let hd = geo.head_dim;
    let nr = rows.nr;
    let n_keys = rows.n_keys(geo);
    let n_parts = n_keys.div_ceil(geo.part_len);

    // Only the first nr·head_dim accumulators are used; they are zeroed per partition (the rest
    // of the stack buffers is never read: a decode task uses a few hundred of their values).
    let mut acc_buf = [const { MaybeUninit::<f32>::uninit() }; TASK_ACC_VALUES]; // [nr, head_dim]
    let acc: &mut [f32] = {
        let a = &mut acc_buf[..nr * hd];
        a.fill(MaybeUninit::new(0.0));
        // SAFETY: every element of `a` was just initialised; MaybeUninit<f32> has f32's layout.
        unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), a.len()) }
    };
    let mut m = [f32::NEG_INFINITY; MAX_ROWS];
    let mut l = [0f32; MAX_ROWS];
    let mut st = PartState {
        m: &mut m,
        l: &mut l,
        acc,
    };

    match part {
        Part::One { p, at } => {
            // SAFETY: forwarded contract.
            unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, p, &mut st) };
            let row_len = hd + 2;
            // SAFETY: this task owns partials[at .. at + nr·(hd + 2)] (caller's promise).
            let dst = unsafe { partials.part(at, nr * row_len) };
            for r in 0..nr {
                let d = &mut dst[r * row_len..(r + 1) * row_len];
                d[0] = st.m[r];
                d[1] = st.l[r];
                d[2..].copy_from_slice(&st.acc[r * hd..(r + 1) * hd]);
            }
        }
        Part::All if n_parts <= 1 => {
            // SAFETY: forwarded contract.
            unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, 0, &mut st) };
            for r in 0..nr {
                // SAFETY: (token, head) row r belongs to this task only (caller's promise).
                let o = unsafe { out.part(rows.q_off(geo, r), hd) };
                finish_row(o, st.l[r], &st.acc[r * hd..(r + 1) * hd]);
            }
        }
        Part::All => {
            let mut merged_buf = [const { MaybeUninit::<f32>::uninit() }; TASK_ACC_VALUES];
            let merged: &mut [f32] = {
                let a = &mut merged_buf[..nr * hd];
                a.fill(MaybeUninit::new(0.0));
                // SAFETY: initialised just above; same layout.
                unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), a.len()) }
            };
            let mut mm = [f32::NEG_INFINITY; MAX_ROWS];
            let mut ml = [0f32; MAX_ROWS];
            for p in 0..n_parts {
                if p > 0 {
                    st.acc.fill(0.0);
                    st.m[..nr].fill(f32::NEG_INFINITY);
                    st.l[..nr].fill(0.0);
                }
                // SAFETY: forwarded contract.
                unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, p, &mut st) };
                for r in 0..nr {
                    // Rows that see no key of partition p (earlier tokens of a prefill chunk).
                    if rows.pos(geo, r) < p * geo.part_len {
                        continue;
                    }
                    merge_part(
                        p == 0,
                        &mut mm[r],
                        &mut ml[r],
                        &mut merged[r * hd..(r + 1) * hd],
                        st.m[r],
                        st.l[r],
                        &st.acc[r * hd..(r + 1) * hd],
                    );
                }
            }
            for r in 0..nr {
                // SAFETY: (token, head) row r belongs to this task only (caller's promise).
                let o = unsafe { out.part(rows.q_off(geo, r), hd) };
                finish_row(o, ml[r], &merged[r * hd..(r + 1) * hd]);
            }
        }
    }
}
