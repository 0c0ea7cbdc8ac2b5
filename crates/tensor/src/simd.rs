//! SIMD vectors of f32 for the hand-written kernels: one trait, [`Lanes`], implemented for AVX-512
//! (16 lanes), AVX2 + FMA (8 lanes) and portable Rust (8 lanes, unfused multiply-add), plus the
//! loads that upcast stored weights (F32 / F16 / BF16, any alignment) into those vectors.
//!
//! Kernels are written once, generic over `Lanes`, marked `#[inline(always)]`, and instantiated
//! inside `#[target_feature]` functions chosen by [`crate::Isa`]. Inside such kernels avoid
//! closures that call these methods (a closure does not inherit target features, so the calls
//! would not be inlined).

/// A stored weight element type.
pub(crate) trait WeightFmt {
    const BYTES: usize;
    /// One value at `p`.
    ///
    /// # Safety
    /// `p..p + BYTES` must be readable (any alignment).
    unsafe fn scalar(p: *const u8) -> f32;
}

pub(crate) struct F32W;
pub(crate) struct F16W;
pub(crate) struct Bf16W;

impl WeightFmt for F32W {
    const BYTES: usize = 4;
    #[inline(always)]
    unsafe fn scalar(p: *const u8) -> f32 {
        // SAFETY: caller promises 4 readable bytes; read_unaligned has no alignment need.
        f32::from_le_bytes(unsafe { p.cast::<[u8; 4]>().read_unaligned() })
    }
}

impl WeightFmt for F16W {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn scalar(p: *const u8) -> f32 {
        // SAFETY: caller promises 2 readable bytes.
        let bits = u16::from_le_bytes(unsafe { p.cast::<[u8; 2]>().read_unaligned() });
        half::f16::from_bits(bits).to_f32()
    }
}

impl WeightFmt for Bf16W {
    const BYTES: usize = 2;
    #[inline(always)]
    unsafe fn scalar(p: *const u8) -> f32 {
        // SAFETY: caller promises 2 readable bytes.
        let bits = u16::from_le_bytes(unsafe { p.cast::<[u8; 2]>().read_unaligned() });
        f32::from_bits(u32::from(bits) << 16)
    }
}

/// A vector of f32 lanes and the few operations the kernels need.
pub(crate) trait Lanes {
    type V: Copy;
    const N: usize;
    unsafe fn zero() -> Self::V;
    /// `N` f32 at `p` (any alignment).
    unsafe fn load_x(p: *const f32) -> Self::V;
    /// `N` weights at `p` (any alignment), upcast to f32.
    unsafe fn load_w<W: WeightFmt + Upcast>(p: *const u8) -> Self::V;
    /// Stores `N` f32 at `p` (any alignment).
    unsafe fn store(p: *mut f32, v: Self::V);
    /// Every lane `x`.
    unsafe fn splat(x: f32) -> Self::V;
    /// `a * b + acc` (fused on the SIMD tiers).
    unsafe fn mul_add(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
    /// `a * b`.
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// Sum of the lanes in a fixed order.
    unsafe fn hsum(v: Self::V) -> f32;
}

/// Per-ISA vector loads of a weight format.
pub(crate) trait Upcast {
    unsafe fn lanes8(p: *const u8) -> [f32; 8];
    #[cfg(target_arch = "x86_64")]
    unsafe fn avx2(p: *const u8) -> std::arch::x86_64::__m256;
    #[cfg(target_arch = "x86_64")]
    unsafe fn avx512(p: *const u8) -> std::arch::x86_64::__m512;
}

macro_rules! lanes8_via_scalar {
    () => {
        #[inline(always)]
        unsafe fn lanes8(p: *const u8) -> [f32; 8] {
            // SAFETY: caller promises 8 elements readable at `p`.
            std::array::from_fn(|i| unsafe { Self::scalar(p.add(i * Self::BYTES)) })
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::{Bf16W, Upcast, WeightFmt, F16W, F32W};
    use std::arch::x86_64::*;

    // SAFETY (all loaders): the caller promises `N` elements readable at `p`; every load here is an
    // unaligned load, and the enclosing kernel is compiled with the needed target features.
    impl Upcast for F32W {
        lanes8_via_scalar!();
        #[inline(always)]
        unsafe fn avx2(p: *const u8) -> __m256 {
            unsafe { _mm256_loadu_ps(p.cast()) }
        }
        #[inline(always)]
        unsafe fn avx512(p: *const u8) -> __m512 {
            unsafe { _mm512_loadu_ps(p.cast()) }
        }
    }

    impl Upcast for F16W {
        lanes8_via_scalar!();
        #[inline(always)]
        unsafe fn avx2(p: *const u8) -> __m256 {
            unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
        }
        #[inline(always)]
        unsafe fn avx512(p: *const u8) -> __m512 {
            unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
        }
    }

    impl Upcast for Bf16W {
        lanes8_via_scalar!();
        #[inline(always)]
        unsafe fn avx2(p: *const u8) -> __m256 {
            unsafe {
                _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(
                    _mm_loadu_si128(p.cast()),
                )))
            }
        }
        #[inline(always)]
        unsafe fn avx512(p: *const u8) -> __m512 {
            unsafe {
                _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(
                    _mm256_loadu_si256(p.cast()),
                )))
            }
        }
    }

    pub(crate) struct Avx2;
    pub(crate) struct Avx512;

    impl super::Lanes for Avx2 {
        type V = __m256;
        const N: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load_x(p: *const f32) -> __m256 {
            unsafe { _mm256_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_w<W: WeightFmt + Upcast>(p: *const u8) -> __m256 {
            unsafe { W::avx2(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            unsafe { _mm256_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, acc: __m256) -> __m256 {
            unsafe { _mm256_fmadd_ps(a, b, acc) }
        }
        #[inline(always)]
        unsafe fn hsum(v: __m256) -> f32 {
            unsafe { hsum256(v) }
        }
    }

    #[inline(always)]
    unsafe fn hsum256(v: __m256) -> f32 {
        unsafe {
            let s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
            let s1 = _mm_add_ss(s2, _mm_shuffle_ps::<0b01>(s2, s2));
            _mm_cvtss_f32(s1)
        }
    }

    impl super::Lanes for Avx512 {
        type V = __m512;
        const N: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn load_x(p: *const f32) -> __m512 {
            unsafe { _mm512_loadu_ps(p) }
        }
        #[inline(always)]
        unsafe fn load_w<W: WeightFmt + Upcast>(p: *const u8) -> __m512 {
            unsafe { W::avx512(p) }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            unsafe { _mm512_storeu_ps(p, v) }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, acc: __m512) -> __m512 {
            unsafe { _mm512_fmadd_ps(a, b, acc) }
        }
        #[inline(always)]
        unsafe fn hsum(v: __m512) -> f32 {
            unsafe {
                let lo = _mm512_castps512_ps256(v);
                let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(v)));
                hsum256(_mm256_add_ps(lo, hi))
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod portable_upcast {
    use super::{Bf16W, Upcast, WeightFmt, F16W, F32W};
    impl Upcast for F32W {
        lanes8_via_scalar!();
    }
    impl Upcast for F16W {
        lanes8_via_scalar!();
    }
    impl Upcast for Bf16W {
        lanes8_via_scalar!();
    }
}

/// Portable 8 lanes (unfused multiply-add).
pub(crate) struct Portable;

impl Lanes for Portable {
    type V = [f32; 8];
    const N: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> [f32; 8] {
        [0.0; 8]
    }
    #[inline(always)]
    unsafe fn load_x(p: *const f32) -> [f32; 8] {
        // SAFETY: caller promises 8 readable f32.
        unsafe { p.cast::<[f32; 8]>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_w<W: WeightFmt + Upcast>(p: *const u8) -> [f32; 8] {
        // SAFETY: caller promises 8 readable elements.
        unsafe { W::lanes8(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: [f32; 8]) {
        // SAFETY: caller promises 8 writable f32.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> [f32; 8] {
        [x; 8]
    }
    #[inline(always)]
    unsafe fn mul(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i])
    }
    #[inline(always)]
    unsafe fn mul_add(a: [f32; 8], b: [f32; 8], acc: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i] + acc[i])
    }
    #[inline(always)]
    unsafe fn hsum(v: [f32; 8]) -> f32 {
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
}
