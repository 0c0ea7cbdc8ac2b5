//! `Scheduler`: owns the block pool, the prefix cache and every live request (waiting or
//! running). `schedule` (schedule_step.rs) picks the work of one step; `update_from_output`
//! takes the runner's sampled tokens back. Finished requests leave the scheduler at once, their
//! blocks freed (the prefix cache keeps its own references on what it cached).

use std::collections::{BTreeSet, HashMap};

use kv::{BlockPool, BlockTable, RadixTree};

use crate::{
    AddError, Error, FinishReason, NewRequest, Request, RequestEvent, RequestId, RequestStatus,
    SchedulerConfig, SchedulerOutput, Usage,
};

/// Counters for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SchedulerStats {
    pub num_preemptions: u64,
    /// Tokens looked up in the prefix cache at admissions, and those found.
    pub prefix_query_tokens: u64,
    pub prefix_hit_tokens: u64,
}

#[derive(Debug)]
pub struct Scheduler {
    pub(crate) cfg: SchedulerConfig,
    pub(crate) pool: BlockPool,
    pub(crate) tree: RadixTree,
    /// Waiting and running requests.
    pub(crate) requests: HashMap<RequestId, Request>,
    /// Waiting and preempted requests in admission order: (priority, arrival, id).
    pub(crate) waiting: BTreeSet<(i32, u64, RequestId)>,
    /// Running requests (order not meaningful; each step sorts them).
    pub(crate) running: Vec<RequestId>,
    next_id: u64,
    next_arrival: u64,
    pub(crate) stats: SchedulerStats,
    /// An empty table of the configured block size, cloned for each new request.
    empty_table: BlockTable,
}

impl Scheduler {
    pub fn new(cfg: SchedulerConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let num_blocks = u32::try_from(cfg.num_blocks).map_err(|_| Error::InvalidConfig {
            field: "num_blocks",
            reason: format!("= {} does not fit in u32", cfg.num_blocks),
        })?;
        Ok(Self {
            pool: BlockPool::new(num_blocks),
            tree: RadixTree::new(cfg.block_size)?,
            empty_table: BlockTable::new(cfg.block_size)?,
            cfg,
            requests: HashMap::new(),
            waiting: BTreeSet::new(),
            running: Vec::new(),
            next_id: 0,
            next_arrival: 0,
            stats: SchedulerStats::default(),
        })
    }

    /// Queues a request. Nothing is allocated until `schedule` admits it.
    pub fn add_request(&mut self, new: NewRequest) -> Result<RequestId, AddError> {
        if new.prompt.is_empty() {
            return Err(AddError::EmptyPrompt);
        }
        if new.max_tokens == 0 {
            return Err(AddError::ZeroMaxTokens);
        }
        if new.prompt.len().saturating_add(new.max_tokens) > self.cfg.max_model_len {
            return Err(AddError::TooLong {
                prompt_tokens: new.prompt.len(),
                max_tokens: new.max_tokens,
                max_model_len: self.cfg.max_model_len,
            });
        }
        if self.waiting.len() >= self.cfg.max_waiting {
            return Err(AddError::QueueFull {
                max_waiting: self.cfg.max_waiting,
            });
        }
        let id = self.next_request_id();
        let arrival = self.next_arrival_seq();
        let table = self.new_table();
        let req = Request::new(id, arrival, new, table);
        self.waiting.insert(req.order_key());
        self.requests.insert(id, req);
        Ok(id)
    }

    /// Aborts a waiting or running request: its blocks are freed and its pin dropped now.
    /// Returns its usage, `None` when it is not live (already finished: not an error, a client
    /// may disconnect after the end).
    pub fn abort(&mut self, id: RequestId) -> Result<Option<Usage>, Error> {
        if !self.requests.contains_key(&id) {
            return Ok(None);
        }
        self.finish_request(id, FinishReason::Abort).map(Some)
    }

    /// Ends a live request with `reason` (the server's stop strings end it with `Stop`): frees
    /// its blocks, unpins its cache path, and forgets it. Returns its usage.
    pub fn finish_request(&mut self, id: RequestId, reason: FinishReason) -> Result<Usage, Error> {
        let mut req = self
            .requests
            .remove(&id)
            .ok_or(Error::UnknownRequest { id })?;
        self.waiting.remove(&req.order_key());
        self.running.retain(|&r| r != id);
        req.status = RequestStatus::Finished(reason);
        self.release(&mut req)?;
        Ok(req.usage())
    }

    /// Takes the runner's results for `output`: advances every scheduled request by its
    /// tokens, caches its newly full blocks, appends the sampled token of each sequence that
    /// needed logits, and ends requests on a stop token, `max_tokens` or the model's context.
    ///
    /// `sampled` holds one token per `needs_logits` sequence (other entries are ignored); a
    /// missing one is `Error::MissingSample`, checked before anything changes. Requests aborted
    /// since `output` was made are skipped.
    pub fn update_from_output(
        &mut self,
        output: &SchedulerOutput,
        sampled: &[(RequestId, Option<u32>)],
    ) -> Result<Vec<RequestEvent>, Error> {
        let tokens: HashMap<RequestId, u32> = sampled
            .iter()
            .filter_map(|&(id, t)| Some((id, t?)))
            .collect();
        for s in &output.scheduled {
            let Some(req) = self.requests.get(&s.id) else {
                continue;
            };
            if req.status != RequestStatus::Running {
                continue;
            }
            if req.num_computed_tokens != s.range.start {
                return Err(Error::StaleOutput {
                    id: s.id,
                    scheduled_at: s.range.start,
                    computed: req.num_computed_tokens,
                });
            }
            if s.needs_logits && !tokens.contains_key(&s.id) {
                return Err(Error::MissingSample { id: s.id });
            }
        }

        let mut events = Vec::new();
        for s in &output.scheduled {
            let Some(req) = self.requests.get_mut(&s.id) else {
                continue;
            };
            if req.status != RequestStatus::Running {
                continue;
            }
            req.num_computed_tokens = s.range.end;
            req.num_scheduled_tokens = 0;
            req.prompt_logprobs_computed(&s.prompt_logprob_rows);
            self.cache_computed_blocks(s.id)?;
            if !s.needs_logits {
                continue;
            }
            let Some(&token) = tokens.get(&s.id) else {
                continue;
            };
            if let Some(reason) = self.append_token(s.id, token, &mut events) {
                let usage = self.finish_request(s.id, reason)?;
                events.push(RequestEvent::Finished {
                    id: s.id,
                    reason,
                    usage,
                });
            }
        }
        Ok(events)
    }

    /// Appends a generated token to a live request and reports it; returns why the request
    /// ends now, if it does.
    pub(crate) fn append_token(
        &mut self,
        id: RequestId,
        token: u32,
        events: &mut Vec<RequestEvent>,
    ) -> Option<FinishReason> {
        let req = self.requests.get_mut(&id)?;
        req.tokens.push(token);
        events.push(RequestEvent::Token { id, token });
        req.finish_after_token(token, self.cfg.max_model_len)
    }

    /// Gives back a request's blocks and pin (finish, abort, preemption).
    pub(crate) fn release(&mut self, req: &mut Request) -> Result<(), Error> {
        let freed = req.block_table.free(&mut self.pool);
        let unpinned = match req.pinned.take() {
            Some(node) => self.tree.unpin(node),
            None => Ok(()),
        };
        req.num_inserted_blocks = 0;
        freed?;
        unpinned?;
        Ok(())
    }

    pub(crate) fn next_arrival_seq(&mut self) -> u64 {
        let a = self.next_arrival;
        self.next_arrival += 1;
        a
    }

    pub(crate) fn next_request_id(&mut self) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        id
    }

    pub(crate) fn new_table(&self) -> BlockTable {
        self.empty_table.clone()
    }

    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }

    /// A live (waiting or running) request.
    pub fn request(&self, id: RequestId) -> Option<&Request> {
        self.requests.get(&id)
    }

    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    pub fn num_running(&self) -> usize {
        self.running.len()
    }

    /// Whether any request is waiting or running.
    pub fn has_unfinished(&self) -> bool {
        !self.requests.is_empty()
    }

    pub fn running_ids(&self) -> &[RequestId] {
        &self.running
    }

    pub fn pool(&self) -> &BlockPool {
        &self.pool
    }

    pub fn prefix_cache(&self) -> &RadixTree {
        &self.tree
    }

    pub fn stats(&self) -> SchedulerStats {
        self.stats
    }

    /// Drops every prefix-cache entry nobody uses (unpinned, held by the cache alone); returns
    /// the blocks freed.
    pub fn evict_prefix_cache(&mut self) -> Result<usize, Error> {
        Ok(self.tree.evict(&mut self.pool, usize::MAX)?)
    }
}
