//! Q8_0: 32 values as `d · q` with `q` in i8 and one f16 scale. Weight format and the activation
//! format of Q4_0 / Q5_0 / Q8_0 weights.

use crate::block::impl_block;
use crate::round::round_away;
use crate::{GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ8_0 {
    /// scale
    pub d: f16,
    /// quants, value i is `d · qs[i]`
    pub qs: [i8; QK],
}
impl_block!(BlockQ8_0, GgmlType::Q8_0, 34);

pub(crate) fn dequantize(blocks: &[BlockQ8_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = f32::from(q) * d;
        }
    }
}

/// llama.cpp's `quantize_row_q8_0_ref`: d = max|x| / 127, q = round(x / d) (half away from zero).
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ8_0]) {
    for (x, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let mut amax = 0.0f32;
        for v in x {
            let a = v.abs();
            amax = if amax > a { amax } else { a };
        }
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        for (q, v) in b.qs.iter_mut().zip(x) {
            *q = round_away(v * id) as i8;
        }
    }
}

/// Scalar reference: Σ_blocks (Σ w_q·a_q) · (d_w · d_a), as llama.cpp's generic kernel.
pub(crate) fn vec_dot_scalar(w: &[BlockQ8_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&p, &q) in x.qs.iter().zip(&y.qs) {
            sumi += i32::from(p) * i32::from(q);
        }
        sumf += sumi as f32 * (x.d.to_f32() * y.d.to_f32());
    }
    sumf
}
