//! One sequence driven through the model with a paged KV cache: feed tokens (chunked prefill), read
//! the logits of the last one, keep the cache between turns and reuse the longest common prefix.

use anyhow::{anyhow, bail, Result};
use models::{ForwardBatch, KvTensors, Model};

/// Tokens per KV block.
const BLOCK_SIZE: usize = 16;
/// Most prompt tokens in one forward pass (bounds the activation scratch).
const PREFILL_CHUNK: usize = 256;

pub struct Session {
    model: Box<dyn Model>,
    kv: KvTensors,
    /// The tokens whose K/V are in the cache, in order.
    cached: Vec<u32>,
    max_context: usize,
    batch: ForwardBatch,
    block_table: Vec<u32>,
}

impl Session {
    /// A session able to hold `max_context` tokens.
    pub fn new(model: Box<dyn Model>, max_context: usize) -> Result<Self> {
        let n_blocks = max_context.div_ceil(BLOCK_SIZE);
        let kv = KvTensors::new(model.kv_spec(), n_blocks, BLOCK_SIZE)?;
        // One sequence owns the whole pool; its table lists the blocks in order.
        let block_table = (0..n_blocks as u32).collect();
        Ok(Session {
            model,
            kv,
            cached: Vec::new(),
            max_context,
            batch: ForwardBatch::default(),
            block_table,
        })
    }

    pub fn max_context(&self) -> usize {
        self.max_context
    }

    /// Drops the cached tokens after the longest common prefix with `tokens`, so that only the new
    /// suffix needs a forward pass. Returns the number of tokens kept.
    pub fn keep_common_prefix(&mut self, tokens: &[u32]) -> usize {
        let common = self
            .cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        // The last token is always recomputed so that its logits are available.
        let keep = common.min(tokens.len().saturating_sub(1));
        self.cached.truncate(keep);
        keep
    }

    /// Runs `tokens` after the cached ones and returns the logits of the last of them.
    pub fn feed(&mut self, tokens: &[u32]) -> Result<&[f32]> {
        if tokens.is_empty() {
            bail!("nothing to feed");
        }
        if self.cached.len() + tokens.len() > self.max_context {
            bail!(
                "context full: {} cached + {} new tokens > {} (raise --ctx-size)",
                self.cached.len(),
                tokens.len(),
                self.max_context
            );
        }
        let chunks: Vec<&[u32]> = tokens.chunks(PREFILL_CHUNK).collect();
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            self.fill_batch(chunk, i == last)?;
            self.cached.extend_from_slice(chunk);
            if i != last {
                self.model.forward(&self.batch, &mut self.kv)?;
            }
        }
        Ok(self.model.forward(&self.batch, &mut self.kv)?)
    }

    /// Builds the batch for `chunk` placed after the cached tokens, reusing the batch's buffers.
    fn fill_batch(&mut self, chunk: &[u32], want_logits: bool) -> Result<()> {
        let start = self.cached.len();
        let n_blocks = (start + chunk.len()).div_ceil(BLOCK_SIZE);
        let table = self.block_table.get(..n_blocks).ok_or_else(|| {
            anyhow!(
                "{n_blocks} blocks needed, the pool has {}",
                self.block_table.len()
            )
        })?;
        self.batch.clear();
        self.batch
            .push_seq(chunk, start, table, BLOCK_SIZE, want_logits)?;
        Ok(())
    }
}
