//! Q8_1: Q8_0 plus `s = d · Σq` (as f16), the activation format of Q4_1 / Q5_1 weights; the sum
//! lets a dot product apply the weight's offset `m` once per block.

use crate::block::impl_block;
use crate::round::round_away;
use crate::{GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ8_1 {
    /// scale
    pub d: f16,
    /// d · Σ qs
    pub s: f16,
    pub qs: [i8; QK],
}
impl_block!(BlockQ8_1, GgmlType::Q8_1, 36);

/// llama.cpp's `quantize_row_q8_1_ref`.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ8_1]) {
    for (x, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let mut amax = 0.0f32;
        for v in x {
            let a = v.abs();
            amax = if amax > a { amax } else { a };
        }
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut sum = 0i32;
        for (q, v) in b.qs.iter_mut().zip(x) {
            *q = round_away(v * id) as i8;
            sum += i32::from(*q);
        }
        b.s = f16::from_f32(sum as f32 * d);
    }
}
