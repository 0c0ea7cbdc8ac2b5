//! The request body extractor: raw bytes under `--max-body-bytes` (413 beyond it, in OpenAI's
//! error shape), parsed afterwards by [`crate::request_fields::Fields`].

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;

use crate::error::ApiError;
use crate::state::AppState;

pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<RawBody, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::body_too_large(state.config().max_body_bytes))
            }
            Err(rej) => {
                let status = rej.status();
                let text = rej.body_text();
                let mut e = ApiError::invalid(format!("cannot read the request body: {text}"));
                if status.is_client_error() {
                    e.status = status;
                }
                // The rejection's own plain-text response is not used: errors are OpenAI-shaped.
                Err(e)
            }
        }
    }
}
