//! The seam between the engine and an architecture.

use formats::ModelConfig;

use crate::batch::ForwardBatch;
use crate::error::Result;
use crate::kv_cache::{KvSpec, KvTensors};
use crate::trace::TraceFn;

/// A loaded model: weights, a thread pool and scratch buffers, never the KV cache.
pub trait Model: Send {
    fn config(&self) -> &ModelConfig;

    /// The cache shape this model reads and writes (`KvTensors::new(model.kv_spec(), ..)`).
    fn kv_spec(&self) -> KvSpec;

    /// Runs the batch: writes the new tokens' K/V into `kv` and returns the logits of
    /// `batch.logits_rows`, `[logits_rows.len(), vocab_size]` row-major, from the model's scratch.
    fn forward(&mut self, batch: &ForwardBatch, kv: &mut KvTensors) -> Result<&[f32]>;

    /// `forward`, also handing every intermediate activation to `trace` (names as the reference
    /// fixtures: `embed`, `layer{i}.input_layernorm_out`, ..., `layer{i}.out`, `final_norm_out`).
    fn forward_traced(
        &mut self,
        batch: &ForwardBatch,
        kv: &mut KvTensors,
        trace: &mut TraceFn<'_>,
    ) -> Result<&[f32]>;
}
