//! User-facing sampling parameters and their validation.

use crate::Error;

/// Sampling parameters of one request (OpenAI / vLLM / llama.cpp vocabulary).
///
/// Defaults are the identity: temperature 1, every filter and penalty off, no bias, unseeded.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature. `0` means greedy argmax (ties → lowest id). Must be finite and ≥ 0.
    pub temperature: f32,
    /// Keep only the `top_k` highest logits; `0` = off.
    pub top_k: usize,
    /// Nucleus sampling: keep the smallest set of tokens whose probability mass reaches `top_p`.
    /// In (0, 1]; `1` = off.
    pub top_p: f32,
    /// Drop tokens whose probability is below `min_p · p_max`. In [0, 1]; `0` = off.
    pub min_p: f32,
    /// HF / llama.cpp repetition penalty over every token id in the prompt and the generated text:
    /// a logit `l > 0` becomes `l / p`, otherwise `l · p` (each distinct token once). Finite, > 0;
    /// `1` = off.
    pub repetition_penalty: f32,
    /// OpenAI presence penalty over generated tokens: `l -= presence` when the token occurred.
    /// In [-2, 2]; `0` = off.
    pub presence_penalty: f32,
    /// OpenAI frequency penalty over generated tokens: `l -= count · frequency`. In [-2, 2]; `0` = off.
    pub frequency_penalty: f32,
    /// Additive bias per token id, applied after the penalties. Values in [-100, 100] (OpenAI's range).
    pub logit_bias: Vec<(u32, f32)>,
    /// Seed of the sampler's RNG; `None` draws a seed from the operating system's randomness.
    pub seed: Option<u64>,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            logit_bias: Vec::new(),
            seed: None,
        }
    }
}

impl SamplerConfig {
    /// Greedy decoding: temperature 0, everything else off.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            ..Self::default()
        }
    }

    /// Whether this configuration always picks the argmax (temperature 0 or top_k 1).
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == 1
    }

    /// Checks every parameter's range; NaN and infinities are errors.
    pub fn validate(&self) -> Result<(), Error> {
        check(
            "temperature",
            self.temperature,
            |v| v >= 0.0,
            "a finite value >= 0",
        )?;
        check(
            "top_p",
            self.top_p,
            |v| v > 0.0 && v <= 1.0,
            "a value in (0, 1]",
        )?;
        check(
            "min_p",
            self.min_p,
            |v| (0.0..=1.0).contains(&v),
            "a value in [0, 1]",
        )?;
        check(
            "repetition_penalty",
            self.repetition_penalty,
            |v| v > 0.0,
            "a finite value > 0",
        )?;
        check(
            "presence_penalty",
            self.presence_penalty,
            |v| (-2.0..=2.0).contains(&v),
            "a value in [-2, 2]",
        )?;
        check(
            "frequency_penalty",
            self.frequency_penalty,
            |v| (-2.0..=2.0).contains(&v),
            "a value in [-2, 2]",
        )?;
        for &(_, bias) in &self.logit_bias {
            check(
                "logit_bias",
                bias,
                |v| (-100.0..=100.0).contains(&v),
                "a value in [-100, 100]",
            )?;
        }
        Ok(())
    }

    /// [`validate`](Self::validate) plus: every `logit_bias` token id is below `vocab_size`.
    pub fn validate_for_vocab(&self, vocab_size: usize) -> Result<(), Error> {
        self.validate()?;
        for &(token, _) in &self.logit_bias {
            if token as usize >= vocab_size {
                return Err(Error::BiasTokenOutOfRange { token, vocab_size });
            }
        }
        Ok(())
    }
}

fn check(
    name: &'static str,
    value: f32,
    ok: impl Fn(f32) -> bool,
    expected: &'static str,
) -> Result<(), Error> {
    if value.is_finite() && ok(value) {
        Ok(())
    } else {
        Err(Error::OutOfRange {
            name,
            value: f64::from(value),
            expected,
        })
    }
}
