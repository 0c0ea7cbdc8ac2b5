//! AVX-512F dots of F32 / F16 / BF16 weight bytes (any alignment) with f32 activations: four
//! 16-lane accumulators over 64 values, then a scalar tail.

use crate::float::bf16_to_f32;
use half::f16;
use std::arch::x86_64::*;

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,f16c,fma")]
unsafe fn dot_by<L: Fn(usize) -> __m512, T: Fn(usize) -> f32>(
    n: usize,
    a: &[f32],
    load: L,
    tail: T,
) -> f32 {
    debug_assert!(a.len() >= n);
    let ap = a.as_ptr();
    let mut acc = [_mm512_setzero_ps(); 4];
    let mut i = 0;
    while i + 64 <= n {
        for (k, acc) in acc.iter_mut().enumerate() {
            // SAFETY: i + 16k + 16 ≤ n ≤ a.len().
            let av = unsafe { _mm512_loadu_ps(ap.add(i + 16 * k)) };
            *acc = _mm512_fmadd_ps(load(i + 16 * k), av, *acc);
        }
        i += 64;
    }
    while i + 16 <= n {
        // SAFETY: i + 16 ≤ n ≤ a.len().
        let av = unsafe { _mm512_loadu_ps(ap.add(i)) };
        acc[0] = _mm512_fmadd_ps(load(i), av, acc[0]);
        i += 16;
    }
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    let mut s = _mm512_reduce_add_ps(sum);
    for (j, &x) in a.iter().enumerate().take(n).skip(i) {
        s += tail(j) * x;
    }
    s
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,f16c,fma")]
unsafe fn dot_f32_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 4).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): value i + 16 ≤ n, so bytes up to 4(i + 16) ≤ w.len().
    let load = |i: usize| unsafe { _mm512_loadu_ps(wp.add(4 * i).cast()) };
    let tail = |j: usize| f32::from_le_bytes([w[4 * j], w[4 * j + 1], w[4 * j + 2], w[4 * j + 3]]);
    unsafe { dot_by(n, a, load, tail) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,f16c,fma")]
unsafe fn dot_f16_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 2).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): bytes up to 2(i + 16) ≤ w.len().
    let load = |i: usize| _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(wp.add(2 * i).cast()) });
    let tail = |j: usize| f16::from_bits(u16::from_le_bytes([w[2 * j], w[2 * j + 1]])).to_f32();
    unsafe { dot_by(n, a, load, tail) }
}

#[target_feature(enable = "avx512f,avx512bw,avx512vl,f16c,fma")]
unsafe fn dot_bf16_impl(w: &[u8], a: &[f32]) -> f32 {
    let n = (w.len() / 2).min(a.len());
    let wp = w.as_ptr();
    // SAFETY (loads): bytes up to 2(i + 16) ≤ w.len().
    let load = |i: usize| {
        let h = unsafe { _mm256_loadu_si256(wp.add(2 * i).cast()) };
        _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(h)))
    };
    let tail = |j: usize| bf16_to_f32(u16::from_le_bytes([w[2 * j], w[2 * j + 1]]));
    unsafe { dot_by(n, a, load, tail) }
}

// Safe entry points for the kernel table. SAFETY (all): only placed in a table after runtime
// detection of avx512f/bw/vl, f16c and fma (see simd/mod.rs).

pub(crate) fn dot_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_f32_impl(w, a) }
}

pub(crate) fn dot_f16_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_f16_impl(w, a) }
}

pub(crate) fn dot_bf16_f32(w: &[u8], a: &[f32]) -> f32 {
    unsafe { dot_bf16_impl(w, a) }
}
