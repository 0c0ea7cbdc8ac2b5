//! AVX2 + FMA dots of F32 / F16 / BF16 weight bytes (any alignment) with f32 activations:
//! four 8-lane accumulators over 32 values, then a scalar tail.

use crate::float::bf16_to_f32;
use crate::simd::x86_lanes::hsum_f32_8;
use half::f16;
use std::arch::x86_64::*;

/// Runs `load(i)` (8 weights starting at value i, as f32) against the activations.
#[inline]
#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_by<L: Fn(usize) -> __m256, T: Fn(usize) -> f32>(
    n: usize,
    a: &[f32],
    load: L,
    tail: T,
) -> f32 {
    debug_assert!(a.len() >= n);
    let ap = a.as_ptr();
    let mut acc = [_mm256_setzero_ps(); 4];
    let mut i = 0;
    while i + 32 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 8k + 8 ≤ n ≤ a.len().
            let av = unsafe { _mm256_loadu_ps(ap.add(i + 8 * k)) };
            *acc = _mm256_fmadd_ps(load(i + 8 * k), av, *acc);
        }
        i += 32;
    }
    while i + 8 <= n {
        // SAFETY: i + 8 ≤ n ≤ a.len().
        let av = unsafe { _mm256_loadu_ps(ap.add(i)) };
        acc[0] = _mm256_fmadd_ps(load(i), av, acc[0]);
        i += 8;
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mut s = hsum_f32_8(sum);
    for (j, &x) in a.iter().enumerate().take(n).skip(i) {
        s += tail(j) * x;
    }
    s
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f32_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 4).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): value i + 8 ≤ n, so bytes up to 4(i + 8) ≤ w.len().
    let load = |i: usize| unsafe { _mm256_loadu_ps(wp.add(4 * i).cast()) };
    let tail = |j: usize| f32::from_le_bytes([w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]]);
    unsafe { dot_by(n, a, load, tail) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_f16_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 2).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): bytes up to 2(i + 8) ≤ w.len().
    let load = |i: usize| _mm256_cvtph_ps(unsafe { _mm_loadu_si128(wp.add(2 * i).cast()) });
    let tail = |j: usize| f16::from_bits(u16::from_le_bytes([w[2 * j], w[2 * j + 1]])).to_f32();
    unsafe { dot_by(n, a, load, tail) }
}

#[target_feature(enable = "avx2,fma,f16c")]
unsafe fn dot_bf16_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 2).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): bytes up to 2(i + 8) ≤ w.len().
    let load = |i: usize| {
        let h = unsafe { _mm_loadu_si128(wp.add(2 * i).cast()) };
        _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(h)))
    };
    let tail = |j: usize| bf16_to_f32(u16::from_le_bytes([w[2 * j], w[2 * j + 1]]));
    unsafe { dot_by(n, a, load, tail) }
}

// Safe entry points for the kernel table. SAFETY (all): only placed in a table after runtime
// detection of avx2, fma and f16c (see simd/mod.rs).

pub(crate) fn dot_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_f32_impl(w, a) }
}

pub(crate) fn dot_f16_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_f16_impl(w, a) }
}

pub(crate) fn dot_bf16_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_bf16_impl(w, a) }
}
