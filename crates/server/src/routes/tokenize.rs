//! `POST /tokenize` and `POST /detokenize` in vLLM's shapes:
//! `{"prompt" | "messages", "add_special_tokens", "add_generation_prompt", "return_token_strs"}`
//! → `{"count", "max_model_len", "tokens", "token_strs"}`; `{"tokens"}` → `{"prompt"}`.
//! `model` is optional here; when given it must be the served one.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::body::RawBody;
use crate::chat_prompt::ChatPrompt;
use crate::error::ApiError;
use crate::model_field::check_model;
use crate::request_fields::Fields;
use crate::state::AppState;

#[derive(Serialize)]
struct TokenizeResponse {
    count: usize,
    max_model_len: usize,
    tokens: Vec<u32>,
    token_strs: Option<Vec<String>>,
}

#[derive(Serialize)]
struct DetokenizeResponse {
    prompt: String,
}

pub async fn tokenize(State(state): State<AppState>, RawBody(body): RawBody) -> Response {
    match handle_tokenize(state, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn handle_tokenize(state: AppState, body: &[u8]) -> Result<Response, ApiError> {
    let model = state.model()?;
    let f = Fields::parse(body)?;
    check_model(&f, &state.config().model_name, false)?;
    let return_strs = f.take::<bool>("return_token_strs")?.unwrap_or(false);
    let tokens = match (f.raw("prompt"), f.raw("messages")) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "send either 'prompt' or 'messages', not both",
            ))
        }
        (Some(_), None) => {
            let text: String = f.require("prompt")?;
            let add_special = f.take::<bool>("add_special_tokens")?.unwrap_or(true);
            let m = model.clone();
            tokio::task::spawn_blocking(move || m.tokenizer.encode(&text, add_special))
                .await
                .map_err(|e| ApiError::internal(format!("tokenizing failed: {e}")))?
        }
        (None, Some(_)) => {
            // The chat template writes its own special tokens; add none unless asked.
            if f.take::<bool>("add_special_tokens")?.unwrap_or(false) {
                return Err(ApiError::unsupported_field(
                    "add_special_tokens",
                    "with 'messages' the template's text is tokenized as is",
                ));
            }
            ChatPrompt::parse(&f)?.tokenize(&model).await?.1
        }
        (None, None) => {
            return Err(ApiError::invalid_field(
                "prompt",
                "missing 'prompt' (or 'messages')",
            ))
        }
    };
    let token_strs = return_strs.then(|| {
        tokens
            .iter()
            .map(|&t| model.tokenizer.token_str(t).unwrap_or_default().to_string())
            .collect()
    });
    Ok(Json(TokenizeResponse {
        count: tokens.len(),
        max_model_len: model.max_model_len,
        tokens,
        token_strs,
    })
    .into_response())
}

pub async fn detokenize(State(state): State<AppState>, RawBody(body): RawBody) -> Response {
    match handle_detokenize(state, &body) {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

fn handle_detokenize(state: AppState, body: &[u8]) -> Result<Response, ApiError> {
    let model = state.model()?;
    let f = Fields::parse(body)?;
    check_model(&f, &state.config().model_name, false)?;
    let tokens: Vec<u32> = f.require("tokens")?;
    if let Some(t) = tokens.iter().find(|&&t| t as usize >= model.vocab_size) {
        return Err(ApiError::invalid_field(
            "tokens",
            format!(
                "token id {t} is out of range for a vocabulary of {} tokens",
                model.vocab_size
            ),
        ));
    }
    let prompt = model.tokenizer.decode(&tokens, false);
    Ok(Json(DetokenizeResponse { prompt }).into_response())
}
