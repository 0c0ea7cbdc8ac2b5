//! Small AVX2 building blocks shared by the x86 kernels: horizontal sums, nibble / bit unpacking,
//! signed and unsigned byte dot products, f16 scale conversion.

use std::arch::x86_64::*;

/// Sum of 8 f32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn hsum_f32_8(v: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_extractf128_ps::<1>(v), _mm256_castps256_ps128(v));
    let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    let s = _mm_add_ss(s, _mm_movehdup_ps(s));
    _mm_cvtss_f32(s)
}

/// The product of two f16 values, converted with one F16C instruction. Both halves are packed
/// into one u32 first: converting a lone f16 lets LLVM insert it into an arbitrary live register
/// (`vpinsrw`), a false dependency on the loop's accumulator that serialises the loop.
#[inline]
#[target_feature(enable = "avx2,f16c")]
pub(crate) fn f16_mul(a: half::f16, b: half::f16) -> f32 {
    let both = u32::from(a.to_bits()) | (u32::from(b.to_bits()) << 16);
    let v = _mm_cvtph_ps(_mm_cvtsi32_si128(both as i32));
    _mm_cvtss_f32(_mm_mul_ss(v, _mm_movehdup_ps(v)))
}

/// 16 bytes of packed nibbles → 32 bytes: low nibbles in bytes 0..16, high nibbles in 16..32
/// (the value order of Q4_0 / Q4_1 / Q5_x blocks).
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn nibbles_32(qs: &[u8; 16]) -> __m256i {
    // SAFETY: reads exactly the 16 bytes of `qs`.
    let t = unsafe { _mm_loadu_si128(qs.as_ptr().cast()) };
    let both = _mm256_set_m128i(_mm_srli_epi16::<4>(t), t);
    _mm256_and_si256(both, _mm256_set1_epi8(0x0f))
}

/// Bit j of `bits` → byte j = 0xff (set) or 0x00.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn bits_to_bytes_32(bits: u32) -> __m256i {
    let spread = _mm256_shuffle_epi8(
        _mm256_set1_epi32(bits as i32),
        _mm256_set_epi64x(
            0x0303_0303_0303_0303,
            0x0202_0202_0202_0202,
            0x0101_0101_0101_0101,
            0x0000_0000_0000_0000,
        ),
    );
    let mask = _mm256_set1_epi64x(0x8040_2010_0804_0201u64 as i64);
    _mm256_cmpeq_epi8(_mm256_and_si256(spread, mask), mask)
}

/// Σ of 4 adjacent u8·i8 products per i32 lane (maddubs + madd). Exact while each adjacent pair
/// sum fits i16, which holds for |unsigned| ≤ 128 and |signed| ≤ 127.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn mul_sum_us8_avx2(ux: __m256i, sy: __m256i) -> __m256i {
    _mm256_madd_epi16(_mm256_maddubs_epi16(ux, sy), _mm256_set1_epi16(1))
}

/// The same with one VNNI instruction (no i16 intermediate).
#[inline]
#[target_feature(enable = "avx2,avx512f,avx512vl,avx512vnni")]
pub(crate) fn mul_sum_us8_vnni(ux: __m256i, sy: __m256i) -> __m256i {
    _mm256_dpbusd_epi32(_mm256_setzero_si256(), ux, sy)
}
