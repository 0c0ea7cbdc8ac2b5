//! Errors of the sampling crate.

/// What can go wrong when configuring or running a sampler.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A numeric sampling parameter is NaN, infinite or outside its allowed range.
    #[error("sampling parameter `{name}` = {value} is out of range: expected {expected}")]
    OutOfRange {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// A `logit_bias` entry names a token the vocabulary does not have.
    #[error("logit_bias token id {token} is out of range for a vocabulary of {vocab_size} tokens")]
    BiasTokenOutOfRange { token: u32, vocab_size: usize },
    /// The logits row handed to the sampler is empty.
    #[error("cannot sample from an empty logits row")]
    EmptyLogits,
    /// Every logit is NaN, so no token can be chosen.
    #[error("cannot sample: all {n} logits are NaN")]
    AllNan { n: usize },
}
