//! `EngineConfig`: everything the engine thread is built with.

use crate::SchedulerConfig;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Limits of the scheduler and the size of the KV pool (`num_blocks` × `block_size`).
    /// `max_waiting` bounds the requests accepted and not yet started (plus preempted ones
    /// waiting again); `submit` answers `QueueFull` beyond it.
    pub scheduler: SchedulerConfig,
    /// Threads the model computes with (the model is loaded with them; reported only).
    pub threads: usize,
    /// The server sends usage in every stream, whatever `stream_options` says.
    pub always_include_usage: bool,
    /// `logprobs` (top n) above this is refused (OpenAI allows 20).
    pub max_logprobs: usize,
    /// `n` above this is refused.
    pub max_n: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            threads: 1,
            always_include_usage: false,
            max_logprobs: 20,
            max_n: 16,
        }
    }
}
