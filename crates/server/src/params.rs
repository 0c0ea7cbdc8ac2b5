//! The generation parameters chat and text completions share, read from a request body and
//! checked (each bad value a 400 naming its field), then turned into an engine
//! `GenerateRequest` once the prompt is known.

use std::collections::BTreeMap;

use engine::GenerateRequest;
use sampling::SamplerConfig;

use crate::error::ApiError;
use crate::openai_types::{StopField, StreamOptions};
use crate::request_fields::Fields;

/// Most stop strings per request, and bytes per stop string.
pub const MAX_STOP_STRINGS: usize = 64;
pub const MAX_STOP_BYTES: usize = 1024;

#[derive(Debug, Clone)]
pub struct GenParams {
    /// `max_completion_tokens`, else `max_tokens`; `None`: the rest of the context.
    pub max_tokens: Option<usize>,
    pub sampling: SamplerConfig,
    pub stop: Vec<String>,
    pub stop_token_ids: Vec<u32>,
    pub ignore_eos: bool,
    pub skip_special_tokens: bool,
    pub n: usize,
    pub priority: i32,
    pub stream: bool,
    /// `stream_options.include_usage`.
    pub include_usage: bool,
}

/// What the parameters are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub vocab_size: usize,
    pub max_n: usize,
}

impl GenParams {
    pub fn parse(f: &Fields, lim: &Limits) -> Result<GenParams, ApiError> {
        let max_tokens = match f.take::<usize>("max_completion_tokens")? {
            Some(m) => Some(("max_completion_tokens", m)),
            None => f.take::<usize>("max_tokens")?.map(|m| ("max_tokens", m)),
        };
        if let Some((name, 0)) = max_tokens {
            return Err(ApiError::invalid_field(
                name,
                format!("'{name}' must be at least 1"),
            ));
        }
        let d = SamplerConfig::default();
        let top_k = match f.take::<i64>("top_k")? {
            None | Some(-1) | Some(0) => 0,
            Some(k) if k > 0 => usize::try_from(k).unwrap_or(usize::MAX),
            Some(k) => {
                return Err(ApiError::invalid_field(
                    "top_k",
                    format!("'top_k' = {k}: expected -1 or 0 (off) or a positive count"),
                ))
            }
        };
        let seed = match f.take::<serde_json::Number>("seed")? {
            None => None,
            Some(n) => Some(match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u,
                // A negative seed is a seed too (its two's complement bits).
                (None, Some(i)) => i as u64,
                _ => return Err(ApiError::invalid_field("seed", "'seed' must be an integer")),
            }),
        };
        let sampling = SamplerConfig {
            temperature: f.take("temperature")?.unwrap_or(d.temperature),
            top_k,
            top_p: f.take("top_p")?.unwrap_or(d.top_p),
            min_p: f.take("min_p")?.unwrap_or(d.min_p),
            repetition_penalty: f
                .take("repetition_penalty")?
                .unwrap_or(d.repetition_penalty),
            presence_penalty: f.take("presence_penalty")?.unwrap_or(d.presence_penalty),
            frequency_penalty: f.take("frequency_penalty")?.unwrap_or(d.frequency_penalty),
            logit_bias: logit_bias(f)?,
            seed,
        };
        sampling
            .validate_for_vocab(lim.vocab_size)
            .map_err(sampling_error)?;

        let mut stop = Vec::new();
        for s in f
            .take::<StopField>("stop")?
            .map(StopField::into_vec)
            .unwrap_or_default()
        {
            if s.len() > MAX_STOP_BYTES {
                return Err(ApiError::invalid_field(
                    "stop",
                    format!("a stop string is longer than {MAX_STOP_BYTES} bytes"),
                ));
            }
            if !s.is_empty() && !stop.contains(&s) {
                stop.push(s);
            }
        }
        if stop.len() > MAX_STOP_STRINGS {
            return Err(ApiError::invalid_field(
                "stop",
                format!("at most {MAX_STOP_STRINGS} stop strings"),
            ));
        }
        let stop_token_ids: Vec<u32> = f.take("stop_token_ids")?.unwrap_or_default();
        if let Some(t) = stop_token_ids
            .iter()
            .find(|&&t| t as usize >= lim.vocab_size)
        {
            return Err(ApiError::invalid_field(
                "stop_token_ids",
                format!(
                    "token id {t} is out of range for a vocabulary of {} tokens",
                    lim.vocab_size
                ),
            ));
        }
        let n = f.take::<usize>("n")?.unwrap_or(1);
        if n == 0 || n > lim.max_n {
            return Err(ApiError::invalid_field(
                "n",
                format!("'n' = {n} must be between 1 and {}", lim.max_n),
            ));
        }
        let stream = f.take::<bool>("stream")?.unwrap_or(false);
        let stream_options = f.take::<StreamOptions>("stream_options")?;
        if stream_options.is_some() && !stream {
            return Err(ApiError::invalid_field(
                "stream_options",
                "'stream_options' is only allowed when 'stream' is true",
            ));
        }
        // Accepted and not used (OpenAI's end-user id).
        f.take::<String>("user")?;
        Ok(GenParams {
            max_tokens: max_tokens.map(|(_, m)| m),
            sampling,
            stop,
            stop_token_ids,
            ignore_eos: f.take("ignore_eos")?.unwrap_or(false),
            skip_special_tokens: f.take("skip_special_tokens")?.unwrap_or(true),
            n,
            priority: f.take("priority")?.unwrap_or(0),
            stream,
            include_usage: stream_options.is_some_and(|o| o.include_usage),
        })
    }

    /// The engine request for one prompt. The context check is made here so the 400 can
    /// name the field and count the tokens (`prompt_field` is `messages` or `prompt`).
    pub fn request(
        &self,
        prompt: Vec<u32>,
        prompt_field: &str,
        max_model_len: usize,
        logprobs: Option<usize>,
    ) -> Result<GenerateRequest, ApiError> {
        if prompt.is_empty() {
            return Err(ApiError::invalid_field(
                prompt_field,
                "the prompt is empty after tokenization",
            ));
        }
        if prompt.len() >= max_model_len {
            return Err(ApiError::invalid_field(
                prompt_field,
                format!(
                    "This model's maximum context length is {max_model_len} tokens. However, your \
                     prompt has {} tokens, leaving no room to generate.",
                    prompt.len()
                ),
            )
            .with_code("context_length_exceeded"));
        }
        let max_tokens = match self.max_tokens {
            Some(m) if prompt.len().saturating_add(m) > max_model_len => {
                return Err(ApiError::invalid_field(
                    "max_tokens",
                    format!(
                        "This model's maximum context length is {max_model_len} tokens. However, \
                         you requested {} tokens ({} in the prompt, {m} for the completion).",
                        prompt.len().saturating_add(m),
                        prompt.len()
                    ),
                )
                .with_code("context_length_exceeded"));
            }
            Some(m) => m,
            None => max_model_len - prompt.len(),
        };
        Ok(GenerateRequest {
            prompt,
            max_tokens,
            sampling: self.sampling.clone(),
            stop_token_ids: self.stop_token_ids.clone(),
            stop_strings: self.stop.clone(),
            ignore_eos: self.ignore_eos,
            n: self.n,
            logprobs,
            prompt_logprobs: None,
            priority: self.priority,
            skip_special_tokens: self.skip_special_tokens,
        })
    }
}

/// `logit_bias`: `{"token id": bias}` (ids as strings, as OpenAI sends them).
fn logit_bias(f: &Fields) -> Result<Vec<(u32, f32)>, ApiError> {
    let Some(map) = f.take::<BTreeMap<String, f32>>("logit_bias")? else {
        return Ok(Vec::new());
    };
    map.into_iter()
        .map(|(k, v)| {
            let id = k.trim().parse::<u32>().map_err(|_| {
                ApiError::invalid_field(
                    "logit_bias",
                    format!("'logit_bias' key {k:?} is not a token id"),
                )
            })?;
            Ok((id, v))
        })
        .collect()
}

fn sampling_error(e: sampling::Error) -> ApiError {
    let param = match &e {
        sampling::Error::OutOfRange { name, .. } => name,
        sampling::Error::BiasTokenOutOfRange { .. } => "logit_bias",
        _ => "sampling",
    };
    ApiError::invalid_field(param, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: Limits = Limits {
        vocab_size: 100,
        max_n: 4,
    };

    fn parse(body: &str) -> Result<GenParams, ApiError> {
        GenParams::parse(&Fields::parse(body.as_bytes()).unwrap(), &LIM)
    }

    #[test]
    fn fields_reach_the_request() {
        let p = parse(
            r#"{"max_tokens": 3, "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1,
                "presence_penalty": 1, "frequency_penalty": -1, "repetition_penalty": 1.2,
                "logit_bias": {"7": 100, " 9": -5.5}, "seed": -1, "stop": "x", "n": 2,
                "stop_token_ids": [3], "ignore_eos": true, "skip_special_tokens": false,
                "priority": -3, "stream": true, "stream_options": {"include_usage": true},
                "user": "me", "extra": [1]}"#,
        )
        .unwrap();
        let r = p.request(vec![1, 2], "prompt", 10, Some(2)).unwrap();
        assert_eq!(r.max_tokens, 3);
        assert_eq!(r.sampling.temperature, 0.0);
        assert_eq!(r.sampling.top_k, 0);
        assert_eq!(r.sampling.logit_bias, vec![(9, -5.5), (7, 100.0)]);
        assert_eq!(r.sampling.seed, Some(u64::MAX));
        assert_eq!(r.stop_strings, ["x"]);
        assert_eq!((r.n, r.priority, r.logprobs), (2, -3, Some(2)));
        assert!(r.ignore_eos && !r.skip_special_tokens);
        assert!(p.stream && p.include_usage);
        // max_completion_tokens wins; no max: the rest of the context.
        let p = parse(r#"{"max_tokens": 3, "max_completion_tokens": 5}"#).unwrap();
        assert_eq!(p.max_tokens, Some(5));
        let r = parse("{}")
            .unwrap()
            .request(vec![1; 4], "prompt", 10, None)
            .unwrap();
        assert_eq!(r.max_tokens, 6);
        assert_eq!(r.sampling, SamplerConfig::default());
        assert!(r.skip_special_tokens && r.n == 1);
    }

    #[test]
    fn bad_values_name_their_field() {
        for (body, param) in [
            (r#"{"temperature": -1}"#, "temperature"),
            (r#"{"temperature": "hot"}"#, "temperature"),
            (r#"{"top_p": 0}"#, "top_p"),
            (r#"{"top_k": -2}"#, "top_k"),
            (r#"{"min_p": 2}"#, "min_p"),
            (r#"{"presence_penalty": 3}"#, "presence_penalty"),
            (r#"{"repetition_penalty": 0}"#, "repetition_penalty"),
            (r#"{"logit_bias": {"a": 1}}"#, "logit_bias"),
            (r#"{"logit_bias": {"100": 1}}"#, "logit_bias"),
            (r#"{"logit_bias": {"1": 101}}"#, "logit_bias"),
            (r#"{"seed": 1.5}"#, "seed"),
            (r#"{"stop": 5}"#, "stop"),
            (r#"{"n": 0}"#, "n"),
            (r#"{"n": 5}"#, "n"),
            (r#"{"max_tokens": 0}"#, "max_tokens"),
            (r#"{"max_tokens": -1}"#, "max_tokens"),
            (r#"{"max_completion_tokens": 0}"#, "max_completion_tokens"),
            (
                r#"{"stream_options": {"include_usage": true}}"#,
                "stream_options",
            ),
            (r#"{"stop_token_ids": [100]}"#, "stop_token_ids"),
            (r#"{"priority": "high"}"#, "priority"),
            (r#"{"user": 5}"#, "user"),
        ] {
            let e = parse(body).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{body}: {}", e.message);
        }
        let p = parse(r#"{"max_tokens": 7}"#).unwrap();
        let e = p.request(vec![1; 4], "prompt", 10, None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("max_tokens"));
        assert!(e.message.contains("11 tokens"), "{}", e.message);
        let e = p.request(vec![1; 10], "messages", 10, None).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages"));
        assert!(p.request(vec![], "prompt", 10, None).is_err());
    }
}
