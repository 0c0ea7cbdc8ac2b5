//! x86 kernels for the 32-value block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 weights against
//! Q8_0 / Q8_1 activations). One body, instantiated for AVX2 (maddubs) and AVX-512 VNNI (dpbusd):
//! per block, the 32 weight quants are expanded to bytes in value order, multiplied with the 32
//! activation bytes into 8 exact i32 partial sums, and scaled by d_w·d_a into 8 f32 accumulators.
//!
//! Activation quants must lie in [-127, 127] (what the Q8 quantizers produce).

macro_rules! legacy_kernels {
    ($module:ident, $features:literal, $mul_sum_us8:path) => {
        pub(crate) mod $module {
            use crate::simd::x86_lanes::{bits_to_bytes_32, f16_mul, hsum_f32_8, nibbles_32};
            use crate::{BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ8_0, BlockQ8_1};
            use std::arch::x86_64::*;

            /// Signed bytes x·y summed in groups of 4 (sign moved onto y so x can be unsigned).
            #[inline]
            #[target_feature(enable = $features)]
            fn mul_sum_i8(x: __m256i, y: __m256i) -> __m256i {
                $mul_sum_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x))
            }

            #[inline]
            #[target_feature(enable = $features)]
            unsafe fn load32(p: &[i8; 32]) -> __m256i {
                // SAFETY: reads exactly the 32 bytes of `p`.
                unsafe { _mm256_loadu_si256(p.as_ptr().cast()) }
            }

            /// Q5 quants (0..31) of a block as 32 unsigned bytes.
            #[inline]
            #[target_feature(enable = $features)]
            unsafe fn q5_bytes(qh: &[u8; 4], qs: &[u8; 16]) -> __m256i {
                let high = _mm256_and_si256(
                    bits_to_bytes_32(u32::from_le_bytes(*qh)),
                    _mm256_set1_epi8(0x10),
                );
                // SAFETY: nibbles_32 reads the 16 bytes of `qs`.
                _mm256_or_si256(unsafe { nibbles_32(qs) }, high)
            }

            /// Σ over block pairs of `d · sums` (+ `extra`), where `block` gives a block's scale
            /// d_w·d_a, its 8 exact i32 partial sums and any scalar extra term. Two accumulators,
            /// so consecutive blocks do not wait on each other's FMA.
            #[inline]
            #[target_feature(enable = $features)]
            fn fold<X, Y>(w: &[X], a: &[Y], block: impl Fn(&X, &Y) -> (f32, __m256i, f32)) -> f32 {
                let n = w.len().min(a.len());
                let (w, a) = (&w[..n], &a[..n]);
                let mut acc = [_mm256_setzero_ps(); 2];
                let mut extra = 0.0f32;
                for (wx, ay) in w.chunks_exact(2).zip(a.chunks_exact(2)) {
                    for (acc, (x, y)) in acc.iter_mut().zip(wx.iter().zip(ay)) {
                        let (d, sums, e) = block(x, y);
                        *acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), *acc);
                        extra += e;
                    }
                }
                if n % 2 == 1 {
                    if let (Some(x), Some(y)) = (w.last(), a.last()) {
                        let (d, sums, e) = block(x, y);
                        acc[0] =
                            _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sums), acc[0]);
                        extra += e;
                    }
                }
                hsum_f32_8(_mm256_add_ps(acc[0], acc[1])) + extra
            }

            #[target_feature(enable = $features)]
            fn q8_0_q8_0_impl(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
                fold(w, a, |x, y| {
                    // SAFETY: whole-array loads of the blocks' quants.
                    let (qx, qy) = unsafe { (load32(&x.qs), load32(&y.qs)) };
                    (f16_mul(x.d, y.d), mul_sum_i8(qx, qy), 0.0)
                })
            }

            #[target_feature(enable = $features)]
            fn q4_0_q8_0_impl(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
                fold(w, a, |x, y| {
                    // SAFETY: whole-array loads of the blocks' quants.
                    let (qx, qy) = unsafe { (nibbles_32(&x.qs), load32(&y.qs)) };
                    let qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(8));
                    (f16_mul(x.d, y.d), mul_sum_i8(qx, qy), 0.0)
                })
            }

            #[target_feature(enable = $features)]
            fn q5_0_q8_0_impl(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
                fold(w, a, |x, y| {
                    // SAFETY: whole-array loads of the blocks' quants.
                    let (qx, qy) = unsafe { (q5_bytes(&x.qh, &x.qs), load32(&y.qs)) };
                    let qx = _mm256_sub_epi8(qx, _mm256_set1_epi8(16));
                    (f16_mul(x.d, y.d), mul_sum_i8(qx, qy), 0.0)
                })
            }

            #[target_feature(enable = $features)]
            fn q4_1_q8_1_impl(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
                fold(w, a, |x, y| {
                    // SAFETY: whole-array loads of the blocks' quants.
                    let (qx, qy) = unsafe { (nibbles_32(&x.qs), load32(&y.qs)) };
                    (f16_mul(x.d, y.d), $mul_sum_us8(qx, qy), f16_mul(x.m, y.s))
                })
            }

            #[target_feature(enable = $features)]
            fn q5_1_q8_1_impl(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
                fold(w, a, |x, y| {
                    // SAFETY: whole-array loads of the blocks' quants.
                    let (qx, qy) = unsafe { (q5_bytes(&x.qh, &x.qs), load32(&y.qs)) };
                    (f16_mul(x.d, y.d), $mul_sum_us8(qx, qy), f16_mul(x.m, y.s))
                })
            }

            // Safe entry points for the kernel table. SAFETY (all): a table holding them is only
            // built after runtime detection of every feature in `$features` (see simd/mod.rs).

            pub(crate) fn q8_0_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
                unsafe { q8_0_q8_0_impl(w, a) }
            }
            pub(crate) fn q4_0_q8_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
                unsafe { q4_0_q8_0_impl(w, a) }
            }
            pub(crate) fn q5_0_q8_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
                unsafe { q5_0_q8_0_impl(w, a) }
            }
            pub(crate) fn q4_1_q8_1(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
                unsafe { q4_1_q8_1_impl(w, a) }
            }
            pub(crate) fn q5_1_q8_1(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
                unsafe { q5_1_q8_1_impl(w, a) }
            }
        }
    };
}

legacy_kernels!(
    avx2,
    "avx2,fma,f16c",
    crate::simd::x86_lanes::mul_sum_us8_avx2
);
legacy_kernels!(
    vnni,
    "avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni",
    crate::simd::x86_lanes::mul_sum_us8_vnni
);
