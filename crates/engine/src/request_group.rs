//! `RequestGroup`: one submitted request as the engine thread tracks it: its client stream, its
//! `n` choices (choice 0 is the scheduler request added at submission; choices 1.. are forked
//! from it once its prompt's logits exist) and its timestamps for the latency metrics.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;

use crate::choice_output::ChoiceOutput;
use crate::{Event, RequestId, TokenLogprob};

/// The prompt logprobs of a request that asked for them, gathered step by step.
pub struct PromptLogprobs {
    /// Alternatives per position.
    pub top_n: usize,
    pub first_token: u32,
    /// `[prompt positions computed so far - 1]`: entry `i` for prompt token `i + 1`.
    pub entries: Vec<TokenLogprob>,
    /// `Event::PromptLogprobs` is sent.
    pub sent: bool,
}

pub struct RequestGroup {
    pub tx: UnboundedSender<Event>,
    /// `[n]`: the scheduler request of each choice; `None` until forked.
    pub ids: Vec<Option<RequestId>>,
    /// `[n]`
    pub choices: Vec<ChoiceOutput>,
    pub num_prompt_tokens: usize,
    pub submitted_at: Instant,
    /// Scheduled at least once (its queue slot is released).
    pub admitted: bool,
    /// Choices 1.. exist.
    pub forked: bool,
    pub first_token_sent: bool,
    pub prompt_logprobs: Option<PromptLogprobs>,
}

impl RequestGroup {
    pub fn new(
        tx: UnboundedSender<Event>,
        parent: RequestId,
        choices: Vec<ChoiceOutput>,
        num_prompt_tokens: usize,
        submitted_at: Instant,
    ) -> Self {
        let mut ids = vec![None; choices.len()];
        if let Some(first) = ids.first_mut() {
            *first = Some(parent);
        }
        Self {
            tx,
            forked: choices.len() <= 1,
            ids,
            choices,
            num_prompt_tokens,
            submitted_at,
            admitted: false,
            first_token_sent: false,
            prompt_logprobs: None,
        }
    }

    /// Sends to the client; a gone client is noticed by `is_closed` at the next step.
    pub fn send(&self, ev: Event) {
        let _ = self.tx.send(ev);
    }

    /// Every choice has finished.
    pub fn is_done(&self) -> bool {
        self.choices.iter().all(|c| c.done)
    }

    /// The live scheduler requests of unfinished choices, with their choice index.
    pub fn live_ids(&self) -> impl Iterator<Item = (usize, RequestId)> + '_ {
        self.ids
            .iter()
            .zip(&self.choices)
            .enumerate()
            .filter_map(|(i, (id, c))| (!c.done).then_some((i, (*id)?)))
    }
}
