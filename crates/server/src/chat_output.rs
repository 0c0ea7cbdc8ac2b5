//! Chat completion output: stream chunks (`chat.completion.chunk`) and whole responses
//! (`chat.completion`), with Qwen3 reasoning split into `reasoning_content` and logprobs in
//! OpenAI's chat shape.

use std::sync::Arc;

use axum::body::Bytes;
use tokenizer::Tokenizer;

use crate::logprobs::chat_token;
use crate::openai_types::{
    unix_now, ChatChoice, ChatChunk, ChatChunkChoice, ChatCompletion, ChatDelta, ChatLogprobs,
    ChatMessage, Usage,
};
use crate::progress::Piece;
use crate::reasoning::ReasoningSplitter;
use crate::request_id::new_id;
use crate::sse::data_frame;
use crate::stream_driver::ChunkRenderer;

/// What every chunk or response of one request repeats.
#[derive(Debug, Clone)]
pub struct ResponseMeta {
    pub id: String,
    pub created: u64,
    pub model: String,
}

impl ResponseMeta {
    /// A new id with `prefix` (`chatcmpl`, `cmpl`), created now.
    pub fn new(prefix: &str, model: &str) -> ResponseMeta {
        ResponseMeta {
            id: new_id(prefix),
            created: unix_now(),
            model: model.to_string(),
        }
    }
}

pub struct ChatStreamRenderer {
    meta: ResponseMeta,
    tokenizer: Arc<Tokenizer>,
    splitters: Vec<ReasoningSplitter>,
    logprobs: bool,
    /// Chunks carry `"usage": null` until the final usage chunk.
    include_usage: bool,
}

impl ChatStreamRenderer {
    /// `splitter`: the reasoning splitter every choice starts from.
    pub fn new(
        meta: ResponseMeta,
        tokenizer: Arc<Tokenizer>,
        n_choices: usize,
        splitter: ReasoningSplitter,
        logprobs: bool,
        include_usage: bool,
    ) -> ChatStreamRenderer {
        ChatStreamRenderer {
            meta,
            tokenizer,
            splitters: vec![splitter; n_choices],
            logprobs,
            include_usage,
        }
    }

    fn chunk(&self, choices: Vec<ChatChunkChoice>) -> Bytes {
        data_frame(&ChatChunk {
            id: self.meta.id.clone(),
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices,
            usage: self.include_usage.then_some(None),
        })
    }

    fn delta_chunk(
        &self,
        index: usize,
        split: crate::reasoning::Split,
        logprobs: Option<ChatLogprobs>,
    ) -> Option<Bytes> {
        if split.is_empty() && logprobs.is_none() {
            return None;
        }
        let nonempty = |s: String| (!s.is_empty()).then_some(s);
        Some(self.chunk(vec![ChatChunkChoice {
            index,
            delta: ChatDelta {
                role: None,
                content: nonempty(split.content),
                reasoning_content: nonempty(split.reasoning),
            },
            logprobs,
            finish_reason: None,
        }]))
    }
}

impl ChunkRenderer for ChatStreamRenderer {
    fn start(&mut self) -> Vec<Bytes> {
        (0..self.splitters.len())
            .map(|index| {
                self.chunk(vec![ChatChunkChoice {
                    index,
                    delta: ChatDelta {
                        role: Some("assistant"),
                        content: Some(String::new()),
                        reasoning_content: None,
                    },
                    logprobs: None,
                    finish_reason: None,
                }])
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
                let Some(splitter) = self.splitters.get_mut(index) else {
                    return Vec::new();
                };
                let split = splitter.push(&text);
                let logprobs = match (self.logprobs, logprob) {
                    (true, Some(lp)) => Some(ChatLogprobs {
                        content: vec![chat_token(&self.tokenizer, &lp)],
                    }),
                    _ => None,
                };
                self.delta_chunk(index, split, logprobs)
                    .into_iter()
                    .collect()
            }
            Piece::Finished { index, reason } => {
                let Some(splitter) = self.splitters.get_mut(index) else {
                    return Vec::new();
                };
                let rest = splitter.finish();
                let mut out: Vec<Bytes> = self.delta_chunk(index, rest, None).into_iter().collect();
                out.push(self.chunk(vec![ChatChunkChoice {
                    index,
                    delta: ChatDelta::default(),
                    logprobs: None,
                    finish_reason: Some(reason),
                }]));
                out
            }
            // Chat never asks for prompt logprobs.
            Piece::PromptLogprobs { .. } => Vec::new(),
        }
    }

    fn usage(&mut self, usage: Usage) -> Bytes {
        data_frame(&ChatChunk {
            id: self.meta.id.clone(),
            object: "chat.completion.chunk",
            created: self.meta.created,
            model: self.meta.model.clone(),
            choices: Vec::new(),
            usage: Some(Some(usage)),
        })
    }
}

/// The whole response from every piece.
pub fn assemble(
    meta: ResponseMeta,
    tokenizer: &Tokenizer,
    pieces: Vec<Piece>,
    usage: Usage,
    n_choices: usize,
    splitter: &ReasoningSplitter,
    logprobs: bool,
) -> ChatCompletion {
    let mut texts = vec![String::new(); n_choices];
    let mut lps: Vec<Vec<_>> = vec![Vec::new(); n_choices];
    let mut reasons = vec!["stop"; n_choices];
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
                if let (true, Some(lp), Some(list)) = (logprobs, logprob, lps.get_mut(index)) {
                    list.push(chat_token(tokenizer, &lp));
                }
            }
            Piece::Finished { index, reason } => {
                if let Some(r) = reasons.get_mut(index) {
                    *r = reason;
                }
            }
            Piece::PromptLogprobs { .. } => {}
        }
    }
    let choices = texts
        .into_iter()
        .zip(lps)
        .zip(reasons)
        .enumerate()
        .map(|(index, ((text, lp), finish_reason))| {
            let split = splitter.clone().split_all(&text);
            ChatChoice {
                index,
                message: ChatMessage {
                    role: "assistant",
                    content: split.content,
                    reasoning_content: (!split.reasoning.is_empty()).then_some(split.reasoning),
                },
                logprobs: logprobs.then_some(ChatLogprobs { content: lp }),
                finish_reason,
            }
        })
        .collect();
    ChatCompletion {
        id: meta.id,
        object: "chat.completion",
        created: meta.created,
        model: meta.model,
        choices,
        usage,
        system_fingerprint: None,
    }
}
