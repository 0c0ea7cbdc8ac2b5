//! Activation rows for the interleaved kernels: the quants of one row contiguous, followed by the
//! per-block numbers the kernels broadcast (f32 scales, exact integer sums), so a kernel reads
//! every one of them with a plain 4-byte load.
//!
//! The quants and scales are exactly those of [`crate::quantize_row_into`] for the weight's
//! [`crate::vec_dot_type`] (the same quantizer runs block by block); only the arrangement differs.
//!
//! Layout of a row of `k` values, `nb` blocks (all offsets multiples of 4, as `k` is a multiple of
//! 32):
//!
//! | activation | bytes |
//! | --- | --- |
//! | Q8_0 (Q4_0 / Q5_0 / Q8_0 weights) | `qs [k] i8`, `d [nb] f32`, `sum [nb] i32` (Σ qs of the block) |
//! | Q8_1 (Q4_1 / Q5_1 weights) | `qs [k] i8`, `d [nb] f32`, `s [nb] f32` (the block's f16 `s` = d·Σqs) |
//! | Q8K (Q4K / Q6K weights) | `qs [k] i8`, `d [nb] f32`, `bsums [nb][16] i16` (sums of 16), `bsums32 [nb][8] i16` (sums of 32) |

use crate::row::row_bytes;
use crate::{q8_0, q8_1, q8_k, vec_dot_type, Error, GgmlType, QK, QK_K};
use crate::{BlockQ8K, BlockQ8_0, BlockQ8_1};

/// Where the parts of one activation row start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ActLayout {
    /// values per row
    pub(crate) k: usize,
    /// blocks per row (32 values, or 256 for Q8K)
    pub(crate) nb: usize,
    /// byte offset of the f32 block scales (= k)
    pub(crate) d: usize,
    /// byte offset of the per-block extra (sums, s, or bsums)
    pub(crate) aux: usize,
    /// byte offset of Q8K's bsums32 (0 for the others)
    pub(crate) aux2: usize,
    pub(crate) bytes: usize,
}

impl ActLayout {
    /// The layout for weights of type `w` (any interleaved type) and rows of `k` values.
    pub(crate) fn new(w: GgmlType, k: usize) -> Result<ActLayout, Error> {
        let at = vec_dot_type(w);
        row_bytes("interleaved activation row", at, k)?;
        let (nb, extra) = match at {
            GgmlType::Q8_0 | GgmlType::Q8_1 => (k / QK, 8),
            GgmlType::Q8K => (k / QK_K, 4 + 32 + 16),
            _ => {
                return Err(Error::Unsupported {
                    op: "interleaved activation row",
                    ty: w,
                })
            }
        };
        Ok(ActLayout {
            k,
            nb,
            d: k,
            aux: k + 4 * nb,
            aux2: if at == GgmlType::Q8K { k + 36 * nb } else { 0 },
            bytes: k + extra * nb,
        })
    }
}

/// Bytes of one activation row of `k` values for weights of type `w`.
pub fn act_row_bytes(w: GgmlType, k: usize) -> Result<usize, Error> {
    Ok(ActLayout::new(w, k)?.bytes)
}

fn put_f32(dst: &mut [u8], at: usize, v: f32) {
    dst[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_i32(dst: &mut [u8], at: usize, v: i32) {
    dst[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_i16(dst: &mut [u8], at: usize, v: i16) {
    dst[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

/// Quantizes `x` (`k` values) into `dst` (exactly [`act_row_bytes`]`(w, k)` bytes) for weights of
/// type `w`.
pub fn quantize_act_row(w: GgmlType, x: &[f32], dst: &mut [u8]) -> Result<(), Error> {
    let l = ActLayout::new(w, x.len())?;
    if dst.len() != l.bytes {
        return Err(Error::Length {
            what: "interleaved activation row",
            ty: vec_dot_type(w),
            expected: l.bytes,
            got: dst.len(),
        });
    }
    match vec_dot_type(w) {
        GgmlType::Q8_0 => {
            for (b, xb) in x.chunks_exact(QK).enumerate() {
                let mut blk = [crate::packed::layout::zeroed::<BlockQ8_0>()];
                q8_0::quantize(xb, &mut blk);
                let [blk] = blk;
                for (d, &q) in dst[QK * b..QK * (b + 1)].iter_mut().zip(&blk.qs) {
                    *d = q as u8;
                }
                put_f32(dst, l.d + 4 * b, blk.d.to_f32());
                let sum: i32 = blk.qs.iter().map(|&q| i32::from(q)).sum();
                put_i32(dst, l.aux + 4 * b, sum);
            }
        }
        GgmlType::Q8_1 => {
            for (b, xb) in x.chunks_exact(QK).enumerate() {
                let mut blk = [crate::packed::layout::zeroed::<BlockQ8_1>()];
                q8_1::quantize(xb, &mut blk);
                let [blk] = blk;
                for (d, &q) in dst[QK * b..QK * (b + 1)].iter_mut().zip(&blk.qs) {
                    *d = q as u8;
                }
                put_f32(dst, l.d + 4 * b, blk.d.to_f32());
                put_f32(dst, l.aux + 4 * b, blk.s.to_f32());
            }
        }
        _ => {
            for (b, xb) in x.chunks_exact(QK_K).enumerate() {
                let mut blk = [crate::packed::layout::zeroed::<BlockQ8K>()];
                q8_k::quantize(xb, &mut blk);
                let [blk] = blk;
                for (d, &q) in dst[QK_K * b..QK_K * (b + 1)].iter_mut().zip(&blk.qs) {
                    *d = q as u8;
                }
                put_f32(dst, l.d + 4 * b, blk.d);
                for (j, &s) in blk.bsums.iter().enumerate() {
                    put_i16(dst, l.aux + 32 * b + 2 * j, s);
                }
                for j in 0..8 {
                    let s = blk.bsums[2 * j] + blk.bsums[2 * j + 1];
                    put_i16(dst, l.aux2 + 16 * b + 2 * j, s);
                }
            }
        }
    }
    Ok(())
}

/// Typed reads of one activation row (the scalar kernels and the reference).
#[derive(Clone, Copy)]
pub(crate) struct ActRow<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) l: ActLayout,
}

impl<'a> ActRow<'a> {
    pub(crate) fn q(&self, i: usize) -> i32 {
        i32::from(self.bytes[i] as i8)
    }
    fn word(&self, at: usize) -> [u8; 4] {
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.bytes[at..at + 4]);
        w
    }
    pub(crate) fn d(&self, b: usize) -> f32 {
        f32::from_le_bytes(self.word(self.l.d + 4 * b))
    }
    /// Q8_0 rows: Σ qs of block b.
    pub(crate) fn sum(&self, b: usize) -> i32 {
        i32::from_le_bytes(self.word(self.l.aux + 4 * b))
    }
    /// Q8_1 rows: s of block b.
    pub(crate) fn s(&self, b: usize) -> f32 {
        f32::from_le_bytes(self.word(self.l.aux + 4 * b))
    }
    /// Q8K rows: Σ of the 32 quants `32j..32j+32` of super-block b.
    pub(crate) fn bsum32(&self, b: usize, j: usize) -> i32 {
        let at = self.l.aux2 + 16 * b + 2 * j;
        i32::from(i16::from_le_bytes([self.bytes[at], self.bytes[at + 1]]))
    }
}
