//! `dequantize_row`: one row of any supported type to f32.

use crate::row::expect_row;
use crate::{cast_blocks, float, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0, Error, GgmlType};

/// Converts `src`, exactly `dst.len()` values of `ty`, to f32. F32 / F16 / BF16 are read
/// byte-wise (any alignment); block types must be aligned for their block struct (GGUF data is).
pub fn dequantize_row(ty: GgmlType, src: &[u8], dst: &mut [f32]) -> Result<(), Error> {
    use GgmlType::*;
    let unsupported = Error::Unsupported {
        op: "dequantize_row",
        ty,
    };
    if !can_dequantize(ty) {
        return Err(unsupported);
    }
    expect_row("dequantize_row source", ty, dst.len(), src.len())?;
    match ty {
        F32 => float::dequantize_f32(src, dst),
        F16 => float::dequantize_f16(src, dst),
        BF16 => float::dequantize_bf16(src, dst),
        Q4_0 => q4_0::dequantize(cast_blocks(src)?, dst),
        Q4_1 => q4_1::dequantize(cast_blocks(src)?, dst),
        Q5_0 => q5_0::dequantize(cast_blocks(src)?, dst),
        Q5_1 => q5_1::dequantize(cast_blocks(src)?, dst),
        Q8_0 => q8_0::dequantize(cast_blocks(src)?, dst),
        Q4K => q4_k::dequantize(cast_blocks(src)?, dst),
        Q5K => q5_k::dequantize(cast_blocks(src)?, dst),
        Q6K => q6_k::dequantize(cast_blocks(src)?, dst),
        _ => return Err(unsupported),
    }
    Ok(())
}

/// Whether [`dequantize_row`] handles `ty`.
pub fn can_dequantize(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(
        ty,
        F32 | F16 | BF16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q4K | Q5K | Q6K
    )
}
