//! Errors of the engine crate.

use crate::RequestId;

/// Why a request was not accepted. `QueueFull` is the server's 429; the others are 400s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddError {
    #[error("the waiting queue is full ({max_waiting} requests); retry later")]
    QueueFull { max_waiting: usize },
    #[error(
        "prompt of {prompt_tokens} tokens plus max_tokens {max_tokens} exceeds the model's \
         context of {max_model_len} tokens"
    )]
    TooLong {
        prompt_tokens: usize,
        max_tokens: usize,
        max_model_len: usize,
    },
    #[error("the prompt has no tokens")]
    EmptyPrompt,
    #[error("max_tokens must be at least 1")]
    ZeroMaxTokens,
}

/// A misconfiguration, a misuse of the scheduler API, or a bookkeeping bug (`Kv`, `Audit`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid scheduler config: {field} {reason}")]
    InvalidConfig { field: &'static str, reason: String },
    #[error("request {id} is not waiting or running (finished, aborted or never added)")]
    UnknownRequest { id: RequestId },
    #[error("request {id} cannot be forked: {reason}")]
    ForkNotReady { id: RequestId, reason: &'static str },
    #[error("request {id} was scheduled at token {scheduled_at} but has computed {computed} (output of an older step?)")]
    StaleOutput {
        id: RequestId,
        scheduled_at: usize,
        computed: usize,
    },
    #[error("the previous step (scheduling {id}) was not reported back with update_from_output")]
    StepPending { id: RequestId },
    #[error("request {id} needed a sampled token this step and got none")]
    MissingSample { id: RequestId },
    #[error("KV bookkeeping: {0}")]
    Kv(#[from] kv::Error),
    #[error("scheduler audit failed: {0}")]
    Audit(String),
    /// The model or its KV cache failed (building the cache, or a forward pass).
    #[error("model: {0}")]
    Model(String),
    /// The engine thread could not be started.
    #[error("engine thread: {0}")]
    Thread(String),
}

/// Why `EngineHandle::submit` refused a request. `QueueFull` is the server's 429,
/// `ShuttingDown` and `EngineDead` its 503s, the others 400s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    #[error("the waiting queue is full; retry later")]
    QueueFull,
    #[error(
        "prompt of {prompt_tokens} tokens plus max_tokens {max_tokens} exceeds the model's \
         context of {max_model_len} tokens"
    )]
    TooLong {
        prompt_tokens: usize,
        max_tokens: usize,
        max_model_len: usize,
    },
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("the engine is shutting down")]
    ShuttingDown,
    #[error("the engine has failed and accepts no requests")]
    EngineDead,
}

impl From<AddError> for SubmitError {
    fn from(e: AddError) -> Self {
        match e {
            AddError::QueueFull { .. } => SubmitError::QueueFull,
            AddError::TooLong {
                prompt_tokens,
                max_tokens,
                max_model_len,
            } => SubmitError::TooLong {
                prompt_tokens,
                max_tokens,
                max_model_len,
            },
            AddError::EmptyPrompt | AddError::ZeroMaxTokens => SubmitError::Invalid(e.to_string()),
        }
    }
}
