//! Vector max and shifted exp over a tile's scores.

use crate::simd::Lanes;

/// The largest of `s` (whole vectors), reduced in a fixed order.
///
/// # Safety
/// `s.len()` is a positive multiple of `S::N`.
#[inline(always)]
pub(super) unsafe fn max_of<S: Lanes>(s: &[f32]) -> f32 {
    debug_assert!(!s.is_empty() && s.len().is_multiple_of(S::N));
    // SAFETY: whole vectors inside `s`; `lanes` holds N <= 16 values.
    unsafe {
        let p = s.as_ptr();
        let mut m = S::load_x(p);
        let mut j = S::N;
        while j < s.len() {
            m = S::max(m, S::load_x(p.add(j)));
            j += S::N;
        }
        let mut lanes = [0f32; 16];
        S::store(lanes.as_mut_ptr(), m);
        lanes[..S::N]
            .iter()
            .fold(f32::NEG_INFINITY, |a, &b| a.max(b))
    }
}

/// `s[j] ← e^(s[j] − shift)` over whole vectors with the vector `exp`: every score goes through
/// the same lane operations wherever it sits.
///
/// # Safety
/// `s.len()` is a multiple of `S::N`.
#[inline(always)]
pub(super) unsafe fn exp_shifted<S: Lanes>(s: &mut [f32], shift: f32) {
    debug_assert!(s.len().is_multiple_of(S::N));
    let p = s.as_mut_ptr();
    // SAFETY: whole vectors inside `s`.
    unsafe {
        let neg = S::splat(-shift);
        let mut j = 0;
        while j < s.len() {
            S::store(p.add(j), S::exp(S::add(S::load_x(p.add(j)), neg)));
            j += S::N;
        }
    }
}
