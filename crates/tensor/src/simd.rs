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
    /// `a + b`.
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Lane-wise maximum (for finite values; NaN handling is the tier's).
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `a / b` (IEEE, correctly rounded).
    unsafe fn div(a: Self::V, b: Self::V) -> Self::V;
    /// `e^x` per lane (see [`exp_consts`]): within about 2 ulp, `+inf` above
    /// [`exp_consts::HI`], `+0` below [`exp_consts::LO`], NaN stays NaN. The same operations in
    /// every lane, so a value's result does not depend on where it sits in a vector.
    unsafe fn exp(x: Self::V) -> Self::V;
}

/// The constants of the vector `exp` (Cephes `expf`): `e^x = 2^n · e^r`, `n = round(x·log2 e)`,
/// `r = x − n·ln 2` (ln 2 split in two), `e^r ≈ 1 + r + r²·P(r)`, and `2^n` applied as two
/// factors `2^⌊n/2⌋ · 2^(n − ⌊n/2⌋)` so subnormal and near-overflow results stay right.
pub(crate) mod exp_consts {
    pub(crate) const HI: f32 = 88.722_84;
    pub(crate) const LO: f32 = -103.972_08;
    pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
    pub(crate) const LN2_HI: f32 = 0.693_359_4;
    pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
    pub(crate) const P: [f32; 6] = [
        1.987_569_1e-4,
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        0.5, // Cephes 5.0000001201e-1 rounds to 0.5 in f32
    ];
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
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn div(a: __m256, b: __m256) -> __m256 {
            unsafe { _mm256_div_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn exp(x: __m256) -> __m256 {
            use super::exp_consts::*;
            unsafe {
                let xc = _mm256_min_ps(_mm256_set1_ps(HI), _mm256_max_ps(_mm256_set1_ps(LO), x));
                let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    _mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)),
                );
                let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
                let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
                let mut p = _mm256_set1_ps(P[0]);
                for &c in &P[1..] {
                    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
                }
                let y = _mm256_add_ps(
                    _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r),
                    _mm256_set1_ps(1.0),
                );
                let ni = _mm256_cvtps_epi32(n);
                let n1 = _mm256_srai_epi32::<1>(ni);
                let n2 = _mm256_sub_epi32(ni, n1);
                let bias = _mm256_set1_epi32(127);
                let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
                let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
                let v = _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
                let big = _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(HI));
                let v = _mm256_blendv_ps(v, _mm256_set1_ps(f32::INFINITY), big);
                let small = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(LO));
                _mm256_blendv_ps(v, _mm256_setzero_ps(), small)
            }
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
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_add_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn max(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_max_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn div(a: __m512, b: __m512) -> __m512 {
            unsafe { _mm512_div_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn exp(x: __m512) -> __m512 {
            use super::exp_consts::*;
            unsafe {
                let xc = _mm512_min_ps(_mm512_set1_ps(HI), _mm512_max_ps(_mm512_set1_ps(LO), x));
                let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    _mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
                );
                let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
                let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
                let mut p = _mm512_set1_ps(P[0]);
                for &c in &P[1..] {
                    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
                }
                let y = _mm512_add_ps(
                    _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r),
                    _mm512_set1_ps(1.0),
                );
                let ni = _mm512_cvtps_epi32(n);
                let n1 = _mm512_srai_epi32::<1>(ni);
                let n2 = _mm512_sub_epi32(ni, n1);
                let bias = _mm512_set1_epi32(127);
                let s1 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n1, bias)));
                let s2 = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(n2, bias)));
                let v = _mm512_mul_ps(_mm512_mul_ps(y, s1), s2);
                let big = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(HI));
                let v = _mm512_mask_blend_ps(big, v, _mm512_set1_ps(f32::INFINITY));
                let small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(LO));
                _mm512_mask_blend_ps(small, v, _mm512_setzero_ps())
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
    #[inline(always)]
    unsafe fn add(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] + b[i])
    }
    #[inline(always)]
    unsafe fn max(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i].max(b[i]))
    }
    #[inline(always)]
    unsafe fn div(a: [f32; 8], b: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] / b[i])
    }
    #[inline(always)]
    unsafe fn exp(x: [f32; 8]) -> [f32; 8] {
        x.map(exp_portable)
    }
}

/// One lane of the vector `exp`, the same steps (multiply-adds unfused, as the portable tier).
fn exp_portable(x: f32) -> f32 {
    use exp_consts::*;
    if x.is_nan() {
        return x;
    }
    if x > HI {
        return f32::INFINITY;
    }
    if x < LO {
        return 0.0;
    }
    let n = (x * LOG2E).round_ties_even();
    let r = x - n * LN2_HI;
    let r = r - n * LN2_LO;
    let mut p = P[0];
    for &c in &P[1..] {
        p = p * r + c;
    }
    let y = (p * (r * r) + r) + 1.0;
    let ni = n as i32;
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let s1 = f32::from_bits(((n1 + 127) as u32) << 23);
    let s2 = f32::from_bits(((n2 + 127) as u32) << 23);
    (y * s1) * s2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `e^x` for each value through tier `S`, a whole vector at a time.
    fn exps<S: Lanes>(xs: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        for c in xs.chunks(S::N) {
            let mut buf = [0f32; 16];
            buf[..c.len()].copy_from_slice(c);
            let mut res = [0f32; 16];
            // SAFETY: 16 >= N values on both sides; the callers only pass tiers this CPU runs.
            unsafe { S::store(res.as_mut_ptr(), S::exp(S::load_x(buf.as_ptr()))) };
            out.extend_from_slice(&res[..c.len()]);
        }
        out
    }

    fn check(name: &str, got: &[f32], xs: &[f32]) {
        for (&g, &x) in got.iter().zip(xs) {
            let want = f64::from(x).exp();
            if x.is_nan() {
                assert!(g.is_nan(), "{name}: exp(NaN) = {g}");
            } else if want > f64::from(f32::MAX) {
                assert_eq!(g, f32::INFINITY, "{name}: exp({x})");
            } else if want < 1e-45 {
                assert!(g == 0.0 || f64::from(g) < 2e-45, "{name}: exp({x}) = {g}");
            } else {
                // 2 ulp in the normal range; subnormal results to their absolute precision.
                let tol = (want * 2.4e-7).max(1.5e-45);
                assert!(
                    (f64::from(g) - want).abs() <= tol,
                    "{name}: exp({x}) = {g}, want {want}"
                );
            }
        }
    }

    #[test]
    fn vector_exp_is_accurate_on_every_tier() {
        let mut xs: Vec<f32> = (-2100..=900).map(|i| i as f32 * 0.1 + 0.0123).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-30,
            -1e-30,
            88.72,
            88.723,
            -87.3,
            -103.9,
            -104.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -1e30,
            1e30,
        ]);
        // SAFETY: Portable needs no CPU feature.
        check("portable", &exps::<Portable>(&xs), &xs);
        #[cfg(target_arch = "x86_64")]
        {
            if crate::Isa::best_supported() >= crate::Isa::Avx2 {
                check("avx2", &exps::<x86::Avx2>(&xs), &xs);
            }
            if crate::Isa::best_supported() >= crate::Isa::Avx512 {
                check("avx512", &exps::<x86::Avx512>(&xs), &xs);
            }
        }
    }
}
