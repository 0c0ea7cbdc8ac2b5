//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::body::RawBody;
use crate::chat_output::{assemble, ChatStreamRenderer, ResponseMeta};
use crate::chat_prompt::ChatPrompt;
use crate::error::ApiError;
use crate::generation::{include_usage, parse_generation, stream_response};
use crate::progress::Progress;
use crate::reasoning::ReasoningSplitter;
use crate::request_fields::Fields;
use crate::state::AppState;
use crate::stream_driver::collect;
use crate::submit::submit_all;
use crate::unsupported::Endpoint;

pub async fn chat_completions(State(state): State<AppState>, RawBody(body): RawBody) -> Response {
    match handle(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, body: &[u8]) -> Result<Response, ApiError> {
    let (model, f, params) = parse_generation(&state, body, Endpoint::Chat)?;
    let logprobs = chat_logprobs(&f, model.max_logprobs)?;
    let (text, prompt) = ChatPrompt::parse(&f)?.tokenize(&model).await?;
    let splitter = ReasoningSplitter::for_prompt(model.reasoning, &text);
    let req = params.request(prompt, "messages", model.max_model_len, logprobs)?;
    let streams = submit_all(&model, vec![req])?;
    let meta = ResponseMeta::new("chatcmpl", &state.config().model_name);
    let progress = Progress::new(1, params.n);
    if params.stream {
        let include_usage = include_usage(&state, &params);
        let renderer = ChatStreamRenderer::new(
            meta,
            model.tokenizer.clone(),
            params.n,
            splitter,
            logprobs.is_some(),
            include_usage,
        );
        return Ok(stream_response(
            &state,
            streams,
            progress,
            renderer,
            include_usage,
        ));
    }
    let (pieces, usage) = collect(streams, progress).await?;
    let out = assemble(
        meta,
        &model.tokenizer,
        pieces,
        usage,
        params.n,
        &splitter,
        logprobs.is_some(),
    );
    Ok(Json(out).into_response())
}

/// `logprobs: true` and `top_logprobs: k` → the engine's top-k (0 = the chosen token only).
fn chat_logprobs(f: &Fields, max: usize) -> Result<Option<usize>, ApiError> {
    let on = f.take::<bool>("logprobs")?.unwrap_or(false);
    let top = f.take::<usize>("top_logprobs")?;
    match (on, top) {
        (false, Some(_)) => Err(ApiError::invalid_field(
            "top_logprobs",
            "'top_logprobs' requires 'logprobs': true",
        )),
        (true, Some(k)) if k > max => Err(ApiError::invalid_field(
            "top_logprobs",
            format!("'top_logprobs' = {k} exceeds the maximum of {max}"),
        )),
        (true, k) => Ok(Some(k.unwrap_or(0))),
        (false, None) => Ok(None),
    }
}
