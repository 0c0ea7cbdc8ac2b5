//! `GET /v1/models` and `GET /v1/models/{model}`: the one served model, with its real
//! per-request context (`max_model_len`).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::error::ApiError;
use crate::openai_types::{ModelCard, ModelList};
use crate::state::AppState;

fn card(state: &AppState) -> Result<ModelCard, ApiError> {
    let model = state.model()?;
    Ok(ModelCard {
        id: state.config().model_name.clone(),
        object: "model",
        created: state.created(),
        owned_by: "inferno",
        max_model_len: model.max_model_len,
    })
}

pub async fn list(State(state): State<AppState>) -> Response {
    match card(&state) {
        Ok(c) => Json(ModelList {
            object: "list",
            data: vec![c],
        })
        .into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn retrieve(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let served = &state.config().model_name;
    if id != *served {
        return ApiError::model_not_found(&id, served).into_response();
    }
    match card(&state) {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}
