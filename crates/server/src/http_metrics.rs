//! HTTP request counters by route template and status (bounded label sets: a path no route
//! matches counts as `other`, so arbitrary URLs cannot grow the table).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

#[derive(Default)]
pub struct HttpMetrics {
    /// (route, status) → requests answered.
    counts: Mutex<BTreeMap<(String, u16), u64>>,
    /// Requests whose handler is running (streams count until their headers are sent).
    in_flight: AtomicI64,
}

impl HttpMetrics {
    pub fn record(&self, route: &str, status: u16) {
        let mut c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *c.entry((route.to_string(), status)).or_insert(0) += 1;
    }

    /// Requests answered so far with `route` and `status`.
    pub fn count(&self, route: &str, status: u16) -> u64 {
        let c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        c.get(&(route.to_string(), status)).copied().unwrap_or(0)
    }

    /// Prometheus text for the counters.
    pub fn render(&self, prefix: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {prefix}_http_requests_total HTTP requests answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE {prefix}_http_requests_total counter");
        let c = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for ((route, status), n) in c.iter() {
            let _ = writeln!(
                out,
                "{prefix}_http_requests_total{{route=\"{}\",status=\"{status}\"}} {n}",
                escape_label(route)
            );
        }
        drop(c);
        let _ = writeln!(
            out,
            "# HELP {prefix}_http_requests_in_flight HTTP requests being handled."
        );
        let _ = writeln!(out, "# TYPE {prefix}_http_requests_in_flight gauge");
        let _ = writeln!(
            out,
            "{prefix}_http_requests_in_flight {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        out
    }
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware counting every answered request.
pub async fn count_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |m| m.as_str().to_string());
    let m = state.http();
    m.in_flight.fetch_add(1, Ordering::Relaxed);
    // Decrements even when the handler is dropped (client gone).
    let _guard = InFlight(&m.in_flight);
    let res = next.run(req).await;
    m.record(&route, res.status().as_u16());
    res
}

struct InFlight<'a>(&'a AtomicI64);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters() {
        let m = HttpMetrics::default();
        m.record("/v1/models", 200);
        m.record("/v1/models", 200);
        m.record("other", 404);
        let text = m.render("inferno");
        assert!(
            text.contains("inferno_http_requests_total{route=\"/v1/models\",status=\"200\"} 2\n")
        );
        assert!(text.contains("inferno_http_requests_total{route=\"other\",status=\"404\"} 1\n"));
        assert_eq!(m.count("/v1/models", 200), 2);
        assert_eq!(escape_label("a\"b\\"), "a\\\"b\\\\");
    }
}
