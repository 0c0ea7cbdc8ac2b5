//! AVX2 kernels for the k-quant weights (Q4K, Q5K, Q6K) against Q8K activations.
//!
//! Per super-block: weight quants are unpacked to unsigned bytes 32 at a time, multiplied with the
//! activation bytes (maddubs → i16 pairs), weighted by their sub-block scale (madd → i32), and the
//! exact i32 lane sums are scaled once by d_w·d_a. Offsets (the Q4K / Q5K mins, Q6K's -32) use the
//! activation's `bsums`, as llama.cpp does for the mins. Activation quants must be in [-127, 127].
//! The super-block scales are converted in integer code (`to_f32_const`): an F16C conversion of a
//! lone f16 gets lowered to an insert into a live vector register, a false dependency.

use crate::simd::x86_lanes::hsum_f32_8;
use crate::{k_scales, BlockQ4K, BlockQ5K, BlockQ6K, BlockQ8K};
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "avx2")]
unsafe fn load32<T>(p: &[T]) -> __m256i {
    debug_assert!(std::mem::size_of_val(p) >= 32);
    // SAFETY: callers pass slices of at least 32 bytes.
    unsafe { _mm256_loadu_si256(p.as_ptr().cast()) }
}

/// Σ_j bsums[j] · v[j / 2] for eight u8 values `v` (one per 32-value sub-block): 8 i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn bsums_times_pairs(bsums: &[i16; 16], v: &[u8; 8]) -> __m256i {
    let v = _mm_cvtsi64_si128(i64::from_le_bytes(*v));
    let doubled = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v)); // v0 v0 v1 v1 ... v7 v7
                                                                 // SAFETY: bsums is 32 bytes.
    let bs = unsafe { load32(bsums) };
    _mm256_madd_epi16(bs, doubled)
}

/// Σ scale · (u · a) over 32 values: `u` unsigned quants, `a` activation bytes, one i16 scale.
#[inline]
#[target_feature(enable = "avx2")]
fn scaled_dot(u: __m256i, a: __m256i, scale: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), scale)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q4k_q8k_impl(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm256_setzero_ps();
    let low = _mm256_set1_epi8(0x0f);
    for (x, y) in w.iter().zip(a) {
        let (scales, mins) = k_scales::unpack(&x.scales);
        let d = y.d * x.d.to_f32_const();
        let dmin = -y.d * x.dmin.to_f32_const();
        let m = bsums_times_pairs(&y.bsums, &mins);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(m), acc_m);

        let mut sumi = _mm256_setzero_si256();
        for (g, (q4, q8)) in x.qs.chunks_exact(32).zip(y.qs.chunks_exact(64)).enumerate() {
            // SAFETY: 32-byte chunks of qs, 64-byte chunks of the activations.
            let (q4, a_lo, a_hi) = unsafe { (load32(q4), load32(q8), load32(&q8[32..])) };
            let lo = _mm256_and_si256(q4, low);
            let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(q4), low);
            let s_lo = _mm256_set1_epi16(i16::from(scales[2 * g]));
            let s_hi = _mm256_set1_epi16(i16::from(scales[2 * g + 1]));
            sumi = _mm256_add_epi32(sumi, scaled_dot(lo, a_lo, s_lo));
            sumi = _mm256_add_epi32(sumi, scaled_dot(hi, a_hi, s_hi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32_8(acc) + hsum_f32_8(acc_m)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q5k_q8k_impl(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let mut acc_m = _mm256_setzero_ps();
    let low = _mm256_set1_epi8(0x0f);
    let bit4 = _mm256_set1_epi8(0x10);
    for (x, y) in w.iter().zip(a) {
        let (scales, mins) = k_scales::unpack(&x.scales);
        let d = y.d * x.d.to_f32_const();
        let dmin = -y.d * x.dmin.to_f32_const();
        let m = bsums_times_pairs(&y.bsums, &mins);
        acc_m = _mm256_fmadd_ps(_mm256_set1_ps(dmin), _mm256_cvtepi32_ps(m), acc_m);

        // SAFETY: qh is 32 bytes.
        let mut hbits = unsafe { load32(&x.qh) };
        let mut sumi = _mm256_setzero_si256();
        for (g, (q4, q8)) in x.qs.chunks_exact(32).zip(y.qs.chunks_exact(64)).enumerate() {
            // SAFETY: 32-byte chunks of qs, 64-byte chunks of the activations.
            let (q4, a_lo, a_hi) = unsafe { (load32(q4), load32(q8), load32(&q8[32..])) };
            // bit 2g of each qh byte is the 5th bit of the low-nibble sub-block, 2g+1 of the high one;
            // hbits is shifted right by 2 per group, so they sit at bits 0 and 1.
            let lo = _mm256_or_si256(
                _mm256_and_si256(q4, low),
                _mm256_and_si256(_mm256_slli_epi16::<4>(hbits), bit4),
            );
            let hi = _mm256_or_si256(
                _mm256_and_si256(_mm256_srli_epi16::<4>(q4), low),
                _mm256_and_si256(_mm256_slli_epi16::<3>(hbits), bit4),
            );
            hbits = _mm256_srli_epi16::<2>(hbits);
            let s_lo = _mm256_set1_epi16(i16::from(scales[2 * g]));
            let s_hi = _mm256_set1_epi16(i16::from(scales[2 * g + 1]));
            sumi = _mm256_add_epi32(sumi, scaled_dot(lo, a_lo, s_lo));
            sumi = _mm256_add_epi32(sumi, scaled_dot(hi, a_hi, s_hi));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32_8(acc) + hsum_f32_8(acc_m)
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn q6k_q8k_impl(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut acc = _mm256_setzero_ps();
    let low = _mm256_set1_epi8(0x0f);
    let top2 = _mm256_set1_epi8(0x30);
    for (x, y) in w.iter().zip(a) {
        let d = y.d * x.d.to_f32_const();
        // SAFETY: scales is 16 bytes, bsums 32 bytes.
        let scales16 = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(x.scales.as_ptr().cast()) });
        // Σ_j scale_j · bsums_j: the -32 offset of every quant, applied once.
        let offset = _mm256_madd_epi16(unsafe { load32(&y.bsums) }, scales16);

        let mut sumi = _mm256_setzero_si256();
        let halves =
            x.ql.chunks_exact(64)
                .zip(x.qh.chunks_exact(32))
                .zip(y.qs.chunks_exact(128));
        for (n, ((ql, qh), q8)) in halves.enumerate() {
            // SAFETY: 32-byte loads inside the 64 / 32 / 128-byte chunks.
            let (ql_a, ql_b, h) = unsafe { (load32(ql), load32(&ql[32..]), load32(qh)) };
            let q = [
                _mm256_or_si256(
                    _mm256_and_si256(ql_a, low),
                    _mm256_and_si256(_mm256_slli_epi16::<4>(h), top2),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(ql_b, low),
                    _mm256_and_si256(_mm256_slli_epi16::<2>(h), top2),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql_a), low),
                    _mm256_and_si256(h, top2),
                ),
                _mm256_or_si256(
                    _mm256_and_si256(_mm256_srli_epi16::<4>(ql_b), low),
                    _mm256_and_si256(_mm256_srli_epi16::<2>(h), top2),
                ),
            ];
            for (k, (q, a8)) in q.into_iter().zip(q8.chunks_exact(32)).enumerate() {
                // SAFETY: a 32-byte chunk.
                let a8 = unsafe { load32(a8) };
                let j = 8 * n + 2 * k;
                let scale = _mm256_set_m128i(
                    _mm_set1_epi16(i16::from(x.scales[j + 1])),
                    _mm_set1_epi16(i16::from(x.scales[j])),
                );
                sumi = _mm256_add_epi32(sumi, scaled_dot(q, a8, scale));
            }
        }
        sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32::<5>(offset));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
    }
    hsum_f32_8(acc)
}

// Safe entry points for the kernel table. SAFETY (all): only placed in a table after runtime
// detection of avx2, fma and f16c (see simd/mod.rs).

pub(crate) fn q4k_q8k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    unsafe { q4k_q8k_impl(w, a) }
}

pub(crate) fn q5k_q8k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    unsafe { q5k_q8k_impl(w, a) }
}

pub(crate) fn q6k_q8k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    unsafe { q6k_q8k_impl(w, a) }
}
