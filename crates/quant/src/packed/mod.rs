//! Interleaved ("packed") weights and the kernels that multiply them with several activation rows
//! at once: the prefill path of a quantized matmul (and, with one activation row, decode).
//!
//! At load, [`pack_rows`] rearranges a quantized weight into groups of [`ROWS`] rows, block by
//! block (the layout is documented in `layout.rs`): one 64-byte load then holds 4 quant bytes of
//! each of 16 output rows, so one `vpdpbusd` against a broadcast activation dword advances 16
//! outputs, and the per-block scale arithmetic is done for 16 outputs per instruction. Activations
//! are quantized once per row by [`quantize_act_row`] into a matching layout.
//!
//! [`GroupKernels::group_dot`] computes a group of 16 outputs for 1 to [`MAX_ACT_ROWS`]
//! activation rows; the unpacked weight registers are reused for every activation row. Every
//! output follows the one reduction order written out in [`dot_reference`] (exact integer block
//! sums, then a fixed chain of f32 fused multiply-adds), whatever the tier and however many
//! activation rows share the call: a row's result never depends on the batch it is in.

mod act;
#[cfg(target_arch = "x86_64")]
mod act_x86;
mod layout;
mod prefetch;
mod reference;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_vnni;

pub use act::{act_row_bytes, quantize_act_row};
pub use layout::{group_block_bytes, ROWS};
pub use reference::dot_reference;

use act::{ActLayout, ActRow};
use layout::Interleave;

use crate::{cast_blocks, AlignedBytes, Error, GgmlType, SimdLevel};
use crate::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8_0};
use std::sync::OnceLock;

/// Most activation rows one kernel call takes.
pub const MAX_ACT_ROWS: usize = 4;

/// Whether `ty` has an interleaved layout and kernels.
pub fn can_interleave(ty: GgmlType) -> bool {
    group_block_bytes(ty).is_some()
}

/// Bytes of one packed group (16 rows of `k` values of `ty`).
pub fn group_bytes(ty: GgmlType, k: usize) -> Result<usize, Error> {
    let gb = group_block_bytes(ty).ok_or(Error::Unsupported {
        op: "interleave",
        ty,
    })?;
    let nb = crate::row::row_bytes("interleaved row", ty, k)? / ty.type_size();
    Ok(gb * nb)
}

/// Packs `m` rows of `k` values of `ty` (`w` in the usual row-major block layout) into
/// `ceil(m / 16)` groups of [`group_bytes`]; the rows of the last group past `m` are zero.
pub fn pack_rows(ty: GgmlType, w: &[u8], m: usize, k: usize) -> Result<AlignedBytes, Error> {
    let gbytes = group_bytes(ty, k)?;
    let row = crate::row::row_bytes("interleaved weight", ty, k)?;
    let need = row.checked_mul(m).ok_or(Error::Length {
        what: "interleaved weight",
        ty,
        expected: usize::MAX,
        got: w.len(),
    })?;
    if w.len() != need {
        return Err(Error::Length {
            what: "interleaved weight",
            ty,
            expected: need,
            got: w.len(),
        });
    }
    let groups = m.div_ceil(ROWS);
    let mut out = AlignedBytes::new();
    out.resize(groups * gbytes);
    let dst = out.as_bytes_mut();
    match ty {
        GgmlType::Q4_0 => pack_typed::<BlockQ4_0>(w, row, m, dst)?,
        GgmlType::Q4_1 => pack_typed::<BlockQ4_1>(w, row, m, dst)?,
        GgmlType::Q5_0 => pack_typed::<BlockQ5_0>(w, row, m, dst)?,
        GgmlType::Q5_1 => pack_typed::<BlockQ5_1>(w, row, m, dst)?,
        GgmlType::Q8_0 => pack_typed::<BlockQ8_0>(w, row, m, dst)?,
        GgmlType::Q4K => pack_typed::<BlockQ4K>(w, row, m, dst)?,
        GgmlType::Q6K => pack_typed::<BlockQ6K>(w, row, m, dst)?,
        _ => {
            return Err(Error::Unsupported {
                op: "interleave",
                ty,
            })
        }
    }
    Ok(out)
}

fn pack_typed<B: Interleave>(w: &[u8], row: usize, m: usize, dst: &mut [u8]) -> Result<(), Error> {
    // The source may sit at any address (hand-built storage): copy blocks out byte-wise.
    let nb = row / B::TYPE.type_size();
    let gbytes = nb * B::GROUP_BYTES;
    let mut rows = [layout::zeroed::<B>(); ROWS];
    let mut tmp = AlignedBytes::new();
    tmp.resize(B::TYPE.type_size());
    for (g, group) in dst.chunks_exact_mut(gbytes).enumerate() {
        for b in 0..nb {
            for (r, slot) in rows.iter_mut().enumerate() {
                let j = g * ROWS + r;
                *slot = if j < m {
                    let at = j * row + b * B::TYPE.type_size();
                    tmp.as_bytes_mut()
                        .copy_from_slice(&w[at..at + B::TYPE.type_size()]);
                    cast_blocks::<B>(tmp.as_bytes())?[0]
                } else {
                    layout::zeroed()
                };
            }
            B::pack(
                &rows,
                &mut group[b * B::GROUP_BYTES..(b + 1) * B::GROUP_BYTES],
            );
        }
    }
    Ok(())
}

/// Row `r` (0..16) of one packed group of `ty` back to f32: exactly what [`crate::dequantize_row`]
/// gives for that row in the usual layout (`dst` holds the row's values).
pub fn dequantize_group_row(
    ty: GgmlType,
    group: &[u8],
    r: usize,
    dst: &mut [f32],
) -> Result<(), Error> {
    let gbytes = group_bytes(ty, dst.len())?;
    if group.len() != gbytes || r >= ROWS {
        return Err(Error::Length {
            what: "packed group row",
            ty,
            expected: gbytes,
            got: group.len(),
        });
    }
    let bs = ty.block_size();
    let gb = gbytes / (dst.len() / bs);
    fn one<B: Interleave>(src: &[u8], r: usize, dst: &mut [f32]) -> Result<(), Error> {
        let blk = [B::unpack(src, r)];
        crate::dequantize_row(B::TYPE, crate::blocks_as_bytes(&blk), dst)
    }
    for (src, dst) in group.chunks_exact(gb).zip(dst.chunks_exact_mut(bs)) {
        match ty {
            GgmlType::Q4_0 => one::<BlockQ4_0>(src, r, dst)?,
            GgmlType::Q4_1 => one::<BlockQ4_1>(src, r, dst)?,
            GgmlType::Q5_0 => one::<BlockQ5_0>(src, r, dst)?,
            GgmlType::Q5_1 => one::<BlockQ5_1>(src, r, dst)?,
            GgmlType::Q8_0 => one::<BlockQ8_0>(src, r, dst)?,
            GgmlType::Q4K => one::<BlockQ4K>(src, r, dst)?,
            GgmlType::Q6K => one::<BlockQ6K>(src, r, dst)?,
            _ => {
                return Err(Error::Unsupported {
                    op: "dequantize_group_row",
                    ty,
                })
            }
        }
    }
    Ok(())
}

/// A SIMD group kernel: `nb` group-blocks at `group`, activation rows at `acts` (each laid out for
/// `k` values), `out[r][j]` = row j of the group · `acts[r]`.
///
/// # Safety
/// `group` points to `nb` group-blocks of the kernel's type, every `acts[r]` to a whole activation
/// row for `k = nb · block size` values, `1 <= acts.len() == out.len() <= MAX_ACT_ROWS`, and the
/// CPU has the kernel's features.
type RawKernel = unsafe fn(*const u8, usize, usize, &[*const u8], &mut [[f32; ROWS]]);

/// The group kernels of one SIMD tier.
#[derive(Clone, Copy, Debug)]
pub struct GroupKernels {
    pub level: SimdLevel,
    /// Per type (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4K, Q6K); `None`: the portable kernel.
    raw: [Option<RawKernel>; 7],
}

fn slot(ty: GgmlType) -> Option<usize> {
    Some(match ty {
        GgmlType::Q4_0 => 0,
        GgmlType::Q4_1 => 1,
        GgmlType::Q5_0 => 2,
        GgmlType::Q5_1 => 3,
        GgmlType::Q8_0 => 4,
        GgmlType::Q4K => 5,
        GgmlType::Q6K => 6,
        _ => return None,
    })
}

impl GroupKernels {
    /// The portable kernels (every output exactly [`dot_reference`]).
    pub fn scalar() -> GroupKernels {
        GroupKernels {
            level: SimdLevel::Scalar,
            raw: [None; 7],
        }
    }

    /// The kernels of `level`, or `None` when this CPU lacks its instructions.
    pub fn for_level(level: SimdLevel) -> Option<GroupKernels> {
        match level {
            SimdLevel::Scalar => Some(GroupKernels::scalar()),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => crate::simd::has_avx2().then(|| GroupKernels {
                level,
                raw: x86_avx2::table(),
            }),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512Vnni => crate::simd::has_avx512_vnni().then(|| GroupKernels {
                level,
                raw: x86_vnni::table(),
            }),
            #[cfg(not(target_arch = "x86_64"))]
            _ => None,
        }
    }

    /// Every tier this CPU runs, lowest first.
    pub fn available() -> Vec<GroupKernels> {
        [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512Vnni]
            .into_iter()
            .filter_map(GroupKernels::for_level)
            .collect()
    }

    /// The fastest tier this CPU runs, at most the one `INFERNO_ISA` names
    /// ([`crate::kernels::isa_cap`]).
    pub fn detect() -> GroupKernels {
        let cap = crate::kernels::isa_cap();
        GroupKernels::available()
            .into_iter()
            .rfind(|k| k.level <= cap)
            .unwrap_or_else(GroupKernels::scalar)
    }

    /// `out[r][j]` = (row j of `group`) · `acts[r]` for one packed group of `ty` (any number of
    /// whole group-blocks) and 1 to [`MAX_ACT_ROWS`] activation rows from [`quantize_act_row`].
    /// Lengths are checked; no alignment is needed.
    pub fn group_dot(
        &self,
        ty: GgmlType,
        group: &[u8],
        acts: &[&[u8]],
        out: &mut [[f32; ROWS]],
    ) -> Result<(), Error> {
        let (gb, i) = match (group_block_bytes(ty), slot(ty)) {
            (Some(gb), Some(i)) => (gb, i),
            _ => {
                return Err(Error::Unsupported {
                    op: "group_dot",
                    ty,
                })
            }
        };
        if !group.len().is_multiple_of(gb) {
            return Err(Error::Length {
                what: "packed group",
                ty,
                expected: group.len() / gb * gb,
                got: group.len(),
            });
        }
        let nb = group.len() / gb;
        let l = ActLayout::new(ty, nb * ty.block_size())?;
        if acts.is_empty() || acts.len() > MAX_ACT_ROWS || acts.len() != out.len() {
            return Err(Error::Length {
                what: "group_dot activation rows (1..=4, one per output row)",
                ty,
                expected: out.len().clamp(1, MAX_ACT_ROWS),
                got: acts.len(),
            });
        }
        if let Some(a) = acts.iter().find(|a| a.len() != l.bytes) {
            return Err(Error::Length {
                what: "interleaved activation row",
                ty: crate::vec_dot_type(ty),
                expected: l.bytes,
                got: a.len(),
            });
        }
        match self.raw[i] {
            Some(kernel) => {
                let mut ptrs = [std::ptr::null::<u8>(); MAX_ACT_ROWS];
                for (p, a) in ptrs.iter_mut().zip(acts) {
                    *p = a.as_ptr();
                }
                // SAFETY: lengths checked above; the table exists only on CPUs with its features.
                unsafe { kernel(group.as_ptr(), nb, l.k, &ptrs[..acts.len()], out) };
            }
            None => {
                let mut rows = [ActRow { bytes: &[], l }; MAX_ACT_ROWS];
                for (r, a) in rows.iter_mut().zip(acts) {
                    r.bytes = a;
                }
                reference::group_dot_scalar(ty, group, nb, &rows[..acts.len()], out);
            }
        }
        Ok(())
    }
}

impl GroupKernels {
    /// All of `groups` (whole packed groups of `ty` for rows of `k` values) times all `n`
    /// activation rows in `acts` (`n` rows of [`act_row_bytes`]`(ty, k)`, back to back):
    /// calls `tile(g, i, out)` with `out[r][j]` = (row j of group g) · (activation row i + r), for
    /// activation rows in tiles of [`MAX_ACT_ROWS`] and the remainder. Lengths are checked once.
    pub fn for_each_tile(
        &self,
        ty: GgmlType,
        k: usize,
        groups: &[u8],
        acts: &[u8],
        n: usize,
        mut tile: impl FnMut(usize, usize, &[[f32; ROWS]]),
    ) -> Result<(), Error> {
        let gbytes = group_bytes(ty, k)?;
        let l = ActLayout::new(ty, k)?;
        let i = slot(ty).ok_or(Error::Unsupported {
            op: "for_each_tile",
            ty,
        })?;
        if !groups.len().is_multiple_of(gbytes) {
            return Err(Error::Length {
                what: "packed groups",
                ty,
                expected: groups.len() / gbytes * gbytes,
                got: groups.len(),
            });
        }
        if Some(acts.len()) != n.checked_mul(l.bytes) {
            return Err(Error::Length {
                what: "interleaved activation rows",
                ty: crate::vec_dot_type(ty),
                expected: n.saturating_mul(l.bytes),
                got: acts.len(),
            });
        }
        let nb = l.nb;
        let mut out = [[0f32; ROWS]; MAX_ACT_ROWS];
        // A call of one tile (up to MAX_ACT_ROWS rows: decode) is left to the hardware
        // prefetchers (software prefetch measured no gain for one-row decode).
        let tiles = n.div_ceil(MAX_ACT_ROWS);
        for (g, group) in groups.chunks_exact(gbytes).enumerate() {
            let ahead = (g + prefetch::GROUPS_AHEAD) * gbytes;
            let ahead = groups.get(ahead..ahead + gbytes).filter(|_| tiles > 1);
            let mut i0 = 0;
            while i0 < n {
                let r = (n - i0).min(MAX_ACT_ROWS);
                if let Some(ahead) = ahead {
                    prefetch::prefetch_part(ahead, i0 / MAX_ACT_ROWS, tiles);
                }
                let rows = &acts[i0 * l.bytes..(i0 + r) * l.bytes];
                match self.raw[i] {
                    Some(kernel) => {
                        let mut ptrs = [std::ptr::null::<u8>(); MAX_ACT_ROWS];
                        for (q, p) in ptrs.iter_mut().enumerate().take(r) {
                            *p = rows[q * l.bytes..].as_ptr();
                        }
                        // SAFETY: whole group-blocks and whole activation rows (checked above);
                        // the table exists only on CPUs with its features.
                        unsafe { kernel(group.as_ptr(), nb, k, &ptrs[..r], &mut out[..r]) };
                    }
                    None => {
                        let mut a = [ActRow { bytes: &[], l }; MAX_ACT_ROWS];
                        for (q, a) in a.iter_mut().enumerate().take(r) {
                            a.bytes = &rows[q * l.bytes..(q + 1) * l.bytes];
                        }
                        reference::group_dot_scalar(ty, group, nb, &a[..r], &mut out[..r]);
                    }
                }
                tile(g, i0, &out[..r]);
                i0 += r;
            }
        }
        Ok(())
    }
}

/// The fastest group kernels for this CPU, detected on first use.
pub fn group_kernels() -> &'static GroupKernels {
    static BEST: OnceLock<GroupKernels> = OnceLock::new();
    BEST.get_or_init(GroupKernels::detect)
}
