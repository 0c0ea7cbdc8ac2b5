//! The SwiGLU gate: `gate ← silu(gate) · up`.

use crate::cpu::Isa;
use crate::simd::{Lanes, Portable};

/// `gate[i] ← silu(gate[i]) · up[i]` with `silu(g) = g / (1 + e^(-g))` (HF's `act_fn(gate) * up`).
///
/// # Panics
/// If the lengths differ (a caller bug).
pub fn silu_mul(
    gate: &mut [f32], // [n, intermediate]
    up: &[f32],       // [n, intermediate]
) {
    assert_eq!(gate.len(), up.len(), "silu_mul: gate and up lengths differ");
    match Isa::detect() {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => {
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
            fn avx512(g: &mut [f32], u: &[f32]) {
                silu_mul_body::<crate::simd::x86::Avx512>(g, u)
            }
            // SAFETY: Isa::detect only reports tiers this CPU supports.
            unsafe { avx512(gate, up) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            #[target_feature(enable = "avx2,fma,f16c")]
            fn avx2(g: &mut [f32], u: &[f32]) {
                silu_mul_body::<crate::simd::x86::Avx2>(g, u)
            }
            // SAFETY: as above.
            unsafe { avx2(gate, up) }
        }
        _ => silu_mul_body::<Portable>(gate, up),
    }
}

/// `g ← g / (1 + e^(−g)) · u` a vector at a time (the vector `exp`); the tail goes through the same
/// vector code on a padded copy, so every element gets the same operations.
#[inline(always)]
fn silu_mul_body<S: Lanes>(gate: &mut [f32], up: &[f32]) {
    let n = gate.len().min(up.len());
    // SAFETY (all below): loads and stores of N values at i with i + N <= n, or on the padded
    // stack copies of N values.
    unsafe {
        let mut i = 0;
        while i + S::N <= n {
            silu_mul_step::<S>(gate.as_mut_ptr().add(i), up.as_ptr().add(i));
            i += S::N;
        }
        if i < n {
            let mut g = [0f32; 16];
            let mut u = [0f32; 16];
            g[..n - i].copy_from_slice(&gate[i..n]);
            u[..n - i].copy_from_slice(&up[i..n]);
            silu_mul_step::<S>(g.as_mut_ptr(), u.as_ptr());
            gate[i..n].copy_from_slice(&g[..n - i]);
        }
    }
}

/// One vector: `g ← g / (1 + e^(−g)) · u`.
///
/// # Safety
/// `N` values readable at `u` and writable at `g`.
#[inline(always)]
unsafe fn silu_mul_step<S: Lanes>(g: *mut f32, u: *const f32) {
    // SAFETY: as the caller promised.
    unsafe {
        let gv = S::load_x(g);
        let e = S::exp(S::mul(gv, S::splat(-1.0)));
        let r = S::mul(S::div(gv, S::add(S::splat(1.0), e)), S::load_x(u));
        S::store(g, r);
    }
}

/// `g / (1 + e^(-g))`.
#[inline]
pub fn silu(g: f32) -> f32 {
    g / (1.0 + (-g).exp())
}
