//! `quantize_row_into`: f32 values to a quantized (or float) row, llama.cpp's reference way.

use crate::row::expect_row;
use crate::{cast_blocks_mut, float, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0, q8_1, q8_k};
use crate::{Error, GgmlType};

/// Quantizes `x` into `dst`, which must hold exactly `x.len()` values of `ty`.
///
/// Activation formats: Q8_0, Q8_1 (with `s = d·Σq`), Q8K (with `bsums`). Weight formats, as
/// llama.cpp's `quantize_row_*_ref` (no importance matrix): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4K, Q5K,
/// Q6K; and F32 / F16 / BF16 (round to nearest even). Block types need `dst` aligned for their
/// block struct (e.g. an [`crate::AlignedBytes`]).
pub fn quantize_row_into(ty: GgmlType, x: &[f32], dst: &mut [u8]) -> Result<(), Error> {
    use GgmlType::*;
    let unsupported = Error::Unsupported {
        op: "quantize_row_into",
        ty,
    };
    if !can_quantize(ty) {
        return Err(unsupported);
    }
    expect_row("quantize_row_into destination", ty, x.len(), dst.len())?;
    match ty {
        F32 => float::quantize_f32(x, dst),
        F16 => float::quantize_f16(x, dst),
        BF16 => float::quantize_bf16(x, dst),
        Q4_0 => q4_0::quantize(x, cast_blocks_mut(dst)?),
        Q4_1 => q4_1::quantize(x, cast_blocks_mut(dst)?),
        Q5_0 => q5_0::quantize(x, cast_blocks_mut(dst)?),
        Q5_1 => q5_1::quantize(x, cast_blocks_mut(dst)?),
        Q8_0 => q8_0::quantize(x, cast_blocks_mut(dst)?),
        Q8_1 => q8_1::quantize(x, cast_blocks_mut(dst)?),
        Q4K => q4_k::quantize(x, cast_blocks_mut(dst)?),
        Q5K => q5_k::quantize(x, cast_blocks_mut(dst)?),
        Q6K => q6_k::quantize(x, cast_blocks_mut(dst)?),
        Q8K => q8_k::quantize(x, cast_blocks_mut(dst)?),
        _ => return Err(unsupported),
    }
    Ok(())
}

/// Whether [`quantize_row_into`] handles `ty`.
pub fn can_quantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q8_1 | Q4K | Q5K | Q6K | Q8K
    )
}
