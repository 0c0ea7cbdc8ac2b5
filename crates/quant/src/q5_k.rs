//! Q5K: as Q4K with a 5th bit per value: bit `2i` of `qh[l]` belongs to value `l` of sub-block
//! `2i` (the low nibbles of `qs[32i + l]`), bit `2i + 1` to value `l` of sub-block `2i + 1`.

use crate::block::impl_block;
use crate::k_search::make_qkx2_quants;
use crate::round::nearest_int;
use crate::{k_scales, BlockQ8K, GgmlType, QK_K};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ5K {
    pub d: f16,
    pub dmin: f16,
    pub scales: [u8; 12],
    /// high bits
    pub qh: [u8; QK_K / 8],
    /// low 4 bits
    pub qs: [u8; QK_K / 2],
}
impl_block!(BlockQ5K, GgmlType::Q5K, 176);

/// The 256 unsigned 5-bit quants in value order.
#[inline]
pub(crate) fn unpack_quants(b: &BlockQ5K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for (i, (q, ql)) in q
        .chunks_exact_mut(64)
        .zip(b.qs.chunks_exact(32))
        .enumerate()
    {
        let (lo, hi) = q.split_at_mut(32);
        for (((lo, hi), &ql), &qh) in lo.iter_mut().zip(hi).zip(ql).zip(&b.qh) {
            *lo = (ql & 0x0f) | (((qh >> (2 * i)) & 1) << 4);
            *hi = (ql >> 4) | (((qh >> (2 * i + 1)) & 1) << 4);
        }
    }
    q
}

pub(crate) fn dequantize(blocks: &[BlockQ5K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        let q = unpack_quants(b);
        for (j, (q, y)) in q.chunks_exact(32).zip(y.chunks_exact_mut(32)).enumerate() {
            let (sc, m) = k_scales::scale_min(j, &b.scales);
            let (d1, m1) = (d * f32::from(sc), min * f32::from(m));
            for (y, &q) in y.iter_mut().zip(q) {
                *y = d1 * f32::from(q) - m1;
            }
        }
    }
}

/// llama.cpp's `quantize_row_q5_K_ref`.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ5K]) {
    for (x, b) in x.chunks_exact(QK_K).zip(out.iter_mut()) {
        let mut l = [0u8; QK_K];
        let mut laux = [0u8; 32];
        let mut weights = [0f32; 32];
        let mut scales = [0f32; 8];
        let mut mins = [0f32; 8];
        let mut max_scale = 0.0f32;
        let mut max_min = 0.0f32;
        for (j, (xs, ls)) in x.chunks_exact(32).zip(l.chunks_exact_mut(32)).enumerate() {
            let mut sum_x2 = 0.0f32;
            for &v in xs {
                sum_x2 += v * v;
            }
            let av_x = (sum_x2 / 32.0).sqrt();
            for (w, &v) in weights.iter_mut().zip(xs) {
                *w = av_x + v.abs();
            }
            (scales[j], mins[j]) =
                make_qkx2_quants(31, xs, &weights, ls, &mut laux, -0.5, 0.1, 15, false);
            if scales[j] > max_scale {
                max_scale = scales[j];
            }
            if mins[j] > max_min {
                max_min = mins[j];
            }
        }
        let inv_scale = if max_scale > 0.0 {
            63.0 / max_scale
        } else {
            0.0
        };
        let inv_min = if max_min > 0.0 { 63.0 / max_min } else { 0.0 };
        let mut ls = [0u8; 8];
        let mut lm = [0u8; 8];
        for j in 0..8 {
            ls[j] = (nearest_int(inv_scale * scales[j]) as u8).min(63);
            lm[j] = (nearest_int(inv_min * mins[j]) as u8).min(63);
        }
        b.scales = k_scales::pack(&ls, &lm);
        b.d = f16::from_f32(max_scale / 63.0);
        b.dmin = f16::from_f32(max_min / 63.0);

        let d_all = b.d.to_f32();
        let dmin_all = b.dmin.to_f32();
        for (j, (xs, ls)) in x.chunks_exact(32).zip(l.chunks_exact_mut(32)).enumerate() {
            let (sc, m) = k_scales::scale_min(j, &b.scales);
            let d = d_all * f32::from(sc);
            if d == 0.0 {
                continue;
            }
            let dm = dmin_all * f32::from(m);
            for (li, &v) in ls.iter_mut().zip(xs) {
                *li = nearest_int((v + dm) / d).clamp(0, 31) as u8;
            }
        }
        b.qh = [0; QK_K / 8];
        for (i, (ql, l)) in
            b.qs.chunks_exact_mut(32)
                .zip(l.chunks_exact(64))
                .enumerate()
        {
            let (lo, hi) = l.split_at(32);
            for (((ql, qh), &l1), &l2) in ql.iter_mut().zip(b.qh.iter_mut()).zip(lo).zip(hi) {
                *qh |= ((l1 >> 4) & 1) << (2 * i);
                *qh |= ((l2 >> 4) & 1) << (2 * i + 1);
                *ql = (l1 & 0x0f) | ((l2 & 0x0f) << 4);
            }
        }
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q5_K_q8_K`.
pub(crate) fn vec_dot_scalar(w: &[BlockQ5K], a: &[BlockQ8K]) -> f32 {
    let mut sums = [0f32; 8];
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (scales, mins) = k_scales::unpack(&x.scales);
        let q = unpack_quants(x);
        let mut sumi_mins = 0i32;
        for (j, &s) in y.bsums.iter().enumerate() {
            sumi_mins += i32::from(s) * i32::from(mins[j / 2]);
        }
        let mut aux32 = [0i32; 8];
        for (j, (q, a)) in q.chunks_exact(8).zip(y.qs.chunks_exact(8)).enumerate() {
            let scale = i32::from(scales[j / 4]);
            for ((acc, &q), &a) in aux32.iter_mut().zip(q).zip(a) {
                *acc += scale * (i32::from(q) * i32::from(a));
            }
        }
        let d = x.d.to_f32() * y.d;
        for (s, &v) in sums.iter_mut().zip(&aux32) {
            *s += d * v as f32;
        }
        let dmin = x.dmin.to_f32() * y.d;
        sumf -= dmin * sumi_mins as f32;
    }
    for s in sums {
        sumf += s;
    }
    sumf
}
