//! One key tile's online-softmax step for a task's rows.

use super::accumulate::accumulate_v_group;
use super::dots::{qk_group, HSums};
use super::geometry::{Geometry, Rows};
use super::partition::Tile;
use super::softmax::{exp_shifted, max_of};
use super::task::PartState;
use super::KEY_TILE;
use crate::simd::{Upcast, WeightFmt};

/// Query rows of one position scored together (each K/V vector is loaded once for all of them);
/// a GQA group of more heads goes through in several passes.
const MAX_GROUP: usize = 4;

/// One tile's online-softmax step for every row of the task: keys at `kp + j·stride` values and
/// values at `vp + j·stride`, stored as `T`.
///
/// The rows go through in runs of consecutive rows of one token (at most [`MAX_GROUP`]), which see
/// the same keys; a row's arithmetic does not depend on the run it is in.
///
/// # Safety
/// As [`run_partition`](super::partition::run_partition); the tile's `used` keys and values are
/// readable at those offsets.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn score_rows<S: HSums, T: WeightFmt + Upcast>(
    geo: &Geometry,
    q: &[f32],
    rows: &Rows,
    st: &mut PartState,
    tile: &Tile,
    kp: *const u8,
    vp: *const u8,
    stride: usize,
) {
    let nr = rows.nr;
    let mut r = 0;
    while r < nr {
        let pos = rows.pos(geo, r);
        let mut len = 1;
        while len < MAX_GROUP && r + len < nr && rows.pos(geo, r + len) == pos {
            len += 1;
        }
        // SAFETY: forwarded contract; rows r..r + len are rows of the task.
        unsafe {
            match len {
                1 => score_group::<S, T, 1>(geo, q, rows, r, st, tile, kp, vp, stride),
                2 => score_group::<S, T, 2>(geo, q, rows, r, st, tile, kp, vp, stride),
                3 => score_group::<S, T, 3>(geo, q, rows, r, st, tile, kp, vp, stride),
                _ => score_group::<S, T, MAX_GROUP>(geo, q, rows, r, st, tile, kp, vp, stride),
            }
        }
        r += len;
    }
}

/// [`score_rows`] for rows `r..r + R`, all of one token.
///
/// Per row: scores `s_j = scale · q·k_j` ([`qk_group`]), `m' = max(m, max_j s_j)`,
/// `α = e^(m − m')`, `p_j = e^(s_j − m')`, `l ← l·α + Σ p_j` (in key order),
/// `acc ← acc·α + Σ_j p_j·v_j` ([`accumulate_v_group`]).
///
/// # Safety
/// As [`score_rows`]; `r + R <= rows.nr`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn score_group<S: HSums, T: WeightFmt + Upcast, const R: usize>(
    geo: &Geometry,
    q: &[f32],
    rows: &Rows,
    r: usize,
    st: &mut PartState,
    tile: &Tile,
    kp: *const u8,
    vp: *const u8,
    stride: usize,
) {
    let hd = geo.head_dim;
    let vis = (rows.pos(geo, r) + 1)
        .saturating_sub(tile.start)
        .min(tile.used);
    if vis == 0 {
        return;
    }
    let qp = q.as_ptr();
    let mut qr = [qp; R];
    for (i, x) in qr.iter_mut().enumerate() {
        // SAFETY: q row r + i is in bounds (validated shapes).
        *x = unsafe { qp.add(rows.q_off(geo, r + i)) };
    }
    let mut scores = [[0f32; KEY_TILE]; R];
    // SAFETY: keys j < vis <= used are at kp + j·stride values (the packed tile, or the cache
    // rows base + j·kv_stride); vis <= KEY_TILE.
    unsafe { qk_group::<S, T, R>(&qr, kp, stride, hd, vis, geo.scale, &mut scores) };
    // Whole vectors from here on: scores past `vis` are -inf (weight 0).
    let vis_v = vis.div_ceil(S::N) * S::N;
    let mut alpha = [0f32; R];
    for (i, si) in scores.iter_mut().enumerate() {
        let row = r + i;
        si[vis..vis_v].fill(f32::NEG_INFINITY);
        // SAFETY: `si[..vis_v]` is whole vectors (KEY_TILE is a multiple of N).
        let tile_max = unsafe { max_of::<S>(&si[..vis_v]) };
        let m_new = st.m[row].max(tile_max);
        alpha[i] = (st.m[row] - m_new).exp();
        // SAFETY: as above.
        unsafe { exp_shifted::<S>(&mut si[..vis_v], m_new) };
        st.m[row] = m_new;
    }
    // The denominators in key order, the rows' sums side by side.
    let mut l = [0f32; R];
    for (i, x) in l.iter_mut().enumerate() {
        *x = st.l[r + i] * alpha[i];
    }
    for j in 0..vis {
        for (x, si) in l.iter_mut().zip(&scores) {
            *x += si[j];
        }
    }
    st.l[r..r + R].copy_from_slice(&l);
    let mut acc = [st.acc.as_mut_ptr(); R];
    for (i, x) in acc.iter_mut().enumerate() {
        // SAFETY: acc row r + i is inside `acc` (nr·hd <= TASK_ACC_VALUES).
        *x = unsafe { x.add((r + i) * hd) };
    }
    // SAFETY: distinct acc rows; values as keys above.
    unsafe { accumulate_v_group::<S, T, R>(&acc, &alpha, &scores, vis, vp, stride, hd) };
}
