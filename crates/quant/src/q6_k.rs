//! Q6K: 256 values in 16 sub-blocks of 16, value = `d · sc_j · (q - 32)` with i8 sub-block scales
//! and 6-bit quants. Per half (128 values): `ql` 64 bytes, `qh` 32 bytes; for l in 0..32, value
//! l / l+32 / l+64 / l+96 take the low / low / high / high nibble of ql[l] / ql[l+32] / ql[l] /
//! ql[l+32] and bits 0-1 / 2-3 / 4-5 / 6-7 of qh[l] as their top two bits.

use crate::block::impl_block;
use crate::k_search::make_qx_quants;
use crate::round::nearest_int;
use crate::{BlockQ8K, GgmlType, QK_K};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ6K {
    /// low 4 bits
    pub ql: [u8; QK_K / 2],
    /// high 2 bits
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: f16,
}
impl_block!(BlockQ6K, GgmlType::Q6K, 210);

/// The 256 quants in value order, already shifted to -32..31.
#[inline]
pub(crate) fn unpack_quants(b: &BlockQ6K) -> [i8; QK_K] {
    let mut q = [0i8; QK_K];
    for ((q, ql), qh) in q
        .chunks_exact_mut(128)
        .zip(b.ql.chunks_exact(64))
        .zip(b.qh.chunks_exact(32))
    {
        let (ql_a, ql_b) = ql.split_at(32);
        for (l, ((&a, &c), &h)) in ql_a.iter().zip(ql_b).zip(qh).enumerate() {
            q[l] = ((a & 0x0f) | ((h & 3) << 4)) as i8 - 32;
            q[l + 32] = ((c & 0x0f) | (((h >> 2) & 3) << 4)) as i8 - 32;
            q[l + 64] = ((a >> 4) | (((h >> 4) & 3) << 4)) as i8 - 32;
            q[l + 96] = ((c >> 4) | (((h >> 6) & 3) << 4)) as i8 - 32;
        }
    }
    q
}

pub(crate) fn dequantize(blocks: &[BlockQ6K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let q = unpack_quants(b);
        for ((q, y), &sc) in q
            .chunks_exact(16)
            .zip(y.chunks_exact_mut(16))
            .zip(&b.scales)
        {
            let ds = d * f32::from(sc);
            for (y, &q) in y.iter_mut().zip(q) {
                *y = ds * f32::from(q);
            }
        }
    }
}

/// llama.cpp's `quantize_row_q6_K_ref`.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ6K]) {
    for (x, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0i8; QK_K];
        let mut scales = [0f32; 16];
        let mut max_scale = 0.0f32;
        let mut max_abs_scale = 0.0f32;
        for ((xs, ls), s) in x
            .chunks_exact(16)
            .zip(l.chunks_exact_mut(16))
            .zip(scales.iter_mut())
        {
            *s = make_qx_quants(32, xs, ls);
            if s.abs() > max_abs_scale {
                max_abs_scale = s.abs();
                max_scale = *s;
            }
        }
        if max_abs_scale < 1e-15 {
            *b = BlockQ6K {
                ql: [0; QK_K / 2],
                qh: [0; QK_K / 4],
                scales: [0; QK_K / 16],
                d: f16::from_f32(0.0),
            };
            continue;
        }
        let iscale = -128.0 / max_scale;
        b.d = f16::from_f32(1.0 / iscale);
        for (q, &s) in b.scales.iter_mut().zip(&scales) {
            *q = nearest_int(iscale * s).min(127) as i8;
        }
        let d_all = b.d.to_f32();
        for ((xs, ls), &sc) in x
            .chunks_exact(16)
            .zip(l.chunks_exact_mut(16))
            .zip(&b.scales)
        {
            let d = d_all * f32::from(sc);
            if d == 0.0 {
                continue;
            }
            for (li, &v) in ls.iter_mut().zip(xs) {
                *li = (nearest_int(v / d).clamp(-32, 31) + 32) as i8;
            }
        }
        for ((l, ql), qh) in l
            .chunks_exact(128)
            .zip(b.ql.chunks_exact_mut(64))
            .zip(b.qh.chunks_exact_mut(32))
        {
            let (ql_a, ql_b) = ql.split_at_mut(32);
            for (i, ((a, c), h)) in ql_a.iter_mut().zip(ql_b).zip(qh).enumerate() {
                let q = [
                    l[i] as u8,
                    l[i + 32] as u8,
                    l[i + 64] as u8,
                    l[i + 96] as u8,
                ];
                *a = (q[0] & 0x0f) | ((q[2] & 0x0f) << 4);
                *c = (q[1] & 0x0f) | ((q[3] & 0x0f) << 4);
                *h = (q[0] >> 4) | ((q[1] >> 4) << 2) | ((q[2] >> 4) << 4) | ((q[3] >> 4) << 6);
            }
        }
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q6_K_q8_K`.
pub(crate) fn vec_dot_scalar(w: &[BlockQ6K], a: &[BlockQ8K]) -> f32 {
    let mut sums = [0f32; 8];
    for (x, y) in w.iter().zip(a) {
        let q = unpack_quants(x);
        let mut aux32 = [0i32; 8];
        for (j, (q, a)) in q.chunks_exact(8).zip(y.qs.chunks_exact(8)).enumerate() {
            let scale = x.scales.get(j / 2).map_or(0, |&s| i32::from(s));
            for ((acc, &q), &a) in aux32.iter_mut().zip(q).zip(a) {
                *acc += scale * (i32::from(q) * i32::from(a));
            }
        }
        let d = x.d.to_f32() * y.d;
        for (s, &v) in sums.iter_mut().zip(&aux32) {
            *s += d * v as f32;
        }
    }
    let mut sumf = 0.0f32;
    for s in sums {
        sumf += s;
    }
    sumf
}
