//! The OpenAI-compatible HTTP server (axum + tokio) in front of the engine.
//!
//! Routes: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`,
//! `GET /v1/models/{model}`, `POST /tokenize`, `POST /detokenize` (API key checked), and the
//! open `GET /health`, `GET /ready`, `GET /metrics`. The server listens before the model is
//! loaded (inference routes answer 503 until then), drops a request's engine stream when its
//! client goes away (the engine aborts it), and drains on SIGTERM/SIGINT.
//!
//! Entry points: [`run`] (own runtime, OS signals) and [`serve_on`] (a bound listener and any
//! shutdown future, for tests).

mod auth;
mod body;
mod chat_output;
mod chat_prompt;
mod completion_output;
mod config;
mod error;
mod event_source;
mod generation;
mod http_metrics;
mod logprobs;
mod model_field;
mod openai_types;
mod params;
mod progress;
mod reasoning;
mod request_fields;
mod request_id;
mod router;
mod routes;
mod serve;
mod sse;
mod state;
mod stream_driver;
mod submit;
mod unsupported;

pub use auth::ApiKeys;
pub use config::ServerConfig;
pub use error::{ApiError, Error};
pub use reasoning::{ReasoningSplitter, Split};
pub use router::router;
pub use serve::{run, serve_on, shutdown_signal};
pub use state::{AppState, LoadedModel};
