//! Errors: [`ApiError`] is what a client sees (OpenAI's `{"error": {message, type, param, code}}`
//! with its HTTP status); [`Error`] is what `run` returns to the binary.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered to a client in OpenAI's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// OpenAI's `type`: `invalid_request_error`, `authentication_error`, ...
    pub kind: &'static str,
    /// The request field at fault, when there is one.
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

/// The `error` object (also sent as an SSE `data:` event when a stream fails).
#[derive(Serialize)]
pub struct ErrorFields<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub param: Option<&'a str>,
    pub code: Option<&'a str>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
            kind,
            param: None,
            code: None,
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into());
        self
    }

    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// 400: a malformed body or a bad field value.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 400 naming the field.
    pub fn invalid_field(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::invalid(message).with_param(param)
    }

    /// 400 for a field inferno knows but does not implement (never silently ignored).
    pub fn unsupported_field(param: &str, what: &str) -> ApiError {
        ApiError::invalid(format!("'{param}' is not supported by this server: {what}"))
            .with_param(param)
            .with_code("unsupported_parameter")
    }

    /// 404 for a model this server does not serve.
    pub fn model_not_found(model: &str, served: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model '{model}' does not exist; this server serves '{served}'"),
        )
        .with_param("model")
        .with_code("model_not_found")
    }

    /// 401: a missing or wrong API key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "authentication_error", message)
            .with_code("invalid_api_key")
    }

    /// 413: a body over `--max-body-bytes`.
    pub fn body_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("the request body exceeds the server's limit of {limit} bytes"),
        )
        .with_code("request_too_large")
    }

    /// 429: the waiting queue is full.
    pub fn queue_full(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message)
            .with_code("queue_full")
    }

    /// 503: the model is still loading, failed to load, or the server is shutting down.
    pub fn unavailable(message: impl Into<String>, code: &'static str) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", message).with_code(code)
    }

    /// 500: the engine failed the request.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", message)
    }

    /// 404 for a path no route serves.
    pub fn no_route(method: &str, path: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("no route for {method} {path}"),
        )
        .with_code("unknown_url")
    }

    /// 405 for a known path with the wrong method.
    pub fn method_not_allowed() -> ApiError {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method not allowed on this path",
        )
    }

    pub fn fields(&self) -> ErrorFields<'_> {
        ErrorFields {
            message: &self.message,
            kind: self.kind,
            param: self.param.as_deref(),
            code: self.code,
        }
    }

    /// The JSON body, `{"error": {...}}`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&ErrorBody {
            error: self.fields(),
        })
        .unwrap_or_else(|_| {
            String::from(
                r#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#,
            )
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            self.to_json(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        res
    }
}

/// What [`crate::run`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("loading the model failed: {0}")]
    Load(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_error_shape() {
        let e = ApiError::invalid_field("temperature", "must be >= 0");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "must be >= 0", "type": "invalid_request_error",
                "param": "temperature", "code": null}})
        );
        let e = ApiError::model_not_found("gpt-4", "smol");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
    }
}
