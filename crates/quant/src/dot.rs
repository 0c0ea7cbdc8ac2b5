//! Dot products of a weight row with an activation row, the llama.cpp way: the activation is first
//! quantized to `vec_dot_type(weight type)`, then integer dots per block are scaled and summed.

use crate::row::expect_row;
use crate::{cast_blocks, kernels, Error, GgmlType};
use crate::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K};
use crate::{BlockQ8K, BlockQ8_0, BlockQ8_1};

/// The activation type a weight type is dotted with: Q4_0 / Q5_0 / Q8_0 → Q8_0, Q4_1 / Q5_1 → Q8_1,
/// k-quants → Q8K, F32 / F16 / BF16 → F32 (plain f32 math on the upcast weights). Types without
/// a dot (Q8_1, integers, F64) map to F32, and [`vec_dot`] rejects them.
pub fn vec_dot_type(w: GgmlType) -> GgmlType {
    use GgmlType::*;
    match w {
        Q4_0 | Q5_0 | Q8_0 => Q8_0,
        Q4_1 | Q5_1 | Q8_1 => Q8_1,
        Q2K | Q3K | Q4K | Q5K | Q6K | Q8K => Q8K,
        F32 | F16 | BF16 | I8 | I16 | I32 | I64 | F64 => F32,
    }
}

/// Whether [`vec_dot`] handles weight type `w`.
pub fn can_vec_dot(w: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        w,
        F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q4K | Q5K | Q6K
    )
}

/// Dot of `n` values: `w_row` in `w_ty`, `act_row` in `vec_dot_type(w_ty)` (raw f32 bytes when that
/// is F32). Both must be exactly `n` values; block data and f32 activations must be aligned for
/// their type (weight rows of F32 / F16 / BF16 may have any alignment).
pub fn vec_dot(w_ty: GgmlType, w_row: &[u8], act_row: &[u8], n: usize) -> Result<f32, Error> {
    use GgmlType::*;
    if !can_vec_dot(w_ty) {
        return Err(Error::Unsupported {
            op: "vec_dot",
            ty: w_ty,
        });
    }
    let a_ty = vec_dot_type(w_ty);
    expect_row("vec_dot weight row", w_ty, n, w_row.len())?;
    expect_row("vec_dot activation row", a_ty, n, act_row.len())?;
    Ok(match w_ty {
        F32 => dot_f32(w_row, cast_blocks(act_row)?),
        F16 => dot_f16_f32(w_row, cast_blocks(act_row)?),
        BF16 => dot_bf16_f32(w_row, cast_blocks(act_row)?),
        Q4_0 => vec_dot_q4_0_q8_0(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q4_1 => vec_dot_q4_1_q8_1(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q5_0 => vec_dot_q5_0_q8_0(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q5_1 => vec_dot_q5_1_q8_1(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q8_0 => vec_dot_q8_0_q8_0(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q4K => vec_dot_q4k_q8k(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q5K => vec_dot_q5k_q8k(cast_blocks(w_row)?, cast_blocks(act_row)?),
        Q6K => vec_dot_q6k_q8k(cast_blocks(w_row)?, cast_blocks(act_row)?),
        _ => {
            return Err(Error::Unsupported {
                op: "vec_dot",
                ty: w_ty,
            })
        }
    })
}

// Typed entry points for hot loops (no per-row dispatch on the type). Each reads the shorter of
// its two arguments; callers pass rows of equal length.

/// Q4_0 weights · Q8_0 activations.
#[inline]
pub fn vec_dot_q4_0_q8_0(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    (kernels().q4_0_q8_0)(w, a)
}

/// Q4_1 weights · Q8_1 activations: Σ d_w·d_a·Σ(q·a) + m_w·s_a.
#[inline]
pub fn vec_dot_q4_1_q8_1(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    (kernels().q4_1_q8_1)(w, a)
}

/// Q5_0 weights · Q8_0 activations.
#[inline]
pub fn vec_dot_q5_0_q8_0(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    (kernels().q5_0_q8_0)(w, a)
}

/// Q5_1 weights · Q8_1 activations.
#[inline]
pub fn vec_dot_q5_1_q8_1(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    (kernels().q5_1_q8_1)(w, a)
}

/// Q8_0 weights · Q8_0 activations.
#[inline]
pub fn vec_dot_q8_0_q8_0(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    (kernels().q8_0_q8_0)(w, a)
}

/// Q4K weights · Q8K activations.
#[inline]
pub fn vec_dot_q4k_q8k(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    (kernels().q4k_q8k)(w, a)
}

/// Q5K weights · Q8K activations.
#[inline]
pub fn vec_dot_q5k_q8k(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    (kernels().q5k_q8k)(w, a)
}

/// Q6K weights · Q8K activations.
#[inline]
pub fn vec_dot_q6k_q8k(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    (kernels().q6k_q8k)(w, a)
}

/// F32 weight bytes (little endian, any alignment) · f32 activations.
#[inline]
pub fn dot_f32(w: &[u8], a: &[f32]) -> f32 {
    (kernels().f32_f32)(w, a)
}

/// F16 weight bytes · f32 activations (f32 math on the exactly upcast weights).
#[inline]
pub fn dot_f16_f32(w: &[u8], a: &[f32]) -> f32 {
    (kernels().f16_f32)(w, a)
}

/// BF16 weight bytes · f32 activations (f32 math on the exactly upcast weights).
#[inline]
pub fn dot_bf16_f32(w: &[u8], a: &[f32]) -> f32 {
    (kernels().bf16_f32)(w, a)
}
