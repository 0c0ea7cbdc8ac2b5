//! Text completion output (`text_completion`): stream chunks and whole responses, with `echo`
//! (the prompt text first; with `logprobs`, the prompt tokens' logprobs first too) and logprobs
//! in the legacy completions shape.

use std::sync::Arc;

use axum::body::Bytes;
use tokenizer::Tokenizer;

use crate::chat_output::ResponseMeta;
use crate::logprobs::{completion_prompt, push_completion_token};
use crate::openai_types::{Completion, CompletionChoice, CompletionLogprobs, Usage};
use crate::progress::Piece;
use crate::sse::data_frame;
use crate::stream_driver::ChunkRenderer;

pub struct CompletionStreamRenderer {
    meta: ResponseMeta,
    tokenizer: Arc<Tokenizer>,
    /// Per choice: the echoed prompt text (empty without `echo`).
    echo: Vec<String>,
    /// Per choice: the character offset of the next token (for `text_offset`).
    offsets: Vec<usize>,
    logprobs: bool,
    /// The echo chunks wait for the prompt logprobs (`echo` with `logprobs`).
    prompt_logprobs: bool,
    include_usage: bool,
}

impl CompletionStreamRenderer {
    /// `echo[i]` is choice `i`'s echoed prompt text (empty strings without `echo`).
    pub fn new(
        meta: ResponseMeta,
        tokenizer: Arc<Tokenizer>,
        echo: Vec<String>,
        logprobs: bool,
        prompt_logprobs: bool,
        include_usage: bool,
    ) -> CompletionStreamRenderer {
        let offsets = echo.iter().map(|e| e.chars().count()).collect();
        CompletionStreamRenderer {
            meta,
            tokenizer,
            echo,
            offsets,
            logprobs,
            prompt_logprobs,
            include_usage,
        }
    }

    fn chunk(&self, choice: CompletionChoice) -> Bytes {
        data_frame(&Completion {
            id: self.meta.id.clone(),
            object: "text_completion",
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices: vec![choice],
            usage: self.include_usage.then_some(None),
            system_fingerprint: None,
        })
    }
}

impl ChunkRenderer for CompletionStreamRenderer {
    fn start(&mut self) -> Vec<Bytes> {
        if self.prompt_logprobs {
            return Vec::new();
        }
        self.echo
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.is_empty())
            .map(|(index, e)| {
                self.chunk(CompletionChoice {
                    index,
                    text: e.clone(),
                    logprobs: None,
                    finish_reason: None,
                })
            })
            .collect()
    }

    fn piece(&mut self, piece: Piece) -> Vec<Bytes> {
        match piece {
            Piece::Token {
                index,
                text,
                logprob,
            } => {
                let logprobs = match (self.logprobs, logprob, self.offsets.get_mut(index)) {
                    (true, Some(lp), Some(offset)) => {
                        let mut out = CompletionLogprobs::default();
                        push_completion_token(&mut out, &self.tokenizer, &lp, offset);
                        Some(out)
                    }
                    _ => None,
                };
                if text.is_empty() && logprobs.is_none() {
                    return Vec::new();
                }
                vec![self.chunk(CompletionChoice {
                    index,
                    text,
                    logprobs,
                    finish_reason: None,
                })]
            }
            Piece::Finished { index, reason } => vec![self.chunk(CompletionChoice {
                index,
                text: String::new(),
                logprobs: None,
                finish_reason: Some(reason),
            })],
            // The echo chunk of each of the prompt's choices, with its logprobs.
            Piece::PromptLogprobs {
                indices,
                first_token,
                logprobs,
            } => {
                if !self.prompt_logprobs {
                    return Vec::new();
                }
                let lps = completion_prompt(&self.tokenizer, first_token, &logprobs);
                indices
                    .filter_map(|index| {
                        let text = self.echo.get(index)?.clone();
                        Some(self.chunk(CompletionChoice {
                            index,
                            text,
                            logprobs: Some(lps.clone()),
                            finish_reason: None,
                        }))
                    })
                    .collect()
            }
        }
    }

    fn usage(&mut self, usage: Usage) -> Bytes {
        data_frame(&Completion {
            id: self.meta.id.clone(),
            object: "text_completion",
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices: Vec::new(),
            usage: Some(Some(usage)),
            system_fingerprint: None,
        })
    }
}

/// The whole response; `echo[i]` as in [`CompletionStreamRenderer::new`].
pub fn assemble(
    meta: ResponseMeta,
    tokenizer: &Tokenizer,
    pieces: Vec<Piece>,
    usage: Usage,
    echo: Vec<String>,
    logprobs: bool,
) -> Completion {
    let n = echo.len();
    let mut offsets: Vec<usize> = echo.iter().map(|e| e.chars().count()).collect();
    let mut texts = echo;
    let mut lps = vec![CompletionLogprobs::default(); n];
    let mut reasons = vec!["stop"; n];
    for p in pieces {
        match p {
            Piece::Token {
                index,
                text,
                logprob,
            } => {
                if let Some(t) = texts.get_mut(index) {
                    t.push_str(&text);
                }
                if let (true, Some(lp), Some(out), Some(offset)) = (
                    logprobs,
                    logprob,
                    lps.get_mut(index),
                    offsets.get_mut(index),
                ) {
                    push_completion_token(out, tokenizer, &lp, offset);
                }
            }
            Piece::Finished { index, reason } => {
                if let Some(r) = reasons.get_mut(index) {
                    *r = reason;
                }
            }
            Piece::PromptLogprobs {
                indices,
                first_token,
                logprobs: rest,
            } => {
                let prompt = completion_prompt(tokenizer, first_token, &rest);
                for i in indices {
                    if let Some(out) = lps.get_mut(i) {
                        let completion = std::mem::replace(out, prompt.clone());
                        out.extend(completion);
                    }
                }
            }
        }
    }
    let choices = texts
        .into_iter()
        .zip(lps)
        .zip(reasons)
        .enumerate()
        .map(|(index, ((text, lp), reason))| CompletionChoice {
            index,
            text,
            logprobs: logprobs.then_some(lp),
            finish_reason: Some(reason),
        })
        .collect();
    Completion {
        id: meta.id,
        object: "text_completion",
        created: meta.created,
        model: meta.model,
        choices,
        usage: Some(Some(usage)),
        system_fingerprint: None,
    }
}
