//! The partition kernel: the online softmax of a task's rows over one partition's key tiles.

use std::mem::MaybeUninit;

use super::dots::HSums;
use super::geometry::{Geometry, Rows};
use super::score::score_rows;
use super::task::PartState;
use super::{AttnSeq, KEY_TILE, PACK_MIN_ROWS, PACK_VALUES};
use crate::paged_kv::PagedKvLayer;
use crate::simd::{Lanes, Upcast, WeightFmt, F32W};

/// The online softmax of `rows` over the keys of partition `p` (positions
/// `p·part_len .. min((p + 1)·part_len, n_keys)`), continuing `st`.
///
/// # Safety
/// As [`run_task_w`] (minus the ISA); `p` < the partitions of the last row.
#[inline(always)]
pub(super) unsafe fn run_partition<S: HSums, W: WeightFmt + Upcast>(
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    p: usize,
    st: &mut PartState,
) {
    let hd = geo.head_dim;
    let nr = rows.nr;
    let kv_stride = geo.n_kv_heads * hd;
    let key_lo = p * geo.part_len;
    let key_hi = ((p + 1) * geo.part_len).min(rows.n_keys(geo));

    // When several tokens' rows read each tile (prefill), the tile's K and V rows are packed
    // contiguously first: in the cache, consecutive slots of one kv head sit
    // `n_kv_heads·head_dim` values apart (4 KiB for 8 heads of 128 f32), so read in place a
    // tile's rows would all fall in the same L1 sets and evict each other while every row passes
    // over them; a 16-bit cache is widened to f32 as it is packed (once per tile, not once per
    // token). The rows of one token (a decode step) share each K/V load in registers
    // ([`score_rows`]) and read the tile in place. Widening is exact, so the arithmetic is the
    // same either way.
    let one_token = rows.pos(geo, 0) == rows.pos(geo, nr - 1);
    let widen = W::BYTES != 4 && !one_token;
    let pack = !one_token && (nr > PACK_MIN_ROWS || widen);
    let mut k_tile = [const { MaybeUninit::<f32>::uninit() }; PACK_VALUES]; // [tile_len, head_dim]
    let mut v_tile = [const { MaybeUninit::<f32>::uninit() }; PACK_VALUES]; // [tile_len, head_dim]
    let max_tile = KEY_TILE.min(PACK_VALUES / hd);
    let (k_base, v_base) = (layer.k.as_byte_ptr(), layer.v.as_byte_ptr());
    let wb = W::BYTES;

    let bs = geo.block_size;
    for b in key_lo / bs..key_hi.div_ceil(bs) {
        let block = seq.block_table[b];
        let block_first = b * bs;
        let mut ts = 0;
        while ts < bs && block_first + ts < key_hi {
            let tile_start = block_first + ts; // absolute position of the tile's first key
            let tile_len = max_tile.min(bs - ts);
            // Keys of the tile that any row of this task sees.
            let used = tile_len.min(key_hi - tile_start);
            // Cache offset (values) of the tile's first key, for this kv head.
            let base = ((block as usize * bs + ts) * geo.n_kv_heads + rows.kv_head) * hd;
            let tile = Tile {
                start: tile_start,
                used,
            };
            // SAFETY: the block id was validated (< num_blocks), so the tile's `used` rows of hd
            // values at base + j·kv_stride are inside K and V; packed rows fit the tiles
            // (used·hd <= PACK_VALUES).
            unsafe {
                let (kc, vc) = (k_base.add(base * wb), v_base.add(base * wb));
                if pack {
                    let (dk, dv) = (
                        k_tile.as_mut_ptr().cast::<f32>(),
                        v_tile.as_mut_ptr().cast::<f32>(),
                    );
                    for j in 0..used {
                        let src = j * kv_stride * wb;
                        widen_row::<S, W>(kc.add(src), dk.add(j * hd), hd);
                        widen_row::<S, W>(vc.add(src), dv.add(j * hd), hd);
                    }
                    score_rows::<S, F32W>(
                        geo,
                        q,
                        rows,
                        st,
                        &tile,
                        k_tile.as_ptr().cast(),
                        v_tile.as_ptr().cast(),
                        hd,
                    );
                } else {
                    // The next tile's rows are requested now, so that they arrive while this one
                    // is scored (a long context streams the cache from L3 or memory, and the
                    // scoring alone keeps too few loads in flight to hide that).
                    let next = if ts + tile_len < bs && block_first + ts + tile_len < key_hi {
                        Some((
                            block as usize * bs + ts + tile_len,
                            block_first + ts + tile_len,
                        ))
                    } else if b + 1 < key_hi.div_ceil(bs) {
                        Some((seq.block_table[b + 1] as usize * bs, block_first + bs))
                    } else {
                        None
                    };
                    if let Some((slot, first)) = next {
                        let n = max_tile.min(bs - slot % bs).min(key_hi - first);
                        let off = ((slot * geo.n_kv_heads + rows.kv_head) * hd) * wb;
                        let (row_bytes, stride_bytes) = (hd * wb, kv_stride * wb);
                        prefetch_rows(k_base.wrapping_add(off), n, stride_bytes, row_bytes);
                        prefetch_rows(v_base.wrapping_add(off), n, stride_bytes, row_bytes);
                    }
                    score_rows::<S, W>(geo, q, rows, st, &tile, kc, vc, kv_stride);
                }
            }
            ts += tile_len;
        }
    }
}

/// Asks for the cache lines of `n` rows of `row_bytes` bytes, `stride` bytes apart from `p`, to be
/// brought into cache (a hint: nothing is read, an address outside memory does not fault).
#[inline(always)]
fn prefetch_rows(p: *const u8, n: usize, stride: usize, row_bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    for j in 0..n {
        let row = p.wrapping_add(j * stride);
        // Every line the row touches, whatever its alignment: one per 64 bytes, then its last.
        let mut b = 0;
        while b <= row_bytes {
            let b_at = b.min(row_bytes.saturating_sub(1));
            // SAFETY: a prefetch hint has no memory effect and cannot fault; SSE is baseline on
            // x86_64.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    row.wrapping_add(b_at).cast(),
                )
            };
            b += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, n, stride, row_bytes);
}

/// The keys of one tile: absolute positions `start..start + used`.
pub(super) struct Tile {
    pub(super) start: usize,
    pub(super) used: usize,
}

/// `dst[..hd] = src[..hd]` widened to f32 (a copy for f32; exact for f16 / bf16).
///
/// # Safety
/// `src` has `hd` readable values of `W`; `dst` has `hd` writable f32.
#[inline(always)]
pub(super) unsafe fn widen_row<S: Lanes, W: WeightFmt + Upcast>(
    src: *const u8,
    dst: *mut f32,
    hd: usize,
) {
    // SAFETY: as the caller promised.
    unsafe {
        if W::BYTES == 4 {
            std::ptr::copy_nonoverlapping(src, dst.cast::<u8>(), hd * 4);
            return;
        }
        let hd_vec = hd / S::N * S::N;
        let mut d = 0;
        while d < hd_vec {
            S::store(dst.add(d), S::load_w::<W>(src.add(d * W::BYTES)));
            d += S::N;
        }
        for t in hd_vec..hd {
            *dst.add(t) = W::scalar(src.add(t * W::BYTES));
        }
    }
}
