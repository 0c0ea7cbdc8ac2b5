//! The bookkeeping of one HTTP request's generations (one engine request per prompt, `n`
//! choices each): engine events become [`Piece`]s with OpenAI's choice index
//! (`prompt * n + choice`), usage is summed, and a stream that ends early or fails becomes an
//! error instead of a silently short answer.

use std::ops::Range;

use engine::{Event, FinishReason, TokenLogprob};

use crate::error::ApiError;
use crate::openai_types::Usage;

/// One step of one choice.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Token {
        index: usize,
        text: String,
        logprob: Option<TokenLogprob>,
    },
    Finished {
        index: usize,
        /// `stop` or `length`.
        reason: &'static str,
    },
    /// A prompt's token logprobs (`Event::PromptLogprobs`), for its choices `indices`.
    PromptLogprobs {
        indices: Range<usize>,
        first_token: u32,
        /// Entry `i` for prompt token `i + 1`.
        logprobs: Vec<TokenLogprob>,
    },
}

#[derive(Debug, Clone, Copy, Default)]
struct PromptUsage {
    prompt_tokens: usize,
    cached_tokens: usize,
}

#[derive(Debug, Clone)]
pub struct Progress {
    n: usize,
    prompts: Vec<PromptUsage>,
    completion_tokens: usize,
    finished: Vec<bool>,
}

impl Progress {
    pub fn new(n_prompts: usize, n: usize) -> Progress {
        Progress {
            n,
            prompts: vec![PromptUsage::default(); n_prompts],
            completion_tokens: 0,
            finished: vec![false; n_prompts * n],
        }
    }

    pub fn on_event(&mut self, prompt: usize, ev: Event) -> Result<Piece, ApiError> {
        let index = |choice: usize| -> Result<usize, ApiError> {
            if choice >= self.n || prompt >= self.prompts.len() {
                return Err(ApiError::internal(format!(
                    "the engine reported choice {choice} of prompt {prompt}, beyond the request"
                )));
            }
            Ok(prompt * self.n + choice)
        };
        match ev {
            Event::Token {
                choice,
                text,
                logprob,
                ..
            } => Ok(Piece::Token {
                index: index(choice)?,
                text,
                logprob,
            }),
            Event::Finished {
                choice,
                reason,
                usage,
                ..
            } => {
                let i = index(choice)?;
                let reason = match reason {
                    FinishReason::Stop => "stop",
                    FinishReason::Length => "length",
                    FinishReason::Abort => {
                        return Err(ApiError::unavailable(
                            "the request was aborted by the server (shutting down)",
                            "aborted",
                        ))
                    }
                };
                if let Some(done) = self.finished.get_mut(i) {
                    *done = true;
                }
                let p = &mut self.prompts[prompt];
                p.prompt_tokens = p.prompt_tokens.max(usage.prompt_tokens);
                if choice == 0 {
                    p.cached_tokens = usage.cached_tokens;
                }
                self.completion_tokens += usage.completion_tokens;
                Ok(Piece::Finished { index: i, reason })
            }
            Event::Error(msg) => Err(ApiError::internal(format!(
                "the engine failed the request: {msg}"
            ))),
            Event::PromptLogprobs {
                first_token,
                logprobs,
            } => {
                let first = index(0)?;
                Ok(Piece::PromptLogprobs {
                    indices: first..first + self.n,
                    first_token,
                    logprobs,
                })
            }
        }
    }

    /// The engine closed prompt `prompt`'s stream: every choice must have finished.
    pub fn end_of_prompt(&self, prompt: usize) -> Result<(), ApiError> {
        let all = self
            .finished
            .iter()
            .skip(prompt * self.n)
            .take(self.n)
            .all(|&f| f);
        if all {
            Ok(())
        } else {
            Err(ApiError::internal(
                "the engine ended the request before every choice finished",
            ))
        }
    }

    pub fn usage(&self) -> Usage {
        let prompt: usize = self.prompts.iter().map(|p| p.prompt_tokens).sum();
        let cached: usize = self.prompts.iter().map(|p| p.cached_tokens).sum();
        Usage::new(prompt, self.completion_tokens, cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(choice: usize, reason: FinishReason, completion: usize) -> Event {
        Event::Finished {
            choice,
            reason,
            matched_stop: None,
            usage: engine::Usage {
                prompt_tokens: 5,
                completion_tokens: completion,
                cached_tokens: if choice == 0 { 2 } else { 5 },
            },
        }
    }

    #[test]
    fn indexes_and_usage() {
        let mut p = Progress::new(2, 2);
        let tok = Event::Token {
            choice: 1,
            token: 3,
            text: "a".into(),
            logprob: None,
        };
        assert_eq!(
            p.on_event(1, tok).unwrap(),
            Piece::Token {
                index: 3,
                text: "a".into(),
                logprob: None
            }
        );
        assert!(p.on_event(0, finished(0, FinishReason::Stop, 3)).is_ok());
        assert!(p.end_of_prompt(0).is_err());
        assert_eq!(
            p.on_event(0, finished(1, FinishReason::Length, 4)).unwrap(),
            Piece::Finished {
                index: 1,
                reason: "length"
            }
        );
        assert!(p.end_of_prompt(0).is_ok());
        p.on_event(1, finished(0, FinishReason::Stop, 1)).unwrap();
        p.on_event(1, finished(1, FinishReason::Stop, 1)).unwrap();
        assert_eq!(p.usage(), Usage::new(10, 9, 4));
        assert!(p.on_event(0, finished(2, FinishReason::Stop, 1)).is_err());
        assert!(p.on_event(0, finished(0, FinishReason::Abort, 1)).is_err());
        assert!(p.on_event(0, Event::Error("boom".into())).is_err());
    }
}
