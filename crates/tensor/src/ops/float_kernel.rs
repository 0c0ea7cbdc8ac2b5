//! Register-blocked kernels for `out = x · wᵀ` with F32 / F16 / BF16 weights, f32 math.
//!
//! Weights are read straight from their (possibly misaligned) bytes with unaligned loads and
//! upcast in registers (bf16 → f32 and f16 → f32 are exact). One output is one dot product over
//! `k` with ONE vector accumulator of `LANES` lanes, stepped through `k` in order, then a fixed
//! horizontal sum, then the `k % LANES` tail added in order. The tile shapes (4 x-rows × 2 weight
//! rows for prefill, 1 × 4 for decode, 1 × 1 / 4 × 1 at the edges) only decide which dots run side by
//! side: each output's own sequence of operations is the same in every tile shape, so a row's
//! result does not depend on how many rows are in the batch (batch invariance).

use crate::cpu::Isa;
#[cfg(target_arch = "x86_64")]
use crate::simd::x86;
pub(crate) use crate::simd::{Bf16W, Upcast, WeightFmt, F16W, F32W};
use crate::simd::{Lanes, Portable};

/// How many weight rows one panel keeps hot in cache while every x row passes over it.
const PANEL_ROWS: usize = 32;

/// `out[r * ldo + c] = dot(x row r, w row c)` for an R × C tile.
///
/// # Safety
/// `x` holds R rows of `k` f32 at stride `ldx`; `w` holds C rows of `k` elements at stride `ldw`
/// bytes; `out[r * ldo + c]` is writable and not written by anyone else meanwhile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<S: Lanes, W: WeightFmt + Upcast, const R: usize, const C: usize>(
    x: *const f32,
    ldx: usize,
    w: *const u8,
    ldw: usize,
    k: usize,
    out: *mut f32,
    ldo: usize,
) {
    // SAFETY: every pointer offset below stays inside the regions the caller promised.
    unsafe {
        let mut acc = [[S::zero(); C]; R];
        let k_vec = k / S::N * S::N;
        let mut i = 0;
        while i < k_vec {
            // (A plain loop, not `array::from_fn`: a closure would not inherit the caller's target
            // features and the loads would become calls.)
            let mut wv = [S::zero(); C];
            for (c, v) in wv.iter_mut().enumerate() {
                *v = S::load_w::<W>(w.add(c * ldw + i * W::BYTES));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xv = S::load_x(x.add(r * ldx + i));
                for (a, &wc) in acc_r.iter_mut().zip(wv.iter()) {
                    *a = S::mul_add(xv, wc, *a);
                }
            }
            i += S::N;
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (c, &a) in acc_r.iter().enumerate() {
                let mut s = S::hsum(a);
                for t in k_vec..k {
                    s += *x.add(r * ldx + t) * W::scalar(w.add(c * ldw + t * W::BYTES));
                }
                *out.add(r * ldo + c) = s;
            }
        }
    }
}

/// Computes output columns `j0..j1` of every row: `out[i * m + j] = dot(x[i], w[j])`.
///
/// # Safety
/// `x.len() >= n * k`; `w` holds at least `j1` rows of `k` elements of `W`; `out` points to an
/// `n × m` row-major f32 matrix whose columns `j0..j1` nobody else touches meanwhile; `j1 <= m`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn panel<S: Lanes, W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    let xp = x.as_ptr();
    let wp = w.as_ptr();
    let ldw = k * W::BYTES;
    // SAFETY: all tiles lie inside rows 0..n and columns j0..j1 (see the loop bounds).
    unsafe {
        let mut jb = j0;
        while jb < j1 {
            let je = (jb + PANEL_ROWS).min(j1);
            let mut i = 0;
            while i + 4 <= n {
                let mut j = jb;
                while j + 2 <= je {
                    tile::<S, W, 4, 2>(
                        xp.add(i * k),
                        k,
                        wp.add(j * ldw),
                        ldw,
                        k,
                        out.add(i * m + j),
                        m,
                    );
                    j += 2;
                }
                if j < je {
                    tile::<S, W, 4, 1>(
                        xp.add(i * k),
                        k,
                        wp.add(j * ldw),
                        ldw,
                        k,
                        out.add(i * m + j),
                        m,
                    );
                }
                i += 4;
            }
            while i < n {
                let mut j = jb;
                while j + 4 <= je {
                    tile::<S, W, 1, 4>(
                        xp.add(i * k),
                        k,
                        wp.add(j * ldw),
                        ldw,
                        k,
                        out.add(i * m + j),
                        m,
                    );
                    j += 4;
                }
                while j < je {
                    tile::<S, W, 1, 1>(
                        xp.add(i * k),
                        k,
                        wp.add(j * ldw),
                        ldw,
                        k,
                        out.add(i * m + j),
                        m,
                    );
                    j += 1;
                }
                i += 1;
            }
            jb = je;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn panel_avx2<W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract; the features are enabled on this function.
    unsafe { panel::<x86::Avx2, W>(x, n, k, w, j0, j1, out, m) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn panel_avx512<W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract; the features are enabled on this function.
    unsafe { panel::<x86::Avx512, W>(x, n, k, w, j0, j1, out, m) }
}

/// Dispatches [`panel`] on the instruction set.
///
/// # Safety
/// As [`panel`]; and `isa` must be supported by this CPU (`Isa::detect` / `Isa::all_supported`).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn float_panel<W: WeightFmt + Upcast>(
    isa: Isa,
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => panel_avx512::<W>(x, n, k, w, j0, j1, out, m),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => panel_avx2::<W>(x, n, k, w, j0, j1, out, m),
            _ => panel::<Portable, W>(x, n, k, w, j0, j1, out, m),
        }
    }
}
