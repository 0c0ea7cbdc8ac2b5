//! API keys: `Authorization: Bearer <key>` checked against every configured key in constant time
//! (the comparison's duration depends on neither where a key differs nor which key matched).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The accepted keys; empty means no authentication.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Arc<Vec<Vec<u8>>>,
}

impl ApiKeys {
    /// Keys as given on the command line: each entry may hold several, comma separated; blanks
    /// are dropped.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> ApiKeys {
        let keys = entries
            .iter()
            .flat_map(|e| e.as_ref().split(','))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| k.as_bytes().to_vec())
            .collect();
        ApiKeys {
            keys: Arc::new(keys),
        }
    }

    pub fn is_enabled(&self) -> bool {
        !self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `candidate` equals one of the keys. Every key is compared, each over the
    /// candidate's full length, without early exit.
    pub fn accepts(&self, candidate: &[u8]) -> bool {
        let mut any = 0u8;
        for key in self.keys.iter() {
            any |= constant_time_eq(key, candidate) as u8;
        }
        any == 1
    }

    /// The check for one request's headers.
    pub fn check(&self, authorization: Option<&[u8]>) -> Result<(), ApiError> {
        if !self.is_enabled() {
            return Ok(());
        }
        let Some(value) = authorization else {
            return Err(ApiError::unauthorized(
                "missing API key: send 'Authorization: Bearer <key>'",
            ));
        };
        let token = strip_bearer(value).ok_or_else(|| {
            ApiError::unauthorized("malformed Authorization header: expected 'Bearer <key>'")
        })?;
        if self.accepts(token) {
            Ok(())
        } else {
            Err(ApiError::unauthorized("invalid API key"))
        }
    }
}

/// The token after a case-insensitive `Bearer ` prefix.
fn strip_bearer(value: &[u8]) -> Option<&[u8]> {
    const PREFIX: &[u8] = b"bearer ";
    let head = value.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let token = value.get(PREFIX.len()..)?.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Equality whose time depends only on `candidate.len()`: the key is read cyclically, and the
/// length difference is folded into the result.
fn constant_time_eq(key: &[u8], candidate: &[u8]) -> bool {
    let mut diff = (key.len() ^ candidate.len()) as u64;
    if key.is_empty() {
        return false;
    }
    for (i, &c) in candidate.iter().enumerate() {
        let k = key.get(i % key.len()).copied().unwrap_or(0);
        diff |= u64::from(k ^ c);
    }
    std::hint::black_box(diff) == 0
}

/// Middleware for the protected routes.
pub async fn require_key(State(keys): State<ApiKeys>, req: Request, next: Next) -> Response {
    let header = req.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
    match keys.check(header) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_and_compare() {
        let keys = ApiKeys::new(&["a1, b22", "", "c333"]);
        assert_eq!(keys.len(), 3);
        for good in ["a1", "b22", "c333"] {
            assert!(keys.accepts(good.as_bytes()), "{good}");
        }
        for bad in ["", "a", "a11", "b2", "c33 ", "A1", "a1,b22"] {
            assert!(!keys.accepts(bad.as_bytes()), "{bad:?}");
        }
        assert!(keys.check(Some(b"Bearer b22")).is_ok());
        assert!(keys.check(Some(b"bearer  c333 ")).is_ok());
        assert!(keys.check(Some(b"Bearer nope")).is_err());
        assert!(keys.check(Some(b"b22")).is_err());
        assert!(keys.check(Some(b"Bearer ")).is_err());
        assert!(keys.check(None).is_err());
        let open = ApiKeys::new::<&str>(&[]);
        assert!(!open.is_enabled());
        assert!(open.check(None).is_ok());
    }
}
