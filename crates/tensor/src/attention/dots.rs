//! Query·key dot products for a tile's keys, `N` keys at a time without a horizontal sum per key:
//! each (row, key) keeps one vector of partial sums over the head, and the `N` partial vectors of a
//! row are reduced together by a transpose-and-add tree ([`HSums::hsums`]) whose per-lane order is
//! that of [`Lanes::hsum`], so a score has the same bits as `hsum` of its partial vector.

use super::KEY_TILE;
use crate::simd::{Lanes, Portable, Upcast, WeightFmt};

/// Query vectors held in registers at once (per row); longer heads go through in chunks.
const Q_CHUNK: usize = 8;
/// Largest vector width (lanes) of any tier.
const MAX_LANES: usize = 16;

/// `N` horizontal sums at once.
pub(super) trait HSums: Lanes {
    /// The vector whose lane `j` is `Self::hsum(*a.add(j))` (bit for bit), for `j < N`.
    ///
    /// # Safety
    /// `a` points to `N` readable vectors; the tier is supported.
    unsafe fn hsums(a: *const Self::V) -> Self::V;
}

impl HSums for Portable {
    #[inline(always)]
    unsafe fn hsums(a: *const [f32; 8]) -> [f32; 8] {
        // SAFETY: the caller promises N = 8 readable vectors.
        let mut out = [0f32; 8];
        for (j, o) in out.iter_mut().enumerate() {
            // SAFETY: as above.
            *o = unsafe { Self::hsum(*a.add(j)) };
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::HSums;
    use crate::simd::x86::{Avx2, Avx512};
    use std::arch::x86_64::*;

    impl HSums for Avx2 {
        /// `hsum` adds lanes (i, i+4), then (i, i+2), then (i, i+1): the same three levels here,
        /// each combining pairs of vectors with two shuffles and one add. The result holds the
        /// keys as [0, 2, 1, 3, 4, 6, 5, 7]; a final permute puts them in order.
        #[inline(always)]
        unsafe fn hsums(a: *const __m256) -> __m256 {
            // SAFETY: 8 readable vectors (caller); AVX2 is enabled in the calling kernel.
            unsafe {
                // b_j: 128-bit half 0 = key j's (i, i+4) sums, half 1 = key j+4's.
                let mut b = [_mm256_setzero_ps(); 4];
                for (j, x) in b.iter_mut().enumerate() {
                    let (lo, hi) = (*a.add(j), *a.add(j + 4));
                    *x = _mm256_add_ps(
                        _mm256_permute2f128_ps::<0x20>(lo, hi),
                        _mm256_permute2f128_ps::<0x31>(lo, hi),
                    );
                }
                let mut c = [_mm256_setzero_ps(); 2];
                for (j, x) in c.iter_mut().enumerate() {
                    *x = _mm256_add_ps(
                        _mm256_shuffle_ps::<0x44>(b[j], b[j + 2]),
                        _mm256_shuffle_ps::<0xEE>(b[j], b[j + 2]),
                    );
                }
                let e = _mm256_add_ps(
                    _mm256_shuffle_ps::<0x88>(c[0], c[1]),
                    _mm256_shuffle_ps::<0xDD>(c[0], c[1]),
                );
                _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 2, 1, 3, 4, 6, 5, 7))
            }
        }
    }

    impl HSums for Avx512 {
        /// `hsum` adds lanes (i, i+8), (i, i+4), (i, i+2), (i, i+1): four levels of pairwise
        /// vector combines (two shuffles and an add each, 15 combines for 16 keys). The result
        /// holds the keys as [0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15]; a final
        /// permute puts them in order.
        #[inline(always)]
        unsafe fn hsums(a: *const __m512) -> __m512 {
            // SAFETY: 16 readable vectors (caller); AVX-512F is enabled in the calling kernel.
            unsafe {
                // b_j: 256-bit half 0 = key j's (i, i+8) sums, half 1 = key j+8's.
                let mut b = [_mm512_setzero_ps(); 8];
                for (j, x) in b.iter_mut().enumerate() {
                    let (lo, hi) = (*a.add(j), *a.add(j + 8));
                    *x = _mm512_add_ps(
                        _mm512_shuffle_f32x4::<0x44>(lo, hi),
                        _mm512_shuffle_f32x4::<0xEE>(lo, hi),
                    );
                }
                // c_j: 128-bit quarters = keys j, j+8, j+4, j+12 (their (i, i+4) sums).
                let mut c = [_mm512_setzero_ps(); 4];
                for (j, x) in c.iter_mut().enumerate() {
                    *x = _mm512_add_ps(
                        _mm512_shuffle_f32x4::<0x88>(b[j], b[j + 4]),
                        _mm512_shuffle_f32x4::<0xDD>(b[j], b[j + 4]),
                    );
                }
                let mut d = [_mm512_setzero_ps(); 2];
                for (j, x) in d.iter_mut().enumerate() {
                    *x = _mm512_add_ps(
                        _mm512_shuffle_ps::<0x44>(c[j], c[j + 2]),
                        _mm512_shuffle_ps::<0xEE>(c[j], c[j + 2]),
                    );
                }
                let e = _mm512_add_ps(
                    _mm512_shuffle_ps::<0x88>(d[0], d[1]),
                    _mm512_shuffle_ps::<0xDD>(d[0], d[1]),
                );
                _mm512_permutexvar_ps(
                    _mm512_setr_epi32(0, 2, 1, 3, 8, 10, 9, 11, 4, 6, 5, 7, 12, 14, 13, 15),
                    e,
                )
            }
        }
    }
}

/// `scores[i][j] = scale · q_i·k_j` for the `R` query rows `q[i]` (same position, so the same
/// visible keys) and keys `j < vis` at `k + j·stride` values (stored as `W`).
///
/// Per key and row: one vector accumulator over the head's whole vectors in order (FMA from
/// zero), the fixed horizontal sum (`N` keys at once through [`HSums::hsums`]), then the
/// `hd % N` tail in order, then the scale: the operations of a per-key dot with `Lanes::hsum`,
/// whatever `R`, `vis` or the key's place in the tile. Keys of a last, partial group of `N` reuse
/// key `vis − 1`'s address (their lanes are dropped), so nothing past `vis` is read. Entries of
/// `scores` at or past `vis` are left as they were, or overwritten with a dropped lane's value
/// when they are in the last group.
///
/// # Safety
/// Each `q[i]` has `hd` readable f32; keys `j < vis` have `hd` readable values at
/// `k + j·stride·W::BYTES`; `vis <= KEY_TILE`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn qk_group<S: HSums, W: WeightFmt + Upcast, const R: usize>(
    q: &[*const f32; R],
    k: *const u8,
    stride: usize,
    hd: usize,
    vis: usize,
    scale: f32,
    scores: &mut [[f32; KEY_TILE]; R],
) {
    let (n, wb) = (S::N, W::BYTES);
    let hd_vec = hd / n * n;
    let n_vec = hd_vec / n;
    // SAFETY: offsets stay inside the rows the caller promised (key addresses are clamped to
    // vis − 1); `part` rows hold N <= MAX_LANES vectors; j0 + N <= KEY_TILE (N divides KEY_TILE).
    unsafe {
        let mut part = [[S::zero(); MAX_LANES]; R];
        let mut j0 = 0;
        while j0 < vis {
            let mut c0 = 0;
            while c0 < n_vec {
                let cn = Q_CHUNK.min(n_vec - c0);
                let mut qv = [[S::zero(); Q_CHUNK]; R];
                for (qi, qr) in qv.iter_mut().zip(q) {
                    for (c, x) in qi.iter_mut().enumerate().take(cn) {
                        *x = S::load_x(qr.add((c0 + c) * n));
                    }
                }
                for jj in 0..n {
                    let key = k.add((j0 + jj).min(vis - 1) * stride * wb);
                    let mut kv = [S::zero(); Q_CHUNK];
                    for (c, x) in kv.iter_mut().enumerate().take(cn) {
                        *x = S::load_w::<W>(key.add((c0 + c) * n * wb));
                    }
                    for (pi, qi) in part.iter_mut().zip(&qv) {
                        let mut a = if c0 == 0 { S::zero() } else { pi[jj] };
                        for c in 0..cn {
                            a = S::mul_add(qi[c], kv[c], a);
                        }
                        pi[jj] = a;
                    }
                }
                c0 += cn;
            }
            for ((pi, si), qr) in part.iter().zip(scores.iter_mut()).zip(q) {
                let sums = S::hsums(pi.as_ptr());
                if hd_vec == hd {
                    S::store(si.as_mut_ptr().add(j0), S::mul(sums, S::splat(scale)));
                    continue;
                }
                let mut lanes = [0f32; MAX_LANES];
                S::store(lanes.as_mut_ptr(), sums);
                for (jj, &sum) in lanes.iter().enumerate().take(n.min(vis - j0)) {
                    let key = k.add((j0 + jj) * stride * wb);
                    let mut s = sum;
                    for t in hd_vec..hd {
                        s += *qr.add(t) * W::scalar(key.add(t * wb));
                    }
                    si[j0 + jj] = s * scale;
                }
            }
            j0 += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `hsums` of N vectors against `hsum` of each, bit for bit, on values whose sums round
    /// differently in different orders.
    fn check<S: HSums>(name: &str) {
        let n = S::N;
        let mut vals = [[0f32; MAX_LANES]; MAX_LANES];
        let mut x = 0x1234_5678u32;
        for row in vals.iter_mut() {
            for v in row.iter_mut() {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let mag = [1e-3f32, 1.0, 1e4][(x >> 8) as usize % 3];
                *v = ((x >> 9) as f32 / (1u32 << 23) as f32 - 0.5) * mag;
            }
        }
        // SAFETY: the callers pass only tiers this CPU runs; 16 >= N values everywhere.
        unsafe {
            let mut vecs = [S::zero(); MAX_LANES];
            for (v, row) in vecs.iter_mut().zip(&vals) {
                *v = S::load_x(row.as_ptr());
            }
            let mut got = [0f32; MAX_LANES];
            S::store(got.as_mut_ptr(), S::hsums(vecs.as_ptr()));
            for j in 0..n {
                let want = S::hsum(vecs[j]);
                assert_eq!(got[j].to_bits(), want.to_bits(), "{name}: key {j}");
            }
        }
    }

    #[test]
    fn hsums_equal_hsum_per_vector_bit_for_bit() {
        check::<Portable>("portable");
        #[cfg(target_arch = "x86_64")]
        {
            use crate::simd::x86::{Avx2, Avx512};
            use crate::Isa;
            if Isa::best_supported() >= Isa::Avx2 {
                check::<Avx2>("avx2");
            }
            if Isa::best_supported() >= Isa::Avx512 {
                check::<Avx512>("avx512");
            }
        }
    }
}
