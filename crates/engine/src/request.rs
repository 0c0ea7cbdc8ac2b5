//! One generation request and its state machine:
//!
//! ```text
//! Waiting ──admit──▶ Running ──stop / length──▶ Finished(Stop | Length)
//!    ▲                 │  │
//!    └──── Preempted ◀─┘  └──abort (also from Waiting / Preempted)──▶ Finished(Abort)
//! ```
//!
//! A preempted request waits again (status `Preempted`) with no blocks and
//! `num_computed_tokens = 0`; its generated tokens are kept and recomputed with the prompt.

use std::fmt;
use std::ops::Range;

use kv::{BlockTable, NodeId};

/// A request's id, unique for the scheduler's lifetime (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "req-{}", self.0)
    }
}

/// Why a request ended; maps onto OpenAI's `finish_reason` (`stop`, `length`; `Abort` is never
/// shown to a client that is still listening, except when the engine fails the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// A stop token was sampled (it is the last generated token), or the server stopped the
    /// request on a stop string.
    Stop,
    /// `max_tokens` generated, or the model's context is full.
    Length,
    /// Aborted (client gone, or the engine failed it).
    Abort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// In the waiting queue, never run yet.
    Waiting,
    /// Admitted: holds blocks and is scheduled every step the budget allows.
    Running,
    /// In the waiting queue again after preemption by recompute.
    Preempted,
    Finished(FinishReason),
}

/// What the caller submits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    /// Prompt token ids (at least one).
    pub prompt: Vec<u32>,
    /// Tokens to generate at most (at least one).
    pub max_tokens: usize,
    /// Lower value = more important (as in vLLM); 0 by default.
    pub priority: i32,
    /// Sampling one of these ends the request with `FinishReason::Stop` (EOS ids and the
    /// request's `stop_token_ids`; empty with `ignore_eos`).
    pub stop_token_ids: Vec<u32>,
    /// Compute the logits of every prompt position (`ScheduledSeq::prompt_logprob_rows`) for
    /// the prompt tokens' log-probabilities. The prefix cache then serves only prompt tokens
    /// whose logprobs are already computed (none at first), and prefill chunks hold at most
    /// `PROMPT_LOGPROBS_CHUNK` tokens until the prompt is done.
    pub prompt_logprobs: bool,
}

/// Tokens computed per step at most for a request whose prompt logprobs are pending: each
/// needs a logits row of `vocab` floats.
pub const PROMPT_LOGPROBS_CHUNK: usize = 64;

/// Token counts for OpenAI's `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    /// Prompt tokens served from the prefix cache at the first admission
    /// (`prompt_tokens_details.cached_tokens`).
    pub cached_tokens: usize,
}

/// A request as the scheduler tracks it. Fields are private: only the scheduler moves it
/// through its states.
#[derive(Debug)]
pub struct Request {
    pub(crate) id: RequestId,
    /// Prompt followed by the generated tokens.
    pub(crate) tokens: Vec<u32>,
    pub(crate) num_prompt_tokens: usize,
    /// Tokens whose K/V sit in the request's blocks (a prefix of `tokens`).
    pub(crate) num_computed_tokens: usize,
    /// Tokens handed to the runner by the last `schedule` and not yet reported back.
    pub(crate) num_scheduled_tokens: usize,
    pub(crate) max_tokens: usize,
    pub(crate) priority: i32,
    /// Arrival order; ties in priority go to the earlier arrival.
    pub(crate) arrival: u64,
    pub(crate) stop_token_ids: Vec<u32>,
    pub(crate) status: RequestStatus,
    pub(crate) block_table: BlockTable,
    /// The prefix-cache node this request pins (deepest node of its cached path).
    pub(crate) pinned: Option<NodeId>,
    /// Full blocks of `tokens` already inserted into the prefix cache.
    pub(crate) num_inserted_blocks: usize,
    /// Prompt tokens served from the prefix cache at the first admission; `None` before it.
    pub(crate) num_cached_prompt_tokens: Option<usize>,
    pub(crate) num_preemptions: usize,
    /// With prompt logprobs: the next prompt position whose token's logprob is not computed
    /// yet (from 1: the first token has none); `None` when done or not asked for.
    pub(crate) prompt_logprobs_next: Option<usize>,
}

impl Request {
    pub(crate) fn new(
        id: RequestId,
        arrival: u64,
        new: NewRequest,
        block_table: BlockTable,
    ) -> Self {
        let num_prompt_tokens = new.prompt.len();
        Self {
            id,
            num_prompt_tokens,
            tokens: new.prompt,
            num_computed_tokens: 0,
            num_scheduled_tokens: 0,
            max_tokens: new.max_tokens,
            priority: new.priority,
            arrival,
            stop_token_ids: new.stop_token_ids,
            status: RequestStatus::Waiting,
            block_table,
            pinned: None,
            num_inserted_blocks: 0,
            num_cached_prompt_tokens: None,
            num_preemptions: 0,
            prompt_logprobs_next: (new.prompt_logprobs && num_prompt_tokens > 1).then_some(1),
        }
    }

    pub fn id(&self) -> RequestId {
        self.id
    }

    pub fn status(&self) -> RequestStatus {
        self.status
    }

    pub fn prompt(&self) -> &[u32] {
        self.tokens.get(..self.num_prompt_tokens).unwrap_or(&[])
    }

    /// Generated tokens so far (kept across preemption).
    pub fn output(&self) -> &[u32] {
        self.tokens.get(self.num_prompt_tokens..).unwrap_or(&[])
    }

    /// Prompt then generated tokens: everything the model has to have seen.
    pub fn all_tokens(&self) -> &[u32] {
        &self.tokens
    }

    pub fn num_tokens(&self) -> usize {
        self.tokens.len()
    }

    pub fn num_computed_tokens(&self) -> usize {
        self.num_computed_tokens
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    pub fn priority(&self) -> i32 {
        self.priority
    }

    pub fn arrival(&self) -> u64 {
        self.arrival
    }

    pub fn stop_token_ids(&self) -> &[u32] {
        &self.stop_token_ids
    }

    pub fn block_table(&self) -> &BlockTable {
        &self.block_table
    }

    pub fn pinned_node(&self) -> Option<NodeId> {
        self.pinned
    }

    /// Prompt tokens served from the prefix cache (0 before the first admission).
    pub fn num_cached_prompt_tokens(&self) -> usize {
        self.num_cached_prompt_tokens.unwrap_or(0)
    }

    pub fn num_preemptions(&self) -> usize {
        self.num_preemptions
    }

    pub fn usage(&self) -> Usage {
        Usage {
            prompt_tokens: self.num_prompt_tokens,
            completion_tokens: self.output().len(),
            cached_tokens: self.num_cached_prompt_tokens(),
        }
    }

    /// Whether prompt logprobs are asked for and not all computed yet.
    pub fn prompt_logprobs_pending(&self) -> bool {
        self.prompt_logprobs_next.is_some()
    }

    /// Tokens to compute in one step at most.
    pub(crate) fn max_chunk(&self) -> usize {
        if self.prompt_logprobs_next.is_some() {
            PROMPT_LOGPROBS_CHUNK
        } else {
            usize::MAX
        }
    }

    /// Tokens the prefix cache may serve: none whose prompt logprob is still to compute (the
    /// logits at position `q` give the logprob of prompt token `q + 1`).
    pub(crate) fn max_cache_hit(&self) -> usize {
        self.prompt_logprobs_next
            .map_or(usize::MAX, |next| next - 1)
    }

    /// The positions of `range` whose logits give pending prompt logprobs.
    pub(crate) fn prompt_logprob_rows(&self, range: &Range<usize>) -> Range<usize> {
        match self.prompt_logprobs_next {
            Some(next) => {
                let start = range.start.max(next - 1);
                start..range.end.min(self.num_prompt_tokens - 1).max(start)
            }
            None => range.end..range.end,
        }
    }

    /// The logits of `rows` were computed: their prompt logprobs are done.
    pub(crate) fn prompt_logprobs_computed(&mut self, rows: &Range<usize>) {
        if rows.is_empty() {
            return;
        }
        let next = rows.end + 1;
        self.prompt_logprobs_next = (next < self.num_prompt_tokens).then_some(next);
    }

    /// The order of admission and the reverse order of preemption: (priority, arrival, id).
    pub(crate) fn order_key(&self) -> (i32, u64, RequestId) {
        (self.priority, self.arrival, self.id)
    }

    /// Why the request ends after its last token was appended, if it does.
    pub(crate) fn finish_after_token(
        &self,
        token: u32,
        max_model_len: usize,
    ) -> Option<FinishReason> {
        if self.stop_token_ids.contains(&token) {
            Some(FinishReason::Stop)
        } else if self.output().len() >= self.max_tokens || self.tokens.len() >= max_model_len {
            Some(FinishReason::Length)
        } else {
            None
        }
    }
}
