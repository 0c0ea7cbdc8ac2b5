//! `GET /metrics`: Prometheus text (the engine's gauges, counters and latency histograms, the
//! HTTP request counters, and whether the server is ready). Open, like vLLM's.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

pub const PREFIX: &str = "inferno";

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut out = String::new();
    out.push_str(&format!(
        "# HELP {PREFIX}_server_ready 1 when the model is loaded and serving.\n\
         # TYPE {PREFIX}_server_ready gauge\n{PREFIX}_server_ready {}\n",
        u8::from(state.readiness().is_ok())
    ));
    if let Some(model) = state.model_any_phase() {
        out.push_str(&model.engine.stats().render_prometheus(PREFIX));
    }
    out.push_str(&state.http().render(PREFIX));
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out,
    )
        .into_response()
}
