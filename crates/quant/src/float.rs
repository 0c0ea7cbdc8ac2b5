//! Plain float element types (F32, F16, BF16): little-endian bytes of any alignment.

use half::f16;

/// bf16 bits → f32 (exact: bf16 is the top half of an f32).
#[inline]
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// f32 → bf16 bits the way ggml rounds: to nearest, ties to even; NaN stays a quiet NaN.
#[inline]
pub fn bf16_from_f32(x: f32) -> u16 {
    let u = x.to_bits();
    if u & 0x7fff_ffff > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    let rounding = 0x7fff + ((u >> 16) & 1);
    (u.wrapping_add(rounding) >> 16) as u16
}

#[inline]
fn f32_at(b: &[u8]) -> f32 {
    f32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[inline]
fn u16_at(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

/// Element-wise conversions; `src` / `dst` hold the same number of values (checked by callers).
pub(crate) fn dequantize_f32(src: &[u8], dst: &mut [f32]) {
    for (y, b) in dst.iter_mut().zip(src.chunks_exact(4)) {
        *y = f32_at(b);
    }
}

pub(crate) fn dequantize_f16(src: &[u8], dst: &mut [f32]) {
    for (y, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *y = f16::from_bits(u16_at(b)).to_f32();
    }
}

pub(crate) fn dequantize_bf16(src: &[u8], dst: &mut [f32]) {
    for (y, b) in dst.iter_mut().zip(src.chunks_exact(2)) {
        *y = bf16_to_f32(u16_at(b));
    }
}

pub(crate) fn quantize_f32(x: &[f32], dst: &mut [u8]) {
    for (b, v) in dst.chunks_exact_mut(4).zip(x) {
        b.copy_from_slice(&v.to_le_bytes());
    }
}

/// f32 → f16 rounds to nearest even, like ggml's `GGML_FP32_TO_FP16`.
pub(crate) fn quantize_f16(x: &[f32], dst: &mut [u8]) {
    for (b, v) in dst.chunks_exact_mut(2).zip(x) {
        b.copy_from_slice(&f16::from_f32(*v).to_bits().to_le_bytes());
    }
}

pub(crate) fn quantize_bf16(x: &[f32], dst: &mut [u8]) {
    for (b, v) in dst.chunks_exact_mut(2).zip(x) {
        b.copy_from_slice(&bf16_from_f32(*v).to_le_bytes());
    }
}

// Scalar reference dots of a weight row (raw bytes) with f32 activations. Both sides are read up
// to the shorter one; sums run in element order.

pub(crate) fn dot_f32_scalar(w: &[u8], a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (b, x) in w.chunks_exact(4).zip(a) {
        sum += f32_at(b) * x;
    }
    sum
}

pub(crate) fn dot_f16_f32_scalar(w: &[u8], a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (b, x) in w.chunks_exact(2).zip(a) {
        sum += f16::from_bits(u16_at(b)).to_f32() * x;
    }
    sum
}

pub(crate) fn dot_bf16_f32_scalar(w: &[u8], a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (b, x) in w.chunks_exact(2).zip(a) {
        sum += bf16_to_f32(u16_at(b)) * x;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounding_matches_ggml_rules() {
        // 1 + 2^-8 is exactly halfway between two bf16 values (1.0 and 1 + 2^-7): ties go to even.
        assert_eq!(bf16_from_f32(1.0 + 1.0 / 256.0), 0x3f80);
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 (odd mantissa) and 1 + 2^-6: rounds up to even.
        assert_eq!(bf16_from_f32(1.0 + 3.0 / 256.0), 0x3f82);
        assert_eq!(bf16_to_f32(0x3f80), 1.0);
        assert_eq!(bf16_to_f32(0xc000), -2.0);
        // NaN stays NaN (quiet bit forced).
        assert!(bf16_to_f32(bf16_from_f32(f32::NAN)).is_nan());
        assert_eq!(bf16_from_f32(f32::INFINITY), 0x7f80);
    }

    #[test]
    fn f16_bytes_are_little_endian() {
        // 1.0 in f16 is 0x3c00, -2.0 is 0xc000.
        let mut out = [0.0f32; 2];
        dequantize_f16(&[0x00, 0x3c, 0x00, 0xc0], &mut out);
        assert_eq!(out, [1.0, -2.0]);
    }
}
