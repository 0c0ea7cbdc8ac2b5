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
    /// Element type of the KV cache (f32, f16, bf16); `num_blocks` is counted in blocks whatever
    /// it is.
    pub kv_dtype: tensor::KvDtype,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            scheduler: SchedulerConfig::default(),
            threads: 1,
            always_include_usage: false,
            max_logprobs: 20,
            max_n: 16,
            kv_dtype: tensor::KvDtype::F32,
        }
    }
}
