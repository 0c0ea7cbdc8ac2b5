//! AVX-512 VNNI group kernels: one 512-bit lane group = the 16 rows of a packed group, one i32
//! lane per output row. Per 4-value chunk and activation row: one `vpdpbusd` of the 16 rows'
//! unsigned weight bytes against the activation's 4 bytes broadcast. The unpacked weight chunk is
//! reused by every activation row of the call. Float steps follow `reference.rs` exactly.
//!
//! Signed weights are made unsigned for `vpdpbusd` and corrected with the activation's exact block
//! sum: Q4_0 `q - 8`, Q5_0 `q - 16`, Q8_0 `(q ^ 0x80) - 128`.

// Register-blocked loops index several arrays by the same activation row / sub-block.
#![allow(clippy::needless_range_loop)]

use super::layout::{off, ROWS};
use super::{RawKernel, MAX_ACT_ROWS};
use std::arch::x86_64::*;

const Q4_0: u8 = 0;
const Q4_1: u8 = 1;
const Q5_0: u8 = 2;
const Q5_1: u8 = 3;
const Q8_0: u8 = 4;

/// Group-block bytes, m / qh / qs offsets (0: absent), weight offset of a 32-value format.
const fn legacy_fmt(f: u8) -> (usize, usize, usize, usize, i32) {
    match f {
        Q4_0 => (288, 0, 0, off::Q4_0_QS, 8),
        Q4_1 => (320, off::Q4_1_M, 0, off::Q4_1_QS, 0),
        Q5_0 => (352, 0, off::Q5_0_QH, off::Q5_0_QS, 16),
        Q5_1 => (384, off::Q5_1_M, off::Q5_1_QH, off::Q5_1_QS, 0),
        _ => (544, 0, 0, off::Q8_0_QS, 128),
    }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn load(p: *const u8) -> __m512i {
    // SAFETY: the caller's pointer covers 64 bytes.
    unsafe { _mm512_loadu_si512(p.cast()) }
}

/// The 4 bytes at `p` in every 32-bit lane.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn bcast(p: *const u8) -> __m512i {
    // SAFETY: the caller's pointer covers 4 bytes.
    _mm512_set1_epi32(unsafe { p.cast::<i32>().read_unaligned() })
}

#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn bcast_f32(p: *const u8) -> __m512 {
    // SAFETY: the caller's pointer covers 4 bytes.
    _mm512_set1_ps(unsafe { p.cast::<f32>().read_unaligned() })
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn i32_at(p: *const u8) -> i32 {
    // SAFETY: the caller's pointer covers 4 bytes.
    unsafe { p.cast::<i32>().read_unaligned() }
}

/// 16 f16 at `p` as f32.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn f16x16(p: *const u8) -> __m512 {
    // SAFETY: the caller's pointer covers 32 bytes.
    _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
}

/// Adds 0x10 to the bytes of `v` whose bit is set in the 64-bit fifth-bit mask at `m` (see
/// `layout.rs`: one bit per byte of a chunk register).
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn add_fifth_bits(v: __m512i, m: *const u8) -> __m512i {
    // SAFETY: the caller's pointer covers 8 bytes.
    let k = _cvtu64_mask64(unsafe { m.cast::<u64>().read_unaligned() });
    _mm512_mask_add_epi8(v, k, v, _mm512_set1_epi8(0x10))
}

/// Exact integer block sums of block `b` for every activation row (weight offset applied).
// No `target_feature` here so that `inline(always)` is allowed: always inlined into the kernels,
// which enable the features (LLVM would otherwise outline the big R = 4 Q5 body and spill).
#[inline(always)]
unsafe fn legacy_isum<const R: usize, const F: u8>(
    p: *const u8,
    a: &[*const u8; R],
    b: usize,
    init: [__m512i; R],
) -> [__m512i; R] {
    let (_, _, qh_off, qs_off, _) = legacy_fmt(F);
    let mut s = init;
    let base = 32 * b;
    // SAFETY (loads below): p is a whole group-block of F; a[r] + base + 32 is inside row r's quants.
    unsafe {
        if F == Q8_0 {
            let flip = _mm512_set1_epi8(0x80u8 as i8);
            for c in 0..8 {
                let v = _mm512_xor_si512(load(p.add(qs_off + 64 * c)), flip);
                for r in 0..R {
                    s[r] = _mm512_dpbusd_epi32(s[r], v, bcast(a[r].add(base + 4 * c)));
                }
            }
        } else {
            let low = _mm512_set1_epi8(0x0f);
            for c in 0..4 {
                let v = load(p.add(qs_off + 64 * c));
                let mut lo = _mm512_and_si512(v, low);
                let mut hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), low);
                if qh_off != 0 {
                    lo = add_fifth_bits(lo, p.add(qh_off + 8 * c));
                    hi = add_fifth_bits(hi, p.add(qh_off + 32 + 8 * c));
                }
                for r in 0..R {
                    s[r] = _mm512_dpbusd_epi32(s[r], lo, bcast(a[r].add(base + 4 * c)));
                    s[r] = _mm512_dpbusd_epi32(s[r], hi, bcast(a[r].add(base + 16 + 4 * c)));
                }
            }
        }
    }
    s
}

/// One block of a 32-value format into `acc` (and the m term into `accm`).
// Always inlined, like `legacy_isum`.
#[inline(always)]
unsafe fn legacy_block<const R: usize, const F: u8>(
    g: *const u8,
    b: usize,
    nb: usize,
    k: usize,
    a: &[*const u8; R],
    acc: &mut [__m512; R],
    accm: &mut [__m512; R],
) {
    let (gb, m_off, _, _, offset) = legacy_fmt(F);
    // SAFETY: block b < nb of the group; d / aux arrays of each activation row have nb entries.
    unsafe {
        let p = g.add(b * gb);
        // The weight offset enters as the start value of the exact integer sum.
        // (A loop, not a closure: this function has no target features of its own to lend one.)
        let mut init = [_mm512_setzero_si512(); R];
        if offset != 0 {
            for r in 0..R {
                init[r] = _mm512_set1_epi32(-offset * i32_at(a[r].add(k + 4 * nb + 4 * b)));
            }
        }
        let isum = legacy_isum::<R, F>(p, a, b, init);
        let dw = f16x16(p);
        for r in 0..R {
            let t = _mm512_mul_ps(dw, bcast_f32(a[r].add(k + 4 * b)));
            acc[r] = _mm512_fmadd_ps(t, _mm512_cvtepi32_ps(isum[r]), acc[r]);
        }
        if m_off != 0 {
            let mw = f16x16(p.add(m_off));
            for r in 0..R {
                let sa = bcast_f32(a[r].add(k + 4 * nb + 4 * b));
                accm[r] = _mm512_fmadd_ps(mw, sa, accm[r]);
            }
        }
    }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn legacy<const R: usize, const F: u8>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let (_, m_off, _, _, _) = legacy_fmt(F);
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    let mut acc0 = [_mm512_setzero_ps(); R];
    let mut acc1 = [_mm512_setzero_ps(); R];
    let mut accm = [_mm512_setzero_ps(); R];
    let mut b = 0;
    // SAFETY: blocks b < nb (see RawKernel).
    unsafe {
        while b + 1 < nb {
            legacy_block::<R, F>(g, b, nb, k, &a, &mut acc0, &mut accm);
            legacy_block::<R, F>(g, b + 1, nb, k, &a, &mut acc1, &mut accm);
            b += 2;
        }
        if b < nb {
            legacy_block::<R, F>(g, b, nb, k, &a, &mut acc0, &mut accm);
        }
    }
    for r in 0..R {
        let mut s = _mm512_add_ps(acc0[r], acc1[r]);
        if m_off != 0 {
            s = _mm512_add_ps(s, accm[r]);
        }
        // SAFETY: out[r] is 16 f32.
        unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), s) };
    }
}

/// Independent `vpdpbusd` chains per activation row and sub-block: few rows get several, so
/// enough dot products are in flight to cover the instruction's latency.
const fn streams(r: usize) -> usize {
    match r {
        1 => 4,
        2 => 2,
        _ => 1,
    }
}

/// The sum of the first `n` of `v` (exact i32 adds, a tree).
#[inline(always)]
unsafe fn sum_streams(v: [__m512i; 4], n: usize) -> __m512i {
    // SAFETY: plain register arithmetic (the callers enable AVX-512 F).
    unsafe {
        match n {
            1 => v[0],
            2 => _mm512_add_epi32(v[0], v[1]),
            _ => _mm512_add_epi32(_mm512_add_epi32(v[0], v[1]), _mm512_add_epi32(v[2], v[3])),
        }
    }
}

/// Q4K: per sub-block pair `gg`, the low nibbles (sub-block 2gg) masked as they are and the high
/// nibbles (sub-block 2gg+1) masked in place (`q·16`, no shift), so the pair's exact sum is
/// `16·(sc_lo·dot_lo + sc_hi·dot_hi)` = `(16·sc_lo)·dot_lo + sc_hi·dot16_hi`; the factor 16 is
/// taken out after the i32 → f32 conversion (exact: a power of two).
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn q4k<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    let s = streams(R);
    let mut acc = [_mm512_setzero_ps(); R];
    let mut accm = [_mm512_setzero_ps(); R];
    let low = _mm512_set1_epi8(0x0f);
    let high = _mm512_set1_epi8(0xf0u8 as i8);
    let sixteenth = _mm512_set1_ps(1.0 / 16.0);
    let aux2 = k + 36 * nb;
    // SAFETY: super-blocks b < nb of the group and of each activation row (see RawKernel).
    unsafe {
        for b in 0..nb {
            let p = g.add(b * 2368);
            let base = 256 * b;
            let mut isum = [_mm512_setzero_si512(); R];
            for gg in 0..4 {
                let mut dlo = [[_mm512_setzero_si512(); 4]; R];
                let mut dhi = [[_mm512_setzero_si512(); 4]; R];
                for c in 0..8 {
                    let v = load(p.add(off::Q4K_QS + 64 * (8 * gg + c)));
                    let lo = _mm512_and_si512(v, low);
                    let hi = _mm512_and_si512(v, high);
                    for r in 0..R {
                        let q = a[r].add(base + 64 * gg + 4 * c);
                        let j = c % s;
                        dlo[r][j] = _mm512_dpbusd_epi32(dlo[r][j], lo, bcast(q));
                        dhi[r][j] = _mm512_dpbusd_epi32(dhi[r][j], hi, bcast(q.add(32)));
                    }
                }
                let sc = p.add(off::Q4K_SC + 32 * gg);
                let sl = _mm512_cvtepu8_epi32(_mm_loadu_si128(sc.cast()));
                let sl = _mm512_slli_epi32::<4>(sl);
                let sh = _mm512_cvtepu8_epi32(_mm_loadu_si128(sc.add(16).cast()));
                for r in 0..R {
                    let t = _mm512_add_epi32(
                        _mm512_mullo_epi32(sum_streams(dlo[r], s), sl),
                        _mm512_mullo_epi32(sum_streams(dhi[r], s), sh),
                    );
                    isum[r] = _mm512_add_epi32(isum[r], t);
                }
            }
            let mins: [__m512i; 4] = std::array::from_fn(|i| {
                _mm512_cvtepu8_epi16(_mm256_loadu_si256(p.add(off::Q4K_MIN + 32 * i).cast()))
            });
            let dw = f16x16(p);
            let dmw = f16x16(p.add(off::Q4K_DMIN));
            for r in 0..R {
                let mut msum = _mm512_setzero_si512();
                for (i, m) in mins.iter().enumerate() {
                    let bs = bcast(a[r].add(aux2 + 16 * b + 4 * i));
                    msum = _mm512_dpwssd_epi32(msum, *m, bs);
                }
                let da = bcast_f32(a[r].add(k + 4 * b));
                let fsum = _mm512_mul_ps(_mm512_cvtepi32_ps(isum[r]), sixteenth);
                acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), fsum, acc[r]);
                accm[r] =
                    _mm512_fmadd_ps(_mm512_mul_ps(dmw, da), _mm512_cvtepi32_ps(msum), accm[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(out[r].as_mut_ptr(), _mm512_sub_ps(acc[r], accm[r]));
        }
    }
}

/// Scale pair p of a Q6K group-block: lane r = (sc₂ₚ, sc₂ₚ₊₁) as i16.
#[inline]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn q6k_pair(p: *const u8, pair: usize) -> __m512i {
    // SAFETY: the scale pairs are 8 × 32 bytes inside the group-block.
    _mm512_cvtepi8_epi16(unsafe { _mm256_loadu_si256(p.add(off::Q6K_SC + 32 * pair).cast()) })
}

/// Q6K. Per half `n` (128 values), chunk quarter `cq` and pass `hh`: the value sets `2hh` and
/// `2hh + 1` (masked planes, or set 3 from the planes' top bits: `layout.rs`), i.e. sub-blocks
/// `8n + 2kk + cq`, each a 4-chunk dot; unsigned 0..63, the 32 offset subtracted once per
/// super-block through the activation's sums of 16.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,f16c,fma")]
unsafe fn q6k<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    let s = streams(R).min(2);
    let mut acc = [_mm512_setzero_ps(); R];
    let low = _mm512_set1_epi8(0x0f);
    let six = _mm512_set1_epi8(0x3f);
    let aux = k + 4 * nb;
    let and = |v: __m512i, m: __m512i| _mm512_and_si512(v, m);
    // SAFETY: super-blocks b < nb of the group and of each activation row (see RawKernel).
    unsafe {
        for b in 0..nb {
            let p = g.add(b * 3360);
            let base = 256 * b;
            let mut isum = [_mm512_setzero_si512(); R];
            for n in 0..2 {
                for cq in 0..2 {
                    for hh in 0..2 {
                        // dots[r][i][stream]: value set kk = 2hh + i
                        let mut dots = [[[_mm512_setzero_si512(); 2]; 2]; R];
                        for c in 4 * cq..4 * cq + 4 {
                            let plane =
                                |t: usize| load(p.add(off::Q6K_Q + 64 * (24 * n + 8 * t + c)));
                            let q = if hh == 0 {
                                [and(plane(0), six), and(plane(1), six)]
                            } else {
                                // Set 3: two bits from the top of each plane (see `layout.rs`).
                                let (p0, p1, p2) = (plane(0), plane(1), plane(2));
                                let t = _mm512_ternarylogic_epi32::<0xE4>(
                                    _mm512_srli_epi16::<6>(p0),
                                    _mm512_srli_epi16::<4>(p1),
                                    _mm512_set1_epi8(0x03),
                                );
                                let t = _mm512_ternarylogic_epi32::<0xE4>(
                                    t,
                                    _mm512_srli_epi16::<2>(p2),
                                    low,
                                );
                                [and(p2, six), and(t, six)]
                            };
                            let j = c % s;
                            for r in 0..R {
                                let qa = a[r].add(base + 128 * n + 64 * hh + 4 * c);
                                for i in 0..2 {
                                    dots[r][i][j] = _mm512_dpbusd_epi32(
                                        dots[r][i][j],
                                        q[i],
                                        bcast(qa.add(32 * i)),
                                    );
                                }
                            }
                        }
                        for i in 0..2 {
                            // sub-block 8n + 2kk + cq: element cq of scale pair 4n + kk.
                            let pr = q6k_pair(p, 4 * n + 2 * hh + i);
                            let sc = if cq == 0 {
                                _mm512_srai_epi32::<16>(_mm512_slli_epi32::<16>(pr))
                            } else {
                                _mm512_srai_epi32::<16>(pr)
                            };
                            for r in 0..R {
                                let [d0, d1] = dots[r][i];
                                let d = if s == 1 { d0 } else { _mm512_add_epi32(d0, d1) };
                                isum[r] = _mm512_add_epi32(isum[r], _mm512_mullo_epi32(d, sc));
                            }
                        }
                    }
                }
            }
            let dw = f16x16(p);
            let pairs: [__m512i; 8] = std::array::from_fn(|pair| q6k_pair(p, pair));
            for r in 0..R {
                let mut offs = _mm512_setzero_si512();
                for (pair, sc) in pairs.iter().enumerate() {
                    let bs = bcast(a[r].add(aux + 32 * b + 4 * pair));
                    offs = _mm512_dpwssd_epi32(offs, *sc, bs);
                }
                let v = _mm512_sub_epi32(isum[r], _mm512_slli_epi32::<5>(offs));
                let da = bcast_f32(a[r].add(k + 4 * b));
                acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da), _mm512_cvtepi32_ps(v), acc[r]);
            }
        }
        for r in 0..R {
            _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]);
        }
    }
}

/// Dispatches on the number of activation rows.
macro_rules! by_rows {
    ($name:ident, $($kernel:tt)+) => {
        unsafe fn $name(
            g: *const u8,
            nb: usize,
            k: usize,
            acts: &[*const u8],
            out: &mut [[f32; ROWS]],
        ) {
            debug_assert!(acts.len() == out.len() && (1..=MAX_ACT_ROWS).contains(&acts.len()));
            // SAFETY: forwarded from the caller (see RawKernel); the table holding this function
            // exists only after runtime detection of AVX-512 F/BW/VL/VNNI, FMA and F16C.
            unsafe {
                match acts.len() {
                    1 => $($kernel)+::<1>(g, nb, k, acts, out),
                    2 => $($kernel)+::<2>(g, nb, k, acts, out),
                    3 => $($kernel)+::<3>(g, nb, k, acts, out),
                    _ => $($kernel)+::<4>(g, nb, k, acts, out),
                }
            }
        }
    };
}

unsafe fn legacy_q4_0<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    a: &[*const u8],
    o: &mut [[f32; ROWS]],
) {
    unsafe { legacy::<R, Q4_0>(g, nb, k, a, o) }
}
unsafe fn legacy_q4_1<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    a: &[*const u8],
    o: &mut [[f32; ROWS]],
) {
    unsafe { legacy::<R, Q4_1>(g, nb, k, a, o) }
}
unsafe fn legacy_q5_0<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    a: &[*const u8],
    o: &mut [[f32; ROWS]],
) {
    unsafe { legacy::<R, Q5_0>(g, nb, k, a, o) }
}
unsafe fn legacy_q5_1<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    a: &[*const u8],
    o: &mut [[f32; ROWS]],
) {
    unsafe { legacy::<R, Q5_1>(g, nb, k, a, o) }
}
unsafe fn legacy_q8_0<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    a: &[*const u8],
    o: &mut [[f32; ROWS]],
) {
    unsafe { legacy::<R, Q8_0>(g, nb, k, a, o) }
}

by_rows!(q4_0_rows, legacy_q4_0);
by_rows!(q4_1_rows, legacy_q4_1);
by_rows!(q5_0_rows, legacy_q5_0);
by_rows!(q5_1_rows, legacy_q5_1);
by_rows!(q8_0_rows, legacy_q8_0);
by_rows!(q4k_rows, q4k);
by_rows!(q6k_rows, q6k);

/// The table, in `super::slot` order. Only handed out after feature detection.
pub(super) fn table() -> [Option<RawKernel>; 7] {
    [
        Some(q4_0_rows),
        Some(q4_1_rows),
        Some(q5_0_rows),
        Some(q5_1_rows),
        Some(q8_0_rows),
        Some(q4k_rows),
        Some(q6k_rows),
    ]
}
