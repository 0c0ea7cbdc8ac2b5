//! The request plumbing `/v1/chat/completions` and `/v1/completions` share: parsing the common
//! part of the body, and answering with a stream. Each route keeps its own prompt, its renderer
//! and its whole-response assembly.

use std::sync::Arc;

use axum::response::Response;
use engine::RequestStream;

use crate::error::ApiError;
use crate::model_field::check_model;
use crate::params::{GenParams, Limits};
use crate::progress::Progress;
use crate::request_fields::Fields;
use crate::sse;
use crate::state::{AppState, Model};
use crate::stream_driver::{drive, ChunkRenderer, StreamSetup};
use crate::unsupported::{reject_unsupported, Endpoint};

/// The loaded model, the body's fields (the route takes its own ones next) and the generation
/// parameters, once the model name and the unsupported fields are checked.
pub fn parse_generation(
    state: &AppState,
    body: &[u8],
    endpoint: Endpoint,
) -> Result<(Arc<Model>, Fields, GenParams), ApiError> {
    let model = state.model()?;
    let f = Fields::parse(body)?;
    check_model(&f, &state.config().model_name, true)?;
    reject_unsupported(&f, endpoint)?;
    let params = GenParams::parse(
        &f,
        &Limits {
            vocab_size: model.vocab_size,
            max_n: model.max_n,
        },
    )?;
    Ok((model, f, params))
}

/// Whether a stream ends with a usage chunk: asked for, or always (`--always-include-usage`).
pub fn include_usage(state: &AppState, params: &GenParams) -> bool {
    params.include_usage || state.config().always_include_usage
}

/// The SSE response; a task renders the engine's events through `renderer` until the end or
/// until the client is gone.
pub fn stream_response<R: ChunkRenderer + 'static>(
    state: &AppState,
    streams: Vec<RequestStream>,
    progress: Progress,
    renderer: R,
    include_usage: bool,
) -> Response {
    let (tx, body) = sse::channel();
    let setup = StreamSetup {
        include_usage,
        keep_alive: state.config().keep_alive_interval,
    };
    tokio::spawn(drive(streams, progress, renderer, setup, tx));
    sse::response(body)
}
