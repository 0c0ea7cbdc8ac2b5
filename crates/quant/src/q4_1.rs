//! Q4_1: 32 values as `d · q + m`, q a 4-bit nibble (value j low nibble, j + 16 high nibble of
//! byte j).

use crate::block::impl_block;
use crate::{BlockQ8_1, GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ4_1 {
    pub d: f16,
    /// the block minimum
    pub m: f16,
    pub qs: [u8; QK / 2],
}
impl_block!(BlockQ4_1, GgmlType::Q4_1, 20);

pub(crate) fn dequantize(blocks: &[BlockQ4_1], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        let m = b.m.to_f32();
        let (lo, hi) = y.split_at_mut(QK / 2);
        for ((&q, lo), hi) in b.qs.iter().zip(lo).zip(hi) {
            *lo = f32::from(q & 0x0f) * d + m;
            *hi = f32::from(q >> 4) * d + m;
        }
    }
}

/// llama.cpp's `quantize_row_q4_1_ref`: d = (max - min) / 15, m = min.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ4_1]) {
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
        let d = (max - min) / 15.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        b.m = f16::from_f32(min);
        let (lo, hi) = x.split_at(QK / 2);
        for ((q, &x0), &x1) in b.qs.iter_mut().zip(lo).zip(hi) {
            let q0 = (((x0 - min) * id + 0.5) as i8).clamp(0, 15) as u8;
            let q1 = (((x1 - min) * id + 0.5) as i8).clamp(0, 15) as u8;
            *q = q0 | (q1 << 4);
        }
    }
}

/// Scalar reference: Σ_blocks d_w·d_a·Σ(q·a) + m_w·s_a, as llama.cpp's generic kernel.
pub(crate) fn vec_dot_scalar(w: &[BlockQ4_1], a: &[BlockQ8_1]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (alo, ahi) = y.qs.split_at(QK / 2);
        let mut sumi0 = 0i32;
        let mut sumi1 = 0i32;
        for ((&q, &a0), &a1) in x.qs.iter().zip(alo).zip(ahi) {
            sumi0 += i32::from(q & 0x0f) * i32::from(a0);
            sumi1 += i32::from(q >> 4) * i32::from(a1);
        }
        sumf +=
            (x.d.to_f32() * y.d.to_f32()) * (sumi0 + sumi1) as f32 + x.m.to_f32() * y.s.to_f32();
    }
    sumf
}
