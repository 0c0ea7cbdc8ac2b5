//! The two rounding rules llama.cpp's quantizers use.

/// `nearest_int` of ggml-quants.c: round half to even (its `x + 1.5·2^23` trick), exact for
/// |x| < 2^22, the range the quantizers produce. Out of range / NaN saturate instead of wrapping.
#[inline]
pub(crate) fn nearest_int(x: f32) -> i32 {
    x.round_ties_even() as i32
}

/// C's `roundf`: round half away from zero (used by the Q8_0 / Q8_1 reference quantizers).
#[inline]
pub(crate) fn round_away(x: f32) -> f32 {
    x.round()
}
