//! AVX2 group kernels: each 16-row group as two halves of 8 rows, one i32 lane of a 256-bit
//! register per output row. `vpmaddubsw` + `vpmaddwd` stand in for VNNI's `vpdpbusd` (exact: the
//! i16 pair sums stay below 2¹⁵ for the quant ranges here); k-quant sub-block scales ride in the
//! `vpmaddwd` as (scale, scale) i16 pairs. Integer sums are exact, and the float steps are the
//! ones of `reference.rs`, so every output equals the reference bit for bit.
//!
//! Q8_0 weights use the sign trick (|w| unsigned, the sign moved onto the activation); Q4_0 /
//! Q5_0 quants stay unsigned and are corrected with the activation's block sum.

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

/// Group-block bytes, m / qh / qs offsets (0: absent), unsigned-quant offset of a 32-value format.
const fn legacy_fmt(f: u8) -> (usize, usize, usize, usize, i32) {
    match f {
        Q4_0 => (288, 0, 0, off::Q4_0_QS, 8),
        Q4_1 => (320, off::Q4_1_M, 0, off::Q4_1_QS, 0),
        Q5_0 => (352, 0, off::Q5_0_QH, off::Q5_0_QS, 16),
        Q5_1 => (384, off::Q5_1_M, off::Q5_1_QH, off::Q5_1_QS, 0),
        // Signed products directly: no offset.
        _ => (544, 0, 0, off::Q8_0_QS, 0),
    }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load(p: *const u8) -> __m256i {
    // SAFETY: the caller's pointer covers 32 bytes.
    unsafe { _mm256_loadu_si256(p.cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bcast(p: *const u8) -> __m256i {
    // SAFETY: the caller's pointer covers 4 bytes.
    _mm256_set1_epi32(unsafe { p.cast::<i32>().read_unaligned() })
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bcast_f32(p: *const u8) -> __m256 {
    // SAFETY: the caller's pointer covers 4 bytes.
    _mm256_set1_ps(unsafe { p.cast::<f32>().read_unaligned() })
}

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn i32_at(p: *const u8) -> i32 {
    // SAFETY: the caller's pointer covers 4 bytes.
    unsafe { p.cast::<i32>().read_unaligned() }
}

/// 8 f16 at `p` as f32.
#[inline]
#[target_feature(enable = "avx2,f16c")]
unsafe fn f16x8(p: *const u8) -> __m256 {
    // SAFETY: the caller's pointer covers 16 bytes.
    _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
}

/// `acc + Σ₄ u·s` per i32 lane (u unsigned bytes, s signed bytes).
#[inline]
#[target_feature(enable = "avx2")]
fn dot4(acc: __m256i, u: __m256i, s: __m256i) -> __m256i {
    _mm256_add_epi32(
        acc,
        _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)),
    )
}

/// `acc + Σ₄ u·s · scale` per i32 lane, `scale` as (scale, scale) i16 pairs.
#[inline]
#[target_feature(enable = "avx2")]
fn dot4_scaled(acc: __m256i, u: __m256i, s: __m256i, scale: __m256i) -> __m256i {
    _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), scale))
}

/// Sets bit 4 of the bytes of `v` whose bit is set in the 32-bit fifth-bit mask at `m` (this
/// 8-row half's part of a 64-bit mask, see `layout.rs`).
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn or_fifth_bits(v: __m256i, m: *const u8) -> __m256i {
    // Byte i of the register gets mask byte i / 8, then tests bit i % 8.
    let ctrl = _mm256_setr_epi64x(
        0,
        0x0101_0101_0101_0101,
        0x0202_0202_0202_0202,
        0x0303_0303_0303_0303,
    );
    let bits = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    // SAFETY: the caller's pointer covers 4 bytes.
    let w = _mm256_set1_epi32(unsafe { m.cast::<i32>().read_unaligned() });
    let set = _mm256_cmpeq_epi8(_mm256_and_si256(_mm256_shuffle_epi8(w, ctrl), bits), bits);
    _mm256_or_si256(v, _mm256_and_si256(set, _mm256_set1_epi8(0x10)))
}

/// Exact block sums of block `b` for rows `8h..8h + 8` of the group, every activation row.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn legacy_isum<const R: usize, const F: u8>(
    p: *const u8,
    h: usize,
    a: &[*const u8; R],
    b: usize,
) -> [__m256i; R] {
    let (_, _, qh_off, qs_off, _) = legacy_fmt(F);
    let mut s = [_mm256_setzero_si256(); R];
    let base = 32 * b;
    // SAFETY (loads below): p is a whole group-block of F; a[r] + base + 32 is inside row r's quants.
    unsafe {
        if F == Q8_0 {
            for c in 0..8 {
                let w = load(p.add(qs_off + 64 * c + 32 * h));
                let u = _mm256_abs_epi8(w);
                for r in 0..R {
                    let sa = _mm256_sign_epi8(bcast(a[r].add(base + 4 * c)), w);
                    s[r] = dot4(s[r], u, sa);
                }
            }
        } else {
            let low = _mm256_set1_epi8(0x0f);
            for c in 0..4 {
                let v = load(p.add(qs_off + 64 * c + 32 * h));
                let mut lo = _mm256_and_si256(v, low);
                let mut hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
                if qh_off != 0 {
                    lo = or_fifth_bits(lo, p.add(qh_off + 8 * c + 4 * h));
                    hi = or_fifth_bits(hi, p.add(qh_off + 32 + 8 * c + 4 * h));
                }
                for r in 0..R {
                    s[r] = dot4(s[r], lo, bcast(a[r].add(base + 4 * c)));
                    s[r] = dot4(s[r], hi, bcast(a[r].add(base + 16 + 4 * c)));
                }
            }
        }
    }
    s
}

#[inline]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy_block<const R: usize, const F: u8>(
    g: *const u8,
    h: usize,
    b: usize,
    nb: usize,
    k: usize,
    a: &[*const u8; R],
    acc: &mut [__m256; R],
    accm: &mut [__m256; R],
) {
    let (gb, m_off, _, _, offset) = legacy_fmt(F);
    // SAFETY: block b < nb of the group; d / aux arrays of each activation row have nb entries.
    unsafe {
        let p = g.add(b * gb);
        let mut isum = legacy_isum::<R, F>(p, h, a, b);
        let dw = f16x8(p.add(16 * h));
        for r in 0..R {
            if offset != 0 {
                let sum = i32_at(a[r].add(k + 4 * nb + 4 * b));
                isum[r] = _mm256_sub_epi32(isum[r], _mm256_set1_epi32(offset * sum));
            }
            let t = _mm256_mul_ps(dw, bcast_f32(a[r].add(k + 4 * b)));
            acc[r] = _mm256_fmadd_ps(t, _mm256_cvtepi32_ps(isum[r]), acc[r]);
        }
        if m_off != 0 {
            let mw = f16x8(p.add(m_off + 16 * h));
            for r in 0..R {
                let sa = bcast_f32(a[r].add(k + 4 * nb + 4 * b));
                accm[r] = _mm256_fmadd_ps(mw, sa, accm[r]);
            }
        }
    }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn legacy<const R: usize, const F: u8>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let (_, m_off, _, _, _) = legacy_fmt(F);
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    for h in 0..2 {
        let mut acc0 = [_mm256_setzero_ps(); R];
        let mut acc1 = [_mm256_setzero_ps(); R];
        let mut accm = [_mm256_setzero_ps(); R];
        let mut b = 0;
        // SAFETY: blocks b < nb (see RawKernel).
        unsafe {
            while b + 1 < nb {
                legacy_block::<R, F>(g, h, b, nb, k, &a, &mut acc0, &mut accm);
                legacy_block::<R, F>(g, h, b + 1, nb, k, &a, &mut acc1, &mut accm);
                b += 2;
            }
            if b < nb {
                legacy_block::<R, F>(g, h, b, nb, k, &a, &mut acc0, &mut accm);
            }
        }
        for r in 0..R {
            let mut s = _mm256_add_ps(acc0[r], acc1[r]);
            if m_off != 0 {
                s = _mm256_add_ps(s, accm[r]);
            }
            // SAFETY: out[r] is 16 f32; this half is 8 of them.
            unsafe { _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * h), s) };
        }
    }
}

/// (scale, scale) i16 pairs of 8 rows from 8 unsigned scale bytes at `p`.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn u8_scale_pairs(p: *const u8) -> __m256i {
    // SAFETY: the caller's pointer covers 8 bytes.
    let x = _mm256_cvtepu8_epi32(unsafe { _mm_loadl_epi64(p.cast()) });
    _mm256_or_si256(x, _mm256_slli_epi32::<16>(x))
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4k<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    let low = _mm256_set1_epi8(0x0f);
    let aux2 = k + 36 * nb;
    // SAFETY: super-blocks b < nb of the group and of each activation row (see RawKernel).
    unsafe {
        for h in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            let mut accm = [_mm256_setzero_ps(); R];
            for b in 0..nb {
                let p = g.add(b * 2368);
                let base = 256 * b;
                let mut isum = [_mm256_setzero_si256(); R];
                for gg in 0..4 {
                    let sc = p.add(off::Q4K_SC + 32 * gg + 8 * h);
                    let (sl, sh) = (u8_scale_pairs(sc), u8_scale_pairs(sc.add(16)));
                    for c in 0..8 {
                        let v = load(p.add(off::Q4K_QS + 64 * (8 * gg + c) + 32 * h));
                        let lo = _mm256_and_si256(v, low);
                        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
                        for r in 0..R {
                            let q = a[r].add(base + 64 * gg + 4 * c);
                            isum[r] = dot4_scaled(isum[r], lo, bcast(q), sl);
                            isum[r] = dot4_scaled(isum[r], hi, bcast(q.add(32)), sh);
                        }
                    }
                }
                let mins: [__m256i; 4] = std::array::from_fn(|i| {
                    let m = p.add(off::Q4K_MIN + 32 * i + 16 * h);
                    _mm256_cvtepu8_epi16(_mm_loadu_si128(m.cast()))
                });
                let dw = f16x8(p.add(16 * h));
                let dmw = f16x8(p.add(off::Q4K_DMIN + 16 * h));
                for r in 0..R {
                    let mut msum = _mm256_setzero_si256();
                    for (i, m) in mins.iter().enumerate() {
                        let bs = bcast(a[r].add(aux2 + 16 * b + 4 * i));
                        msum = _mm256_add_epi32(msum, _mm256_madd_epi16(*m, bs));
                    }
                    let da = bcast_f32(a[r].add(k + 4 * b));
                    acc[r] =
                        _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(isum[r]), acc[r]);
                    accm[r] =
                        _mm256_fmadd_ps(_mm256_mul_ps(dmw, da), _mm256_cvtepi32_ps(msum), accm[r]);
                }
            }
            for r in 0..R {
                let v = _mm256_sub_ps(acc[r], accm[r]);
                _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * h), v);
            }
        }
    }
}

/// Scale pair `pair` of rows 8h..8h+8 of a Q6K group-block: lane r = (sc₂ₚ, sc₂ₚ₊₁) as i16.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn q6k_pair(p: *const u8, pair: usize, h: usize) -> __m256i {
    // SAFETY: the scale pairs are 8 × 32 bytes inside the group-block.
    let x = unsafe { _mm_loadu_si128(p.add(off::Q6K_SC + 32 * pair + 16 * h).cast()) };
    _mm256_cvtepi8_epi16(x)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6k<const R: usize>(
    g: *const u8,
    nb: usize,
    k: usize,
    acts: &[*const u8],
    out: &mut [[f32; ROWS]],
) {
    let a: [*const u8; R] = std::array::from_fn(|r| acts[r]);
    let six = _mm256_set1_epi8(0x3f);
    // (sc, sc) from an (sc₀, sc₁) i16 pair: element 0 or element 1 of each 32-bit lane
    // (vpshufb indexes bytes of the 128-bit lane: lane q's bytes are 4q..4q + 4).
    let lanes = |e: i32| {
        let q = 0x0404_0404;
        _mm256_setr_epi32(
            e,
            e + q,
            e + 2 * q,
            e + 3 * q,
            e,
            e + q,
            e + 2 * q,
            e + 3 * q,
        )
    };
    let first = lanes(0x0100_0100);
    let second = lanes(0x0302_0302);
    let aux = k + 4 * nb;
    // SAFETY: super-blocks b < nb of the group and of each activation row (see RawKernel).
    unsafe {
        for h in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for b in 0..nb {
                let p = g.add(b * 3360);
                let base = 256 * b;
                let mut isum = [_mm256_setzero_si256(); R];
                for n in 0..2 {
                    for cq in 0..2 {
                        // sub-block 8n + 2kk + cq: element cq of scale pair 4n + kk.
                        let sc: [__m256i; 4] = std::array::from_fn(|kk| {
                            let pr = q6k_pair(p, 4 * n + kk, h);
                            _mm256_shuffle_epi8(pr, if cq == 0 { first } else { second })
                        });
                        for c in 4 * cq..4 * cq + 4 {
                            let plane = |t: usize| {
                                load(p.add(off::Q6K_Q + 64 * (24 * n + 8 * t + c) + 32 * h))
                            };
                            let (pl0, pl1, pl2) = (plane(0), plane(1), plane(2));
                            // Set 3: two bits from the top of each plane (see `layout.rs`).
                            let top = |v: __m256i, m: __m256i| _mm256_and_si256(v, m);
                            let v3 = _mm256_or_si256(
                                _mm256_or_si256(
                                    top(_mm256_srli_epi16::<6>(pl0), _mm256_set1_epi8(0x03)),
                                    top(_mm256_srli_epi16::<4>(pl1), _mm256_set1_epi8(0x0c)),
                                ),
                                top(_mm256_srli_epi16::<2>(pl2), _mm256_set1_epi8(0x30)),
                            );
                            let q = [top(pl0, six), top(pl1, six), top(pl2, six), v3];
                            for r in 0..R {
                                let qa = a[r].add(base + 128 * n + 4 * c);
                                for kk in 0..4 {
                                    let av = bcast(qa.add(32 * kk));
                                    isum[r] = dot4_scaled(isum[r], q[kk], av, sc[kk]);
                                }
                            }
                        }
                    }
                }
                let dw = f16x8(p.add(16 * h));
                for r in 0..R {
                    let mut offs = _mm256_setzero_si256();
                    for pair in 0..8 {
                        let bs = bcast(a[r].add(aux + 32 * b + 4 * pair));
                        offs = _mm256_add_epi32(offs, _mm256_madd_epi16(q6k_pair(p, pair, h), bs));
                    }
                    let v = _mm256_sub_epi32(isum[r], _mm256_slli_epi32::<5>(offs));
                    let da = bcast_f32(a[r].add(k + 4 * b));
                    acc[r] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(v), acc[r]);
                }
            }
            for r in 0..R {
                _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * h), acc[r]);
            }
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
            // exists only after runtime detection of AVX2, FMA and F16C.
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

/// One instantiation per 32-value format (const-generic over the activation rows).
macro_rules! legacy_fn {
    ($name:ident, $f:expr) => {
        unsafe fn $name<const R: usize>(
            g: *const u8,
            nb: usize,
            k: usize,
            a: &[*const u8],
            o: &mut [[f32; ROWS]],
        ) {
            // SAFETY: forwarded (see RawKernel).
            unsafe { legacy::<R, { $f }>(g, nb, k, a, o) }
        }
    };
}

legacy_fn!(legacy_q4_0, Q4_0);
legacy_fn!(legacy_q4_1, Q4_1);
legacy_fn!(legacy_q5_0, Q5_0);
legacy_fn!(legacy_q5_1, Q5_1);
legacy_fn!(legacy_q8_0, Q8_0);

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
