//! What a request's stream receives from the engine thread.

use crate::{FinishReason, Usage};

/// Log-probabilities of one generated token, in OpenAI's sense: `log_softmax` of the model's
/// raw logits (before penalties, bias, temperature or truncation).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprob {
    pub token: u32,
    pub logprob: f32,
    /// The `logprobs` most likely tokens, most likely first (ties: lower id first).
    pub top: Vec<(u32, f32)>,
}

/// One event of a request's stream. Per choice: `Token`s, then exactly one `Finished`; the
/// stream ends (`recv` gives `None`) once every choice has finished. `Error` ends the stream:
/// the engine failed the request (no `Finished` follows).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A generated token. `text` is the new detokenized text it releases: complete UTF-8 only,
    /// and stop-string safe (text that could still become a stop string is held back and comes
    /// with a later token). A stop token's own text is never shown (its `text` holds only what
    /// it releases). The last token of a choice releases everything held.
    Token {
        choice: usize,
        token: u32,
        text: String,
        logprob: Option<TokenLogprob>,
    },
    /// The choice ended. With a stop string, `matched_stop` names it and the text before it was
    /// released by the last `Token`.
    Finished {
        choice: usize,
        reason: FinishReason,
        matched_stop: Option<String>,
        usage: Usage,
    },
    Error(String),
    /// The prompt tokens' log-probabilities (the request set `prompt_logprobs`): sent once,
    /// before any `Token`. `logprobs[i]` belongs to prompt token `i + 1` (`log_softmax` of the
    /// logits at position `i`); the first prompt token, `first_token`, has none.
    PromptLogprobs {
        first_token: u32,
        logprobs: Vec<TokenLogprob>,
    },
}
