//! Preemption by recompute: the victim's blocks and pin are given back at once and it waits
//! again with `num_computed_tokens = 0`; its generated tokens stay and are recomputed with the
//! prompt when it is admitted again (much of it usually from the prefix cache).

use crate::{Error, RequestId, RequestStatus, Scheduler};

impl Scheduler {
    /// The running request to preempt first: the lowest priority (highest value), then the
    /// latest arrival.
    pub(crate) fn pick_victim(&self) -> Option<RequestId> {
        self.running
            .iter()
            .filter_map(|id| self.requests.get(id))
            .max_by_key(|r| r.order_key())
            .map(|r| r.id)
    }

    pub(crate) fn preempt(&mut self, id: RequestId) -> Result<(), Error> {
        let mut req = self
            .requests
            .remove(&id)
            .ok_or(Error::UnknownRequest { id })?;
        self.running.retain(|&r| r != id);
        let released = self.release(&mut req);
        req.num_computed_tokens = 0;
        req.num_scheduled_tokens = 0;
        req.status = RequestStatus::Preempted;
        req.num_preemptions += 1;
        self.stats.num_preemptions += 1;
        self.waiting.insert(req.order_key());
        self.requests.insert(id, req);
        released
    }
}
