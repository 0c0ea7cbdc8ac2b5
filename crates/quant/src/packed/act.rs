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

use crate::round::round_away;
use crate::row::row_bytes;
use crate::{q8_k, vec_dot_type, BlockQ8K, Error, GgmlType, QK, QK_K};
use half::f16;

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

/// Quantizes `x` (`k` values) into `dst` (exactly [`act_row_bytes`]`(w, k)` bytes) for weights of
/// type `w`.
pub fn quantize_act_row(w: GgmlType, x: &[f32], dst: &mut [u8]) -> Result<(), Error> {
    quantize_act_row_with(w, x, dst, simd_available())
}

#[cfg(target_arch = "x86_64")]
fn simd_available() -> bool {
    crate::kernels::isa_cap() >= crate::SimdLevel::Avx512Vnni
        && std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
}

#[cfg(not(target_arch = "x86_64"))]
fn simd_available() -> bool {
    false
}

/// One 32-value block the Q8_0 / Q8_1 way: `(d, Σq)`, quants into `q`.
fn q8_block(x: &[f32], q: &mut [u8], simd: bool) -> (f32, i32) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: 32 values each side; `simd` is only true after AVX-512 F/BW detection.
        return unsafe { super::act_x86::q8_block(x, q) };
    }
    let _ = simd;
    // llama.cpp's quantize_row_q8_0_ref (the d before f16 rounding is what Q8_1's s uses).
    let amax = x.iter().fold(0.0f32, |m, v| {
        let a = v.abs();
        if m > a {
            m
        } else {
            a
        }
    });
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    let mut sum = 0i32;
    for (q, v) in q.iter_mut().zip(x) {
        let v = round_away(v * id) as i8;
        *q = v as u8;
        sum += i32::from(v);
    }
    (d, sum)
}

/// One 256-value super-block the Q8K way: `d`, quants into `q`, sums of 16 into `bsums`.
fn q8k_block(x: &[f32], q: &mut [u8], bsums: &mut [i16; 16], simd: bool) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: 256 values each side; `simd` is only true after AVX-512 F/BW detection.
        return unsafe { super::act_x86::q8k_block(x, q, bsums) };
    }
    let _ = simd;
    let mut blk = [crate::packed::layout::zeroed::<BlockQ8K>()];
    q8_k::quantize(x, &mut blk);
    let [blk] = blk;
    for (d, &v) in q.iter_mut().zip(&blk.qs) {
        *d = v as u8;
    }
    *bsums = blk.bsums;
    blk.d
}

/// [`quantize_act_row`] with the SIMD quantizer on or off (both give the same bytes).
pub(crate) fn quantize_act_row_with(
    w: GgmlType,
    x: &[f32],
    dst: &mut [u8],
    simd: bool,
) -> Result<(), Error> {
    let l = ActLayout::new(w, x.len())?;
    if dst.len() != l.bytes {
        return Err(Error::Length {
            what: "interleaved activation row",
            ty: vec_dot_type(w),
            expected: l.bytes,
            got: dst.len(),
        });
    }
    let (qs, rest) = dst.split_at_mut(l.k);
    let (ds, aux) = rest.split_at_mut(4 * l.nb);
    match vec_dot_type(w) {
        GgmlType::Q8_0 | GgmlType::Q8_1 => {
            let with_s = vec_dot_type(w) == GgmlType::Q8_1;
            for (b, (xb, qb)) in x.chunks_exact(QK).zip(qs.chunks_exact_mut(QK)).enumerate() {
                let (d, sum) = q8_block(xb, qb, simd);
                ds[4 * b..4 * b + 4].copy_from_slice(&f16::from_f32(d).to_f32().to_le_bytes());
                let extra = if with_s {
                    f16::from_f32(sum as f32 * d).to_f32().to_le_bytes()
                } else {
                    sum.to_le_bytes()
                };
                aux[4 * b..4 * b + 4].copy_from_slice(&extra);
            }
        }
        _ => {
            let (bs16, bs32) = aux.split_at_mut(32 * l.nb);
            for (b, (xb, qb)) in x
                .chunks_exact(QK_K)
                .zip(qs.chunks_exact_mut(QK_K))
                .enumerate()
            {
                let mut bsums = [0i16; 16];
                let d = q8k_block(xb, qb, &mut bsums, simd);
                ds[4 * b..4 * b + 4].copy_from_slice(&d.to_le_bytes());
                for (j, s) in bsums.iter().enumerate() {
                    bs16[32 * b + 2 * j..32 * b + 2 * j + 2].copy_from_slice(&s.to_le_bytes());
                }
                for j in 0..8 {
                    let s = bsums[2 * j] + bsums[2 * j + 1];
                    bs32[16 * b + 2 * j..16 * b + 2 * j + 2].copy_from_slice(&s.to_le_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD quantizer writes the same bytes as the scalar one, and the scalar one the same
    /// quants and scales as the crate's Q8_0 / Q8_1 / Q8K quantizers.
    #[test]
    fn simd_and_scalar_quantizers_agree_with_the_block_quantizers() {
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        for w in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q4K] {
            for case in 0..6 {
                let k = 512;
                let mut x: Vec<f32> = (0..k).map(|_| next() * 3.0).collect();
                match case {
                    // Ties of roundf: with max|x| = 127 the scale is 1 and x·id = x.
                    1 => x.iter_mut().enumerate().for_each(|(i, v)| {
                        *v = if i % 32 == 0 {
                            127.0
                        } else {
                            (i % 60) as f32 - 30.5
                        }
                    }),
                    2 => x.iter_mut().for_each(|v| *v = 0.0),
                    3 => x[5] = -100.0, // largest magnitude negative
                    4 => (x[7], x[9]) = (-50.0, 50.0), // equal magnitudes, first one negative
                    5 => x[..256].iter_mut().for_each(|v| *v = 0.0), // one zero super-block
                    _ => {}
                }
                let l = ActLayout::new(w, k).unwrap();
                let mut a = vec![0u8; l.bytes];
                let mut b = vec![0u8; l.bytes];
                quantize_act_row_with(w, &x, &mut a, false).unwrap();
                if simd_available() {
                    quantize_act_row_with(w, &x, &mut b, true).unwrap();
                    assert_eq!(a, b, "{w} case {case}: SIMD vs scalar bytes");
                }
                let std = {
                    let at = vec_dot_type(w);
                    let mut s = crate::AlignedBytes::new();
                    s.resize(at.row_bytes(k).unwrap());
                    crate::quantize_row_into(at, &x, s.as_bytes_mut()).unwrap();
                    s
                };
                let bs = vec_dot_type(w).type_size();
                for (blk, sb) in std.as_bytes().chunks_exact(bs).enumerate() {
                    let n = vec_dot_type(w).block_size();
                    let (qs_std, d_std) = match vec_dot_type(w) {
                        GgmlType::Q8K => (
                            &sb[4..4 + n],
                            f32::from_le_bytes([sb[0], sb[1], sb[2], sb[3]]),
                        ),
                        GgmlType::Q8_1 => (
                            &sb[4..4 + n],
                            f16::from_bits(u16::from_le_bytes([sb[0], sb[1]])).to_f32(),
                        ),
                        _ => (
                            &sb[2..2 + n],
                            f16::from_bits(u16::from_le_bytes([sb[0], sb[1]])).to_f32(),
                        ),
                    };
                    assert_eq!(
                        &a[blk * n..(blk + 1) * n],
                        qs_std,
                        "{w} case {case} block {blk} quants"
                    );
                    let d =
                        f32::from_le_bytes(a[l.d + 4 * blk..l.d + 4 * blk + 4].try_into().unwrap());
                    assert_eq!(
                        d.to_bits(),
                        d_std.to_bits(),
                        "{w} case {case} block {blk} d"
                    );
                }
            }
        }
    }
}
