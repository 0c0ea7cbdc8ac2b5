//! Q5_0: 32 values as `d · (q - 16)`, q 5 bits: the low 4 as in Q4_0 (value j low nibble, j + 16
//! high nibble of byte j), the 5th bit of value j in bit j of the little-endian u32 `qh`.

use crate::block::impl_block;
use crate::{BlockQ8_0, GgmlType, QK};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ5_0 {
    pub d: f16,
    /// 5th bits, bit j for value j (little-endian u32)
    pub qh: [u8; 4],
    pub qs: [u8; QK / 2],
}
impl_block!(BlockQ5_0, GgmlType::Q5_0, 22);

/// The 32 unsigned 5-bit quants of a block (Q5_0 and Q5_1 share this layout).
#[inline]
pub(crate) fn unpack_q5(qh: &[u8; 4], qs: &[u8; QK / 2]) -> [u8; QK] {
    let h = u32::from_le_bytes(*qh);
    let mut q = [0u8; QK];
    let (lo, hi) = q.split_at_mut(QK / 2);
    for (j, ((&b, lo), hi)) in qs.iter().zip(lo).zip(hi).enumerate() {
        *lo = (b & 0x0f) | ((((h >> j) & 1) as u8) << 4);
        *hi = (b >> 4) | ((((h >> (j + 16)) & 1) as u8) << 4);
    }
    q
}

/// Packs 32 unsigned 5-bit quants (values above 31 keep their low 5 bits).
#[inline]
pub(crate) fn pack_q5(q: &[u8; QK]) -> ([u8; 4], [u8; QK / 2]) {
    let mut qs = [0u8; QK / 2];
    let mut h = 0u32;
    let (lo, hi) = q.split_at(QK / 2);
    for (j, ((b, &q0), &q1)) in qs.iter_mut().zip(lo).zip(hi).enumerate() {
        *b = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        h |= u32::from((q0 & 0x10) >> 4) << j;
        h |= u32::from((q1 & 0x10) >> 4) << (j + 16);
    }
    (h.to_le_bytes(), qs)
}

pub(crate) fn dequantize(blocks: &[BlockQ5_0], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK)) {
        let d = b.d.to_f32();
        for (y, &q) in y.iter_mut().zip(&unpack_q5(&b.qh, &b.qs)) {
            *y = (i32::from(q) - 16) as f32 * d;
        }
    }
}

/// llama.cpp's `quantize_row_q5_0_ref`: the value of largest magnitude maps to -16.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ5_0]) {
    for (x, b) in x.chunks_exact(QK).zip(out.iter_mut()) {
        let mut amax = 0.0f32;
        let mut max = 0.0f32;
        for &v in x {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -16.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b.d = f16::from_f32(d);
        let mut q = [0u8; QK];
        for (q, &v) in q.iter_mut().zip(x) {
            *q = ((v * id + 16.5) as i8).clamp(0, 31) as u8;
        }
        (b.qh, b.qs) = pack_q5(&q);
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q5_0_q8_0`.
pub(crate) fn vec_dot_scalar(w: &[BlockQ5_0], a: &[BlockQ8_0]) -> f32 {
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let mut sumi = 0i32;
        for (&q, &a) in unpack_q5(&x.qh, &x.qs).iter().zip(&y.qs) {
            sumi += (i32::from(q) - 16) * i32::from(a);
        }
        sumf += (x.d.to_f32() * y.d.to_f32()) * sumi as f32;
    }
    sumf
}
