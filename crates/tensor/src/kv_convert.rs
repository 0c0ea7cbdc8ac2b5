//! f32 → f16 / bf16 conversion of K/V rows as they are written to the cache, on every SIMD tier.
//!
//! Both roundings are round-to-nearest-even, as `half`'s scalar conversions (the reference):
//! f16 through F16C (`vcvtps2ph`, AVX2 tier) or AVX-512F (`vcvtps2ph zmm`), with subnormal
//! results kept; bf16 through integer arithmetic (`x + 0x7fff + lsb) >> 16`, NaN made quiet),
//! so it equals the scalar rounding for every input, subnormals included (the AVX-512 BF16
//! instruction flushes those to zero, so it is not used). The widening back to f32 is exact; the
//! attention kernel does it in registers (`simd::Upcast`).

use crate::cpu::Isa;

/// Element type of the cached K and V.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvDtype {
    /// 4 bytes a value, exact.
    #[default]
    F32,
    /// IEEE half: 2 bytes, 11-bit significand (relative rounding error ≤ 2⁻¹¹), range ±65504.
    F16,
    /// bfloat16: 2 bytes, 8-bit significand (relative rounding error ≤ 2⁻⁸), f32's range.
    Bf16,
}

impl KvDtype {
    /// Bytes per stored value.
    pub fn bytes(self) -> usize {
        match self {
            KvDtype::F32 => 4,
            KvDtype::F16 | KvDtype::Bf16 => 2,
        }
    }

    /// `f32`, `f16` or `bf16` (the command-line spelling, as llama.cpp's `--cache-type-k`).
    pub fn name(self) -> &'static str {
        match self {
            KvDtype::F32 => "f32",
            KvDtype::F16 => "f16",
            KvDtype::Bf16 => "bf16",
        }
    }

    /// Parses [`KvDtype::name`]'s spellings.
    pub fn parse(s: &str) -> Option<KvDtype> {
        match s {
            "f32" => Some(KvDtype::F32),
            "f16" => Some(KvDtype::F16),
            "bf16" => Some(KvDtype::Bf16),
            _ => None,
        }
    }
}

impl std::fmt::Display for KvDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for KvDtype {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        KvDtype::parse(s).ok_or_else(|| format!("unknown KV dtype {s:?} (f32, f16 or bf16)"))
    }
}

/// The 16-bit formats a row can be converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Half {
    F16,
    Bf16,
}

/// Scalar reference: f32 → f16 bits, round to nearest even (`half`).
pub(crate) fn f16_bits(x: f32) -> u16 {
    half::f16::from_f32(x).to_bits()
}

/// Scalar reference: f32 → bf16 bits, round to nearest even, NaN stays (quiet) NaN (`half`).
pub(crate) fn bf16_bits(x: f32) -> u16 {
    half::bf16::from_f32(x).to_bits()
}

/// `dst[i] = round(src[i])` in `to`, with the instruction set `isa` (which the CPU supports).
/// `src` and `dst` have the same length.
pub(crate) fn convert_row(isa: Isa, to: Half, src: &[f32], dst: &mut [u16]) {
    let n = src.len().min(dst.len());
    let (src, dst) = (&src[..n], &mut dst[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: the tier is supported (the caller's promise, checked by `Isa` detection).
        unsafe {
            match (isa, to) {
                (Isa::Avx512, Half::F16) => return x86::f16_avx512(src, dst),
                (Isa::Avx512, Half::Bf16) => return x86::bf16_avx512(src, dst),
                (Isa::Avx2, Half::F16) => return x86::f16_avx2(src, dst),
                (Isa::Avx2, Half::Bf16) => return x86::bf16_avx2(src, dst),
                (Isa::Scalar, _) => {}
            }
        }
    }
    let _ = isa;
    convert_scalar(to, src, dst);
}

fn convert_scalar(to: Half, src: &[f32], dst: &mut [u16]) {
    let f = match to {
        Half::F16 => f16_bits,
        Half::Bf16 => bf16_bits,
    };
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f(s);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{convert_scalar, Half};

    // Round to nearest even (imm8 bits 0-1 = 00, bit 2 = 0: the immediate, not MXCSR).
    const RNE: i32 = _MM_FROUND_TO_NEAREST_INT;

    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub(super) unsafe fn f16_avx512(src: &[f32], dst: &mut [u16]) {
        let n16 = src.len() / 16 * 16;
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= len of both slices.
            unsafe {
                let x = _mm512_loadu_ps(src.as_ptr().add(i));
                let h = _mm512_cvtps_ph::<RNE>(x);
                _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), h);
            }
            i += 16;
        }
        convert_scalar(Half::F16, &src[n16..], &mut dst[n16..]);
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn f16_avx2(src: &[f32], dst: &mut [u16]) {
        let n8 = src.len() / 8 * 8;
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= len of both slices.
            unsafe {
                let x = _mm256_loadu_ps(src.as_ptr().add(i));
                let h = _mm256_cvtps_ph::<RNE>(x);
                _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), h);
            }
            i += 8;
        }
        convert_scalar(Half::F16, &src[n8..], &mut dst[n8..]);
    }

    /// bf16 of 16 f32 bit patterns: `(x + 0x7fff + ((x >> 16) & 1)) >> 16`, NaN → `(x >> 16) | 0x40`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
    pub(super) unsafe fn bf16_avx512(src: &[f32], dst: &mut [u16]) {
        let n16 = src.len() / 16 * 16;
        let mut i = 0;
        while i < n16 {
            // SAFETY: i + 16 <= len of both slices.
            unsafe {
                let x = _mm512_castps_si512(_mm512_loadu_ps(src.as_ptr().add(i)));
                let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(1));
                let rounded = _mm512_srli_epi32::<16>(_mm512_add_epi32(
                    _mm512_add_epi32(x, _mm512_set1_epi32(0x7fff)),
                    lsb,
                ));
                let abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fff_ffff));
                let nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f80_0000));
                let quiet = _mm512_or_si512(_mm512_srli_epi32::<16>(x), _mm512_set1_epi32(0x40));
                let r = _mm512_mask_blend_epi32(nan, rounded, quiet);
                _mm256_storeu_si256(dst.as_mut_ptr().add(i).cast(), _mm512_cvtepi32_epi16(r));
            }
            i += 16;
        }
        convert_scalar(Half::Bf16, &src[n16..], &mut dst[n16..]);
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn bf16_avx2(src: &[f32], dst: &mut [u16]) {
        let n8 = src.len() / 8 * 8;
        let mut i = 0;
        while i < n8 {
            // SAFETY: i + 8 <= len of both slices.
            unsafe {
                let x = _mm256_castps_si256(_mm256_loadu_ps(src.as_ptr().add(i)));
                let lsb = _mm256_and_si256(_mm256_srli_epi32::<16>(x), _mm256_set1_epi32(1));
                let rounded = _mm256_srli_epi32::<16>(_mm256_add_epi32(
                    _mm256_add_epi32(x, _mm256_set1_epi32(0x7fff)),
                    lsb,
                ));
                let abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fff_ffff));
                let nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f80_0000));
                let quiet = _mm256_or_si256(_mm256_srli_epi32::<16>(x), _mm256_set1_epi32(0x40));
                let r = _mm256_blendv_epi8(rounded, quiet, nan);
                // Values are < 2^16: pack the 8 u32 lanes to u16 (packus works per 128-bit half).
                let packed = _mm256_packus_epi32(r, r);
                let lo = _mm256_castsi256_si128(packed);
                let hi = _mm256_extracti128_si256::<1>(packed);
                _mm_storeu_si128(dst.as_mut_ptr().add(i).cast(), _mm_unpacklo_epi64(lo, hi));
            }
            i += 8;
        }
        convert_scalar(Half::Bf16, &src[n8..], &mut dst[n8..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that exercise every rounding case: ties (odd and even), subnormals of both formats,
    /// overflow to infinity, infinities, NaN, signed zeros, plus a sweep of bit patterns.
    fn inputs() -> Vec<f32> {
        let mut xs = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            65504.0,
            65520.0, // f16 overflow tie → inf
            65519.99,
            1e6,
            -1e6,
            6.0e-8,  // f16 subnormal
            2.98e-8, // below half the smallest f16 subnormal
            1e-40,   // f32 subnormal
            -1e-45,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
            f32::from_bits(0x7f80_0001), // signalling NaN
            f32::from_bits(0x3f80_8000), // bf16 tie, even below
            f32::from_bits(0x3f81_8000), // bf16 tie, odd below
            f32::from_bits(0x3f80_1000), // f16 tie
            f32::from_bits(0x3f80_3000), // f16 tie, odd below
            f32::from_bits(0x7f7f_ffff),
        ];
        let mut bits = 0x1234_5678u32;
        for _ in 0..20_000 {
            bits ^= bits << 13;
            bits ^= bits >> 17;
            bits ^= bits << 5;
            xs.push(f32::from_bits(bits));
        }
        for i in -3000..3000 {
            xs.push(i as f32 * 0.0173);
        }
        xs
    }

    fn same(a: u16, b: u16, to: Half) -> bool {
        let is_nan = |h: u16| match to {
            Half::F16 => half::f16::from_bits(h).is_nan(),
            Half::Bf16 => half::bf16::from_bits(h).is_nan(),
        };
        a == b || (is_nan(a) && is_nan(b))
    }

    #[test]
    fn every_tier_equals_the_scalar_rounding() {
        let xs = inputs();
        for to in [Half::F16, Half::Bf16] {
            let mut want = vec![0u16; xs.len()];
            convert_scalar(to, &xs, &mut want);
            for isa in Isa::all_supported() {
                // Odd lengths exercise the scalar tails.
                for len in [xs.len(), 7, 15, 17, 33] {
                    let mut got = vec![0u16; len];
                    convert_row(isa, to, &xs[..len], &mut got);
                    for i in 0..len {
                        assert!(
                            same(got[i], want[i], to),
                            "{isa:?} {to:?}: {} ({:#010x}) -> {:#06x}, scalar {:#06x}",
                            xs[i],
                            xs[i].to_bits(),
                            got[i],
                            want[i]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rounding_error_is_within_half_an_ulp() {
        // |x - round(x)| <= 2^-11 |x| (f16, normal range) and 2^-8 |x| (bf16).
        for i in 1..10_000 {
            let x = (i as f32 * 0.731).sin() * 100.0;
            let h = half::f16::from_bits(f16_bits(x)).to_f32();
            assert!((h - x).abs() <= x.abs() * 2f32.powi(-11), "f16 {x} -> {h}");
            let b = half::bf16::from_bits(bf16_bits(x)).to_f32();
            assert!((b - x).abs() <= x.abs() * 2f32.powi(-8), "bf16 {x} -> {b}");
        }
    }

    #[test]
    fn names_round_trip() {
        for d in [KvDtype::F32, KvDtype::F16, KvDtype::Bf16] {
            assert_eq!(KvDtype::parse(d.name()), Some(d));
        }
        assert!("q8_0".parse::<KvDtype>().is_err());
    }
}
