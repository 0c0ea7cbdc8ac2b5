//! The engine's pure logic: the request state machine and the token-budget scheduler over the
//! paged KV pool and the radix prefix cache (no tensors; the runner and the engine thread build
//! on `Scheduler::schedule` / `Scheduler::update_from_output`).
//!
//! ```
//! use engine::{NewRequest, RequestEvent, Scheduler, SchedulerConfig};
//! let cfg = SchedulerConfig { max_batched_tokens: 8, max_running: 4, max_waiting: 4,
//!     block_size: 4, num_blocks: 16, enable_prefix_cache: true, max_model_len: 64 };
//! let mut s = Scheduler::new(cfg)?;
//! let id = s.add_request(NewRequest { prompt: vec![1, 2, 3, 4, 5], max_tokens: 2,
//!     priority: 0, stop_token_ids: vec![0] }).expect("admitted");
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
mod config;
mod error;
mod fork;
mod output;
mod preemption;
mod prefix_cache;
mod request;
mod schedule_step;
mod scheduler;

pub use config::SchedulerConfig;
pub use error::{AddError, Error};
pub use kv::BlockCopy;
pub use output::{RequestEvent, ScheduledSeq, SchedulerOutput};
pub use request::{FinishReason, NewRequest, Request, RequestId, RequestStatus, Usage};
pub use scheduler::{Scheduler, SchedulerStats};
