//! `GET /health` (liveness: always 200 while the process serves, no auth, no work) and
//! `GET /ready` (readiness: 200 once the model serves, 503 while loading, after a failed load,
//! or while shutting down).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::state::AppState;

pub async fn health() -> Response {
    Json(serde_json::json!({"status": "ok"})).into_response()
}

pub async fn ready(State(state): State<AppState>) -> Response {
    match state.readiness() {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(e) => e.into_response(),
    }
}
