//! Causal attention of new tokens over a paged KV cache, flash style (online softmax over key
//! tiles; the score matrix is never materialised), with grouped-query heads, K/V stored as f32,
//! f16 or bf16 (widened to f32 in registers; all arithmetic is f32).
//!
//! Work is split into tasks of (sequence, kv head, chunk of query rows), where a query row is one
//! (token, head) of the kv head's group; the rows of a task share each K/V tile while it is in
//! cache.
//!
//! The keys of a row are cut into partitions of [`PART_KEYS`] positions (whole blocks, fixed by
//! absolute key position): a row runs the online softmax over each partition from a fresh state,
//! then folds the partitions' `(max, sum, accumulator)` states together in partition order
//! ([`merge_part`]). When few, long rows are in a call (one sequence decoding at a long context)
//! the partitions of a chunk become separate tasks (split-KV, so every thread works on the one
//! sequence) whose states are folded by the caller after the pool ran; otherwise one task folds
//! them as it goes. Both do the same operations in the same order, so a row's arithmetic depends
//! only on its own query, its position and the cache: a sequence's output is bit-identical alone
//! or in any batch, split or not, and whatever chunk its rows land in.

use std::cell::RefCell;
use std::mem::MaybeUninit;

use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::kv_convert::KvDtype;
use crate::paged_kv::{KvLayout, PagedKvLayer};
use crate::simd::{Bf16W, Lanes, Portable, Upcast, WeightFmt, F16W, F32W};
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
/// Values of one packed K (or V) tile; a tile holds `min(KEY_TILE, PACK_VALUES / head_dim)` keys.
const PACK_VALUES: usize = 8192;
/// Tasks with more query rows than this pack each K/V tile contiguously before using it.
const PACK_MIN_ROWS: usize = 4;
/// Largest supported head_dim (one row must fit a task's accumulators).
const MAX_HEAD_DIM: usize = TASK_ACC_VALUES;
/// Sequences whose task offsets are kept on the stack (more use a heap buffer).
const STACK_SEQS: usize = 256;
/// Below this many score multiply-adds, run on the calling thread alone.
const PARALLEL_MIN_WORK: usize = 1 << 15;
/// Keys per partition (rounded down to whole blocks, at least one block). The partition states
/// cost `head_dim + 2` values and one merge per row and partition: small next to the partition's
/// `2 · PART_KEYS · head_dim` multiply-adds.
pub const PART_KEYS: usize = 256;
/// Split a call's partitions into tasks when it has fewer unsplit tasks than this per thread, or
/// when one unsplit task holds more than `1 / (2 · threads)` of the work.
const SPLIT_BELOW_TASKS_PER_THREAD: usize = 4;
/// Largest partial-state buffer (f32 values, 4 MiB) a split call may use; larger calls are not
/// split.
const MAX_SPLIT_VALUES: usize = 1 << 20;
/// Task descriptors a split call's list holds before it grows.
const SPLIT_TASKS_RESERVED: usize = 4096;

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
    /// Keys per partition (a multiple of block_size).
    part_len: usize,
    scale: f32,
}

impl Geometry {
    /// Row chunks of one sequence (per kv head).
    fn chunks_of(&self, s: &AttnSeq) -> usize {
        (s.n_tokens * self.group).div_ceil(self.rows_per_task)
    }

    /// Unsplit tasks (kv heads × row chunks) of one sequence.
    fn tasks_of(&self, s: &AttnSeq) -> usize {
        self.n_kv_heads * self.chunks_of(s)
    }
}

/// The query rows of one task: rows `r0..r0 + nr` of kv head `kv_head`'s group in a sequence.
#[derive(Clone, Copy)]
struct Rows {
    r0: usize,
    nr: usize,
    /// Position of the sequence's first new token.
    first_pos: usize,
    token_start: usize,
    kv_head: usize,
}

impl Rows {
    fn new(geo: &Geometry, seq: &AttnSeq, kv_head: usize, chunk: usize) -> Rows {
        let r0 = chunk * geo.rows_per_task;
        let r1 = (r0 + geo.rows_per_task).min(seq.n_tokens * geo.group);
        Rows {
            r0,
            nr: r1 - r0,
            first_pos: seq.ctx_len - seq.n_tokens,
            token_start: seq.token_start,
            kv_head,
        }
    }

    /// Offset in `q` / `out` of row r: token (r0 + r) / g of the sequence, head
    /// kv_head * g + (r0 + r) % g.
    #[inline(always)]
    fn q_off(&self, geo: &Geometry, r: usize) -> usize {
        let g = geo.group;
        let (t, gi) = ((self.r0 + r) / g, (self.r0 + r) % g);
        (self.token_start + t) * geo.n_heads * geo.head_dim + (self.kv_head * g + gi) * geo.head_dim
    }

    /// Position of row r's token (it sees keys `0..=pos`).
    #[inline(always)]
    fn pos(&self, geo: &Geometry, r: usize) -> usize {
        self.first_pos + (self.r0 + r) / geo.group
    }

    /// Keys the last (latest) row sees.
    fn n_keys(&self, geo: &Geometry) -> usize {
        self.pos(geo, self.nr - 1) + 1
    }
}

/// Which partitions a task runs.
#[derive(Clone, Copy)]
enum Part {
    /// All of them, folded as it goes; writes `out`.
    All,
    /// Partition `p` alone; writes its rows' states `[nr, 2 + head_dim]` (max, sum, accumulator)
    /// at `partials[at..]`.
    One { p: usize, at: usize },
}

/// One task of a split call.
#[derive(Clone, Copy)]
struct TaskDesc {
    seq: usize,
    kv_head: usize,
    chunk: usize,
    part: Part,
}

/// The task list and partial states of split calls, kept per calling thread so that a decode
/// step allocates nothing once they have grown.
#[derive(Default)]
struct SplitScratch {
    tasks: Vec<TaskDesc>,
    partials: Vec<f32>,
}

thread_local! {
    static SPLIT: RefCell<SplitScratch> = RefCell::new(SplitScratch::default());
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
    paged_attention_split(
        isa,
        SplitMode::Auto,
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

/// Whether a call's partitions run as separate tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitMode {
    /// Split when few or unbalanced tasks would leave threads idle (the default).
    Auto,
    /// Never split (one task folds all of a row chunk's partitions).
    Never,
    /// Split every row chunk that spans more than one partition (whatever the pool size).
    Always,
}

/// [`paged_attention_with_isa`] with the split choice made explicit (tests prove the choice does
/// not change a bit of the output).
#[allow(clippy::too_many_arguments)]
pub fn paged_attention_split(
    isa: Isa,
    mode: SplitMode,
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
    let mut max_task_work = 0usize;
    for (i, s) in seqs.iter().enumerate() {
        start[i + 1] = start[i] + geo.tasks_of(s);
        work = work.saturating_add(s.n_tokens * n_heads * s.ctx_len * geo.head_dim);
        let rows = geo.rows_per_task.min(s.n_tokens * geo.group);
        max_task_work = max_task_work.max(rows * s.ctx_len * geo.head_dim);
    }
    let n_tasks = start[seqs.len()];
    let start: &[usize] = start;
    let threads = pool.n_threads();
    let parallel = threads > 1 && work >= PARALLEL_MIN_WORK;
    let split = match mode {
        SplitMode::Never => false,
        SplitMode::Always => true,
        SplitMode::Auto => {
            parallel
                && (n_tasks < SPLIT_BELOW_TASKS_PER_THREAD * threads
                    || max_task_work.saturating_mul(2 * threads) > work)
        }
    };
    if split {
        let done = SPLIT.with(|cell| {
            let mut scratch = cell.borrow_mut();
            run_split(
                isa,
                pool,
                parallel || mode == SplitMode::Always,
                &geo,
                q,
                layer,
                seqs,
                out,
                &mut scratch,
            )
        });
        if done {
            return Ok(());
        }
    }

    let outd = DisjointMut::new(out);
    let no_partials = DisjointMut::new(&mut [][..]);
    let task = |t: usize| {
        // The sequence whose task range holds t.
        let si = start.partition_point(|&x| x <= t) - 1;
        let local = t - start[si];
        let chunks = geo.chunks_of(&seqs[si]);
        let rows = Rows::new(&geo, &seqs[si], local / chunks, local % chunks);
        // SAFETY: `isa` is supported (checked above); inputs were validated; tasks write disjoint
        // (token, head) rows of `out`.
        unsafe {
            run_task(
                isa,
                &geo,
                q,
                layer,
                &seqs[si],
                &rows,
                Part::All,
                &outd,
                &no_partials,
            )
        };
    };
    if parallel {
        pool.run(n_tasks, task);
    } else {
        (0..n_tasks).for_each(task);
    }
    Ok(())
}

/// A split call: one task per partition of every row chunk spanning several, then the partition
/// states folded per row in partition order. Returns false (nothing done) when the partial states
/// would exceed [`MAX_SPLIT_VALUES`].
#[allow(clippy::too_many_arguments)]
fn run_split(
    isa: Isa,
    pool: &ThreadPool,
    parallel: bool,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seqs: &[AttnSeq],
    out: &mut [f32],
    scratch: &mut SplitScratch,
) -> bool {
    let row_len = geo.head_dim + 2;
    // Count first: nothing is pushed for a call that will not split.
    let mut n_values = 0usize;
    for s in seqs {
        for chunk in 0..geo.chunks_of(s) {
            let rows = Rows::new(geo, s, 0, chunk);
            let parts = rows.n_keys(geo).div_ceil(geo.part_len);
            if parts > 1 {
                n_values += geo.n_kv_heads * parts * rows.nr * row_len;
            }
        }
    }
    if n_values == 0 || n_values > MAX_SPLIT_VALUES {
        return false;
    }
    let SplitScratch { tasks, partials } = scratch;
    tasks.clear();
    // Grown once to the largest size a split call may use, so that a decode step whose context
    // crosses a partition boundary does not allocate.
    if partials.len() < MAX_SPLIT_VALUES {
        partials.resize(MAX_SPLIT_VALUES, 0.0);
    }
    tasks.reserve(SPLIT_TASKS_RESERVED);
    let mut at = 0;
    for (si, s) in seqs.iter().enumerate() {
        for kv_head in 0..geo.n_kv_heads {
            for chunk in 0..geo.chunks_of(s) {
                let rows = Rows::new(geo, s, kv_head, chunk);
                let parts = rows.n_keys(geo).div_ceil(geo.part_len);
                let desc = |part| TaskDesc {
                    seq: si,
                    kv_head,
                    chunk,
                    part,
                };
                if parts <= 1 {
                    tasks.push(desc(Part::All));
                    continue;
                }
                for p in 0..parts {
                    tasks.push(desc(Part::One { p, at }));
                    at += rows.nr * row_len;
                }
            }
        }
    }
    {
        let tasks: &[TaskDesc] = tasks;
        let outd = DisjointMut::new(&mut *out);
        let partd = DisjointMut::new(&mut partials[..n_values]);
        let task = |t: usize| {
            let d = tasks[t];
            let rows = Rows::new(geo, &seqs[d.seq], d.kv_head, d.chunk);
            // SAFETY: `isa` is supported; inputs were validated; an `All` task writes its own rows
            // of `out`, a `One` task its own range of the partials (disjoint by construction).
            unsafe {
                run_task(
                    isa,
                    geo,
                    q,
                    layer,
                    &seqs[d.seq],
                    &rows,
                    d.part,
                    &outd,
                    &partd,
                )
            };
        };
        if parallel {
            pool.run(tasks.len(), task);
        } else {
            (0..tasks.len()).for_each(task);
        }
    }
    // Fold the partitions of every split chunk (their tasks are consecutive, p = 0 first).
    let hd = geo.head_dim;
    let mut merged = [0f32; MAX_HEAD_DIM];
    for d in tasks.iter() {
        let Part::One { p: 0, at } = d.part else {
            continue;
        };
        let rows = Rows::new(geo, &seqs[d.seq], d.kv_head, d.chunk);
        let part_stride = rows.nr * row_len;
        for r in 0..rows.nr {
            let row_parts = (rows.pos(geo, r) + 1).div_ceil(geo.part_len);
            let (mut mm, mut ml) = (f32::NEG_INFINITY, 0f32);
            for p in 0..row_parts {
                let st = &partials[at + p * part_stride + r * row_len..][..row_len];
                merge_part(
                    p == 0,
                    &mut mm,
                    &mut ml,
                    &mut merged[..hd],
                    st[0],
                    st[1],
                    &st[2..],
                );
            }
            let off = rows.q_off(geo, r);
            finish_row(&mut out[off..off + hd], ml, &merged[..hd]);
        }
    }
    true
}

/// Folds one partition's softmax state `(m, l, a)` (max score, Σ e^(s − m), Σ e^(s − m)·v) into
/// a row's running state `(mm, ml, ma)`; `first` starts it. The same function folds in a task and
/// after a split call, so both give the same bits.
#[inline(never)]
fn merge_part(first: bool, mm: &mut f32, ml: &mut f32, ma: &mut [f32], m: f32, l: f32, a: &[f32]) {
    if first {
        *mm = m;
        *ml = l;
        ma.copy_from_slice(a);
        return;
    }
    let m_new = mm.max(m);
    let (alpha, beta) = ((*mm - m_new).exp(), (m - m_new).exp());
    *ml = *ml * alpha + l * beta;
    for (x, &y) in ma.iter_mut().zip(a) {
        *x = *x * alpha + y * beta;
    }
    *mm = m_new;
}

/// `out = a / l` (as `a · (1 / l)`).
#[inline(always)]
fn finish_row(out: &mut [f32], l: f32, a: &[f32]) {
    let inv = 1.0 / l;
    for (o, &x) in out.iter_mut().zip(a) {
        *o = x * inv;
    }
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
        part_len: (PART_KEYS / bs).max(1) * bs,
        n_heads,
        head_dim: hd,
        group: n_heads / nkv,
        n_kv_heads: nkv,
        block_size: bs,
        rows_per_task,
        scale,
    })
}

/// Dispatches [`task_body`] on the instruction set and the cache's dtype.
///
/// # Safety
/// `isa` is supported by this CPU; the inputs passed `validate`; `rows` is a chunk of `seq`; no
/// other task writes this task's rows of `out` (`Part::All`) or its range of `partials`
/// (`Part::One`, which lies inside `partials`).
#[allow(clippy::too_many_arguments)]
unsafe fn run_task(
    isa: Isa,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    // SAFETY: forwarded contract.
    unsafe {
        match layer.dtype() {
            KvDtype::F32 => run_task_w::<F32W>(isa, geo, q, layer, seq, rows, part, out, partials),
            KvDtype::F16 => run_task_w::<F16W>(isa, geo, q, layer, seq, rows, part, out, partials),
            KvDtype::Bf16 => {
                run_task_w::<Bf16W>(isa, geo, q, layer, seq, rows, part, out, partials)
            }
        }
    }
}

/// [`run_task`] for one stored format `W`.
///
/// # Safety
/// As [`run_task`]; `W` is the layer's dtype.
#[allow(clippy::too_many_arguments)]
unsafe fn run_task_w<W: WeightFmt + Upcast>(
    isa: Isa,
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::x86::{Avx2, Avx512};
        #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma,f16c")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx512<W: WeightFmt + Upcast>(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            r: &Rows,
            p: Part,
            o: &DisjointMut<f32>,
            pa: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx512, W>(g, q, l, s, r, p, o, pa) }
        }
        #[target_feature(enable = "avx2,fma,f16c")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn avx2<W: WeightFmt + Upcast>(
            g: &Geometry,
            q: &[f32],
            l: &PagedKvLayer,
            s: &AttnSeq,
            r: &Rows,
            p: Part,
            o: &DisjointMut<f32>,
            pa: &DisjointMut<f32>,
        ) {
            // SAFETY: forwarded contract.
            unsafe { task_body::<Avx2, W>(g, q, l, s, r, p, o, pa) }
        }
        // SAFETY: the tier is supported (caller's promise); contract forwarded.
        unsafe {
            match isa {
                Isa::Avx512 => return avx512::<W>(geo, q, layer, seq, rows, part, out, partials),
                Isa::Avx2 => return avx2::<W>(geo, q, layer, seq, rows, part, out, partials),
                Isa::Scalar => {}
            }
        }
    }
    let _ = isa;
    // SAFETY: forwarded contract.
    unsafe { task_body::<Portable, W>(geo, q, layer, seq, rows, part, out, partials) }
}

/// Per-row online-softmax state of one partition, and the tiles it reads through.
struct PartState<'a> {
    /// Running max per row.
    m: &'a mut [f32; MAX_ROWS],
    /// Running softmax denominator per row.
    l: &'a mut [f32; MAX_ROWS],
    /// `[nr, head_dim]` accumulators.
    acc: &'a mut [f32],
}

/// One task: the rows of `rows`, over the partitions `part` names.
///
/// Per row, partition and key tile: scores `s_j = scale · q·k_j` (one vector accumulator per dot,
/// keys four at a time), `m' = max(m, max_j s_j)`, `α = e^(m − m')`, `p_j = e^(s_j − m')`,
/// `l ← l·α + Σ p_j`, `acc ← acc·α + Σ_j p_j·v_j` (in key order); partitions are folded with
/// [`merge_part`], and at the end `out = acc / l`.
///
/// # Safety
/// As [`run_task_w`] (minus the ISA).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn task_body<S: Lanes, W: WeightFmt + Upcast>(
    geo: &Geometry,
    q: &[f32],
    layer: &PagedKvLayer,
    seq: &AttnSeq,
    rows: &Rows,
    part: Part,
    out: &DisjointMut<f32>,
    partials: &DisjointMut<f32>,
) {
    let hd = geo.head_dim;
    let nr = rows.nr;
    let n_keys = rows.n_keys(geo);
    let n_parts = n_keys.div_ceil(geo.part_len);

    // Only the first nr·head_dim accumulators are used; they are zeroed per partition (the rest
    // of the stack buffers is never read: a decode task uses a few hundred of their values).
    let mut acc_buf = [const { MaybeUninit::<f32>::uninit() }; TASK_ACC_VALUES]; // [nr, head_dim]
    let acc: &mut [f32] = {
        let a = &mut acc_buf[..nr * hd];
        a.fill(MaybeUninit::new(0.0));
        // SAFETY: every element of `a` was just initialised; MaybeUninit<f32> has f32's layout.
        unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), a.len()) }
    };
    let mut m = [f32::NEG_INFINITY; MAX_ROWS];
    let mut l = [0f32; MAX_ROWS];
    let mut st = PartState {
        m: &mut m,
        l: &mut l,
        acc,
    };

    match part {
        Part::One { p, at } => {
            // SAFETY: forwarded contract.
            unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, p, &mut st) };
            let row_len = hd + 2;
            // SAFETY: this task owns partials[at .. at + nr·(hd + 2)] (caller's promise).
            let dst = unsafe { partials.part(at, nr * row_len) };
            for r in 0..nr {
                let d = &mut dst[r * row_len..(r + 1) * row_len];
                d[0] = st.m[r];
                d[1] = st.l[r];
                d[2..].copy_from_slice(&st.acc[r * hd..(r + 1) * hd]);
            }
        }
        Part::All if n_parts <= 1 => {
            // SAFETY: forwarded contract.
            unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, 0, &mut st) };
            for r in 0..nr {
                // SAFETY: (token, head) row r belongs to this task only (caller's promise).
                let o = unsafe { out.part(rows.q_off(geo, r), hd) };
                finish_row(o, st.l[r], &st.acc[r * hd..(r + 1) * hd]);
            }
        }
        Part::All => {
            let mut merged_buf = [const { MaybeUninit::<f32>::uninit() }; TASK_ACC_VALUES];
            let merged: &mut [f32] = {
                let a = &mut merged_buf[..nr * hd];
                a.fill(MaybeUninit::new(0.0));
                // SAFETY: initialised just above; same layout.
                unsafe { std::slice::from_raw_parts_mut(a.as_mut_ptr().cast::<f32>(), a.len()) }
            };
            let mut mm = [f32::NEG_INFINITY; MAX_ROWS];
            let mut ml = [0f32; MAX_ROWS];
            for p in 0..n_parts {
                if p > 0 {
                    st.acc.fill(0.0);
                    st.m[..nr].fill(f32::NEG_INFINITY);
                    st.l[..nr].fill(0.0);
                }
                // SAFETY: forwarded contract.
                unsafe { run_partition::<S, W>(geo, q, layer, seq, rows, p, &mut st) };
                for r in 0..nr {
                    // Rows that see no key of partition p (earlier tokens of a prefill chunk).
                    if rows.pos(geo, r) < p * geo.part_len {
                        continue;
                    }
                    merge_part(
                        p == 0,
                        &mut mm[r],
                        &mut ml[r],
                        &mut merged[r * hd..(r + 1) * hd],
                        st.m[r],
                        st.l[r],
                        &st.acc[r * hd..(r + 1) * hd],
                    );
                }
            }
            for r in 0..nr {
                // SAFETY: (token, head) row r belongs to this task only (caller's promise).
                let o = unsafe { out.part(rows.q_off(geo, r), hd) };
                finish_row(o, ml[r], &merged[r * hd..(r + 1) * hd]);
            }
        }
    }
}

/// The online softmax of `rows` over the keys of partition `p` (positions
/// `p·part_len .. min((p + 1)·part_len, n_keys)`), continuing `st`.
///
/// # Safety
/// As [`run_task_w`] (minus the ISA); `p` < the partitions of the last row.
#[inline(always)]
unsafe fn run_partition<S: Lanes, W: WeightFmt + Upcast>(
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

    // With many query rows, the tile's K and V rows are packed contiguously first: in the cache,
    // consecutive slots of one kv head sit `n_kv_heads·head_dim` values apart (4 KiB for 8 heads
    // of 128 f32), so read in place a tile's rows would all fall in the same L1 sets and evict
    // each other while every row passes over them. A 16-bit cache read by more than one row is
    // widened to f32 as it is packed (once per tile, not once per row). A few rows of an f32
    // cache, or one row of a 16-bit one, read the tile in place: the copy would cost more than it
    // saves. Widening is exact, so the arithmetic is the same either way.
    let widen = W::BYTES != 4 && nr > 1;
    let pack = nr > PACK_MIN_ROWS || widen;
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
                    score_rows::<S, W>(geo, q, rows, st, &tile, kc, vc, kv_stride);
                }
            }
            ts += tile_len;
        }
    }
}

/// The keys of one tile: absolute positions `start..start + used`.
struct Tile {
    start: usize,
    used: usize,
}

/// `dst[..hd] = src[..hd]` widened to f32 (a copy for f32; exact for f16 / bf16).
///
/// # Safety
/// `src` has `hd` readable values of `W`; `dst` has `hd` writable f32.
#[inline(always)]
unsafe fn widen_row<S: Lanes, W: WeightFmt + Upcast>(src: *const u8, dst: *mut f32, hd: usize) {
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

/// One tile's online-softmax step for every row of the task: keys at `kp + j·stride` values and
/// values at `vp + j·stride`, stored as `T`.
///
/// # Safety
/// As [`run_partition`]; the tile's `used` keys and values are readable at those offsets.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn score_rows<S: Lanes, T: WeightFmt + Upcast>(
    geo: &Geometry,
    q: &[f32],
    rows: &Rows,
    st: &mut PartState,
    tile: &Tile,
    kp: *const u8,
    vp: *const u8,
    stride: usize,
) {
    let (hd, nr, wb) = (geo.head_dim, rows.nr, T::BYTES);
    let (tile_start, used) = (tile.start, tile.used);
    let qp = q.as_ptr();
    let mut scores = [0f32; KEY_TILE];
    for r in 0..nr {
        let vis = (rows.pos(geo, r) + 1).saturating_sub(tile_start).min(used);
        if vis == 0 {
            continue;
        }
        // SAFETY: q row r is in bounds (validated shapes); keys j < vis <= used are at
        // kp + j·stride values (the packed tile, or the cache rows base + j·kv_stride).
        unsafe {
            let qr = qp.add(rows.q_off(geo, r));
            let mut j = 0;
            // Runs of 8, then 4, then single keys (j <= vis throughout): the same `dots` per key.
            macro_rules! runs_of {
                ($w:literal) => {
                    while vis - j >= $w {
                        dots::<S, T, $w>(
                            qr,
                            kp.add(j * stride * wb),
                            stride,
                            hd,
                            geo.scale,
                            &mut scores[j..j + $w],
                        );
                        j += $w;
                    }
                };
            }
            runs_of!(8);
            runs_of!(4);
            runs_of!(1);
        }
        // Whole vectors from here on: scores past `vis` are -inf (weight 0).
        let vis_v = vis.div_ceil(S::N) * S::N;
        scores[vis..vis_v].fill(f32::NEG_INFINITY);
        // SAFETY: `scores[..vis_v]` is whole vectors (KEY_TILE is a multiple of N).
        let tile_max = unsafe { max_of::<S>(&scores[..vis_v]) };
        let m_new = st.m[r].max(tile_max);
        let alpha = (st.m[r] - m_new).exp();
        // SAFETY: as above.
        unsafe { exp_shifted::<S>(&mut scores[..vis_v], m_new) };
        // The denominator in key order (a vector sum would be as exact, but the SmolLM2
        // reference test sits close to its tolerance: keep the order it was set with).
        let mut lr = st.l[r] * alpha;
        for &pj in &scores[..vis] {
            lr += pj;
        }
        st.l[r] = lr;
        st.m[r] = m_new;
        // SAFETY: acc row r is inside `acc` (nr·hd <= TASK_ACC_VALUES); values as keys above.
        unsafe {
            accumulate_v::<S, T>(
                st.acc.as_mut_ptr().add(r * hd),
                alpha,
                &scores[..vis],
                vp,
                stride,
                hd,
            )
        };
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

/// `out[j] = scale · Σ_d q[d]·k_j[d]` for J keys at `k + j·stride` values (stored as `W`): one
/// vector accumulator per key over the head in order, a fixed horizontal sum, then the `hd % N`
/// tail in order (so a key's score does not depend on J).
///
/// # Safety
/// `q` has `hd` readable f32; each key `k + j·stride·W::BYTES` has `hd` values; `out.len() >= J`.
#[inline(always)]
unsafe fn dots<S: Lanes, W: WeightFmt + Upcast, const J: usize>(
    q: *const f32,
    k: *const u8,
    stride: usize,
    hd: usize,
    scale: f32,
    out: &mut [f32],
) {
    let wb = W::BYTES;
    // SAFETY: offsets stay inside the rows the caller promised.
    unsafe {
        let hd_vec = hd / S::N * S::N;
        let mut acc = [S::zero(); J];
        let mut d = 0;
        while d < hd_vec {
            let qv = S::load_x(q.add(d));
            for (jj, a) in acc.iter_mut().enumerate() {
                *a = S::mul_add(qv, S::load_w::<W>(k.add((jj * stride + d) * wb)), *a);
            }
            d += S::N;
        }
        for (jj, (a, o)) in acc.iter().zip(out.iter_mut()).enumerate() {
            let mut s = S::hsum(*a);
            for t in hd_vec..hd {
                s += *q.add(t) * W::scalar(k.add((jj * stride + t) * wb));
            }
            *o = s * scale;
        }
    }
}

/// `acc ← acc·α (skipped when α = 1) + Σ_j p[j]·v_j` over the keys in order, for every element of the
/// head; the same operations per element whatever vector block it falls in.
///
/// # Safety
/// `acc` has `hd` writable f32; each value row `v + j·stride·W::BYTES` (j < p.len()) has `hd`
/// readable values.
#[inline(always)]
unsafe fn accumulate_v<S: Lanes, W: WeightFmt + Upcast>(
    acc: *mut f32,
    alpha: f32,
    p: &[f32],
    v: *const u8,
    stride: usize,
    hd: usize,
) {
    let wb = W::BYTES;
    // SAFETY: offsets stay inside the rows the caller promised.
    unsafe {
        let hd_vec = hd / S::N * S::N;
        let mut d = 0;
        while d + 8 * S::N <= hd_vec {
            accumulate_v_block::<S, W, 8>(acc.add(d), alpha, p, v.add(d * wb), stride);
            d += 8 * S::N;
        }
        while d < hd_vec {
            accumulate_v_block::<S, W, 1>(acc.add(d), alpha, p, v.add(d * wb), stride);
            d += S::N;
        }
        for t in hd_vec..hd {
            let mut x = *acc.add(t);
            if alpha != 1.0 {
                x *= alpha;
            }
            for (j, &pj) in p.iter().enumerate() {
                x += pj * W::scalar(v.add((j * stride + t) * wb));
            }
            *acc.add(t) = x;
        }
    }
}

/// [`accumulate_v`] for `B` whole vectors of the head, kept in registers over all keys.
///
/// # Safety
/// `acc` has `B·N` writable f32; each `v + j·stride·W::BYTES` has `B·N` readable values.
#[inline(always)]
unsafe fn accumulate_v_block<S: Lanes, W: WeightFmt + Upcast, const B: usize>(
    acc: *mut f32,
    alpha: f32,
    p: &[f32],
    v: *const u8,
    stride: usize,
) {
    let wb = W::BYTES;
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
            let vr = v.add(j * stride * wb);
            for (c, x) in a.iter_mut().enumerate() {
                *x = S::mul_add(pv, S::load_w::<W>(vr.add(c * S::N * wb)), *x);
            }
        }
        for (c, x) in a.iter().enumerate() {
            S::store(acc.add(c * S::N), *x);
        }
    }
}
