//! What the scheduler hands the runner each step, and what it hands back to the caller.
//! Plain data: print it, assert on it, build a `models::ForwardBatch` from it.

use std::fmt;
use std::ops::Range;

use kv::BlockCopy;

use crate::{FinishReason, RequestId, Usage};

/// One request's share of a step: compute the K/V of tokens `range` (positions
/// `range.start..range.end`), attending to the request's earlier tokens through its block table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledSeq {
    pub id: RequestId,
    /// `[num_computed_tokens, num_computed_tokens + n)`.
    pub range: Range<usize>,
    /// `[n]` the token ids at `range`.
    pub token_ids: Vec<u32>,
    /// `[n]` their positions (`range` as `u32`).
    pub positions: Vec<u32>,
    /// `[n]` the KV slot each token's K/V goes to (`block * block_size + offset`).
    pub slot_mapping: Vec<u32>,
    /// Physical block of each logical block; covers at least `range.end` tokens.
    pub block_table: Vec<u32>,
    /// The step reaches the end of the known tokens: the last row's logits are sampled.
    pub needs_logits: bool,
    /// Positions (within `range`) whose logits give prompt logprobs: position `q` gives the
    /// log-probability of prompt token `q + 1`. Empty unless the request asked for them.
    pub prompt_logprob_rows: Range<usize>,
}

impl ScheduledSeq {
    pub fn num_tokens(&self) -> usize {
        self.range.len()
    }
}

/// The whole scheduler → runner message of one step. The runner performs `copies` first (every
/// slot of `src` into `dst`, in every layer), then one batched forward over `scheduled` in order,
/// and reports one sampled token per sequence with `needs_logits`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulerOutput {
    pub scheduled: Vec<ScheduledSeq>,
    /// Requests preempted by recompute this step (their blocks are already freed).
    pub preempted: Vec<RequestId>,
    /// Copy-on-write block copies to perform before the forward.
    pub copies: Vec<BlockCopy>,
}

impl SchedulerOutput {
    /// Tokens in the batch.
    pub fn num_batched_tokens(&self) -> usize {
        self.scheduled.iter().map(ScheduledSeq::num_tokens).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.scheduled.is_empty()
    }
}

impl fmt::Display for SchedulerOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "step: {} tokens", self.num_batched_tokens())?;
        for s in &self.scheduled {
            write!(
                f,
                "; {} [{}..{}){}",
                s.id,
                s.range.start,
                s.range.end,
                if s.needs_logits { " +logits" } else { "" }
            )?;
            if !s.prompt_logprob_rows.is_empty() {
                let r = &s.prompt_logprob_rows;
                write!(f, " +prompt logits [{}..{})", r.start, r.end)?;
            }
        }
        for c in &self.copies {
            write!(f, "; copy {} -> {}", c.src, c.dst)?;
        }
        for id in &self.preempted {
            write!(f, "; preempted {id}")?;
        }
        Ok(())
    }
}

/// What happened to a request, for its client stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestEvent {
    /// A generated token (a stop token too: it comes right before `Finished(Stop)`).
    Token { id: RequestId, token: u32 },
    /// The request ended; its blocks are freed.
    Finished {
        id: RequestId,
        reason: FinishReason,
        usage: Usage,
    },
}
