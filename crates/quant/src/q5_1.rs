//! Q5_1: 32 values as `d · q + m`, q 5 bits laid out as in Q5_0.

use crate::block::impl_block;
use crate::q5_0::{pack_q5, unpack_q5};
use crate::{BlockQ8_1, GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ5_1 {
    pub d: f16,
    /// the block minimum
    pub m: f16,
    /// 5th bits, bit j for value j (little-endian u32)
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}
impl_block!(BlockQ5_1, GgmlType::Q5_1, 24);

pub(crate) fn dequantize(blocks: &[BlockQ5_1], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        for (y, &q) in y.iter_mut().zip(&unpack_q5(&b.qh, &b.qs)) {
            *y = f32::from(q) * d + m;
        }
    }
}

/// llama.cpp's `quantize_row_q5_1_ref`: d = (max - min) / 31, m = min.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ5_1]) {
    for (x, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let mut min = f32::MAX;
        let mut max = -f32::MAX;
        for &v in x {
            if v < min {
                min = v;
            }
            if v > max {
                max = v;
            }
        }
        let d = (max - min) / 31.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        b.m = f16::from_f32(min);
        let mut q = [0u8; QK];
        for (q, &v) in q.iter_mut().zip(x) {
            *q = (((v - min) * id + 0.5) as u8).min(31);
        }
        (b.qh, b.qs) = pack_q5(&q);
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q5_1_q8_1`.
pub(crate) fn vec_dot_scalar(w: &[BlockQ5_1], a: &[BlockQ8_1]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&q, &a) in unpack_q5(&x.qh, &x.qs).iter().zip(&y.qs) {
            sumi += i32::from(q) * i32::from(a);
        }
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32 + x.m.to_f32() * y.s.to_f32();
    }
    sumf
}
