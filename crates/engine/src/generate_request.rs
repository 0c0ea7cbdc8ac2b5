//! `GenerateRequest`: what a client submits, and its validation against the model.

use sampling::SamplerConfig;

use crate::SubmitError;

#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// Prompt token ids (at least one, each below the model's vocabulary size).
    pub prompt: Vec<u32>,
    /// Tokens to generate at most per choice (at least one); prompt + max_tokens must fit
    /// `max_model_len`.
    pub max_tokens: usize,
    /// The sampler of choice 0; choice `i` uses `seed + i` when seeded.
    pub sampling: SamplerConfig,
    /// Extra token ids that end a choice with `Stop` (also with `ignore_eos`).
    pub stop_token_ids: Vec<u32>,
    /// Texts that end a choice with `Stop`; the text before them is emitted, they are not.
    pub stop_strings: Vec<String>,
    /// Do not stop at the model's EOS tokens.
    pub ignore_eos: bool,
    /// Choices generated from the prompt (sharing its KV blocks).
    pub n: usize,
    /// Log-probabilities of each token and of this many most likely alternatives.
    pub logprobs: Option<usize>,
    /// Log-probabilities of the prompt tokens and of this many most likely alternatives at
    /// each prompt position (`Event::PromptLogprobs`). Their logits must be computed, so the
    /// prefix cache does not serve this request's prompt (prefill is in chunks of at most
    /// `PROMPT_LOGPROBS_CHUNK` tokens).
    pub prompt_logprobs: Option<usize>,
    /// Lower value = more important; 0 by default.
    pub priority: i32,
    pub skip_special_tokens: bool,
}

impl GenerateRequest {
    /// A request with default sampling (temperature 1, unseeded), one choice, special tokens
    /// skipped, no stops other than EOS.
    pub fn new(prompt: Vec<u32>, max_tokens: usize) -> Self {
        Self {
            prompt,
            max_tokens,
            sampling: SamplerConfig::default(),
            stop_token_ids: Vec::new(),
            stop_strings: Vec::new(),
            ignore_eos: false,
            n: 1,
            logprobs: None,
            prompt_logprobs: None,
            priority: 0,
            skip_special_tokens: true,
        }
    }
}

/// What a request is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub vocab_size: usize,
    pub max_model_len: usize,
    pub max_logprobs: usize,
    pub max_n: usize,
}

impl GenerateRequest {
    pub(crate) fn validate(&self, lim: &Limits) -> Result<(), SubmitError> {
        let invalid = |m: String| Err(SubmitError::Invalid(m));
        if self.prompt.is_empty() {
            return invalid("the prompt has no tokens".into());
        }
        if let Some(&t) = self.prompt.iter().find(|&&t| t as usize >= lim.vocab_size) {
            return invalid(format!(
                "prompt token id {t} is out of range for a vocabulary of {} tokens",
                lim.vocab_size
            ));
        }
        if self.max_tokens == 0 {
            return invalid("max_tokens must be at least 1".into());
        }
        if self.n == 0 || self.n > lim.max_n {
            return invalid(format!("n = {} must be in 1..={}", self.n, lim.max_n));
        }
        for (name, k) in [
            ("logprobs", self.logprobs),
            ("prompt_logprobs", self.prompt_logprobs),
        ] {
            if let Some(k) = k.filter(|&k| k > lim.max_logprobs) {
                return invalid(format!(
                    "{name} = {k} exceeds the maximum of {}",
                    lim.max_logprobs
                ));
            }
        }
        if self.stop_strings.iter().any(String::is_empty) {
            return invalid("stop strings must not be empty".into());
        }
        if let Some(&t) = self
            .stop_token_ids
            .iter()
            .find(|&&t| t as usize >= lim.vocab_size)
        {
            return invalid(format!(
                "stop token id {t} is out of range for a vocabulary of {} tokens",
                lim.vocab_size
            ));
        }
        self.sampling
            .validate_for_vocab(lim.vocab_size)
            .map_err(|e| SubmitError::Invalid(e.to_string()))?;
        if self.prompt.len().saturating_add(self.max_tokens) > lim.max_model_len {
            return Err(SubmitError::TooLong {
                prompt_tokens: self.prompt.len(),
                max_tokens: self.max_tokens,
                max_model_len: lim.max_model_len,
            });
        }
        Ok(())
    }

    /// The sampler of choice `i`: the request's, with seed `seed + i` when seeded.
    pub(crate) fn sampling_for_choice(&self, i: usize) -> SamplerConfig {
        let mut cfg = self.sampling.clone();
        cfg.seed = cfg.seed.map(|s| s.wrapping_add(i as u64));
        cfg
    }
}
