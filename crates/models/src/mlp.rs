//! The SwiGLU feed-forward block: `down(silu(gate(h)) * up(h))`.

use tensor::ops::{silu_mul, MatmulScratch};
use tensor::ThreadPool;

use crate::error::Result;
use crate::linear::{forward_many, Linear};

#[allow(clippy::too_many_arguments)]
pub(crate) fn swiglu_mlp(
    pool: &ThreadPool,
    scratch: &mut MatmulScratch,
    h: &[f32], // [n, hidden]
    gate_proj: &Linear,
    up_proj: &Linear,
    down_proj: &Linear,
    gate: &mut [f32], // [n, intermediate]
    up: &mut [f32],   // [n, intermediate]
    out: &mut [f32],  // [n, hidden]
) -> Result<()> {
    forward_many(
        pool,
        h,
        [gate_proj, up_proj],
        [&mut *gate, &mut *up],
        scratch,
    )?;
    silu_mul(gate, up); // gate ← silu(gate) · up
    down_proj.forward(pool, gate, out, scratch)
}
