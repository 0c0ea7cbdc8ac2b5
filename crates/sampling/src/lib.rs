//! Sampler chain: temperature, top-k, top-p, min-p, penalties, logit bias, seeded RNG, logprobs.
//!
//! ```
//! use sampling::{Sampler, SamplerConfig};
//! let mut s = Sampler::new(SamplerConfig { seed: Some(7), top_k: 2, ..SamplerConfig::default() })?;
//! let id = s.sample(&[0.1, 2.0, 1.5, -3.0], &[]);
//! assert!(id == 1 || id == 2);
//! # Ok::<(), sampling::Error>(())
//! ```

mod candidates;
mod config;
mod context;
mod draw;
mod error;
mod greedy;
mod logit_bias;
mod logprobs;
mod mass_select;
mod min_p;
mod penalties;
mod rng;
mod sampler;
mod temperature;
mod top_k;
mod top_p;

pub use config::SamplerConfig;
pub use context::SamplingContext;
pub use error::Error;
pub use greedy::argmax;
pub use logprobs::{log_sum_exp, logprobs, TokenLogprobs};
pub use rng::{splitmix64, Rng};
pub use sampler::Sampler;
