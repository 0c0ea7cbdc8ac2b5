//! Q4K: 256 values in 8 sub-blocks of 32, value = `d·sc_j · q - dmin·m_j` with 6-bit sub-block
//! scales / mins (see `k_scales`) and 4-bit quants. Each 32 bytes of `qs` hold two sub-blocks:
//! sub-block 2i in the low nibbles, 2i + 1 in the high nibbles.

use crate::block::impl_block;
use crate::k_search::make_qkx2_quants;
use crate::round::nearest_int;
use crate::{k_scales, BlockQ8K, GgmlType, QK_K};
use half::f16;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlockQ4K {
    /// super-block scale of the sub-block scales
    pub d: f16,
    /// super-block scale of the sub-block mins
    pub dmin: f16,
    pub scales: [u8; 12],
    pub qs: [u8; QK_K / 2],
}
impl_block!(BlockQ4K, GgmlType::Q4K, 144);

pub(crate) fn dequantize(blocks: &[BlockQ4K], y: &mut [f32]) {
    for (b, y) in blocks.iter().zip(y.chunks_exact_mut(QK_K)) {
        let d = b.d.to_f32();
        let min = b.dmin.to_f32();
        for (i, (q, y)) in
            b.qs.chunks_exact(32)
                .zip(y.chunks_exact_mut(64))
                .enumerate()
        {
            let (sc1, m1) = k_scales::scale_min(2 * i, &b.scales);
            let (sc2, m2) = k_scales::scale_min(2 * i + 1, &b.scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (lo, hi) = y.split_at_mut(32);
            for ((&q, lo), hi) in q.iter().zip(lo).zip(hi) {
                *lo = d1 * f32::from(q & 0x0f) - m1;
                *hi = d2 * f32::from(q >> 4) - m2;
            }
        }
    }
}

/// llama.cpp's `quantize_row_q4_K_ref`.
pub(crate) fn quantize(x: &[f32], out: &mut [BlockQ4K]) {
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
                make_qkx2_quants(15, xs, &weights, ls, &mut laux, -1.0, 0.1, 20, false);
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
            // (llama.cpp stores the int in a uint8_t before clamping: same wrap here)
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
                *li = nearest_int((v + dm) / d).clamp(0, 15) as u8;
            }
        }
        for (q, l) in b.qs.chunks_exact_mut(32).zip(l.chunks_exact(64)) {
            let (lo, hi) = l.split_at(32);
            for ((q, &a), &c) in q.iter_mut().zip(lo).zip(hi) {
                *q = a | (c << 4);
            }
        }
    }
}

/// Scalar reference, as llama.cpp's generic `ggml_vec_dot_q4_K_q8_K` (eight i32 lanes, then f32).
pub(crate) fn vec_dot_scalar(w: &[BlockQ4K], a: &[BlockQ8K]) -> f32 {
    let mut sums = [0f32; 8];
    let mut sumf = 0.0f32;
    for (x, y) in w.iter().zip(a) {
        let (scales, mins) = k_scales::unpack(&x.scales);
        let mut q = [0i8; QK_K];
        for (q, b) in q.chunks_exact_mut(64).zip(x.qs.chunks_exact(32)) {
            let (lo, hi) = q.split_at_mut(32);
            for ((lo, hi), &b) in lo.iter_mut().zip(hi).zip(b) {
                *lo = (b & 0x0f) as i8;
                *hi = (b >> 4) as i8;
            }
        }
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
