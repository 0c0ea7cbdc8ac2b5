//! `POST /v1/completions`: a prompt as text, a list of texts, token ids, or a list of token id
//! lists (one engine request per prompt, `n` choices each, indexed `prompt * n + choice`);
//! `echo` puts the prompt text before the completion.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::body::RawBody;
use crate::chat_output::ResponseMeta;
use crate::completion_output::{assemble, CompletionStreamRenderer};
use crate::error::ApiError;
use crate::generation::{include_usage, parse_generation, stream_response};
use crate::progress::Progress;
use crate::state::{AppState, Model};
use crate::stream_driver::collect;
use crate::submit::submit_all;
use crate::unsupported::Endpoint;

/// Most prompts in one request.
pub const MAX_PROMPTS: usize = 64;

#[derive(Deserialize)]
#[serde(untagged)]
enum PromptField {
    Text(String),
    Texts(Vec<String>),
    Ids(Vec<u32>),
    IdLists(Vec<Vec<u32>>),
}

/// One prompt: its ids and its text (for `echo`).
struct Prompt {
    ids: Vec<u32>,
    text: String,
}

pub async fn completions(State(state): State<AppState>, RawBody(body): RawBody) -> Response {
    match handle(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle(state: AppState, body: &[u8]) -> Result<Response, ApiError> {
    let (model, f, params) = parse_generation(&state, body, Endpoint::Completions)?;
    let echo = f.take::<bool>("echo")?.unwrap_or(false);
    let logprobs = f.take::<usize>("logprobs")?;
    if let Some(k) = logprobs.filter(|&k| k > model.max_logprobs) {
        return Err(ApiError::invalid_field(
            "logprobs",
            format!(
                "'logprobs' = {k} exceeds the maximum of {}",
                model.max_logprobs
            ),
        ));
    }
    let add_special = f.take::<bool>("add_special_tokens")?.unwrap_or(true);
    let field = f
        .take::<PromptField>("prompt")
        .map_err(|_| {
            ApiError::invalid_field(
                "prompt",
                "'prompt' must be a string, a list of strings, a list of token ids or a list of \
                 token id lists",
            )
        })?
        .ok_or_else(|| ApiError::invalid_field("prompt", "missing required field 'prompt'"))?;
    let prompts = tokenize_prompts(&model, field, add_special, echo).await?;
    // `echo` with `logprobs`: the prompt's tokens are rated too (their logits are computed,
    // so those prompts are not served from the prefix cache).
    let prompt_logprobs = logprobs.filter(|_| echo);
    let reqs = prompts
        .iter()
        .map(|p| {
            let mut req = params.request(p.ids.clone(), "prompt", model.max_model_len, logprobs)?;
            req.prompt_logprobs = prompt_logprobs;
            Ok(req)
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let streams = submit_all(&model, reqs)?;
    let echo_texts: Vec<String> = prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p.text.clone(), params.n))
        .collect();
    let meta = ResponseMeta::new("cmpl", &state.config().model_name);
    let progress = Progress::new(prompts.len(), params.n);
    if params.stream {
        let include_usage = include_usage(&state, &params);
        let renderer = CompletionStreamRenderer::new(
            meta,
            model.tokenizer.clone(),
            echo_texts,
            logprobs.is_some(),
            prompt_logprobs.is_some(),
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
        echo_texts,
        logprobs.is_some(),
    );
    Ok(Json(out).into_response())
}

/// Every prompt's ids (text encoded off the async workers) and, with `echo`, its text.
async fn tokenize_prompts(
    model: &Arc<Model>,
    field: PromptField,
    add_special: bool,
    echo: bool,
) -> Result<Vec<Prompt>, ApiError> {
    let n = match &field {
        PromptField::Text(_) | PromptField::Ids(_) => 1,
        PromptField::Texts(v) => v.len(),
        PromptField::IdLists(v) => v.len(),
    };
    if n == 0 {
        return Err(ApiError::invalid_field(
            "prompt",
            "'prompt' is an empty list",
        ));
    }
    if n > MAX_PROMPTS {
        return Err(ApiError::invalid_field(
            "prompt",
            format!("at most {MAX_PROMPTS} prompts per request"),
        ));
    }
    let m = Arc::clone(model);
    tokio::task::spawn_blocking(move || {
        let tok = &m.tokenizer;
        let from_text = |text: String| Prompt {
            ids: tok.encode(&text, add_special),
            text: if echo { text } else { String::new() },
        };
        let from_ids = |ids: Vec<u32>| -> Result<Prompt, ApiError> {
            if let Some(t) = ids.iter().find(|&&t| t as usize >= m.vocab_size) {
                return Err(ApiError::invalid_field(
                    "prompt",
                    format!(
                        "token id {t} is out of range for a vocabulary of {} tokens",
                        m.vocab_size
                    ),
                ));
            }
            let text = if echo {
                tok.decode(&ids, false)
            } else {
                String::new()
            };
            Ok(Prompt { ids, text })
        };
        match field {
            PromptField::Text(t) => Ok(vec![from_text(t)]),
            PromptField::Texts(v) => Ok(v.into_iter().map(from_text).collect()),
            PromptField::Ids(ids) => Ok(vec![from_ids(ids)?]),
            PromptField::IdLists(v) => v.into_iter().map(from_ids).collect(),
        }
    })
    .await
    .map_err(|e| ApiError::internal(format!("tokenizing the prompt failed: {e}")))?
}
