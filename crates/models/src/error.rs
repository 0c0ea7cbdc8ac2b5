//! The errors of model loading and of a forward pass.

/// Everything `models` can fail with. Variants carry the tensor name, the shapes or the batch field
/// involved, so a message alone says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A weight could not be read (absent, unreadable, bad dtype) from the source.
    #[error("weight {name}: {source}")]
    Weight {
        name: String,
        #[source]
        source: formats::Error,
    },
    /// A weight's shape disagrees with the model configuration.
    #[error("weight {name} has shape {found:?}, the config needs {expected:?}")]
    WeightShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A weight is stored in a dtype this use of it cannot take.
    #[error("weight {name}: {reason}")]
    WeightDtype { name: String, reason: String },
    /// The configuration cannot describe a working model (e.g. heads not divisible by kv heads).
    #[error("model config: {0}")]
    Config(String),
    /// The architecture has no implementation here.
    #[error("architecture {0} is not supported")]
    UnsupportedArchitecture(String),
    /// A `ForwardBatch` is inconsistent with itself or with the KV pool.
    #[error("invalid batch: {0}")]
    Batch(String),
    /// The KV cache cannot be built with these sizes, or does not fit the model.
    #[error("kv cache: {0}")]
    Kv(String),
    /// A kernel refused its inputs.
    #[error(transparent)]
    Tensor(#[from] tensor::Error),
    /// A dequantization failed.
    #[error(transparent)]
    Quant(#[from] quant::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
