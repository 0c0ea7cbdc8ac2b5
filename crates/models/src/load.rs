//! From a weight source and its config to a runnable model, dispatching on the architecture.

use formats::{Architecture, ModelConfig, WeightSource};

use crate::error::{Error, Result};
use crate::llama::{Llama, LlamaWeights};
use crate::model::Model;
use crate::qwen3::{Qwen3, Qwen3Weights};

/// Loads the model `cfg` describes from `source` and prepares it to run on `threads` threads
/// (which also interleave the quantized weights; their mapped pages are then released).
/// `progress(done, total)` is called after each tensor.
pub fn load(
    source: &dyn WeightSource,
    cfg: &ModelConfig,
    threads: usize,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Box<dyn Model>> {
    #[allow(unreachable_patterns)]
    match cfg.arch {
        Architecture::Qwen3 => {
            let weights = Qwen3Weights::load(source, cfg, threads, progress)?;
            Ok(Box::new(Qwen3::new(cfg, weights, threads)?))
        }
        Architecture::Llama => {
            let weights = LlamaWeights::load(source, cfg, threads, progress)?;
            Ok(Box::new(Llama::new(cfg, weights, threads)?))
        }
        ref other => Err(Error::UnsupportedArchitecture(format!("{other:?}"))),
    }
}
