//! `spawn` and `EngineHandle`: the only way into the engine thread. `submit` validates a request
//! and hands it over a channel without waiting for the engine (it never blocks, so async
//! handlers can call it); each request's events come back on its own `RequestStream`.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use tokenizer::Tokenizer;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::engine_loop::EngineLoop;
use crate::generate_request::Limits;
use crate::runner::Runner;
use crate::{EngineConfig, EngineStats, Error, Event, GenerateRequest, Scheduler, SubmitError};

/// The engine thread's lifecycle, as `Shared::state`.
pub(crate) const RUNNING: u8 = 0;
pub(crate) const SHUTTING_DOWN: u8 = 1;
pub(crate) const STOPPED: u8 = 2;
pub(crate) const DEAD: u8 = 3;

pub(crate) enum Command {
    Submit(Box<Submission>),
    /// Stop admitting; abort what is still running at `deadline`, then exit.
    Shutdown {
        deadline: Instant,
    },
}

pub(crate) struct Submission {
    pub req: GenerateRequest,
    pub tx: UnboundedSender<Event>,
    pub submitted_at: Instant,
}

/// What the handles and the engine thread share.
pub(crate) struct Shared {
    pub state: AtomicU8,
    /// Requests accepted by `submit` and not yet scheduled for the first time (in the channel
    /// or waiting in the scheduler).
    pub queued: AtomicUsize,
    /// Preempted sequences waiting again (they count against `max_waiting` too).
    pub preempted_waiting: AtomicUsize,
    pub stats: Mutex<EngineStats>,
}

impl Shared {
    pub fn state(&self) -> u8 {
        self.state.load(Ordering::SeqCst)
    }

    pub fn publish(&self, stats: &EngineStats) {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner) = stats.clone();
    }
}

/// A cheap, cloneable handle to the engine thread (Send + Sync).
#[derive(Clone)]
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
    cfg: Arc<EngineConfig>,
    limits: Limits,
}

/// The events of one request (`Event`s of all its choices, in order per choice). Ends (`None`)
/// after the last `Finished` or an `Error`. Dropping it, or `abort`, aborts the request at the
/// next step boundary (prefill or decode) and frees its KV blocks.
#[derive(Debug)]
pub struct RequestStream {
    rx: UnboundedReceiver<Event>,
}

impl RequestStream {
    /// The next event; `None` once the request is over.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }

    /// The next event, blocking the thread (not for use inside an async runtime).
    pub fn recv_blocking(&mut self) -> Option<Event> {
        self.rx.blocking_recv()
    }

    /// An event if one is ready.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.rx.try_recv().ok()
    }

    /// Aborts the request (as dropping the stream does); events already sent stay readable.
    pub fn abort(&mut self) {
        self.rx.close();
    }
}

/// Starts the engine thread over `model` (its KV cache sized by `cfg.scheduler`). Errors on a
/// bad scheduler config, a `max_model_len` beyond the model's positions, or a cache that
/// cannot be allocated.
pub fn spawn(
    model: Box<dyn models::Model>,
    tokenizer: Arc<Tokenizer>,
    cfg: EngineConfig,
) -> Result<EngineHandle, Error> {
    cfg.scheduler.validate()?;
    let mcfg = model.config();
    let vocab_size = mcfg.vocab_size;
    if cfg.scheduler.max_model_len > mcfg.max_position_embeddings {
        return Err(Error::InvalidConfig {
            field: "max_model_len",
            reason: format!(
                "= {} exceeds the model's {} positions",
                cfg.scheduler.max_model_len, mcfg.max_position_embeddings
            ),
        });
    }
    let mut eos: Vec<u32> = mcfg.eos_token_ids.clone();
    eos.extend_from_slice(tokenizer.eos_ids());
    eos.sort_unstable();
    eos.dedup();

    // `max_waiting` is enforced by `submit` (which must not wait for the engine thread).
    let mut sched_cfg = cfg.scheduler.clone();
    sched_cfg.max_waiting = usize::MAX;
    let sched = Scheduler::new(sched_cfg)?;
    let runner = Runner::with_kv_dtype(
        model,
        cfg.scheduler.num_blocks,
        cfg.scheduler.block_size,
        cfg.kv_dtype,
    )?;

    let shared = Arc::new(Shared {
        state: AtomicU8::new(RUNNING),
        queued: AtomicUsize::new(0),
        preempted_waiting: AtomicUsize::new(0),
        stats: Mutex::new(EngineStats::new(cfg.scheduler.num_blocks)),
    });
    let (tx, rx) = mpsc::channel();
    let engine = EngineLoop::new(sched, runner, tokenizer, eos, rx, Arc::clone(&shared));
    let thread = std::thread::Builder::new()
        .name("inferno-engine".into())
        .spawn(move || engine.run())
        .map_err(|e| Error::Thread(e.to_string()))?;
    let limits = Limits {
        vocab_size,
        max_model_len: cfg.scheduler.max_model_len,
        max_logprobs: cfg.max_logprobs,
        max_n: cfg.max_n,
    };
    Ok(EngineHandle {
        tx,
        shared,
        thread: Arc::new(Mutex::new(Some(thread))),
        cfg: Arc::new(cfg),
        limits,
    })
}

impl EngineHandle {
    /// Validates and queues a request. Never waits for the engine thread.
    pub fn submit(&self, req: GenerateRequest) -> Result<RequestStream, SubmitError> {
        match self.shared.state() {
            RUNNING => {}
            DEAD => return Err(SubmitError::EngineDead),
            _ => return Err(SubmitError::ShuttingDown),
        }
        req.validate(&self.limits)?;
        let max_waiting = self.cfg.scheduler.max_waiting;
        let preempted = self.shared.preempted_waiting.load(Ordering::SeqCst);
        self.shared
            .queued
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                (q.saturating_add(preempted) < max_waiting).then_some(q + 1)
            })
            .map_err(|_| SubmitError::QueueFull)?;
        let (tx, rx) = unbounded_channel();
        let sub = Submission {
            req,
            tx,
            submitted_at: Instant::now(),
        };
        if self.tx.send(Command::Submit(Box::new(sub))).is_err() {
            self.shared.queued.fetch_sub(1, Ordering::SeqCst);
            return Err(match self.shared.state() {
                DEAD => SubmitError::EngineDead,
                _ => SubmitError::ShuttingDown,
            });
        }
        Ok(RequestStream { rx })
    }

    /// A snapshot of the engine's metrics as of its last step.
    pub fn stats(&self) -> EngineStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a drain: `submit` refuses from now on, requests not yet started are aborted,
    /// running ones go on until they finish or `deadline` (then they are aborted), and the
    /// thread exits. Returns at once; `join` waits for the thread.
    pub fn shutdown(&self, deadline: Instant) {
        let _ = self.shared.state.compare_exchange(
            RUNNING,
            SHUTTING_DOWN,
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        let _ = self.tx.send(Command::Shutdown { deadline });
    }

    /// Waits for the engine thread to exit (after `shutdown`, or after it failed).
    pub fn join(&self) {
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            let _ = t.join();
        }
    }

    /// Whether the engine accepts requests (not shut down, not failed).
    pub fn is_alive(&self) -> bool {
        self.shared.state() == RUNNING
    }

    /// The engine failed (a step panicked or its bookkeeping broke).
    pub fn is_dead(&self) -> bool {
        self.shared.state() == DEAD
    }

    /// The engine thread has exited after a shutdown.
    pub fn is_stopped(&self) -> bool {
        self.shared.state() == STOPPED
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Prompt plus generated tokens of one request at most (the real per-request context).
    pub fn max_model_len(&self) -> usize {
        self.cfg.scheduler.max_model_len
    }

    pub fn block_size(&self) -> usize {
        self.cfg.scheduler.block_size
    }

    /// The model's vocabulary size (prompt ids must be below it).
    pub fn vocab_size(&self) -> usize {
        self.limits.vocab_size
    }
}

#[cfg(test)]
mod tests {
    /// Handlers on any thread share the handle; streams move into async tasks.
    #[test]
    fn handle_and_stream_can_cross_threads() {
        fn shared<T: Send + Sync + Clone>() {}
        fn sent<T: Send>() {}
        shared::<super::EngineHandle>();
        sent::<super::RequestStream>();
    }
}
