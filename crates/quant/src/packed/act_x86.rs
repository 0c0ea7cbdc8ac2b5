//! AVX-512 versions of the activation quantizers in `act.rs`, bit-identical to them: the same f32
//! operations on the same values (max of |x|, one division, one reciprocal, one product per value),
//! with C `roundf` (Q8_0 / Q8_1) and round-half-even (Q8K) done exactly in vector code.

use std::arch::x86_64::*;

/// `roundf` of 16 values: truncate, then step away from zero where the dropped part is ≥ 0.5
/// (`x - trunc(x)` is exact for every f32).
#[inline]
#[target_feature(enable = "avx512f")]
fn round_away(x: __m512) -> __m512 {
    let t = _mm512_roundscale_ps::<{ _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC }>(x);
    let frac = _mm512_abs_ps(_mm512_sub_ps(x, t));
    let away = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(frac, _mm512_set1_ps(0.5));
    let one = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN)),
        _mm512_castps_si512(_mm512_set1_ps(1.0)),
    ));
    _mm512_mask_add_ps(t, away, t, one)
}

/// Quantizes one 32-value block as llama.cpp's `quantize_row_q8_0_ref`: returns `(d, Σq)` with
/// `d = max|x| / 127` (before any f16 rounding) and writes the 32 quants.
///
/// # Safety
/// `x` and `q` hold 32 values; the CPU has AVX-512 F/BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn q8_block(x: &[f32], q: &mut [u8]) -> (f32, i32) {
    debug_assert!(x.len() >= 32 && q.len() >= 32);
    // SAFETY: 32 values each side (caller).
    unsafe {
        let v0 = _mm512_loadu_ps(x.as_ptr());
        let v1 = _mm512_loadu_ps(x.as_ptr().add(16));
        let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let idv = _mm512_set1_ps(id);
        let q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, idv)));
        let q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, idv)));
        _mm_storeu_si128(q.as_mut_ptr().cast(), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128(q.as_mut_ptr().add(16).cast(), _mm512_cvtepi32_epi8(q1));
        (d, _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)))
    }
}

/// Quantizes one 256-value super-block as llama.cpp's `quantize_row_q8_K_ref`: returns `d` and
/// writes the quants and the 16 sums of 16.
///
/// # Safety
/// `x` and `q` hold 256 values; the CPU has AVX-512 F/BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(crate) unsafe fn q8k_block(x: &[f32], q: &mut [u8], bsums: &mut [i16; 16]) -> f32 {
    debug_assert!(x.len() >= 256 && q.len() >= 256);
    // SAFETY: 256 values each side (caller).
    unsafe {
        let mut am = _mm512_setzero_ps();
        for j in 0..16 {
            am = _mm512_max_ps(am, _mm512_abs_ps(_mm512_loadu_ps(x.as_ptr().add(16 * j))));
        }
        let amax = _mm512_reduce_max_ps(am);
        if amax == 0.0 {
            q[..256].fill(0);
            *bsums = [0; 16];
            return 0.0;
        }
        // The first value of largest magnitude (its sign matters).
        let target = _mm512_set1_ps(amax);
        let mut max = amax;
        for j in 0..16 {
            let v = _mm512_abs_ps(_mm512_loadu_ps(x.as_ptr().add(16 * j)));
            let hit = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(v, target);
            if hit != 0 {
                max = x[16 * j + hit.trailing_zeros() as usize];
                break;
            }
        }
        let iscale = -127.0 / max;
        let is = _mm512_set1_ps(iscale);
        let cap = _mm512_set1_epi32(127);
        for (j, bsum) in bsums.iter_mut().enumerate() {
            let v = _mm512_loadu_ps(x.as_ptr().add(16 * j));
            // Round half to even (the MXCSR default), then at most 127.
            let qi = _mm512_min_epi32(
                _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    _mm512_mul_ps(v, is),
                ),
                cap,
            );
            _mm_storeu_si128(q.as_mut_ptr().add(16 * j).cast(), _mm512_cvtepi32_epi8(qi));
            *bsum = _mm512_reduce_add_epi32(qi) as i16;
        }
        1.0 / iscale
    }
}
