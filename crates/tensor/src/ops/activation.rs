//! The SwiGLU gate: `gate ← silu(gate) · up`.

/// `gate[i] ← silu(gate[i]) · up[i]` with `silu(g) = g / (1 + e^(-g))` (HF's `act_fn(gate) * up`).
///
/// # Panics
/// If the lengths differ (a caller bug).
pub fn silu_mul(
    gate: &mut [f32], // [n, intermediate]
    up: &[f32],       // [n, intermediate]
) {
    assert_eq!(gate.len(), up.len(), "silu_mul: gate and up lengths differ");
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// `g / (1 + e^(-g))`.
#[inline]
pub fn silu(g: f32) -> f32 {
    g / (1.0 + (-g).exp())
}
