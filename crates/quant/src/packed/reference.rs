//! The reduction order every interleaved kernel follows, written as plain scalar code.
//!
//! Per output (one weight row · one activation row):
//!
//! - 32-value formats, per block `b`: the exact integer `isum_b = Σ w_q · a_q` (with the weight's
//!   offset applied: Q4_0 `q - 8`, Q5_0 `q - 16`); `t_b = d_w · d_a` (f32 product of the exact f32
//!   scales); `acc[b % 2] = fma(t_b, isum_b, acc[b % 2])`; for Q4_1 / Q5_1 also
//!   `accm = fma(m_w, s_a, accm)`. Result: `acc[0] + acc[1]` (`+ accm`).
//! - Q4K, per super-block: `isum = Σ_j sc_j · Σ_{i∈j} q_i a_i`, `msum = Σ_j m_j · bsum32_j` (exact);
//!   `acc = fma(d_w·d_a, isum, acc)`, `accm = fma(dmin_w·d_a, msum, accm)`. Result: `acc - accm`.
//! - Q6K, per super-block: `isum = Σ_j sc_j · Σ_{i∈j} (q_i - 32) a_i` (exact);
//!   `acc = fma(d_w·d_a, isum, acc)`. Result: `acc`.
//!
//! Integer parts are exact, so their summation order is free; the float steps above are the same
//! in every kernel and every tier, whatever the number of activation rows per call. Hence each
//! output is bit-identical to [`dot_reference`] of its row.

use super::act::{ActLayout, ActRow};
use super::layout::{Interleave, ROWS};
use crate::row::expect_row;
use crate::{cast_blocks, k_scales, q6_k, Error, GgmlType, QK};
use crate::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0};

/// One block's contribution: `(t, isum, m-term)` for the 32-value formats.
pub(crate) trait LegacyTerm: Interleave {
    const HAS_M: bool;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32);
}

/// Σ over the 16 bytes of `qs`: low nibble · a[i], high nibble · a[i + 16], plus a 5th bit.
fn nibble_dot(qs: &[u8; 16], qh: u32, a: &ActRow, base: usize) -> i32 {
    let mut s = 0i32;
    for (i, &q) in qs.iter().enumerate() {
        let lo = i32::from(q & 0x0f) | (((qh >> i) & 1) << 4) as i32;
        let hi = i32::from(q >> 4) | (((qh >> (i + 16)) & 1) << 4) as i32;
        s += lo * a.q(base + i) + hi * a.q(base + i + 16);
    }
    s
}

impl LegacyTerm for BlockQ4_0 {
    const HAS_M: bool = false;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32) {
        let isum = nibble_dot(&self.qs, 0, a, QK * b) - 8 * a.sum(b);
        (self.d.to_f32() * a.d(b), isum, 0.0, 0.0)
    }
}

impl LegacyTerm for BlockQ4_1 {
    const HAS_M: bool = true;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32) {
        let isum = nibble_dot(&self.qs, 0, a, QK * b);
        (self.d.to_f32() * a.d(b), isum, self.m.to_f32(), a.s(b))
    }
}

impl LegacyTerm for BlockQ5_0 {
    const HAS_M: bool = false;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32) {
        let qh = u32::from_le_bytes(self.qh);
        let isum = nibble_dot(&self.qs, qh, a, QK * b) - 16 * a.sum(b);
        (self.d.to_f32() * a.d(b), isum, 0.0, 0.0)
    }
}

impl LegacyTerm for BlockQ5_1 {
    const HAS_M: bool = true;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32) {
        let qh = u32::from_le_bytes(self.qh);
        let isum = nibble_dot(&self.qs, qh, a, QK * b);
        (self.d.to_f32() * a.d(b), isum, self.m.to_f32(), a.s(b))
    }
}

impl LegacyTerm for BlockQ8_0 {
    const HAS_M: bool = false;
    fn term(&self, a: &ActRow, b: usize) -> (f32, i32, f32, f32) {
        let isum = (0..QK)
            .map(|i| i32::from(self.qs[i]) * a.q(QK * b + i))
            .sum();
        (self.d.to_f32() * a.d(b), isum, 0.0, 0.0)
    }
}

/// The canonical fold of the 32-value formats over `nb` blocks.
fn fold_legacy<B: LegacyTerm>(nb: usize, block: impl Fn(usize) -> B, a: &ActRow) -> f32 {
    let mut acc = [0.0f32; 2];
    let mut accm = 0.0f32;
    for b in 0..nb {
        let (t, isum, mw, sa) = block(b).term(a, b);
        acc[b % 2] = t.mul_add(isum as f32, acc[b % 2]);
        if B::HAS_M {
            accm = mw.mul_add(sa, accm);
        }
    }
    let s = acc[0] + acc[1];
    if B::HAS_M {
        s + accm
    } else {
        s
    }
}

/// Q4K super-block `b`: `(d_w·d_a, isum, dmin_w·d_a, msum)`.
fn q4k_term(w: &BlockQ4K, a: &ActRow, b: usize) -> (f32, i32, f32, i32) {
    let (sc, mn) = k_scales::unpack(&w.scales);
    let base = 256 * b;
    let mut isum = 0i32;
    for g in 0..4 {
        let (mut lo, mut hi) = (0i32, 0i32);
        for l in 0..32 {
            let q = w.qs[32 * g + l];
            lo += i32::from(q & 0x0f) * a.q(base + 64 * g + l);
            hi += i32::from(q >> 4) * a.q(base + 64 * g + 32 + l);
        }
        isum += i32::from(sc[2 * g]) * lo + i32::from(sc[2 * g + 1]) * hi;
    }
    let msum = (0..8).map(|j| i32::from(mn[j]) * a.bsum32(b, j)).sum();
    let da = a.d(b);
    (w.d.to_f32() * da, isum, w.dmin.to_f32() * da, msum)
}

fn fold_q4k(nb: usize, block: impl Fn(usize) -> BlockQ4K, a: &ActRow) -> f32 {
    let (mut acc, mut accm) = (0.0f32, 0.0f32);
    for b in 0..nb {
        let (t, isum, tm, msum) = q4k_term(&block(b), a, b);
        acc = t.mul_add(isum as f32, acc);
        accm = tm.mul_add(msum as f32, accm);
    }
    acc - accm
}

/// Q6K super-block `b`: `(d_w·d_a, isum)`.
fn q6k_term(w: &BlockQ6K, a: &ActRow, b: usize) -> (f32, i32) {
    let q = q6_k::unpack_quants(w); // already q - 32
    let base = 256 * b;
    let mut isum = 0i32;
    for (j, &sc) in w.scales.iter().enumerate() {
        let dot: i32 = (0..16)
            .map(|i| i32::from(q[16 * j + i]) * a.q(base + 16 * j + i))
            .sum();
        isum += i32::from(sc) * dot;
    }
    (w.d.to_f32() * a.d(b), isum)
}

fn fold_q6k(nb: usize, block: impl Fn(usize) -> BlockQ6K, a: &ActRow) -> f32 {
    let mut acc = 0.0f32;
    for b in 0..nb {
        let (t, isum) = q6k_term(&block(b), a, b);
        acc = t.mul_add(isum as f32, acc);
    }
    acc
}

/// The canonical dot of one weight row (`w_row`, `k` values of `ty` in the usual row layout) with
/// one interleaved activation row (see [`super::quantize_act_row`]). Every interleaved kernel's
/// output equals this bit for bit.
pub fn dot_reference(ty: GgmlType, w_row: &[u8], act: &[u8], k: usize) -> Result<f32, Error> {
    let l = ActLayout::new(ty, k)?;
    expect_row("interleaved reference weight row", ty, k, w_row.len())?;
    if act.len() != l.bytes {
        return Err(Error::Length {
            what: "interleaved activation row",
            ty: crate::vec_dot_type(ty),
            expected: l.bytes,
            got: act.len(),
        });
    }
    let a = ActRow { bytes: act, l };
    let nb = l.nb;
    Ok(match ty {
        GgmlType::Q4_0 => {
            let w: &[BlockQ4_0] = cast_blocks(w_row)?;
            fold_legacy(nb, |b| w[b], &a)
        }
        GgmlType::Q4_1 => {
            let w: &[BlockQ4_1] = cast_blocks(w_row)?;
            fold_legacy(nb, |b| w[b], &a)
        }
        GgmlType::Q5_0 => {
            let w: &[BlockQ5_0] = cast_blocks(w_row)?;
            fold_legacy(nb, |b| w[b], &a)
        }
        GgmlType::Q5_1 => {
            let w: &[BlockQ5_1] = cast_blocks(w_row)?;
            fold_legacy(nb, |b| w[b], &a)
        }
        GgmlType::Q8_0 => {
            let w: &[BlockQ8_0] = cast_blocks(w_row)?;
            fold_legacy(nb, |b| w[b], &a)
        }
        GgmlType::Q4K => {
            let w: &[BlockQ4K] = cast_blocks(w_row)?;
            fold_q4k(nb, |b| w[b], &a)
        }
        GgmlType::Q6K => {
            let w: &[BlockQ6K] = cast_blocks(w_row)?;
            fold_q6k(nb, |b| w[b], &a)
        }
        _ => {
            return Err(Error::Unsupported {
                op: "interleaved dot",
                ty,
            })
        }
    })
}

/// The portable kernel: each row of the group unpacked block by block and folded as above.
/// `group` holds `nb` group-blocks of `B`; `acts` rows in the matching layout.
pub(crate) fn group_dot_scalar(
    ty: GgmlType,
    group: &[u8],
    nb: usize,
    acts: &[ActRow],
    out: &mut [[f32; ROWS]],
) {
    fn gb<B: Interleave>(group: &[u8], b: usize, r: usize) -> B {
        B::unpack(&group[b * B::GROUP_BYTES..(b + 1) * B::GROUP_BYTES], r)
    }
    for (a, o) in acts.iter().zip(out.iter_mut()) {
        for (r, o) in o.iter_mut().enumerate() {
            *o = match ty {
                GgmlType::Q4_0 => fold_legacy(nb, |b| gb::<BlockQ4_0>(group, b, r), a),
                GgmlType::Q4_1 => fold_legacy(nb, |b| gb::<BlockQ4_1>(group, b, r), a),
                GgmlType::Q5_0 => fold_legacy(nb, |b| gb::<BlockQ5_0>(group, b, r), a),
                GgmlType::Q5_1 => fold_legacy(nb, |b| gb::<BlockQ5_1>(group, b, r), a),
                GgmlType::Q8_0 => fold_legacy(nb, |b| gb::<BlockQ8_0>(group, b, r), a),
                GgmlType::Q4K => fold_q4k(nb, |b| gb::<BlockQ4K>(group, b, r), a),
                GgmlType::Q6K => fold_q6k(nb, |b| gb::<BlockQ6K>(group, b, r), a),
                _ => 0.0,
            };
        }
    }
}
