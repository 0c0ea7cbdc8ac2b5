//! `POST /v1/chat/completions`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::body::RawBody;
use crate::chat_output::{assemble, ChatStreamRenderer, ResponseMeta};
use crate::chat_prompt::ChatPrompt;
use crate::error::ApiError;
use crate::model_field::check_model;
use crate::openai_types::unix_now;
use crate::params::{GenParams, Limits};
use crate::progress::Progress;
use crate::reasoning::ReasoningSplitter;
use crate::request_fields::Fields;
use crate::request_id::new_id;
use crate::sse;
use crate::state::AppState;
use crate::stream_driver::{collect, drive, StreamSetup};
use crate::submit::submit_all;
use crate::unsupported::{reject_unsupported, Endpoint};

pub async fn chat_completions(State(state): State<AppState>, RawBody(body): RawBody) -> Response {
    match handle(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, body: &[u8]) -> Result<Response, ApiError> {
    let model = state.model()?;
    let f = Fields::parse(body)?;
    let served = &state.config().model_name;
    check_model(&f, served, true)?;
    reject_unsupported(&f, Endpoint::Chat)?;
    let params = GenParams::parse(
        &f,
        &Limits {
            vocab_size: model.vocab_size,
            max_n: model.max_n,
        },
    )?;
    let logprobs = chat_logprobs(&f, model.max_logprobs)?;
    let (text, prompt) = ChatPrompt::parse(&f)?.tokenize(&model).await?;
    let splitter = ReasoningSplitter::for_prompt(model.reasoning, &text);
    let req = params.request(prompt, "messages", model.max_model_len, logprobs)?;
    let streams = submit_all(&model, vec![req])?;
    let meta = ResponseMeta {
        id: new_id("chatcmpl"),
        created: unix_now(),
        model: served.clone(),
    };
    let progress = Progress::new(1, params.n);
    if params.stream {
        let include_usage = params.include_usage || state.config().always_include_usage;
        let renderer = ChatStreamRenderer::new(
            meta,
            model.tokenizer.clone(),
            params.n,
            splitter,
            logprobs.is_some(),
            include_usage,
        );
        let (tx, body) = sse::channel();
        let setup = StreamSetup {
            include_usage,
            keep_alive: state.config().keep_alive_interval,
        };
        tokio::spawn(drive(streams, progress, renderer, setup, tx));
        return Ok(sse::response(body));
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
