//! `Scheduler::schedule`: one step's work under the token budget.
//!
//! 1. Running requests by (priority, arrival): first those decoding (one token each), then those
//!    still prefilling or recomputing (a chunk of `min(remaining, budget left)`). A request that
//!    cannot get its blocks makes room by evicting unpinned cache leaves, then by preempting the
//!    lowest-priority, latest-arrival running request (possibly itself).
//! 2. If nobody was preempted, waiting requests by (priority, arrival) while budget,
//!    `max_running` and blocks allow; each shares its cached prefix first. The first one that
//!    lacks a slot or blocks takes the place of running requests strictly less important than
//!    it (lowest priority, latest arrival first, preempted by recompute), if that can make it
//!    fit; else it stops admission (no overtaking).
//! 3. Slots, positions and block tables of everything kept are written into the output.

use kv::{BlockCopy, CopyOnWrite};

use crate::{Error, Request, RequestId, RequestStatus, ScheduledSeq, Scheduler, SchedulerOutput};

/// A request's share of the step before its slots are written out.
struct Decision {
    id: RequestId,
    n_tokens: usize,
    copy: Option<BlockCopy>,
}

enum Reserved {
    Slots(Option<BlockCopy>),
    PreemptedItself,
}

impl Scheduler {
    /// Picks the work of one step. Each output must be reported back with
    /// `update_from_output` before the next `schedule` (`Error::StepPending` otherwise): its
    /// copy-on-write swaps and allocations are already done, so an output that was not run
    /// cannot simply be scheduled again; when the runner fails, abort its requests instead.
    /// Errors other than `StepPending` are bookkeeping bugs; the state is then unspecified.
    pub fn schedule(&mut self) -> Result<SchedulerOutput, Error> {
        if let Some(&id) = self.running.iter().find(|id| {
            self.requests
                .get(id)
                .is_some_and(|r| r.num_scheduled_tokens > 0)
        }) {
            return Err(Error::StepPending { id });
        }
        let mut budget = self.cfg.max_batched_tokens;
        let mut decisions = Vec::new();
        let mut preempted = Vec::new();

        let mut order = self.running.clone();
        order.sort_by_key(|id| self.requests.get(id).map(|r| r.order_key()));
        for decode_pass in [true, false] {
            for &id in &order {
                if budget == 0 {
                    break;
                }
                let Some(req) = self.requests.get(&id) else {
                    continue;
                };
                let remaining = req.num_tokens().saturating_sub(req.num_computed_tokens);
                if req.status != RequestStatus::Running
                    || remaining == 0
                    || (remaining == 1) != decode_pass
                {
                    continue;
                }
                let n_tokens = remaining.min(budget).min(req.max_chunk());
                match self.reserve_running(
                    id,
                    n_tokens,
                    &mut decisions,
                    &mut budget,
                    &mut preempted,
                )? {
                    Reserved::Slots(copy) => {
                        decisions.push(Decision { id, n_tokens, copy });
                        budget -= n_tokens;
                    }
                    Reserved::PreemptedItself => {}
                }
            }
        }
        if preempted.is_empty() {
            self.admit_waiting(&mut budget, &mut decisions, &mut preempted)?;
        }

        let mut out = SchedulerOutput {
            preempted,
            ..SchedulerOutput::default()
        };
        for d in decisions {
            out.scheduled.push(self.materialize(d.id, d.n_tokens)?);
            out.copies.extend(d.copy);
        }
        Ok(out)
    }

    /// Blocks for a running request's next `n_tokens` (and a private copy of a shared, partly
    /// filled block it writes into), evicting and then preempting until they are free.
    fn reserve_running(
        &mut self,
        id: RequestId,
        n_tokens: usize,
        decisions: &mut Vec<Decision>,
        budget: &mut usize,
        preempted: &mut Vec<RequestId>,
    ) -> Result<Reserved, Error> {
        loop {
            let needed = self.blocks_needed(id, n_tokens)?;
            let free = self.pool.num_free();
            if free < needed {
                self.tree.evict(&mut self.pool, needed - free)?;
            }
            if self.pool.num_free() >= needed {
                break;
            }
            let Some(victim) = self.pick_victim() else {
                return Err(Error::Audit(format!(
                    "{id} needs {needed} blocks, {} free, and nothing to preempt",
                    self.pool.num_free()
                )));
            };
            self.preempt(victim)?;
            preempted.push(victim);
            if let Some(at) = decisions.iter().position(|d| d.id == victim) {
                // Scheduled earlier this step: its tokens and copy go; its blocks are free.
                *budget += decisions.remove(at).n_tokens;
            }
            if victim == id {
                return Ok(Reserved::PreemptedItself);
            }
        }
        let req = self
            .requests
            .get_mut(&id)
            .ok_or(Error::UnknownRequest { id })?;
        let start = req.num_computed_tokens;
        let copy = match req.block_table.ensure_writable(&mut self.pool, start)? {
            CopyOnWrite::InPlace => None,
            CopyOnWrite::Copy(c) => Some(c),
            CopyOnWrite::NoFreeBlock => {
                return Err(Error::Audit(format!(
                    "{id}: copy-on-write found no free block after reserving one"
                )));
            }
        };
        req.block_table
            .append_slots(&mut self.pool, start + n_tokens)
            .ok_or_else(|| {
                Error::Audit(format!("{id}: allocation failed after reserving blocks"))
            })?;
        Ok(Reserved::Slots(copy))
    }

    /// Free blocks a running request needs to compute its next `n_tokens`: new blocks past its
    /// table, plus one if the first one written is shared and partly filled (copy-on-write).
    fn blocks_needed(&self, id: RequestId, n_tokens: usize) -> Result<usize, Error> {
        let req = self.requests.get(&id).ok_or(Error::UnknownRequest { id })?;
        let start = req.num_computed_tokens;
        let bs = self.cfg.block_size;
        let table = &req.block_table;
        let cow = start % bs != 0
            && table
                .blocks()
                .get(start / bs)
                .is_some_and(|&b| self.pool.ref_count(b) > 1);
        Ok(table.blocks_needed(start + n_tokens) + usize::from(cow))
    }

    /// Waiting requests in (priority, arrival) order while the budget, `max_running` and the
    /// pool allow. When the first one lacks a running slot or blocks, it takes the place of
    /// the lowest-priority, latest-arrival running request if that one is strictly less
    /// important (preempted by recompute, its share of this step undone), as often as needed
    /// and possible; otherwise it waits and, no overtaking, so does everyone behind it. A
    /// request preempted in this step is not admitted again in it.
    fn admit_waiting(
        &mut self,
        budget: &mut usize,
        decisions: &mut Vec<Decision>,
        preempted: &mut Vec<RequestId>,
    ) -> Result<(), Error> {
        while *budget > 0 {
            let Some(&(_, _, id)) = self.waiting.first() else {
                break;
            };
            if preempted.contains(&id) {
                break;
            }
            if self.running.len() >= self.cfg.max_running {
                if self.preempt_for_waiting(id, 0, budget, decisions, preempted)? {
                    continue;
                }
                break;
            }
            let matched = self.share_cached_prefix(id)?;
            let req = self.requests.get(&id).ok_or(Error::UnknownRequest { id })?;
            let n_tokens = req
                .num_tokens()
                .saturating_sub(matched)
                .min(*budget)
                .min(req.max_chunk());
            let needed = req.block_table.blocks_needed(matched + n_tokens);
            let free = self.pool.num_free();
            // Evict only when that makes it fit: a request that waits anyway keeps the cache.
            if free < needed && free + self.tree.num_evictable(&self.pool) >= needed {
                self.tree.evict(&mut self.pool, needed - free)?;
            }
            if self.pool.num_free() < needed {
                self.unadmit(id)?;
                if self.preempt_for_waiting(id, needed, budget, decisions, preempted)? {
                    continue;
                }
                break;
            }
            let req = self
                .requests
                .get_mut(&id)
                .ok_or(Error::UnknownRequest { id })?;
            req.block_table
                .append_slots(&mut self.pool, matched + n_tokens)
                .ok_or_else(|| {
                    Error::Audit(format!(
                        "{id}: allocation failed after checking free blocks"
                    ))
                })?;
            if req.num_cached_prompt_tokens.is_none() {
                req.num_cached_prompt_tokens = Some(matched.min(req.num_prompt_tokens));
            }
            if self.cfg.enable_prefix_cache {
                self.stats.prefix_query_tokens += req.num_tokens().saturating_sub(1) as u64;
                self.stats.prefix_hit_tokens += matched as u64;
            }
            req.status = RequestStatus::Running;
            let key = req.order_key();
            self.waiting.remove(&key);
            self.running.push(id);
            decisions.push(Decision {
                id,
                n_tokens,
                copy: None,
            });
            *budget -= n_tokens;
        }
        Ok(())
    }

    /// Priority preemption for the waiting request `id`, which needs a running slot and
    /// `needed` free blocks: preempts the running request `pick_victim` names when it is
    /// strictly less important than `id` and preempting every such request could give `id`
    /// both (otherwise nothing is preempted in vain). Returns whether it preempted.
    fn preempt_for_waiting(
        &mut self,
        id: RequestId,
        needed: usize,
        budget: &mut usize,
        decisions: &mut Vec<Decision>,
        preempted: &mut Vec<RequestId>,
    ) -> Result<bool, Error> {
        let priority = self
            .requests
            .get(&id)
            .ok_or(Error::UnknownRequest { id })?
            .priority;
        let less_important: Vec<&Request> = self
            .running
            .iter()
            .filter_map(|r| self.requests.get(r))
            .filter(|r| r.priority > priority)
            .collect();
        if less_important.is_empty()
            || self.running.len() - less_important.len() >= self.cfg.max_running
        {
            return Ok(false);
        }
        let reclaimable: usize = less_important
            .iter()
            .map(|r| r.block_table.num_blocks())
            .sum();
        if self.pool.num_free() + self.tree.num_evictable(&self.pool) + reclaimable < needed {
            return Ok(false);
        }
        let Some(victim) = self.pick_victim() else {
            return Ok(false);
        };
        if self.requests.get(&victim).map(|r| r.priority) <= Some(priority) {
            return Ok(false);
        }
        self.preempt(victim)?;
        preempted.push(victim);
        if let Some(at) = decisions.iter().position(|d| d.id == victim) {
            // Scheduled earlier this step: its tokens and copy go; its blocks are free.
            *budget += decisions.remove(at).n_tokens;
        }
        Ok(true)
    }

    /// Undoes `share_cached_prefix` for a request that stays waiting.
    fn unadmit(&mut self, id: RequestId) -> Result<(), Error> {
        let mut req = self
            .requests
            .remove(&id)
            .ok_or(Error::UnknownRequest { id })?;
        let released = self.release(&mut req);
        req.num_computed_tokens = 0;
        self.requests.insert(id, req);
        released
    }

    /// The step's entry for a request whose blocks are reserved.
    fn materialize(&mut self, id: RequestId, n_tokens: usize) -> Result<ScheduledSeq, Error> {
        let req = self
            .requests
            .get_mut(&id)
            .ok_or(Error::UnknownRequest { id })?;
        let range = req.num_computed_tokens..req.num_computed_tokens + n_tokens;
        let token_ids = req
            .tokens
            .get(range.clone())
            .ok_or_else(|| {
                Error::Audit(format!(
                    "{id}: scheduled {range:?} past its {} tokens",
                    req.tokens.len()
                ))
            })?
            .to_vec();
        let positions = range
            .clone()
            .map(|p| {
                u32::try_from(p)
                    .map_err(|_| Error::Audit(format!("{id}: position {p} exceeds u32")))
            })
            .collect::<Result<Vec<u32>, Error>>()?;
        let mut slot_mapping = Vec::with_capacity(n_tokens);
        req.block_table
            .slots_into(range.start, range.end, &mut slot_mapping)
            .ok_or_else(|| Error::Audit(format!("{id}: no slot for some position in {range:?}")))?;
        req.num_scheduled_tokens = n_tokens;
        Ok(ScheduledSeq {
            id,
            needs_logits: range.end == req.tokens.len(),
            prompt_logprob_rows: req.prompt_logprob_rows(&range),
            range,
            token_ids,
            positions,
            slot_mapping,
            block_table: req.block_table.block_ids_u32(),
        })
    }
}
