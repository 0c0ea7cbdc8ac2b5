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
//! ([`merge::merge_part`]). When few, long rows are in a call (one sequence decoding at a long context)
//! the partitions of a chunk become separate tasks (split-KV, so every thread works on the one
//! sequence) whose states are folded by the caller after the pool ran; otherwise one task folds
//! them as it goes. Both do the same operations in the same order, so a row's arithmetic depends
//! only on its own query, its position and the cache: a sequence's output is bit-identical alone
//! or in any batch, split or not, and whatever chunk its rows land in.

mod accumulate;
mod dots;
mod geometry;
mod merge;
mod partition;
mod score;
mod softmax;
mod split;
mod task;

use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::paged_kv::{KvLayout, PagedKvLayer};
use crate::{Error, ThreadPool};
use geometry::{validate, Rows};
use split::{run_split, Part, SPLIT};
use task::run_task;

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
