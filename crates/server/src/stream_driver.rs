//! The task behind a streaming response: reads the engine's events, renders them as SSE
//! frames, sends `: keep-alive` comments while nothing happens (long prefill), and ends with
//! the usage chunk (when asked for) and `data: [DONE]`. When the client goes away it returns at
//! once, dropping the event sources, which aborts their requests in the engine.

use std::time::Duration;

use axum::body::Bytes;
use tokio::time::{sleep_until, Instant};

use crate::error::ApiError;
use crate::event_source::EventSource;
use crate::openai_types::Usage;
use crate::progress::{Piece, Progress};
use crate::sse::{data_frame, done_frame, keep_alive_frame, SseSender};

/// Turns pieces into the endpoint's chunk frames.
pub trait ChunkRenderer: Send {
    /// Frames before any event (chat: each choice's role; completions: echoed prompts).
    fn start(&mut self) -> Vec<Bytes>;
    fn piece(&mut self, piece: Piece) -> Vec<Bytes>;
    /// The final chunk with empty `choices` and the usage.
    fn usage(&mut self, usage: Usage) -> Bytes;
}

pub struct StreamSetup {
    pub include_usage: bool,
    pub keep_alive: Duration,
}

/// Drives the stream to its end (or until the client is gone). Prompts are read one after the
/// other (all are already submitted, so the engine runs them together).
pub async fn drive<S: EventSource, R: ChunkRenderer>(
    mut sources: Vec<S>,
    mut progress: Progress,
    mut renderer: R,
    setup: StreamSetup,
    tx: SseSender,
) {
    let mut last_sent = Instant::now();
    for frame in renderer.start() {
        if !tx.send(frame).await {
            return;
        }
    }
    for (prompt, source) in sources.iter_mut().enumerate() {
        loop {
            let event = tokio::select! {
                biased;
                _ = tx.closed() => return,
                ev = source.next_event() => ev,
                _ = sleep_until(last_sent + setup.keep_alive) => {
                    if !tx.send(keep_alive_frame()).await {
                        return;
                    }
                    last_sent = Instant::now();
                    continue;
                }
            };
            let result = match event {
                Some(ev) => progress.on_event(prompt, ev).map(Some),
                None => progress.end_of_prompt(prompt).map(|()| None),
            };
            let piece = match result {
                Ok(Some(piece)) => piece,
                Ok(None) => break,
                Err(e) => {
                    fail(&tx, &e).await;
                    return;
                }
            };
            for frame in renderer.piece(piece) {
                if !tx.send(frame).await {
                    return;
                }
                last_sent = Instant::now();
            }
        }
    }
    if setup.include_usage && !tx.send(renderer.usage(progress.usage())).await {
        return;
    }
    tx.send(done_frame()).await;
}

/// An error in the middle of a stream: one `data: {"error": ...}` event, then `[DONE]`.
async fn fail(tx: &SseSender, e: &ApiError) {
    tracing::warn!(error = %e.message, "stream failed");
    #[derive(serde::Serialize)]
    struct Wrapper<'a> {
        error: crate::error::ErrorFields<'a>,
    }
    if tx.send(data_frame(&Wrapper { error: e.fields() })).await {
        tx.send(done_frame()).await;
    }
}

/// A non-streaming request: every piece, then the usage (or the first error). Dropping the
/// future (client gone) drops the sources, which aborts the requests.
pub async fn collect<S: EventSource>(
    mut sources: Vec<S>,
    mut progress: Progress,
) -> Result<(Vec<Piece>, Usage), ApiError> {
    let mut pieces = Vec::new();
    for (prompt, source) in sources.iter_mut().enumerate() {
        while let Some(ev) = source.next_event().await {
            pieces.push(progress.on_event(prompt, ev)?);
        }
        progress.end_of_prompt(prompt)?;
    }
    Ok((pieces, progress.usage()))
}
