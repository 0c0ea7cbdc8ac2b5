//! The task behind a streaming response: reads the engine's events, renders them as SSE
//! frames, sends `: keep-alive` comments while nothing happens (long prefill), and ends with
//! the usage chunk (when asked for) and `data: [DONE]`. When the client goes away it returns at
//! once, dropping the event sources, which aborts their requests in the engine.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use axum::body::Bytes;
use engine::Event;
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

/// Drives the stream to its end (or until the client is gone). Every prompt's events are read
/// as they come (all are submitted, so the engine runs them together): their chunks
/// interleave, each with its own choice index.
pub async fn drive<S: EventSource + 'static, R: ChunkRenderer>(
    sources: Vec<S>,
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
    let mut events = Merged::new(sources);
    loop {
        // `Merged::next` is cancel-safe: a keep-alive loses no event.
        let next = tokio::select! {
            biased;
            _ = tx.closed() => return,
            next = events.next() => next,
            _ = sleep_until(last_sent + setup.keep_alive) => {
                if !tx.send(keep_alive_frame()).await {
                    return;
                }
                last_sent = Instant::now();
                continue;
            }
        };
        let Some((prompt, event)) = next else {
            break;
        };
        let piece = match event {
            Some(ev) => progress.on_event(prompt, ev),
            None => match progress.end_of_prompt(prompt) {
                Ok(()) => continue,
                Err(e) => Err(e),
            },
        };
        let piece = match piece {
            Ok(piece) => piece,
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
pub async fn collect<S: EventSource + 'static>(
    sources: Vec<S>,
    mut progress: Progress,
) -> Result<(Vec<Piece>, Usage), ApiError> {
    let mut pieces = Vec::new();
    let mut events = Merged::new(sources);
    while let Some((prompt, event)) = events.next().await {
        match event {
            Some(ev) => pieces.push(progress.on_event(prompt, ev)?),
            None => progress.end_of_prompt(prompt)?,
        }
    }
    Ok((pieces, progress.usage()))
}

/// One source's next event, owning the source while it waits.
type Reading<S> = Pin<Box<dyn Future<Output = (usize, S, Option<Event>)> + Send>>;

/// Every prompt's event source read at once.
struct Merged<S> {
    reading: Vec<Reading<S>>,
}

impl<S: EventSource + 'static> Merged<S> {
    fn new(sources: Vec<S>) -> Self {
        Merged {
            reading: sources
                .into_iter()
                .enumerate()
                .map(|(i, s)| Self::read(i, s))
                .collect(),
        }
    }

    fn read(prompt: usize, mut source: S) -> Reading<S> {
        Box::pin(async move {
            let ev = source.next_event().await;
            (prompt, source, ev)
        })
    }

    /// The next event of any prompt, as `(prompt, Some(event))`; `(prompt, None)` once when a
    /// prompt's stream ends (its source is then dropped); `None` when every one has ended.
    /// Cancel-safe: the pending reads live in `self`.
    async fn next(&mut self) -> Option<(usize, Option<Event>)> {
        let (prompt, source, ev) =
            poll_fn(|cx| {
                let ready = self.reading.iter_mut().enumerate().find_map(|(k, r)| {
                    match r.as_mut().poll(cx) {
                        Poll::Ready(out) => Some((k, out)),
                        Poll::Pending => None,
                    }
                });
                match ready {
                    Some((k, out)) => {
                        // Finished futures are never polled again; the next read goes to the back
                        // so that busy prompts take turns.
                        drop(self.reading.swap_remove(k));
                        Poll::Ready(Some(out))
                    }
                    None if self.reading.is_empty() => Poll::Ready(None),
                    None => Poll::Pending,
                }
            })
            .await?;
        if ev.is_some() {
            self.reading.push(Self::read(prompt, source));
        }
        Some((prompt, ev))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use engine::{Event, FinishReason};

    use super::*;
    use crate::sse::channel;

    /// Events after delays; records being dropped (= the engine request aborted).
    struct Scripted {
        script: VecDeque<(Duration, Event)>,
        dropped: Arc<AtomicBool>,
    }

    impl EventSource for Scripted {
        async fn next_event(&mut self) -> Option<Event> {
            let (delay, ev) = self.script.pop_front()?;
            tokio::time::sleep(delay).await;
            Some(ev)
        }
    }

    impl Drop for Scripted {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    fn token(text: &str) -> Event {
        Event::Token {
            choice: 0,
            token: 1,
            text: text.into(),
            logprob: None,
        }
    }

    fn finished() -> Event {
        Event::Finished {
            choice: 0,
            reason: FinishReason::Stop,
            matched_stop: None,
            usage: engine::Usage {
                prompt_tokens: 3,
                completion_tokens: 2,
                cached_tokens: 0,
            },
        }
    }

    /// Text frames as `t:<text>`, finishes as `f:<reason>`.
    struct Plain;

    impl ChunkRenderer for Plain {
        fn start(&mut self) -> Vec<Bytes> {
            vec![Bytes::from_static(b"start\n\n")]
        }
        fn piece(&mut self, piece: Piece) -> Vec<Bytes> {
            vec![match piece {
                Piece::Token { text, .. } => Bytes::from(format!("t:{text}\n\n")),
                Piece::Finished { reason, .. } => Bytes::from(format!("f:{reason}\n\n")),
                Piece::PromptLogprobs { .. } => Bytes::from_static(b"p\n\n"),
            }]
        }
        fn usage(&mut self, usage: Usage) -> Bytes {
            Bytes::from(format!("u:{}\n\n", usage.total_tokens))
        }
    }

    fn source(script: Vec<(u64, Event)>) -> (Scripted, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let s = Scripted {
            script: script
                .into_iter()
                .map(|(ms, e)| (Duration::from_millis(ms), e))
                .collect(),
            dropped: Arc::clone(&dropped),
        };
        (s, dropped)
    }

    async fn run(script: Vec<(u64, Event)>, include_usage: bool) -> String {
        let (src, _) = source(script);
        let (tx, body) = channel();
        let setup = StreamSetup {
            include_usage,
            keep_alive: Duration::from_millis(100),
        };
        tokio::spawn(drive(vec![src], Progress::new(1, 1), Plain, setup, tx));
        let bytes = axum::body::to_bytes(axum::body::Body::new(body), 1 << 20)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_comments_during_silence() {
        // 350 ms of silence (a long prefill), then tokens.
        let out = run(
            vec![(350, token("a")), (10, token("b")), (0, finished())],
            true,
        )
        .await;
        assert_eq!(
            out,
            "start\n\n: keep-alive\n\n: keep-alive\n\n: keep-alive\n\nt:a\n\nt:b\n\nf:stop\n\nu:5\n\ndata: [DONE]\n\n"
        );
        let out = run(vec![(0, token("a")), (0, finished())], false).await;
        assert_eq!(out, "start\n\nt:a\n\nf:stop\n\ndata: [DONE]\n\n");
    }

    #[tokio::test(start_paused = true)]
    async fn several_prompts_interleave_as_their_events_come() {
        let (a, _) = source(vec![(10, token("a1")), (20, token("a2")), (0, finished())]);
        let (b, _) = source(vec![(15, token("b1")), (20, token("b2")), (0, finished())]);
        let (tx, body) = channel();
        let setup = StreamSetup {
            include_usage: true,
            keep_alive: Duration::from_secs(1000),
        };
        tokio::spawn(drive(vec![a, b], Progress::new(2, 1), Plain, setup, tx));
        let bytes = axum::body::to_bytes(axum::body::Body::new(body), 1 << 20)
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8(bytes.to_vec()).unwrap(),
            "start\n\nt:a1\n\nt:b1\n\nt:a2\n\nf:stop\n\nt:b2\n\nf:stop\n\nu:10\n\ndata: [DONE]\n\n"
        );
        // Not streaming: the same pieces in the same order.
        let (a, _) = source(vec![(10, token("a1")), (20, token("a2")), (0, finished())]);
        let (b, _) = source(vec![(15, token("b1")), (20, token("b2")), (0, finished())]);
        let (pieces, usage) = collect(vec![a, b], Progress::new(2, 1)).await.unwrap();
        let texts: Vec<String> = pieces
            .iter()
            .map(|p| match p {
                Piece::Token { index, text, .. } => format!("{index}:{text}"),
                Piece::Finished { index, .. } => format!("{index}:end"),
                Piece::PromptLogprobs { .. } => "prompt".into(),
            })
            .collect();
        assert_eq!(texts, ["0:a1", "1:b1", "0:a2", "0:end", "1:b2", "1:end"]);
        assert_eq!(usage, Usage::new(6, 4, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_end_the_stream_with_an_error_event() {
        let out = run(
            vec![(0, token("a")), (0, Event::Error("boom".into()))],
            true,
        )
        .await;
        assert!(
            out.starts_with("start\n\nt:a\n\ndata: {\"error\":{"),
            "{out}"
        );
        assert!(
            out.contains("boom") && out.ends_with("data: [DONE]\n\n"),
            "{out}"
        );
        // The engine closing the stream before the choice finished is an error too.
        let out = run(vec![(0, token("a"))], false).await;
        assert!(
            out.contains("\"error\"") && out.ends_with("data: [DONE]\n\n"),
            "{out}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn client_gone_drops_the_source_at_once() {
        // A source that would stay silent for an hour (a prefill that long).
        let (src, dropped) = source(vec![(3_600_000, token("late"))]);
        let (tx, body) = channel();
        let setup = StreamSetup {
            include_usage: false,
            keep_alive: Duration::from_secs(1000),
        };
        let task = tokio::spawn(drive(vec![src], Progress::new(1, 1), Plain, setup, tx));
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!dropped.load(Ordering::SeqCst));
        drop(body);
        tokio::time::timeout(Duration::from_millis(10), task)
            .await
            .expect("the driver returns when the client is gone")
            .unwrap();
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test(start_paused = true)]
    async fn collect_gathers_pieces_and_usage() {
        let (src, _) = source(vec![(5, token("a")), (5, token("b")), (0, finished())]);
        let (pieces, usage) = collect(vec![src], Progress::new(1, 1)).await.unwrap();
        assert_eq!(pieces.len(), 3);
        assert_eq!(usage, Usage::new(3, 2, 0));
        let (src, _) = source(vec![(5, token("a"))]);
        assert!(collect(vec![src], Progress::new(1, 1)).await.is_err());
    }
}
