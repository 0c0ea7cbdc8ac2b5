//! `n > 1`: more completions of one prompt, sharing the prompt's blocks instead of prefilling
//! it again. The shared, partly filled last block is copied on the first write of whichever
//! sequence writes into it first (`BlockTable::ensure_writable`, done in `schedule`).

use crate::{Error, Request, RequestEvent, RequestId, RequestStatus, Scheduler};

impl Scheduler {
    /// A sibling of `parent` whose first generated token is `first_token` (sampled by the
    /// caller from the parent's logits at the end of its prompt, with the sibling's own
    /// sampler). Call it once the step computing the end of the prompt is scheduled, before or
    /// after its `update_from_output` (before is safer: the parent may finish in the update);
    /// that step must be run as scheduled. The child shares the blocks of the prompt (one more
    /// reference each), has the parent's limits, priority, arrival and stop tokens, runs at
    /// once (not counted against `max_running`: the group was admitted as one request) and
    /// reports `cached_tokens` as the parent. Returns its id and events: its first token, and
    /// `Finished` when that token already ends it.
    pub fn fork(
        &mut self,
        parent: RequestId,
        first_token: u32,
    ) -> Result<(RequestId, Vec<RequestEvent>), Error> {
        let p = self
            .requests
            .get(&parent)
            .ok_or(Error::UnknownRequest { id: parent })?;
        if p.status != RequestStatus::Running {
            return Err(Error::ForkNotReady {
                id: parent,
                reason: "it is not running",
            });
        }
        let n_prompt = p.num_prompt_tokens;
        if p.num_computed_tokens + p.num_scheduled_tokens < n_prompt {
            return Err(Error::ForkNotReady {
                id: parent,
                reason: "the end of its prompt is not computed or scheduled yet",
            });
        }
        let table = p.block_table.fork(&mut self.pool, n_prompt)?;
        let mut tokens = Vec::with_capacity(n_prompt + p.max_tokens);
        tokens.extend_from_slice(p.prompt());
        tokens.push(first_token);
        let mut child = Request {
            id: parent, // replaced below, once `self` is free to hand out an id
            tokens,
            num_prompt_tokens: n_prompt,
            num_computed_tokens: n_prompt,
            num_scheduled_tokens: 0,
            max_tokens: p.max_tokens,
            priority: p.priority,
            arrival: p.arrival,
            stop_token_ids: p.stop_token_ids.clone(),
            status: RequestStatus::Running,
            block_table: table,
            pinned: None,
            num_inserted_blocks: 0,
            num_cached_prompt_tokens: p.num_cached_prompt_tokens,
            num_preemptions: 0,
            prompt_logprobs_next: None,
        };
        let id = self.next_request_id();
        child.id = id;
        let finish = child.finish_after_token(first_token, self.cfg.max_model_len);
        self.requests.insert(id, child);
        self.running.push(id);
        let mut events = vec![RequestEvent::Token {
            id,
            token: first_token,
        }];
        if let Some(reason) = finish {
            let usage = self.finish_request(id, reason)?;
            events.push(RequestEvent::Finished { id, reason, usage });
        }
        Ok((id, events))
    }
}
