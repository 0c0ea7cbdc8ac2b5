//! `acc ← acc·α + Σ_j p_j·v_j`: the probability-weighted sum of value rows, for the `R` query rows
//! of one position at once (each value vector is loaded once for all of them).

use super::KEY_TILE;
use crate::simd::{Lanes, Upcast, WeightFmt};

/// For every row `i < R` and element of the head: `acc[i] ← acc[i]·α[i] + Σ_{j < vis} p[i][j]·v_j`
/// over the keys in order (fused on the SIMD tiers; the `hd % N` tail unfused), values at
/// `v + j·stride` (stored as `W`). The same operations per element whatever `R` or vector block it
/// falls in.
///
/// # Safety
/// Each `acc[i]` has `hd` writable f32 (the rows do not overlap); each value row
/// `v + j·stride·W::BYTES` (j < vis) has `hd` readable values; `vis <= KEY_TILE`.
#[inline(always)]
pub(super) unsafe fn accumulate_v_group<S: Lanes, W: WeightFmt + Upcast, const R: usize>(
    acc: &[*mut f32; R],
    alpha: &[f32; R],
    p: &[[f32; KEY_TILE]; R],
    vis: usize,
    v: *const u8,
    stride: usize,
    hd: usize,
) {
    let wb = W::BYTES;
    // SAFETY: offsets stay inside the rows the caller promised.
    unsafe {
        let hd_vec = hd / S::N * S::N;
        let mut d = 0;
        // About 16 accumulators in registers: 8 vectors for one or two rows, 4 for more.
        if R <= 2 {
            while d + 8 * S::N <= hd_vec {
                block::<S, W, R, 8>(acc, d, alpha, p, vis, v.add(d * wb), stride);
                d += 8 * S::N;
            }
        }
        while d + 4 * S::N <= hd_vec {
            block::<S, W, R, 4>(acc, d, alpha, p, vis, v.add(d * wb), stride);
            d += 4 * S::N;
        }
        while d < hd_vec {
            block::<S, W, R, 1>(acc, d, alpha, p, vis, v.add(d * wb), stride);
            d += S::N;
        }
        for (i, &a) in acc.iter().enumerate() {
            for t in hd_vec..hd {
                let mut x = *a.add(t) * alpha[i];
                for (j, &pj) in p[i][..vis].iter().enumerate() {
                    x += pj * W::scalar(v.add((j * stride + t) * wb));
                }
                *a.add(t) = x;
            }
        }
    }
}

/// [`accumulate_v_group`] for `B` whole vectors of the head from element `d`, kept in registers
/// over all keys.
///
/// # Safety
/// Each `acc[i] + d` has `B·N` writable f32; each `v + j·stride·W::BYTES` has `B·N` readable
/// values.
#[inline(always)]
unsafe fn block<S: Lanes, W: WeightFmt + Upcast, const R: usize, const B: usize>(
    acc: &[*mut f32; R],
    d: usize,
    alpha: &[f32; R],
    p: &[[f32; KEY_TILE]; R],
    vis: usize,
    v: *const u8,
    stride: usize,
) {
    let wb = W::BYTES;
    // SAFETY: as the caller promised.
    unsafe {
        let mut a = [[S::zero(); B]; R];
        for ((ai, &row), &al) in a.iter_mut().zip(acc).zip(alpha) {
            let al = S::splat(al);
            for (c, x) in ai.iter_mut().enumerate() {
                *x = S::mul(S::load_x(row.add(d + c * S::N)), al);
            }
        }
        for j in 0..vis {
            let vr = v.add(j * stride * wb);
            let mut vv = [S::zero(); B];
            for (c, x) in vv.iter_mut().enumerate() {
                *x = S::load_w::<W>(vr.add(c * S::N * wb));
            }
            for (ai, pi) in a.iter_mut().zip(p) {
                let pv = S::splat(pi[j]);
                for (x, &y) in ai.iter_mut().zip(&vv) {
                    *x = S::mul_add(pv, y, *x);
                }
            }
        }
        for (ai, &row) in a.iter().zip(acc) {
            for (c, x) in ai.iter().enumerate() {
                S::store(row.add(d + c * S::N), *x);
            }
        }
    }
}
