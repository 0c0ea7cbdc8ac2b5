//! The scheduler's use of the radix prefix cache: share a cached prefix on admission, cache
//! newly computed full blocks after each step. A request pins the deepest node of its cached
//! path while it runs; the pin moves down as its blocks are inserted.

use crate::{Error, RequestId, Scheduler};

impl Scheduler {
    /// On admission (empty table): shares the longest cached prefix of the request's known
    /// tokens, whole blocks only and never the last token (at least one token must be computed
    /// to get logits), nor a prompt token whose logits prompt logprobs still need; counts it as
    /// computed. Returns the tokens matched.
    pub(crate) fn share_cached_prefix(&mut self, id: RequestId) -> Result<usize, Error> {
        let req = self
            .requests
            .get_mut(&id)
            .ok_or(Error::UnknownRequest { id })?;
        if !self.cfg.enable_prefix_cache {
            return Ok(0);
        }
        let n = req.tokens.len().saturating_sub(1).min(req.max_cache_hit());
        let lookup = req.tokens.get(..n).unwrap_or(&[]);
        let hit = self.tree.match_prefix(lookup);
        req.block_table.extend_shared(&mut self.pool, &hit.blocks)?;
        self.tree.pin(hit.node)?;
        req.pinned = Some(hit.node);
        req.num_inserted_blocks = hit.blocks.len();
        req.num_computed_tokens = hit.n_tokens;
        Ok(hit.n_tokens)
    }

    /// Inserts the request's computed full blocks not yet in the cache (prompt and generated
    /// ones alike) and moves its pin to the new deepest node.
    pub(crate) fn cache_computed_blocks(&mut self, id: RequestId) -> Result<(), Error> {
        if !self.cfg.enable_prefix_cache {
            return Ok(());
        }
        let req = self
            .requests
            .get_mut(&id)
            .ok_or(Error::UnknownRequest { id })?;
        let bs = self.cfg.block_size;
        let full = req.num_computed_tokens / bs;
        if full <= req.num_inserted_blocks {
            return Ok(());
        }
        let Some(tokens) = req.tokens.get(..full * bs) else {
            return Err(Error::Audit(format!(
                "{id} has {} computed tokens but only {} known",
                req.num_computed_tokens,
                req.tokens.len()
            )));
        };
        let inserted = self
            .tree
            .insert(&mut self.pool, tokens, req.block_table.blocks())?;
        self.tree.pin(inserted.node)?;
        if let Some(old) = req.pinned.replace(inserted.node) {
            self.tree.unpin(old)?;
        }
        req.num_inserted_blocks = full;
        Ok(())
    }
}
