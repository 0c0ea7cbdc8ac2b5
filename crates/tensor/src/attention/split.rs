//! Split-KV: a call's partitions as separate tasks, their states folded after the pool ran.

use std::cell::RefCell;

use super::geometry::{Geometry, Rows};
use super::merge::{finish_row, merge_part};
use super::task::run_task;
use super::{AttnSeq, MAX_HEAD_DIM, MAX_SPLIT_VALUES, SPLIT_TASKS_RESERVED};
use crate::cpu::Isa;
use crate::disjoint::DisjointMut;
use crate::paged_kv::PagedKvLayer;
use crate::ThreadPool;

/// Which partitions a task runs.
#[derive(Clone, Copy)]
pub(super) enum Part {
    /// All of them, folded as it goes; writes `out`.
    All,
    /// Partition `p` alone; writes its rows' states `[nr, 2 + head_dim]` (max, sum, accumulator)
    /// at `partials[at..]`.
    One { p: usize, at: usize },
}

/// One task of a split call.
#[derive(Clone, Copy)]
pub(super) struct TaskDesc {
    pub(super) seq: usize,
    pub(super) kv_head: usize,
    pub(super) chunk: usize,
    pub(super) part: Part,
}

/// The task list and partial states of split calls, kept per calling thread so that a decode
/// step allocates nothing once they have grown.
#[derive(Default)]
pub(super) struct SplitScratch {
    pub(super) tasks: Vec<TaskDesc>,
    pub(super) partials: Vec<f32>,
}

thread_local! {
    pub(super) static SPLIT: RefCell<SplitScratch> = RefCell::new(SplitScratch::default());
}

/// A split call: one task per partition of every row chunk spanning several, then the partition
/// states folded per row in partition order. Returns false (nothing done) when the partial states
/// would exceed [`MAX_SPLIT_VALUES`].
#[allow(clippy::too_many_arguments)]
pub(super) fn run_split(
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
    // Run the kv heads of one partition one after another: in the cache the heads of a slot sit
    // side by side, so a partition's memory is read once (into cache, by whichever head comes
    // first) instead of once per head with most of each line wasted. Only the order of the tasks
    // changes (each writes its own place); keys are unique, so the order is deterministic.
    tasks.sort_unstable_by_key(|d| {
        let p = match d.part {
            Part::All => 0,
            Part::One { p, .. } => p,
        };
        (d.seq, d.chunk, p, d.kv_head)
    });
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
