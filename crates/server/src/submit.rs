//! Handing requests to the engine, and the engine's refusals as HTTP errors.

use engine::{GenerateRequest, RequestStream, SubmitError};

use crate::error::ApiError;
use crate::state::Model;

pub fn submit_error(e: SubmitError) -> ApiError {
    match e {
        SubmitError::QueueFull => {
            ApiError::queue_full("the server's waiting queue is full; retry later")
        }
        e @ SubmitError::TooLong { .. } => ApiError::invalid_field("max_tokens", e.to_string())
            .with_code("context_length_exceeded"),
        SubmitError::Invalid(m) => ApiError::invalid(m),
        SubmitError::ShuttingDown => {
            ApiError::unavailable("the server is shutting down", "shutting_down")
        }
        SubmitError::EngineDead => ApiError::unavailable(
            "the engine has failed; the server must be restarted",
            "engine_failed",
        ),
    }
}

/// Submits every request, or none: on a refusal the streams already obtained are dropped
/// (which aborts those requests).
pub fn submit_all(
    model: &Model,
    reqs: Vec<GenerateRequest>,
) -> Result<Vec<RequestStream>, ApiError> {
    reqs.into_iter()
        .map(|r| model.engine.submit(r).map_err(submit_error))
        .collect()
}
