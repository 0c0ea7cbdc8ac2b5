//! `SchedulerConfig`: the limits the scheduler works within, checked once in `Scheduler::new`.

use crate::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Tokens computed per step at most, decodes and prefill chunks together (`--max-batched-tokens`).
    pub max_batched_tokens: usize,
    /// Requests holding blocks at most (`--max-running`). Forked `n > 1` siblings are not
    /// limited by it (they were admitted as one request).
    pub max_running: usize,
    /// Requests in the waiting queue at most before `add_request` answers `QueueFull`
    /// (`--max-waiting`). Preempted requests go back regardless.
    pub max_waiting: usize,
    /// Tokens per KV block.
    pub block_size: usize,
    /// Blocks in the KV pool.
    pub num_blocks: usize,
    pub enable_prefix_cache: bool,
    /// Prompt plus generated tokens of one request at most.
    pub max_model_len: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_batched_tokens: 2048,
            max_running: 64,
            max_waiting: 256,
            block_size: 16,
            num_blocks: 1024,
            enable_prefix_cache: true,
            max_model_len: 4096,
        }
    }
}

impl SchedulerConfig {
    /// Checks the limits against each other: every slot id and position fits a `u32`, one
    /// request of `max_model_len` tokens fits the pool (so preemption can always make room for
    /// the most important request), and a step can hold a decode of every running request.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, reason: String| Err(Error::InvalidConfig { field, reason });
        for (field, v) in [
            ("max_batched_tokens", self.max_batched_tokens),
            ("max_running", self.max_running),
            ("max_waiting", self.max_waiting),
            ("block_size", self.block_size),
            ("num_blocks", self.num_blocks),
            ("max_model_len", self.max_model_len),
        ] {
            if v == 0 {
                return bad(field, "must be at least 1".into());
            }
        }
        let slots = (self.num_blocks as u64).saturating_mul(self.block_size as u64);
        if slots > u64::from(u32::MAX) {
            return bad(
                "num_blocks",
                format!(
                    "× block_size = {slots} slots; slot ids must fit in u32 (at most {})",
                    u32::MAX
                ),
            );
        }
        if self.max_model_len as u64 > slots {
            return bad(
                "max_model_len",
                format!(
                    "= {} exceeds the pool's {slots} token slots ({} blocks of {}): one request could never fit",
                    self.max_model_len, self.num_blocks, self.block_size
                ),
            );
        }
        if self.max_batched_tokens < self.max_running {
            return bad(
                "max_batched_tokens",
                format!(
                    "= {} is below max_running = {}: a step could not decode every running request",
                    self.max_batched_tokens, self.max_running
                ),
            );
        }
        Ok(())
    }
}
