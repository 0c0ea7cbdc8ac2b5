//! Q4_0: 32 values as `d · (q - 8)`, q a 4-bit nibble. Byte j holds value j (low nibble) and
//! value j + 16 (high nibble).

use crate::block::impl_block;
use crate::{BlockQ8_0, GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ4_0 {
    pub d: f16,
    pub qs: [u8; QK / 2],
}
impl_block!(BlockQ4_0, GgmlType::Q4_0, 18);

pub(crate) fn dequantize(blocks: &[BlockQ4_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let (lo, hi) = y.split_at_mut(QK / 2);
        for ((&q, lo), hi) in b.qs.iter().zip(lo).zip(hi) {
            *lo = (i32::from(q & 0x0f) - 8) as f32 * d;
            *hi = (i32::from(q >> 4) - 8) as f32 * d;
        }
    }
}

/// llama.cpp's `quantize_row_q4_0_ref`: the value of largest magnitude maps to -8.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ4_0]) {
    for (x, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in x {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let (lo, hi) = x.split_at(QK / 2);
        for ((q, &x0), &x1) in b.qs.iter_mut().zip(lo).zip(hi) {
            let q0 = ((x0 * id + 8.5) as i8).clamp(0, 15) as u8;
            let q1 = ((x1 * id + 8.5) as i8).clamp(0, 15) as u8;
            *q = q0 | (q1 << 4);
        }
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q4_0_q8_0`.
pub(crate) fn vec_dot_scalar(w: &[BlockQ4_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (alo, ahi) = y.qs.split_at(QK / 2);
        let mut sumi0 = 0i32;
        let mut sumi1 = 0i32;
        for ((&q, &a0), &a1) in x.qs.iter().zip(alo).zip(ahi) {
            sumi0 += (i32::from(q & 0x0f) - 8) * i32::from(a0);
            sumi1 += (i32::from(q >> 4) - 8) * i32::from(a1);
        }
        sumf += (sumi0 + sumi1) as f32 * x.d.to_f32() * y.d.to_f32();
    }
    sumf
}
