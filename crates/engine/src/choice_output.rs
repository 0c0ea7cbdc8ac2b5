//! The output side of one choice (one sequence of a request): its sampler, log-probabilities,
//! incremental detokenization (never broken UTF-8) and stop strings with hold-back. The
//! scheduler decides stop tokens, `max_tokens` and the context limit; this decides the text.

use std::time::Instant;

use sampling::{Sampler, SamplerConfig, SamplingContext};
use tokenizer::{DecodeStream, Tokenizer};

use crate::event::TokenLogprob;
use crate::stop_strings::{StopScan, StopStrings};

/// How a pushed token relates to the end of its sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEnd {
    /// More tokens may follow.
    No,
    /// A stop token (EOS or a `stop_token_ids` entry): its own text is not shown.
    StopToken,
    /// The last token for another reason (`max_tokens`, context full): everything held is
    /// released after it.
    Last,
}

/// The text a token releases, and the stop string it completed, if any (the sequence then
/// ends with `Stop`; the text before the stop string is in `text`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenText {
    pub text: String,
    pub matched_stop: Option<String>,
}

#[derive(Debug)]
pub struct ChoiceOutput {
    /// The choice's index in its request (OpenAI's `choices[i].index`).
    pub index: usize,
    sampler: Sampler,
    decode: DecodeStream,
    stops: StopStrings,
    logprobs: Option<usize>,
    /// When its last token was sent (inter-token latency).
    pub last_token_at: Option<Instant>,
    /// Finished (its `Finished` event sent).
    pub done: bool,
}

impl ChoiceOutput {
    pub fn new(
        index: usize,
        sampling: SamplerConfig,
        stop_strings: &[String],
        logprobs: Option<usize>,
        skip_special_tokens: bool,
    ) -> Result<Self, sampling::Error> {
        Ok(Self {
            index,
            sampler: Sampler::new(sampling)?,
            decode: DecodeStream::new(skip_special_tokens),
            stops: StopStrings::new(stop_strings),
            logprobs,
            last_token_at: None,
            done: false,
        })
    }

    /// Samples the next token from `logits` (`[vocab]`), with the penalties seeing `prompt` and
    /// `generated`; with log-probabilities of the raw logits when the request asked for them.
    pub fn sample(
        &mut self,
        logits: &[f32],
        prompt: &[u32],
        generated: &[u32],
    ) -> (u32, Option<TokenLogprob>) {
        let token = self
            .sampler
            .sample_with(logits, &SamplingContext { prompt, generated });
        let logprob = self.logprobs.map(|top_n| {
            let lp = sampling::logprobs(logits, token, top_n);
            TokenLogprob {
                token,
                logprob: lp.chosen_logprob,
                top: lp.top,
            }
        });
        (token, logprob)
    }

    /// Detokenizes `token` and runs the stop strings over the new text.
    pub fn push(&mut self, tok: &Tokenizer, token: u32, end: TokenEnd) -> TokenText {
        let mut piece = match end {
            TokenEnd::StopToken => String::new(),
            TokenEnd::No | TokenEnd::Last => self.decode.push(tok, token).unwrap_or_default(),
        };
        if end != TokenEnd::No {
            // An incomplete UTF-8 sequence at the end becomes U+FFFD, as `decode` does.
            piece.extend(self.decode.finish());
        }
        match self.stops.push(&piece) {
            StopScan::Matched { text, stop } => TokenText {
                text,
                matched_stop: Some(stop),
            },
            StopScan::Emit(mut text) => {
                if end != TokenEnd::No {
                    text.push_str(&self.stops.flush());
                }
                TokenText {
                    text,
                    matched_stop: None,
                }
            }
        }
    }
}
