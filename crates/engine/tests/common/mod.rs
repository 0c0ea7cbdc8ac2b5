//! A fake runner (no tensors) and a harness driving a `Scheduler` with it.
//!
//! The runner simulates the KV store as `slot → (position, token)`. Each step it performs the
//! copy-on-write copies, writes every scheduled token at the slot the scheduler gave, then,
//! as attention would, reads back each sequence's whole context `0..range.end` through its block
//! table and asserts that it holds exactly that request's own tokens (kept by the harness from
//! the prompts and the events, independently of the scheduler). The "sampled" token is a hash
//! of the context as read from the store, so any corruption changes the outputs, and outputs
//! do not depend on how the work was scheduled.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet};

use engine::{
    FinishReason, NewRequest, RequestEvent, RequestId, Scheduler, SchedulerConfig, SchedulerOutput,
    Usage,
};

/// Sampled tokens fall in `0..VOCAB`; `STOP` is every request's stop token in `Harness::add`.
pub const VOCAB: u32 = 64;
pub const STOP: u32 = 0;

/// A deterministic "model": the next token after `ctx` (FNV-1a over the context, with a salt
/// for `n > 1` siblings).
pub fn next_token(ctx: &[u32], salt: u64) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &t in ctx {
        h ^= u64::from(t) + 1;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 29;
    (h % u64::from(VOCAB)) as u32
}

pub struct FakeRunner {
    pub block_size: usize,
    pub num_blocks: usize,
    /// Simulated KV: slot → (position, token) written there.
    pub kv: HashMap<u32, (usize, u32)>,
    /// Every live request's tokens (prompt then generated), from the harness's own records.
    pub expected: HashMap<RequestId, Vec<u32>>,
    pub tokens_computed: usize,
}

impl FakeRunner {
    pub fn new(block_size: usize, num_blocks: usize) -> Self {
        Self {
            block_size,
            num_blocks,
            kv: HashMap::new(),
            expected: HashMap::new(),
            tokens_computed: 0,
        }
    }

    fn slot_of(&self, table: &[u32], pos: usize) -> u32 {
        let block = table[pos / self.block_size];
        assert!(
            (block as usize) < self.num_blocks,
            "block {block} outside the pool"
        );
        block * self.block_size as u32 + (pos % self.block_size) as u32
    }

    /// Runs one step; returns each `needs_logits` sequence's context as read from the KV store.
    pub fn run(&mut self, out: &SchedulerOutput) -> Vec<(RequestId, Vec<u32>)> {
        let bs = self.block_size as u32;
        for c in &out.copies {
            for o in 0..bs {
                match self.kv.get(&(c.src.0 * bs + o)).copied() {
                    Some(v) => self.kv.insert(c.dst.0 * bs + o, v),
                    None => self.kv.remove(&(c.dst.0 * bs + o)),
                };
            }
        }
        // Writes (every layer writes the whole batch's K/V before attention reads it).
        let mut written = HashSet::new();
        let mut ids = HashSet::new();
        for s in &out.scheduled {
            assert!(ids.insert(s.id), "{} scheduled twice in one step", s.id);
            let toks = self
                .expected
                .get(&s.id)
                .unwrap_or_else(|| panic!("{} is not live", s.id));
            assert!(!s.range.is_empty(), "{} scheduled with no tokens", s.id);
            assert_eq!(
                s.token_ids,
                toks[s.range.clone()],
                "{}: token ids of {:?}",
                s.id,
                s.range
            );
            let want_pos: Vec<u32> = s.range.clone().map(|p| p as u32).collect();
            assert_eq!(s.positions, want_pos, "{}: positions", s.id);
            assert!(
                s.block_table.len() * self.block_size >= s.range.end,
                "{}: block table too short",
                s.id
            );
            assert_eq!(
                s.needs_logits,
                s.range.end == toks.len(),
                "{}: needs_logits at {:?} of {}",
                s.id,
                s.range,
                toks.len()
            );
            for (i, p) in s.range.clone().enumerate() {
                let slot = self.slot_of(&s.block_table, p);
                assert_eq!(s.slot_mapping[i], slot, "{}: slot of position {p}", s.id);
                assert!(
                    written.insert(slot),
                    "slot {slot} written twice in one step"
                );
                self.kv.insert(slot, (p, toks[p]));
            }
            self.tokens_computed += s.range.len();
        }
        // Attention: each new token sees its own request's tokens at every earlier position.
        let mut contexts = Vec::new();
        for s in &out.scheduled {
            let toks = &self.expected[&s.id];
            let mut ctx = Vec::with_capacity(s.range.end);
            for (q, &want) in toks.iter().enumerate().take(s.range.end) {
                let slot = self.slot_of(&s.block_table, q);
                let got = self.kv.get(&slot).copied();
                assert_eq!(
                    got,
                    Some((q, want)),
                    "{}: KV slot {slot} of position {q} holds another token",
                    s.id
                );
                // The "model" reads its context from the store, not from the request.
                ctx.extend(got.map(|(_, t)| t));
            }
            if s.needs_logits {
                contexts.push((s.id, ctx));
            }
        }
        contexts
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub output: Vec<u32>,
    pub reason: FinishReason,
    pub usage: Usage,
}

pub struct Harness {
    pub sched: Scheduler,
    pub runner: FakeRunner,
    pub done: HashMap<RequestId, Done>,
    /// `n - 1` siblings to fork when a request's prompt completes.
    pub forks: HashMap<RequestId, usize>,
    pub children: HashMap<RequestId, Vec<RequestId>>,
    pub steps: usize,
}

pub fn config(max_batched_tokens: usize, block_size: usize, num_blocks: usize) -> SchedulerConfig {
    SchedulerConfig {
        max_batched_tokens,
        max_running: 8,
        max_waiting: 64,
        block_size,
        num_blocks,
        enable_prefix_cache: true,
        max_model_len: (block_size * num_blocks).min(256),
    }
}

impl Harness {
    pub fn new(cfg: SchedulerConfig) -> Self {
        let runner = FakeRunner::new(cfg.block_size, cfg.num_blocks);
        Self {
            sched: Scheduler::new(cfg).expect("valid config"),
            runner,
            done: HashMap::new(),
            forks: HashMap::new(),
            children: HashMap::new(),
            steps: 0,
        }
    }

    /// Adds a request that stops on `STOP` or after `max_tokens`.
    pub fn add(&mut self, prompt: &[u32], max_tokens: usize, priority: i32) -> RequestId {
        self.add_with_stop(prompt, max_tokens, priority, vec![STOP])
    }

    pub fn add_with_stop(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        priority: i32,
        stop: Vec<u32>,
    ) -> RequestId {
        self.try_add(prompt, max_tokens, priority, stop)
            .expect("request accepted")
    }

    pub fn try_add(
        &mut self,
        prompt: &[u32],
        max_tokens: usize,
        priority: i32,
        stop: Vec<u32>,
    ) -> Result<RequestId, engine::AddError> {
        let id = self.sched.add_request(NewRequest {
            prompt: prompt.to_vec(),
            max_tokens,
            priority,
            stop_token_ids: stop,
            prompt_logprobs: false,
        })?;
        self.runner.expected.insert(id, prompt.to_vec());
        Ok(id)
    }

    pub fn abort(&mut self, id: RequestId) {
        let usage = self.sched.abort(id).expect("abort");
        if let Some(usage) = usage {
            let output = self
                .runner
                .expected
                .remove(&id)
                .map(|t| t[usage.prompt_tokens..].to_vec())
                .unwrap_or_default();
            self.done.insert(
                id,
                Done {
                    output,
                    reason: FinishReason::Abort,
                    usage,
                },
            );
        }
        self.sched.audit().expect("audit after abort");
    }

    /// schedule → fake run → (forks) → update, auditing the scheduler before and after.
    pub fn step(&mut self) -> SchedulerOutput {
        let out = self.sched.schedule().expect("schedule");
        self.sched
            .audit()
            .unwrap_or_else(|e| panic!("audit after schedule: {e}\n{out}"));
        for id in &out.preempted {
            assert!(
                out.scheduled.iter().all(|s| s.id != *id),
                "{id} preempted and scheduled in one step: {out}"
            );
        }
        let contexts = self.runner.run(&out);
        let sampled: Vec<(RequestId, Option<u32>)> = contexts
            .iter()
            .map(|(id, ctx)| (*id, Some(next_token(ctx, 0))))
            .collect();
        let mut events = Vec::new();
        for (id, ctx) in &contexts {
            let Some(n) = self.forks.remove(id) else {
                continue;
            };
            for k in 1..=n {
                let first = next_token(ctx, k as u64);
                let (child, ev) = self.sched.fork(*id, first).expect("fork");
                let prompt = ctx[..self
                    .sched
                    .request(*id)
                    .map_or(ctx.len(), |r| r.prompt().len())]
                    .to_vec();
                self.runner.expected.insert(child, prompt);
                self.children.entry(*id).or_default().push(child);
                events.extend(ev);
            }
        }
        events.extend(
            self.sched
                .update_from_output(&out, &sampled)
                .expect("update"),
        );
        self.sched
            .audit()
            .unwrap_or_else(|e| panic!("audit after update: {e}\n{out}"));
        for e in events {
            match e {
                RequestEvent::Token { id, token } => {
                    self.runner.expected.get_mut(&id).expect("live").push(token)
                }
                RequestEvent::Finished { id, reason, usage } => {
                    let toks = self.runner.expected.remove(&id).expect("live");
                    assert_eq!(toks.len(), usage.prompt_tokens + usage.completion_tokens);
                    self.done.insert(
                        id,
                        Done {
                            output: toks[usage.prompt_tokens..].to_vec(),
                            reason,
                            usage,
                        },
                    );
                }
            }
        }
        self.steps += 1;
        out
    }

    pub fn run_to_completion(&mut self, max_steps: usize) {
        let start = self.steps;
        while self.sched.has_unfinished() {
            assert!(
                self.steps - start < max_steps,
                "no completion after {max_steps} steps"
            );
            self.step();
        }
    }

    pub fn output(&self, id: RequestId) -> &[u32] {
        &self.done[&id].output
    }
}

/// Deterministic pseudo-random tokens in `1..VOCAB` (never `STOP`).
pub fn tokens(seed: u64, n: usize) -> Vec<u32> {
    (0..n as u64)
        .map(|i| 1 + next_token(&[seed as u32, (seed >> 32) as u32, i as u32], 7) % (VOCAB - 1))
        .collect()
}

/// What the deterministic model generates for `prompt`, computed directly (no scheduler): the
/// reference every scheduled run must reproduce. `salt` is the sibling index for `n > 1`
/// (it only changes the first token).
pub fn reference_output(
    prompt: &[u32],
    max_tokens: usize,
    stop: &[u32],
    salt: u64,
    max_model_len: usize,
) -> (Vec<u32>, FinishReason) {
    let mut ctx = prompt.to_vec();
    let mut out = Vec::new();
    loop {
        let t = next_token(&ctx, if out.is_empty() { salt } else { 0 });
        ctx.push(t);
        out.push(t);
        if stop.contains(&t) {
            return (out, FinishReason::Stop);
        }
        if out.len() >= max_tokens || ctx.len() >= max_model_len {
            return (out, FinishReason::Length);
        }
    }
}
