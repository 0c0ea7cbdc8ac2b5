//! Server-sent events: the frames (`data: {json}\n\n`, `data: [DONE]\n\n`, `: keep-alive\n\n`)
//! and a response body fed through a channel by the task that drives generation. When the
//! client goes away hyper drops the body, the channel closes, and that task sees
//! [`SseSender::closed`] and drops its engine stream (which aborts the request).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use http_body::Frame;
use serde::Serialize;
use tokio::sync::mpsc;

/// `data: <json>\n\n`.
pub fn data_frame<T: Serialize>(value: &T) -> Bytes {
    let mut buf = b"data: ".to_vec();
    // Serializing our own response types cannot fail (no maps with non-string keys).
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.extend_from_slice(b"{}");
    }
    buf.extend_from_slice(b"\n\n");
    Bytes::from(buf)
}

pub fn done_frame() -> Bytes {
    Bytes::from_static(b"data: [DONE]\n\n")
}

/// A comment line: clients ignore it; it keeps proxies and client timeouts from closing a
/// connection during a long prefill.
pub fn keep_alive_frame() -> Bytes {
    Bytes::from_static(b": keep-alive\n\n")
}

/// The producing half.
pub struct SseSender {
    tx: mpsc::Sender<Bytes>,
}

impl SseSender {
    /// Sends a frame; `false` when the client is gone.
    pub async fn send(&self, frame: Bytes) -> bool {
        self.tx.send(frame).await.is_ok()
    }

    /// Resolves when the client is gone (the body was dropped).
    pub async fn closed(&self) {
        self.tx.closed().await
    }
}

/// The response body: frames as they come, the end when the sender is dropped.
pub struct SseBody {
    rx: mpsc::Receiver<Bytes>,
}

impl http_body::Body for SseBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|f| f.map(|b| Ok(Frame::data(b))))
    }
}

/// A channel pair; a few frames of buffer so generation is not slowed by a slow reader but a
/// stalled reader applies back-pressure.
pub fn channel() -> (SseSender, SseBody) {
    let (tx, rx) = mpsc::channel(64);
    (SseSender { tx }, SseBody { rx })
}

/// The `text/event-stream` response around `body`.
pub fn response(body: SseBody) -> Response {
    let mut res = Response::new(Body::new(body));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        assert_eq!(
            &data_frame(&serde_json::json!({"a": "x\ny"}))[..],
            b"data: {\"a\":\"x\\ny\"}\n\n"
        );
        assert_eq!(&done_frame()[..], b"data: [DONE]\n\n");
        assert!(keep_alive_frame().starts_with(b":"));
    }

    #[tokio::test]
    async fn body_ends_when_sender_drops_and_sender_sees_a_dropped_body() {
        let (tx, body) = channel();
        assert!(tx.send(done_frame()).await);
        drop(tx);
        let bytes = axum::body::to_bytes(Body::new(body), 1024).await.unwrap();
        assert_eq!(&bytes[..], b"data: [DONE]\n\n");

        let (tx, body) = channel();
        drop(body);
        tx.closed().await;
        assert!(!tx.send(done_frame()).await);
    }
}
