//! Causal attention of new tokens over a paged KV cache, flash style (online softmax over key
//! tiles; the score matrix is never materialised), with grouped-query heads.
//!
//! Work is split into tasks of (sequence, kv head, chunk of query rows), where a query row is one
//! (token, head) of the kv head's group; the rows of a task share each K/V tile while it is in
//! cache. Every row's arithmetic depends only on its own query, its position and the cache (tiles
//! are fixed by absolute key positions), so a sequence's output is bit-identical alone or in any
//! batch, and whatever chunk its rows land in.

use std::mem::MaybeUninit;

use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::paged_kv::{KvLayout, PagedKvLayer};
use crate::simd::{Lanes, Portable};
use crate::{Error, ThreadPool};

/// One sequence of a batch: its new tokens are rows `token_start..token_start + n_tokens` of `q` and
/// sit at positions `ctx_len - n_tokens..ctx_len`; its keys/values for positions `0..ctx_len` are
/// in the cache at `block_table[pos / block_size] * block_size + pos % block_size`.
#[derive(Clone, Copy, Debug)]
pub struct AttnSeq<'a> {
    pub token_start: usize,
    pub n_tokens: usize,
    pub ctx_len: usize,
    pub block_table: &'a [u32],
}

/// f32 accumulators one task keeps on its stack (rows × head_dim).
const TASK_ACC_VALUES: usize = 4096;
/// At most this many query rows per task.
const MAX_ROWS: usize = 64;
/// Keys scored at once (a tile never crosses a block boundary); a multiple of every vector width.
const KEY_TILE: usize = 32;
/// f32 values of one packed K (or V) tile; a tile holds `min(KEY_TILE, PACK_VALUES / head_dim)`
/// keys.
const PACK_VALUES: usize = 8192;
/// Tasks with more query rows than this pack each K/V tile contiguously before using it.
const PACK_MIN_ROWS: usize = 4;
/// Largest supported head_dim (one row must fit a task's accumulators).
const MAX_HEAD_DIM: usize = TASK_ACC_VALUES;
/// Sequences whose task offsets are kept on the stack (more use a heap buffer).
const STACK_SEQS: usize = 256;
/// Below this many score multiply-adds, run on the calling thread alone.
const PARALLEL_MIN_WORK: usize = 1 << 15;

/// Sizes shared by every task of one call.
#[derive(Clone, Copy)]
struct Geometry {
    n_heads: usize,
    head_dim: usize,
    /// Query heads per kv head.
    group: usize,
    n_kv_heads: usize,
    block_size: usize,
    /// Query rows per task.
    rows_per_task: usize,
    scale: f32,
}

impl Geometry {
    /// Tasks (kv heads × row chunks) of one sequence.
    fn tasks_of(&self, s: &AttnSeq) -> usize {
        self.n_kv_heads * (s.n_tokens * self.group).div_ceil(self.rows_per_task)
    }
}

/// For every sequence, for every query token at position `p`, every head `h`:
/// `out[t, h] = Σ_{j ≤ p} softmax_j(scale · q[t, h] · k[j, h / group]) · v[j, h / group]`.
///
/// Rows of `out` that belong to no sequence are left untouched. Inputs are validated first
/// (shapes, the layout, `n_tokens <= ctx_len`, block tables long enough for `ctx_len` and holding
/// block ids `< num_blocks`, sequences' token ranges disjoint and inside `q`): errors, not panics.
#[allow(clippy::too_many_arguments)]
pub fn paged_attention(
    pool: &ThreadPool,
    q: &[f32], // [n_tokens, n_heads, head_dim]
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[AttnSeq],
    n_heads: usize,
    scale: f32,
    out: &mut [f32], // [n_tokens, n_heads * head_dim]
) -> Result<(), Error> {
    paged_attention_with_isa(
        Isa::detect(),
        pool,
        q,
        layer,
        layout,
        seqs,
        n_heads,
        scale,
        out,
    )
}

/// [`paged_attention`] with an explicit instruction set (tests and benchmarks compare tiers). A tier
/// this CPU does not support is an error.
#[allow(clippy::too_many_arguments)]
pub fn paged_attention_with_isa(
    isa: Isa,
    pool: &ThreadPool,
    q: &[f32],
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[AttnSeq],
    n_heads: usize,
    scale: f32,
    out: &mut [f32],
) -> Result<(), Error> {
    if isa > Isa::best_supported() {
        return Err(Error::UnsupportedIsa {
            op: "paged_attention",
            isa,
        });
    }
    let geo = validate(q, layer, layout, seqs, n_heads, scale, out)?;

    // Task offsets: tasks of sequence s are start[s]..start[s + 1].
    let mut stack = [0usize; STACK_SEQS + 1];
    let mut heap = Vec::new();
    let start: &mut [usize] = if seqs.len() <= STACK_SEQS {
        &mut stack[..=seqs.len()]
    } else {
        heap.resize(seqs.len() + 1, 0);
        &mut heap
    };
    let mut work = 0usize;
    for (i, s) in seqs.iter().enumerate() {
        start[i + 1] = start[i] + geo.tasks_of(s);
        work = work.saturating_add(s.n_tokens * n_heads * s.ctx_len * geo.head_dim);
    }
    let n_tasks = start[seqs.len()];
    let start: &[usize] = start;

    let outd = DisjointMut::new(out);
    let task = |t: usize| {
        // The sequence whose task range holds t.
        let si = start.partition_point(|&x| x <= t) - 1;
        let local = t - start[si];
        let chunks = (seqs[si].n_tokens * geo.group).div_ceil(geo.rows_per_task);
        let (kv_head, chunk) = (local / chunks, local % chunks);
        // SAFETY: `isa` is supported (checked above); inputs were validated; tasks write disjoint
        // (token, head) rows of `out`.
        unsafe { run_task(isa, &geo, q, layer, &seqs[si], kv_head, chunk, &outd) };
    };
    if pool.n_threads() > 1 && work >= PARALLEL_MIN_WORK {
        pool.run(n_tasks, task);
    } else {
        (0..n_tasks).for_each(task);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn validate(
    q: &[f32],
    layer: &PagedKvLayer,
    layout: &KvLayout,
    seqs: &[AttnSeq],
    n_heads: usize,
    scale: f32,
    out: &[f32],
) -> Result<Geometry, Error> {
    layout.check_layer(layer)?;
    let (hd, nkv, bs) = (layout.head_dim, layout.n_kv_heads, layout.block_size);
    if n_heads == 0 || !n_heads.is_multiple_of(nkv) {
        return Err(Error::Shape(format!(
            "paged_attention: n_heads {n_heads} is not a positive multiple of n_kv_heads {nkv}"
        )));
    }
    if hd > MAX_HEAD_DIM {
        return Err(Error::Shape(format!(
            "paged_attention: head_dim {hd} exceeds {MAX_HEAD_DIM}"
        )));
    }
    let q_stride = n_heads * hd;
    if !q.len().is_multiple_of(q_stride) || out.len() != q.len() {
        return Err(Error::Shape(format!(
            "paged_attention: q {} / out {} values, expected equal multiples of n_heads*head_dim = {q_stride}",
            q.len(),
            out.len()
        )));
    }
    let n_rows = q.len() / q_stride;
    for (si, s) in seqs.iter().enumerate() {
        let bad = |msg: String| Err(Error::BadSequence { seq: si, msg });
        match s.token_start.checked_add(s.n_tokens) {
            Some(end) if end <= n_rows => {}
            _ => {
                return bad(format!(
                    "tokens {}+{} exceed the {n_rows} rows of q",
                    s.token_start, s.n_tokens
                ))
            }
        }
        if s.n_tokens > s.ctx_len {
            return bad(format!(
                "{} new tokens exceed ctx_len {}",
                s.n_tokens, s.ctx_len
            ));
        }
        let need = s.ctx_len.div_ceil(bs);
        if s.block_table.len() < need {
            return bad(format!(
                "block table has {} blocks, ctx_len {} needs {need} of {bs} slots",
                s.block_table.len(),
                s.ctx_len
            ));
        }
        if let Some((index, &block)) = s.block_table[..need]
            .iter()
            .enumerate()
            .find(|(_, &b)| b as usize >= layout.num_blocks)
        {
            return Err(Error::BlockOutOfRange {
                seq: si,
                index,
                block,
                num_blocks: layout.num_blocks,
            });
        }
    }
    // Disjoint token ranges (tasks of different sequences write different rows of `out`).
    let sorted = seqs
        .windows(2)
        .all(|w| w[0].token_start + w[0].n_tokens <= w[1].token_start);
    if !sorted {
        for (i, a) in seqs.iter().enumerate() {
            for b in &seqs[..i] {
                let overlap = a.token_start < b.token_start + b.n_tokens
                    && b.token_start < a.token_start + a.n_tokens;
                if overlap && a.n_tokens > 0 && b.n_tokens > 0 {
                    return Err(Error::BadSequence {
                        seq: i,
                        msg: "token rows overlap another sequence's".into(),
                    });
                }
            }
        }
    }
    let rows_per_task = (TASK_ACC_VALUES / hd).clamp(1, MAX_ROWS);
    Ok(Geometry {
        n_heads,
        head_dim: hd,
        group: n_heads / nkv,
        n_kv_heads: nkv,
        block_size: bs,
        rows_per_task,
        scale,
    })
}

/// Dispatches [`task_body`] on the instruction set.
///
/// # Safety
/// `isa` is supported by this CPU; the inputs passed `validate`; no other task writes this task's
/// rows of `out`.
#[allow(clippy::too_many_arguments)]
unsafe fn run_task(
    isa: Isa,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    kv_head: usize,
    chunk: usize,
    out: &DisjointMut<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::x86::{Avx2, Avx512};
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
        unsafe fn avx512(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            h: usize,
            c: usize,
            o: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx512>(g, q, l, s, h, c, o) }
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        unsafe fn avx2(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            h: usize,
            c: usize,
            o: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx2>(g, q, l, s, h, c, o) }
        }
        // SAFETY: the tier is supported (caller's promise); contract forwarded.
        unsafe {
            match isa {
                Isa::Avx512 => return avx512(geo, q, layer, seq, kv_head, chunk, out),
                Isa::Avx2 => return avx2(geo, q, layer, seq, kv_head, chunk, out),
                Isa::Scalar => {}
            }
        }
    }
    let _ = isa;
    // SAFETY: forwarded contract.
    unsafe { task_body::<Portable>(geo, q, layer, seq, kv_head, chunk, out) }
}

/// One task: query rows `chunk * rows_per_task ..` of `kv_head`'s group in `seq`.
///
/// Per row and key tile: scores `s_j = scale · q·k_j` (one vector accumulator per dot, keys four at
/// a time), `m' = max(m, max_j s_j)`, `α = e^(m − m')`, `p_j = e^(s_j − m')`, `l ← l·α + Σ p_j`,
/// `acc ← acc·α + Σ_j p_j·v_j` (in key order), and at the end `out = acc / l`.
///
/// # Safety
/// As [`run_task`] (minus the ISA).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn task_body<S: Lanes>(
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    kv_head: usize,
    chunk: usize,
    out: &DisjointMut<f32>,
) {
    let hd = geo.head_dim;
    let g = geo.group;
    let q_stride = geo.n_heads * hd;
    let kv_stride = geo.n_kv_heads * hd;
    let r0 = chunk * geo.rows_per_task;
    let r1 = (r0 + geo.rows_per_task).min(seq.n_tokens * g);
    let nr = r1 - r0;
    let first_pos = seq.ctx_len - seq.n_tokens;
    // Row r of this task: token (r0 + r) / g of the sequence, head kv_head * g + (r0 + r) % g.
    let q_off = |r: usize| {
        let (t, gi) = ((r0 + r) / g, (r0 + r) % g);
        (seq.token_start + t) * q_stride + (kv_head * g + gi) * hd
    };
    let pos_of = |r: usize| first_pos + (r0 + r) / g;
    let n_keys = pos_of(nr - 1) + 1;

    // Only the first nr·head_dim accumulators are used; zero just those (the rest of the stack
    // buffers is never read: a decode task uses a few hundred of their 20k floats).
    let mut acc_buf = [const { MaybeUninit::<f32>::uninit() }; TASK_ACC_VALUES]; // [nr, head_dim]
    let acc: &mut [f32] = {
        let a = &mut acc_buf[..nr * hd];
        a.fill(MaybeUninit::new(0.0));
        // SAFETY: every element of `a` was just initialised; MaybeUninit<f32> has f32's layout.
        unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), a.len()) }
    };
    let mut m = [f32::NEG_INFINITY; MAX_ROWS]; // running max per row
    let mut l = [0f32; MAX_ROWS]; // running softmax denominator per row
    let mut scores = [0f32; KEY_TILE];

    // With many query rows, the tile's K and V rows are packed contiguously first: in the cache,
    // consecutive slots of one kv head sit `n_kv_heads·head_dim` floats apart (4 KiB for 8 heads
    // of 128), so read in place a tile's rows would all fall in the same L1 sets and evict each
    // other while every row passes over them. A few rows (decode) read them in place: the copy
    // would cost more than it saves. The arithmetic is the same either way.
    let pack = nr > PACK_MIN_ROWS;
    let mut k_tile = [const { MaybeUninit::<f32>::uninit() }; PACK_VALUES]; // [tile_len, head_dim]
    let mut v_tile = [const { MaybeUninit::<f32>::uninit() }; PACK_VALUES]; // [tile_len, head_dim]
    let max_tile = KEY_TILE.min(PACK_VALUES / hd);
    let stride = if pack { hd } else { kv_stride };

    let qp = q.as_ptr();
    let bs = geo.block_size;
    for (b, &block) in seq.block_table[..n_keys.div_ceil(bs)].iter().enumerate() {
        let block_first = b * bs;
        let mut ts = 0;
        while ts < bs && block_first + ts < n_keys {
            let tile_start = block_first + ts; // absolute position of the tile's first key
            let tile_len = max_tile.min(bs - ts);
            // Keys of the tile that any row of this task sees.
            let used = tile_len.min(n_keys - tile_start);
            // Cache offset of the tile's first key, for this kv head.
            let base = ((block as usize * bs + ts) * geo.n_kv_heads + kv_head) * hd;
            let (kp, vp): (*const f32, *const f32) = if pack {
                for j in 0..used {
                    let src = base + j * kv_stride;
                    let (ks, vs) = (&layer.k[src..src + hd], &layer.v[src..src + hd]);
                    // SAFETY: j·hd + hd <= used·hd <= PACK_VALUES; sources are hd floats.
                    unsafe {
                        let dk = k_tile.as_mut_ptr().add(j * hd).cast::<f32>();
                        let dv = v_tile.as_mut_ptr().add(j * hd).cast::<f32>();
                        std::ptr::copy_nonoverlapping(ks.as_ptr(), dk, hd);
                        std::ptr::copy_nonoverlapping(vs.as_ptr(), dv, hd);
                    }
                }
                (k_tile.as_ptr().cast(), v_tile.as_ptr().cast())
            } else {
                let end = base + (used - 1) * kv_stride + hd;
                (layer.k[base..end].as_ptr(), layer.v[base..end].as_ptr())
            };
            for r in 0..nr {
                let vis = (pos_of(r) + 1).saturating_sub(tile_start).min(tile_len);
                if vis == 0 {
                    continue;
                }
                // SAFETY: q row r is in bounds (validated shapes); keys j < vis <= used are at
                // kp + j·stride (the packed tile, or the cache rows base + j·kv_stride).
                unsafe {
                    let qr = qp.add(q_off(r));
                    let mut j = 0;
                    while j + 8 <= vis {
                        dots::<S, 8>(
                            qr,
                            kp.add(j * stride),
                            stride,
                            hd,
                            geo.scale,
                            &mut scores[j..j + 8],
                        );
                        j += 8;
                    }
                    while j + 4 <= vis {
                        dots::<S, 4>(
                            qr,
                            kp.add(j * stride),
                            stride,
                            hd,
                            geo.scale,
                            &mut scores[j..j + 4],
                        );
                        j += 4;
                    }
                    while j < vis {
                        dots::<S, 1>(
                            qr,
                            kp.add(j * stride),
                            stride,
                            hd,
                            geo.scale,
                            &mut scores[j..j + 1],
                        );
                        j += 1;
                    }
                }
                // Whole vectors from here on: scores past `vis` are -inf (weight 0).
                let vis_v = vis.div_ceil(S::N) * S::N;
                scores[vis..vis_v].fill(f32::NEG_INFINITY);
                // SAFETY: `scores[..vis_v]` is whole vectors (KEY_TILE is a multiple of N).
                let tile_max = unsafe { max_of::<S>(&scores[..vis_v]) };
                let m_new = m[r].max(tile_max);
                let alpha = (m[r] - m_new).exp();
                // SAFETY: as above.
                unsafe { exp_shifted::<S>(&mut scores[..vis_v], m_new) };
                // The denominator in key order (a vector sum would be as exact, but the SmolLM2
                // reference test sits close to its tolerance: keep the order it was set with).
                let mut lr = l[r] * alpha;
                for &p in &scores[..vis] {
                    lr += p;
                }
                l[r] = lr;
                m[r] = m_new;
                // SAFETY: acc row r is inside `acc` (nr·hd <= TASK_ACC_VALUES); values as keys above.
                unsafe {
                    accumulate_v::<S>(
                        acc.as_mut_ptr().add(r * hd),
                        alpha,
                        &scores[..vis],
                        vp,
                        stride,
                        hd,
                    )
                };
            }
            ts += tile_len;
        }
    }
    for r in 0..nr {
        let inv = 1.0 / l[r];
        // SAFETY: (token, head) row r belongs to this task only (caller's promise).
        let o = unsafe { out.part(q_off(r), hd) };
        for (o, &a) in o.iter_mut().zip(&acc[r * hd..(r + 1) * hd]) {
            *o = a * inv;
        }
    }
}

/// The largest of `s` (whole vectors), reduced in a fixed order.
///
/// # Safety
/// `s.len()` is a positive multiple of `S::N`.
#[inline(always)]
unsafe fn max_of<S: Lanes>(s: &[f32]) -> f32 {
    debug_assert!(!s.is_empty() && s.len().is_multiple_of(S::N));
    // SAFETY: whole vectors inside `s`; `lanes` holds N <= 16 values.
    unsafe {
        let p = s.as_ptr();
        let mut m = S::load_x(p);
        let mut j = S::N;
        while j < s.len() {
            m = S::max(m, S::load_x(p.add(j)));
            j += S::N;
        }
        let mut lanes = [0f32; 16];
        S::store(lanes.as_mut_ptr(), m);
        lanes[..S::N]
            .iter()
            .fold(f32::NEG_INFINITY, |a, &b| a.max(b))
    }
}

/// `s[j] ← e^(s[j] − shift)` over whole vectors with the vector `exp`: every score goes through
/// the same lane operations wherever it sits.
///
/// # Safety
/// `s.len()` is a multiple of `S::N`.
#[inline(always)]
unsafe fn exp_shifted<S: Lanes>(s: &mut [f32], shift: f32) {
    debug_assert!(s.len().is_multiple_of(S::N));
    let p = s.as_mut_ptr();
    // SAFETY: whole vectors inside `s`.
    unsafe {
        let neg = S::splat(-shift);
        let mut j = 0;
        while j < s.len() {
            S::store(p.add(j), S::exp(S::add(S::load_x(p.add(j)), neg)));
            j += S::N;
        }
    }
}

/// `out[j] = scale · Σ_d q[d]·k_j[d]` for J keys at `k + j·stride`: one vector accumulator per key
/// over the head in order, a fixed horizontal sum, then the `hd % N` tail in order (so a key's
/// score does not depend on J).
///
/// # Safety
/// `q` has `hd` readable f32; each key `k + j·stride` has `hd`; `out.len() >= J`.
#[inline(always)]
unsafe fn dots<S: Lanes, const J: usize>(
    q: *const f32,
    k: *const f32,
    stride: usize,
    hd: usize,
    scale: f32,
    out: &mut [f32],
) {
    // SAFETY: offsets stay inside the rows the caller promised.
    unsafe {
        let hd_vec = hd / S::N * S::N;
        let mut acc = [S::zero(); J];
        let mut d = 0;
        while d < hd_vec {
            let qv = S::load_x(q.add(d));
            for (jj, a) in acc.iter_mut().enumerate() {
                *a = S::mul_add(qv, S::load_x(k.add(jj * stride + d)), *a);
            }
            d += S::N;
        }
        for (jj, (a, o)) in acc.iter().zip(out.iter_mut()).enumerate() {
            let mut s = S::hsum(*a);
            for t in hd_vec..hd {
                s += *q.add(t) * *k.add(jj * stride + t);
            }
            *o = s * scale;
        }
    }
}

/// `acc ← acc·α (skipped when α = 1) + Σ_j p[j]·v_j` over the keys in order, for every element of the
/// head; the same operations per element whatever vector block it falls in.
///
/// # Safety
/// `acc` has `hd` writable f32; each value row `v + j·stride` (j < p.len()) has `hd` readable.
#[inline(always)]
unsafe fn accumulate_v<S: Lanes>(
    acc: *mut f32,
    alpha: f32,
    p: &[f32],
    v: *const f32,
    stride: usize,
    hd: usize,
) {
    // SAFETY: offsets stay inside the rows the caller promised.
    unsafe {
        let hd_vec = hd / S::N * S::N;
        let mut d = 0;
        while d + 8 * S::N <= hd_vec {
            accumulate_v_block::<S, 8>(acc.add(d), alpha, p, v.add(d), stride);
            d += 8 * S::N;
        }
        while d < hd_vec {
            accumulate_v_block::<S, 1>(acc.add(d), alpha, p, v.add(d), stride);
            d += S::N;
        }
        for t in hd_vec..hd {
            let mut x = *acc.add(t);
            if alpha != 1.0 {
                x *= alpha;
            }
            for (j, &pj) in p.iter().enumerate() {
                x += pj * *v.add(j * stride + t);
            }
            *acc.add(t) = x;
        }
    }
}

/// [`accumulate_v`] for `B` whole vectors of the head, kept in registers over all keys.
///
/// # Safety
/// `acc` has `B·N` writable f32; each `v + j·stride` has `B·N` readable.
#[inline(always)]
unsafe fn accumulate_v_block<S: Lanes, const B: usize>(
    acc: *mut f32,
    alpha: f32,
    p: &[f32],
    v: *const f32,
    stride: usize,
) {
    // SAFETY: as the caller promised.
    unsafe {
        let mut a = [S::zero(); B];
        for (c, x) in a.iter_mut().enumerate() {
            *x = S::load_x(acc.add(c * S::N));
            if alpha != 1.0 {
                *x = S::mul(*x, S::splat(alpha));
            }
        }
        for (j, &pj) in p.iter().enumerate() {
            let pv = S::splat(pj);
            let vr = v.add(j * stride);
            for (c, x) in a.iter_mut().enumerate() {
                *x = S::mul_add(pv, S::load_x(vr.add(c * S::N)), *x);
            }
        }
        for (c, x) in a.iter().enumerate() {
            S::store(acc.add(c * S::N), *x);
        }
    }
}
