//! Q8K: 256 values as `d · q` with an f32 scale and the sums of each 16 quants (`bsums`), the
//! activation format of the k-quant weights (the sums apply a weight's per-sub-block mins).

use crate::block::impl_block;
use crate::round::nearest_int;
use crate::{GgmlType, QK_K};

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ8K {
    pub d: f32,
    pub qs: [i8; QK_K],
    /// Σ qs[16·j .. 16·j + 16]
    pub bsums: [i16; QK_K / 16],
}
impl_block!(BlockQ8K, GgmlType::Q8K, 292);

/// llama.cpp's `quantize_row_q8_K_ref`: the value of largest magnitude maps to ±127 (with the sign
/// folded into `d`), rounding half to even.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ8K]) {
    for (x, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut max = 0.0f32;
        let mut amax = 0.0f32;
        for &v in x {
            if v.abs() > amax {
                amax = v.abs();
                max = v;
            }
        }
        if amax == 0.0 {
            b.d = 0.0;
            b.qs = [0; QK_K];
            b.bsums = [0; QK_K / 16];
            continue;
        }
        let iscale = -127.0 / max;
        for (q, &v) in b.qs.iter_mut().zip(x) {
            *q = nearest_int(iscale * v).min(127) as i8;
        }
        for (s, q) in b.bsums.iter_mut().zip(b.qs.chunks_exact(16)) {
            *s = q.iter().map(|&q| i16::from(q)).sum();
        }
        b.d = 1.0 / iscale;
    }
}
