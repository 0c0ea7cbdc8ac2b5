//! The routes and their layers: API-key check on `/v1/*` and the tokenizer routes (not on
//! `/health`, `/ready`, `/metrics`), the body limit, HTTP counters, OpenAI-shaped 404/405.

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::error::ApiError;
use crate::routes::{chat, completions, health, metrics, models, tokenize};
use crate::state::AppState;
use crate::{auth, http_metrics};

pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/completions", post(completions::completions))
        .route("/v1/models", get(models::list))
        .route("/v1/models/{model}", get(models::retrieve))
        .route("/tokenize", post(tokenize::tokenize))
        .route("/detokenize", post(tokenize::detokenize))
        .route_layer(middleware::from_fn_with_state(
            state.keys().clone(),
            auth::require_key,
        ));
    let open = Router::new()
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics));
    protected
        .merge(open)
        .fallback(no_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            http_metrics::count_requests,
        ))
        .with_state(state)
}

async fn no_route(req: Request) -> Response {
    ApiError::no_route(req.method().as_str(), req.uri().path()).into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::method_not_allowed().into_response()
}
