//! Register-blocked kernels for `out = x · wᵀ` with F32 / F16 / BF16 weights, f32 math.
//!
//! Weights are read straight from their (possibly misaligned) bytes with unaligned loads and
//! upcast in registers (bf16 → f32 and f16 → f32 are exact). One output is one dot product over
//! `k` with ONE vector accumulator of `LANES` lanes, stepped through `k` in order, then a fixed
//! horizontal sum, then the `k % LANES` tail added in order. The tile shapes (4 x-rows × 2 weight
//! rows for prefill, 1 × 4 for decode, 1 × 1 / 4 × 1 at the edges) only decide which dots run side by
//! side: each output's own sequence of operations is the same in every tile shape, so a row's
//! result does not depend on how many rows are in the batch (batch invariance).


use crate::cpu::Isa;

/// How many weight rows one panel keeps hot in cache while every x row passes over it.
const PANEL_ROWS: usize = 32;

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
trait Lanes {
    type V: Copy;
    const N: usize;
    unsafe fn zero() -> Self::V;
    /// `N` f32 at `p` (any alignment).
    unsafe fn load_x(p: *const f32) -> Self::V;
    /// `N` weights at `p` (any alignment), upcast to f32.
    unsafe fn load_w<W: WeightFmt + Upcast>(p: *const u8) -> Self::V;
    /// `a * b + acc`.
    unsafe fn mul_add(a: Self::V, b: Self::V, acc: Self::V) -> Self::V;
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
mod x86 {
    use super::{Bf16W, F16W, F32W, Upcast, WeightFmt};
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
            unsafe { _mm256_castsi256_ps(_mm256_slli_epi32::<16>(_mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast())))) }
        }
        #[inline(always)]
        unsafe fn avx512(p: *const u8) -> __m512 {
            unsafe { _mm512_castsi512_ps(_mm512_slli_epi32::<16>(_mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast())))) }
        }
    }

    pub(super) struct Avx2;
    pub(super) struct Avx512;

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
    use super::{Bf16W, F16W, F32W, Upcast, WeightFmt};
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
struct Portable;

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
    unsafe fn mul_add(a: [f32; 8], b: [f32; 8], acc: [f32; 8]) -> [f32; 8] {
        std::array::from_fn(|i| a[i] * b[i] + acc[i])
    }
    #[inline(always)]
    unsafe fn hsum(v: [f32; 8]) -> f32 {
        ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7]))
    }
}

/// `out[r * ldo + c] = dot(x row r, w row c)` for an R × C tile.
///
/// # Safety
/// `x` holds R rows of `k` f32 at stride `ldx`; `w` holds C rows of `k` elements at stride `ldw`
/// bytes; `out[r * ldo + c]` is writable and not written by anyone else meanwhile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<S: Lanes, W: WeightFmt + Upcast, const R: usize, const C: usize>(
    x: *const f32,
    ldx: usize,
    w: *const u8,
    ldw: usize,
    k: usize,
    out: *mut f32,
    ldo: usize,
) {
    // SAFETY: every pointer offset below stays inside the regions the caller promised.
    unsafe {
        let mut acc = [[S::zero(); C]; R];
        let k_vec = k / S::N * S::N;
        let mut i = 0;
        while i < k_vec {
            let wv: [S::V; C] = std::array::from_fn(|c| S::load_w::<W>(w.add(c * ldw + i * W::BYTES)));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let xv = S::load_x(x.add(r * ldx + i));
                for (a, &wc) in acc_r.iter_mut().zip(wv.iter()) {
                    *a = S::mul_add(xv, wc, *a);
                }
            }
            i += S::N;
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (c, &a) in acc_r.iter().enumerate() {
                let mut s = S::hsum(a);
                for t in k_vec..k {
                    s += *x.add(r * ldx + t) * W::scalar(w.add(c * ldw + t * W::BYTES));
                }
                *out.add(r * ldo + c) = s;
            }
        }
    }
}

/// Computes output columns `j0..j1` of every row: `out[i * m + j] = dot(x[i], w[j])`.
///
/// # Safety
/// `x.len() >= n * k`; `w` holds at least `j1` rows of `k` elements of `W`; `out` points to an
/// `n × m` row-major f32 matrix whose columns `j0..j1` nobody else touches meanwhile; `j1 <= m`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn panel<S: Lanes, W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    let xp = x.as_ptr();
    let wp = w.as_ptr();
    let ldw = k * W::BYTES;
    // SAFETY: all tiles lie inside rows 0..n and columns j0..j1 (see the loop bounds).
    unsafe {
        let mut jb = j0;
        while jb < j1 {
            let je = (jb + PANEL_ROWS).min(j1);
            let mut i = 0;
            while i + 4 <= n {
                let mut j = jb;
                while j + 2 <= je {
                    tile::<S, W, 4, 2>(xp.add(i * k), k, wp.add(j * ldw), ldw, k, out.add(i * m + j), m);
                    j += 2;
                }
                if j < je {
                    tile::<S, W, 4, 1>(xp.add(i * k), k, wp.add(j * ldw), ldw, k, out.add(i * m + j), m);
                }
                i += 4;
            }
            while i < n {
                let mut j = jb;
                while j + 4 <= je {
                    tile::<S, W, 1, 4>(xp.add(i * k), k, wp.add(j * ldw), ldw, k, out.add(i * m + j), m);
                    j += 4;
                }
                while j < je {
                    tile::<S, W, 1, 1>(xp.add(i * k), k, wp.add(j * ldw), ldw, k, out.add(i * m + j), m);
                    j += 1;
                }
                i += 1;
            }
            jb = je;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn panel_avx2<W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract; the features are enabled on this function.
    unsafe { panel::<x86::Avx2, W>(x, n, k, w, j0, j1, out, m) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn panel_avx512<W: WeightFmt + Upcast>(
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract; the features are enabled on this function.
    unsafe { panel::<x86::Avx512, W>(x, n, k, w, j0, j1, out, m) }
}

/// Dispatches [`panel`] on the instruction set.
///
/// # Safety
/// As [`panel`]; and `isa` must be supported by this CPU (`Isa::detect` / `Isa::all_supported`).
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn float_panel<W: WeightFmt + Upcast>(
    isa: Isa,
    x: &[f32],
    n: usize,
    k: usize,
    w: &[u8],
    j0: usize,
    j1: usize,
    out: *mut f32,
    m: usize,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => panel_avx512::<W>(x, n, k, w, j0, j1, out, m),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => panel_avx2::<W>(x, n, k, w, j0, j1, out, m),
            _ => panel::<Portable, W>(x, n, k, w, j0, j1, out, m),
        }
    }
}
