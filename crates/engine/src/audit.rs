//! `Scheduler::audit`: the bookkeeping invariants, recomputed from scratch. Cheap enough for
//! tests and debug checks (O(blocks + requests + cache nodes)).

use std::collections::HashSet;

use crate::{Error, RequestStatus, Scheduler};

impl Scheduler {
    /// Checks that every block's reference count equals the number of holders (request tables
    /// plus the prefix cache), the free list holds exactly the unreferenced blocks, the queues
    /// agree with the request states, waiting requests hold nothing, and running requests' pins
    /// are live.
    pub fn audit(&self) -> Result<(), Error> {
        let fail = |msg: String| Err(Error::Audit(msg));
        let total = self.pool.num_total();
        let mut expected = vec![0u64; total];
        let mut count =
            |b: kv::BlockId, holder: &dyn std::fmt::Display| match expected.get_mut(b.index()) {
                Some(c) => {
                    *c += 1;
                    Ok(())
                }
                None => Err(Error::Audit(format!(
                    "{holder} holds block {b} outside the pool of {total}"
                ))),
            };
        for req in self.requests.values() {
            for &b in req.block_table.blocks() {
                count(b, &req.id)?;
            }
        }
        for (node, b) in self.tree.cached_blocks() {
            count(b, &format!("cache node {node:?}"))?;
        }
        for (i, &want) in expected.iter().enumerate() {
            let b = kv::BlockId(i as u32);
            let have = u64::from(self.pool.ref_count(b));
            if have != want {
                return fail(format!("block {b} has ref count {have} but {want} holders"));
            }
        }
        let unreferenced = expected.iter().filter(|&&c| c == 0).count();
        if self.pool.num_free() != unreferenced
            || self.pool.num_free() + self.pool.num_used() != total
        {
            return fail(format!(
                "{} free + {} used of {total}, but {unreferenced} blocks have no holder",
                self.pool.num_free(),
                self.pool.num_used()
            ));
        }

        let running: HashSet<_> = self.running.iter().copied().collect();
        if running.len() != self.running.len() {
            return fail("a request is listed twice as running".into());
        }
        let waiting: HashSet<_> = self.waiting.iter().map(|&(_, _, id)| id).collect();
        for req in self.requests.values() {
            let id = req.id;
            let in_waiting = waiting.contains(&id) && self.waiting.contains(&req.order_key());
            match req.status {
                RequestStatus::Waiting | RequestStatus::Preempted => {
                    if !in_waiting || running.contains(&id) {
                        return fail(format!(
                            "{id} is {:?} but not (only) in the waiting queue",
                            req.status
                        ));
                    }
                    if req.block_table.num_blocks() != 0
                        || req.pinned.is_some()
                        || req.num_computed_tokens != 0
                    {
                        return fail(format!(
                            "{id} waits but holds blocks, a pin or computed tokens"
                        ));
                    }
                }
                RequestStatus::Running => {
                    if !running.contains(&id) || in_waiting {
                        return fail(format!(
                            "{id} is running but not (only) in the running list"
                        ));
                    }
                    if req.block_table.capacity()
                        < req.num_computed_tokens + req.num_scheduled_tokens
                    {
                        return fail(format!(
                            "{id} has {} blocks for {} computed + {} scheduled tokens",
                            req.block_table.num_blocks(),
                            req.num_computed_tokens,
                            req.num_scheduled_tokens
                        ));
                    }
                    if let Some(node) = req.pinned {
                        if node != self.tree.root() && !self.tree.is_pinned(node) {
                            return fail(format!(
                                "{id} pins {node:?}, which is evicted or unpinned"
                            ));
                        }
                    }
                }
                RequestStatus::Finished(_) => {
                    return fail(format!("{id} is finished but still tracked"))
                }
            }
            if req.num_computed_tokens > req.tokens.len() {
                return fail(format!(
                    "{id} computed {} of {} tokens",
                    req.num_computed_tokens,
                    req.tokens.len()
                ));
            }
        }
        if waiting.len() != self.waiting.len()
            || running.len() + waiting.len() != self.requests.len()
        {
            return fail(format!(
                "{} waiting + {} running but {} live requests",
                self.waiting.len(),
                self.running.len(),
                self.requests.len()
            ));
        }
        Ok(())
    }
}
