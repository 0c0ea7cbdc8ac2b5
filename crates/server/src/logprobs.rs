//! The engine's token log-probabilities in OpenAI's two shapes: chat
//! (`{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}` per token) and legacy
//! completions (parallel `tokens` / `token_logprobs` / `top_logprobs` / `text_offset` lists).

use engine::TokenLogprob;
use tokenizer::Tokenizer;

use crate::openai_types::{
    json_logprob, ChatTokenLogprob, CompletionLogprobs, OrderedLogprobs, TopLogprob,
};

/// A token's text (invalid UTF-8 shown as U+FFFD) and its raw bytes.
fn token_text(tok: &Tokenizer, id: u32) -> (String, Vec<u8>) {
    let bytes = tok.token_bytes(id).map(<[u8]>::to_vec).unwrap_or_default();
    (String::from_utf8_lossy(&bytes).into_owned(), bytes)
}

pub fn chat_token(tok: &Tokenizer, lp: &TokenLogprob) -> ChatTokenLogprob {
    let (token, bytes) = token_text(tok, lp.token);
    ChatTokenLogprob {
        token,
        logprob: json_logprob(lp.logprob),
        bytes,
        top_logprobs: lp
            .top
            .iter()
            .map(|&(id, l)| {
                let (token, bytes) = token_text(tok, id);
                TopLogprob {
                    token,
                    logprob: json_logprob(l),
                    bytes,
                }
            })
            .collect(),
    }
}

/// Appends one token to completion logprobs; `offset` is the token's character offset in the
/// returned text and is advanced past it.
pub fn push_completion_token(
    out: &mut CompletionLogprobs,
    tok: &Tokenizer,
    lp: &TokenLogprob,
    offset: &mut usize,
) {
    let (token, _) = token_text(tok, lp.token);
    out.text_offset.push(*offset);
    *offset += token.chars().count();
    out.tokens.push(token);
    out.token_logprobs.push(Some(json_logprob(lp.logprob)));
    let mut top = OrderedLogprobs::default();
    for &(id, l) in &lp.top {
        top.push(token_text(tok, id).0, json_logprob(l));
    }
    out.top_logprobs.push(Some(top));
}

/// The echoed prompt's logprobs (`echo` with `logprobs`): `first_token` with `null`s, then
/// `rest[i]` for prompt token `i + 1`; offsets from 0.
pub fn completion_prompt(
    tok: &Tokenizer,
    first_token: u32,
    rest: &[TokenLogprob],
) -> CompletionLogprobs {
    let mut out = CompletionLogprobs::default();
    let (token, _) = token_text(tok, first_token);
    let mut offset = token.chars().count();
    out.text_offset.push(0);
    out.tokens.push(token);
    out.token_logprobs.push(None);
    out.top_logprobs.push(None);
    for lp in rest {
        push_completion_token(&mut out, tok, lp, &mut offset);
    }
    out
}

impl CompletionLogprobs {
    /// Appends `more` (the prompt's, then the completion's).
    pub fn extend(&mut self, more: CompletionLogprobs) {
        self.tokens.extend(more.tokens);
        self.token_logprobs.extend(more.token_logprobs);
        self.top_logprobs.extend(more.top_logprobs);
        self.text_offset.extend(more.text_offset);
    }
}
