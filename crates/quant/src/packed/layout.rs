//! The interleaved weight layout: 16 rows per group, block by block.
//!
//! A group holds rows `16g .. 16g + 16` of a weight (rows past the end are zero blocks). For each
//! block index `b` the group stores one "group-block": the 16 rows' block `b` with every field
//! transposed so that one 64-byte load holds the same field of all 16 rows, 4 bytes per row (one
//! 32-bit SIMD lane per output row):
//!
//! - scales (`d`, `m`, `dmin`) as 16 consecutive f16;
//! - quant bytes in 4-byte chunks, chunk-major: chunk `c` of row `r` at `64·c + 4·r` (chunks in the
//!   block's natural byte order, so nibble / bit positions inside a chunk keep their meaning);
//! - Q5 high bits as 8 bit-masks of 64 bits, one per (half `s`, chunk `c`) at `8·(4s + c)`: bit
//!   `4r + j` of mask `4s + c` is the fifth bit of value `16s + 4c + j` of row `r` (bit `16s + 4c +
//!   j` of its `qh`), i.e. one bit per byte of the 64-byte register that holds that chunk's nibbles
//!   — an AVX-512 byte mask as it is, and 32 bits per 8-row half for AVX2;
//! - k-quant sub-block scales unpacked to bytes: Q4K scales `[8][16]` u8 and mins as `[4][16][2]`
//!   u8 pairs (m₂ᵢ, m₂ᵢ₊₁); Q6K scales as `[8][16][2]` i8 pairs (sc₂ₚ, sc₂ₚ₊₁);
//! - Q6K quants unsigned (0..63) in three byte planes per 128 values, 48 chunks (see
//!   `q6k_planes`): planes 0..2 hold value sets 0..2 of the half in their low 6 bits, and set 3
//!   two bits per plane in their top bits (one mask each for sets 0..2, a few shifts for set 3).
//!
//! | type | group-block bytes (16 rows) | fields (byte offset) |
//! | --- | ---: | --- |
//! | Q4_0 | 288 | d 0, qs 32 (4 chunks) |
//! | Q4_1 | 320 | d 0, m 32, qs 64 |
//! | Q5_0 | 352 | d 0, qh 32, qs 96 |
//! | Q5_1 | 384 | d 0, m 32, qh 64, qs 128 |
//! | Q8_0 | 544 | d 0, qs 32 (8 chunks) |
//! | Q4K | 2368 | d 0, dmin 32, scales 64, min pairs 192, qs 320 (32 chunks) |
//! | Q6K | 3360 | d 0, scale pairs 32, quant planes 288 (48 chunks) |

use crate::{k_scales, Block, GgmlType};
use crate::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0};
use half::f16;

/// Output rows per group (one 32-bit lane of a 512-bit register each).
pub const ROWS: usize = 16;

/// Field offsets inside a group-block.
pub(crate) mod off {
    pub(crate) const Q4_0_QS: usize = 32;
    pub(crate) const Q4_1_M: usize = 32;
    pub(crate) const Q4_1_QS: usize = 64;
    pub(crate) const Q5_0_QH: usize = 32;
    pub(crate) const Q5_0_QS: usize = 96;
    pub(crate) const Q5_1_M: usize = 32;
    pub(crate) const Q5_1_QH: usize = 64;
    pub(crate) const Q5_1_QS: usize = 128;
    pub(crate) const Q8_0_QS: usize = 32;
    pub(crate) const Q4K_DMIN: usize = 32;
    pub(crate) const Q4K_SC: usize = 64;
    pub(crate) const Q4K_MIN: usize = 192;
    pub(crate) const Q4K_QS: usize = 320;
    pub(crate) const Q6K_SC: usize = 32;
    pub(crate) const Q6K_Q: usize = 288;
}

/// Bytes of one group-block of `ty`, or `None` when `ty` has no interleaved layout.
pub fn group_block_bytes(ty: GgmlType) -> Option<usize> {
    Some(match ty {
        GgmlType::Q4_0 => 288,
        GgmlType::Q4_1 => 320,
        GgmlType::Q5_0 => 352,
        GgmlType::Q5_1 => 384,
        GgmlType::Q8_0 => 544,
        GgmlType::Q4K => 2368,
        GgmlType::Q6K => 3360,
        _ => return None,
    })
}

/// A block type with an interleaved group layout.
pub(crate) trait Interleave: Block {
    /// Bytes of one group-block.
    const GROUP_BYTES: usize;
    /// Writes the group-block of `rows` (exactly [`ROWS`] blocks) into `dst` (exactly
    /// `GROUP_BYTES`).
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]);
    /// Row `r`'s block back out of a group-block.
    fn unpack(src: &[u8], r: usize) -> Self;
}

fn put_f16(dst: &mut [u8], r: usize, v: f16) {
    dst[2 * r..2 * r + 2].copy_from_slice(&v.to_bits().to_le_bytes());
}

fn get_f16(src: &[u8], r: usize) -> f16 {
    f16::from_bits(u16::from_le_bytes([src[2 * r], src[2 * r + 1]]))
}

/// Chunk `c` (4 bytes) of row `r` lives at `64·c + 4·r`.
fn put_chunks(dst: &mut [u8], r: usize, bytes: &[u8]) {
    for (c, chunk) in bytes.chunks_exact(4).enumerate() {
        let at = 64 * c + 4 * r;
        dst[at..at + 4].copy_from_slice(chunk);
    }
}

fn get_chunks(src: &[u8], r: usize, bytes: &mut [u8]) {
    for (c, chunk) in bytes.chunks_exact_mut(4).enumerate() {
        let at = 64 * c + 4 * r;
        chunk.copy_from_slice(&src[at..at + 4]);
    }
}

/// Row `r`'s `qh` into the 8 fifth-bit masks at `dst` (64 bytes, see the module docs).
fn put_qh_masks(dst: &mut [u8], r: usize, qh: &[u8; 4]) {
    let qh = u32::from_le_bytes(*qh);
    for w in 0..8 {
        let mut mask = u64::from_le_bytes(dst[8 * w..8 * w + 8].try_into().unwrap_or([0; 8]));
        for j in 0..4 {
            let bit = u64::from((qh >> (4 * w + j)) & 1);
            mask |= bit << (4 * r + j);
        }
        dst[8 * w..8 * w + 8].copy_from_slice(&mask.to_le_bytes());
    }
}

/// Row `r`'s `qh` back out of the 8 fifth-bit masks at `src`.
fn get_qh_masks(src: &[u8], r: usize) -> [u8; 4] {
    let mut qh = 0u32;
    for w in 0..8 {
        let mask = u64::from_le_bytes(src[8 * w..8 * w + 8].try_into().unwrap_or([0; 8]));
        for j in 0..4 {
            qh |= (((mask >> (4 * r + j)) & 1) as u32) << (4 * w + j);
        }
    }
    qh.to_le_bytes()
}

fn i8_bytes<const N: usize>(v: &[i8; N]) -> [u8; N] {
    v.map(|x| x as u8)
}

/// An all-zero block (a zero scale: the padding rows of the last group).
pub(crate) fn zeroed<B: Block>() -> B {
    // SAFETY: `Block` types are plain data for which every bit pattern is valid.
    unsafe { std::mem::zeroed() }
}

impl Interleave for BlockQ4_0 {
    const GROUP_BYTES: usize = 288;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_chunks(&mut dst[off::Q4_0_QS..], r, &b.qs);
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut b = Self {
            d: get_f16(src, r),
            ..zeroed()
        };
        get_chunks(&src[off::Q4_0_QS..], r, &mut b.qs);
        b
    }
}

impl Interleave for BlockQ4_1 {
    const GROUP_BYTES: usize = 320;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_f16(&mut dst[off::Q4_1_M..], r, b.m);
            put_chunks(&mut dst[off::Q4_1_QS..], r, &b.qs);
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut b = Self {
            d: get_f16(src, r),
            m: get_f16(&src[off::Q4_1_M..], r),
            ..zeroed()
        };
        get_chunks(&src[off::Q4_1_QS..], r, &mut b.qs);
        b
    }
}

impl Interleave for BlockQ5_0 {
    const GROUP_BYTES: usize = 352;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        dst[off::Q5_0_QH..off::Q5_0_QH + 64].fill(0);
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_qh_masks(&mut dst[off::Q5_0_QH..], r, &b.qh);
            put_chunks(&mut dst[off::Q5_0_QS..], r, &b.qs);
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut b = Self {
            d: get_f16(src, r),
            ..zeroed()
        };
        b.qh = get_qh_masks(&src[off::Q5_0_QH..], r);
        get_chunks(&src[off::Q5_0_QS..], r, &mut b.qs);
        b
    }
}

impl Interleave for BlockQ5_1 {
    const GROUP_BYTES: usize = 384;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        dst[off::Q5_1_QH..off::Q5_1_QH + 64].fill(0);
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_f16(&mut dst[off::Q5_1_M..], r, b.m);
            put_qh_masks(&mut dst[off::Q5_1_QH..], r, &b.qh);
            put_chunks(&mut dst[off::Q5_1_QS..], r, &b.qs);
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut b = Self {
            d: get_f16(src, r),
            m: get_f16(&src[off::Q5_1_M..], r),
            ..zeroed()
        };
        b.qh = get_qh_masks(&src[off::Q5_1_QH..], r);
        get_chunks(&src[off::Q5_1_QS..], r, &mut b.qs);
        b
    }
}

impl Interleave for BlockQ8_0 {
    const GROUP_BYTES: usize = 544;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_chunks(&mut dst[off::Q8_0_QS..], r, &i8_bytes(&b.qs));
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut qs = [0u8; 32];
        get_chunks(&src[off::Q8_0_QS..], r, &mut qs);
        Self {
            d: get_f16(src, r),
            qs: qs.map(|q| q as i8),
        }
    }
}

impl Interleave for BlockQ4K {
    const GROUP_BYTES: usize = 2368;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            put_f16(&mut dst[off::Q4K_DMIN..], r, b.dmin);
            let (sc, mn) = k_scales::unpack(&b.scales);
            for j in 0..8 {
                dst[off::Q4K_SC + 16 * j + r] = sc[j];
            }
            for i in 0..4 {
                let at = off::Q4K_MIN + 32 * i + 2 * r;
                dst[at] = mn[2 * i];
                dst[at + 1] = mn[2 * i + 1];
            }
            put_chunks(&mut dst[off::Q4K_QS..], r, &b.qs);
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut sc = [0u8; 8];
        let mut mn = [0u8; 8];
        for j in 0..8 {
            sc[j] = src[off::Q4K_SC + 16 * j + r];
        }
        for i in 0..4 {
            let at = off::Q4K_MIN + 32 * i + 2 * r;
            mn[2 * i] = src[at];
            mn[2 * i + 1] = src[at + 1];
        }
        let mut b = Self {
            d: get_f16(src, r),
            dmin: get_f16(&src[off::Q4K_DMIN..], r),
            scales: k_scales::pack(&sc, &mn),
            ..zeroed()
        };
        get_chunks(&src[off::Q4K_QS..], r, &mut b.qs);
        b
    }
}

/// Row `b`'s 256 six-bit quants (unsigned, 0..63) as the 192 bytes of its 48 chunks: for half
/// `n`, plane `t` (0..3) and position `l` (0..32) the byte at `96n + 32t + l` holds value
/// `128n + 32t + l` in bits 0..6 and bits `2t..2t+2` of value `128n + 96 + l` in bits 6..8.
fn q6k_planes(b: &BlockQ6K) -> [u8; 192] {
    let q = crate::q6_k::unpack_quants(b).map(|v| (v + 32) as u8);
    let mut out = [0u8; 192];
    for n in 0..2 {
        for t in 0..3 {
            for l in 0..32 {
                let v3 = q[128 * n + 96 + l];
                out[96 * n + 32 * t + l] = q[128 * n + 32 * t + l] | ((v3 >> (2 * t)) & 3) << 6;
            }
        }
    }
    out
}

/// The inverse of [`q6k_planes`]: `ql` and `qh` in the block's own layout.
fn q6k_from_planes(planes: &[u8; 192], b: &mut BlockQ6K) {
    for n in 0..2 {
        for l in 0..32 {
            let byte = |t: usize| planes[96 * n + 32 * t + l];
            let v: [u8; 4] = [
                byte(0) & 0x3f,
                byte(1) & 0x3f,
                byte(2) & 0x3f,
                (byte(0) >> 6) | (byte(1) >> 6) << 2 | (byte(2) >> 6) << 4,
            ];
            b.ql[64 * n + l] = (v[0] & 0x0f) | (v[2] & 0x0f) << 4;
            b.ql[64 * n + 32 + l] = (v[1] & 0x0f) | (v[3] & 0x0f) << 4;
            b.qh[32 * n + l] = (v[0] >> 4) | (v[1] >> 4) << 2 | (v[2] >> 4) << 4 | (v[3] >> 4) << 6;
        }
    }
}

impl Interleave for BlockQ6K {
    const GROUP_BYTES: usize = 3360;
    fn pack(rows: &[Self; ROWS], dst: &mut [u8]) {
        for (r, b) in rows.iter().enumerate() {
            put_f16(dst, r, b.d);
            for p in 0..8 {
                let at = off::Q6K_SC + 32 * p + 2 * r;
                dst[at] = b.scales[2 * p] as u8;
                dst[at + 1] = b.scales[2 * p + 1] as u8;
            }
            put_chunks(&mut dst[off::Q6K_Q..], r, &q6k_planes(b));
        }
    }
    fn unpack(src: &[u8], r: usize) -> Self {
        let mut b = Self {
            d: get_f16(src, r),
            ..zeroed()
        };
        for p in 0..8 {
            let at = off::Q6K_SC + 32 * p + 2 * r;
            b.scales[2 * p] = src[at] as i8;
            b.scales[2 * p + 1] = src[at + 1] as i8;
        }
        let mut planes = [0u8; 192];
        get_chunks(&src[off::Q6K_Q..], r, &mut planes);
        q6k_from_planes(&planes, &mut b);
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every row's block comes back out of a group-block bit for bit (the Q5 fifth-bit masks are
    /// a bit permutation of the 16 rows' `qh`).
    #[test]
    fn pack_then_unpack_gives_the_rows_back() {
        fn check<B: Interleave + Copy>(fill: impl Fn(usize, &mut [u8])) {
            let mut rows = [zeroed::<B>(); ROWS];
            for (r, b) in rows.iter_mut().enumerate() {
                // SAFETY: `Block` types are plain data for which every bit pattern is valid.
                let bytes = unsafe {
                    std::slice::from_raw_parts_mut(
                        (b as *mut B).cast::<u8>(),
                        std::mem::size_of::<B>(),
                    )
                };
                fill(r, bytes);
            }
            let mut dst = vec![0xa5u8; B::GROUP_BYTES];
            B::pack(&rows, &mut dst);
            for (r, want) in rows.iter().enumerate() {
                let got = B::unpack(&dst, r);
                let as_bytes = |b: &B| {
                    // SAFETY: as above; read-only view of a plain-data block.
                    unsafe {
                        std::slice::from_raw_parts((b as *const B).cast::<u8>(), size_of::<B>())
                            .to_vec()
                    }
                };
                assert_eq!(as_bytes(&got), as_bytes(want), "{} row {r}", B::TYPE);
            }
        }
        let fill = |r: usize, b: &mut [u8]| {
            for (i, v) in b.iter_mut().enumerate() {
                *v = (i as u32 * 37 + r as u32 * 101 + (i * r) as u32).to_le_bytes()[0] ^ 0x5a;
            }
            // Finite f16 scales (bytes 0..2, and the min of Q4_1 / Q5_1 at 2..4).
            b[1] &= 0x3b;
            b[3] &= 0x3b;
        };
        check::<BlockQ4_0>(fill);
        check::<BlockQ4_1>(fill);
        check::<BlockQ5_0>(fill);
        check::<BlockQ5_1>(fill);
        check::<BlockQ8_0>(fill);
        check::<BlockQ6K>(fill);
    }
}
