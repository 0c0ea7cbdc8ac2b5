//! The sampler chain of one sequence.
//!
//! Order (documented choice, the HF / vLLM one):
//!
//! 1. repetition penalty (prompt + generated),
//! 2. presence / frequency penalties (generated),
//! 3. logit bias — these three on the model's logits, by token id;
//!
//! then greedy argmax when `temperature == 0` or `top_k == 1`; otherwise
//!
//! 4. temperature, 5. top-k, 6. top-p, 7. min-p, 8. one draw from the seeded RNG.
//!
//! The bias comes after the penalties so the penalty formulas see the model's logits and a
//! ±100 bias still forces or bans a token whatever the penalties did.

use crate::candidates::Candidates;
use crate::config::SamplerConfig;
use crate::context::SamplingContext;
use crate::draw::draw;
use crate::greedy::argmax;
use crate::logit_bias::apply_logit_bias;
use crate::min_p::apply_min_p;
use crate::penalties::{apply_presence_frequency, apply_repetition};
use crate::rng::Rng;
use crate::temperature::apply_temperature;
use crate::top_k::apply_top_k;
use crate::top_p::apply_top_p;
use crate::Error;

/// Samples token ids for one sequence. Buffers are kept between calls: after the first call for
/// a given vocabulary size, sampling allocates nothing.
#[derive(Debug)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Rng,
    /// [vocab] logits after penalties and bias
    work: Vec<f32>,
    /// [vocab] penalty scratch, all zero between calls
    marks: Vec<u32>,
    cands: Candidates,
}

impl Sampler {
    /// Validates `cfg` (see [`SamplerConfig::validate`]) and seeds the RNG from `cfg.seed`
    /// (or from OS randomness when `None`).
    pub fn new(cfg: SamplerConfig) -> Result<Self, Error> {
        cfg.validate()?;
        let rng = match cfg.seed {
            Some(seed) => Rng::from_seed(seed),
            None => Rng::from_entropy(),
        };
        Ok(Self {
            cfg,
            rng,
            work: Vec::new(),
            marks: Vec::new(),
            cands: Candidates::default(),
        })
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Samples with `history` standing for everything so far. Equivalent to
    /// [`sample_with`](Self::sample_with) with `prompt: &[]` and `generated: history`, so presence
    /// and frequency penalties count all of `history`; use `sample_with` to count only the
    /// generated tokens (OpenAI semantics).
    ///
    /// Returns 0 for an empty or all-NaN row (a model bug); [`try_sample_with`](Self::try_sample_with)
    /// reports those as errors.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        self.sample_with(
            logits,
            &SamplingContext {
                prompt: &[],
                generated: history,
            },
        )
    }

    /// Samples one token id from `logits` (`[vocab]`). Returns 0 for an empty or all-NaN row.
    pub fn sample_with(&mut self, logits: &[f32], ctx: &SamplingContext<'_>) -> u32 {
        self.try_sample_with(logits, ctx).unwrap_or(0)
    }

    /// Whether stages 1–3 can change anything for this context.
    fn adjusts(&self, ctx: &SamplingContext<'_>) -> bool {
        let cfg = &self.cfg;
        let any_history = !ctx.prompt.is_empty() || !ctx.generated.is_empty();
        let penalties = (cfg.repetition_penalty != 1.0 && any_history)
            || ((cfg.presence_penalty != 0.0 || cfg.frequency_penalty != 0.0)
                && !ctx.generated.is_empty());
        penalties || !cfg.logit_bias.is_empty()
    }

    /// The logits after stages 1–3 (penalties, then bias), by token id: `[vocab]`. Useful for
    /// reporting the penalised distribution; `sample_with` starts from exactly this row.
    pub fn adjusted_logits(&mut self, logits: &[f32], ctx: &SamplingContext<'_>) -> &[f32] {
        let cfg = &self.cfg;
        self.work.clear();
        self.work.extend_from_slice(logits);
        apply_repetition(
            &mut self.work,
            ctx.prompt,
            ctx.generated,
            cfg.repetition_penalty,
            &mut self.marks,
        );
        apply_presence_frequency(
            &mut self.work,
            ctx.generated,
            cfg.presence_penalty,
            cfg.frequency_penalty,
            &mut self.marks,
        );
        apply_logit_bias(&mut self.work, &cfg.logit_bias);
        &self.work
    }

    /// Samples one token id from `logits` (`[vocab]`); errors on an empty or all-NaN row.
    pub fn try_sample_with(
        &mut self,
        logits: &[f32],
        ctx: &SamplingContext<'_>,
    ) -> Result<u32, Error> {
        if logits.is_empty() {
            return Err(Error::EmptyLogits);
        }
        let all_nan = || Error::AllNan { n: logits.len() };
        if self.cfg.is_greedy() && !self.adjusts(ctx) {
            return argmax(logits).ok_or_else(all_nan);
        }
        self.adjusted_logits(logits, ctx);
        let cfg = &self.cfg;
        if cfg.is_greedy() {
            return argmax(&self.work).ok_or_else(all_nan);
        }
        self.cands.fill(&self.work);
        apply_temperature(&mut self.cands, cfg.temperature);
        apply_top_k(&mut self.cands, cfg.top_k);
        self.cands.convert_to_weights();
        apply_top_p(&mut self.cands, cfg.top_p);
        apply_min_p(&mut self.cands, cfg.min_p);
        draw(&self.cands, &mut self.rng).ok_or_else(all_nan)
    }
}
