//! The engine: the request state machine and the token-budget scheduler over the paged KV pool
//! and the radix prefix cache (pure logic, below), and the runtime built on
//! `Scheduler::schedule` / `Scheduler::update_from_output`: the `Runner` (model + KV tensors, one
//! batched forward per step), per-choice output processing (sampling, logprobs, detokenization,
//! stop strings) and the engine thread behind `spawn` / `EngineHandle`.
//!
//! Serving (the model and tokenizer loaded elsewhere):
//!
//! ```no_run
//! # fn demo(model: Box<dyn models::Model>, tok: std::sync::Arc<tokenizer::Tokenizer>) -> Result<(), Box<dyn std::error::Error>> {
//! use engine::{EngineConfig, Event, GenerateRequest};
//! let engine = engine::spawn(model, tok.clone(), EngineConfig::default())?;
//! let mut req = GenerateRequest::new(tok.encode("Hello", false), 16);
//! req.stop_strings = vec!["\n\n".into()];
//! let mut stream = engine.submit(req)?; // QueueFull / TooLong / Invalid / ShuttingDown / EngineDead
//! while let Some(ev) = stream.recv_blocking() { // `stream.recv().await` in async code
//!     match ev {
//!         Event::Token { text, .. } => print!("{text}"),
//!         Event::Finished { reason, usage, .. } => println!("\n{reason:?} {usage:?}"),
//!         Event::Error(e) => eprintln!("{e}"),
//!         Event::PromptLogprobs { .. } => {} // only with `req.prompt_logprobs`
//!     }
//! }
//! print!("{}", engine.stats().render_prometheus("inferno"));
//! engine.shutdown(std::time::Instant::now() + std::time::Duration::from_secs(30));
//! engine.join();
//! # Ok(()) }
//! ```
//!
//! The scheduler alone (pure logic):
//!
//! ```
//! use engine::{NewRequest, RequestEvent, Scheduler, SchedulerConfig};
//! let cfg = SchedulerConfig { max_batched_tokens: 8, max_running: 4, max_waiting: 4,
//!     block_size: 4, num_blocks: 16, enable_prefix_cache: true, max_model_len: 64 };
//! let mut s = Scheduler::new(cfg)?;
//! let id = s.add_request(NewRequest { prompt: vec![1, 2, 3, 4, 5], max_tokens: 2,
//!     priority: 0, stop_token_ids: vec![0], prompt_logprobs: false }).expect("admitted");
//! let step = s.schedule()?; // the whole prompt fits the budget: positions 0..5, logits
//! assert_eq!(step.scheduled[0].range, 0..5);
//! assert!(step.scheduled[0].needs_logits);
//! let events = s.update_from_output(&step, &[(id, Some(7))])?;
//! assert_eq!(events, vec![RequestEvent::Token { id, token: 7 }]);
//! let step = s.schedule()?; // decode of token 7 at position 5
//! assert_eq!(step.scheduled[0].token_ids, vec![7]);
//! let events = s.update_from_output(&step, &[(id, Some(0))])?; // a stop token
//! assert!(matches!(events[1], RequestEvent::Finished { .. }));
//! # Ok::<(), engine::Error>(())
//! ```

mod audit;
mod choice_output;
mod config;
mod engine_config;
mod engine_loop;
mod error;
mod event;
mod fork;
mod generate_request;
mod handle;
mod metrics;
mod output;
mod preemption;
mod prefix_cache;
mod request;
mod request_group;
mod runner;
mod schedule_step;
mod scheduler;
mod stop_strings;

pub use choice_output::{ChoiceOutput, TokenEnd, TokenText};
pub use config::SchedulerConfig;
pub use engine_config::EngineConfig;
pub use error::{AddError, Error, SubmitError};
pub use event::{Event, TokenLogprob};
pub use generate_request::GenerateRequest;
pub use handle::{spawn, EngineHandle, RequestStream};
pub use kv::BlockCopy;
pub use metrics::{EngineStats, FinishedCounts, Histogram};
pub use output::{RequestEvent, ScheduledSeq, SchedulerOutput};
pub use request::{
    FinishReason, NewRequest, Request, RequestId, RequestStatus, Usage, PROMPT_LOGPROBS_CHUNK,
};
pub use runner::{Runner, StepLogits};
pub use scheduler::{Scheduler, SchedulerStats};
pub use stop_strings::{StopScan, StopStrings};
