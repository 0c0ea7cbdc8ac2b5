//! The sizes a decoder forward needs, read from `ModelConfig` once and checked for consistency.

use formats::ModelConfig;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Dims {
    pub vocab: usize,
    pub hidden: usize,
    pub intermediate: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rms_eps: f32,
    pub rope_theta: f32,
}

impl Dims {
    pub(crate) fn from_config(cfg: &ModelConfig) -> Result<Self> {
        let d = Dims {
            vocab: cfg.vocab_size,
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            n_layers: cfg.n_layers,
            n_heads: cfg.n_heads,
            n_kv_heads: cfg.n_kv_heads,
            head_dim: cfg.head_dim,
            rms_eps: cfg.rms_norm_eps,
            rope_theta: cfg.rope_theta,
        };
        let sizes = [
            ("vocab_size", d.vocab),
            ("hidden_size", d.hidden),
            ("intermediate_size", d.intermediate),
            ("n_layers", d.n_layers),
            ("n_heads", d.n_heads),
            ("n_kv_heads", d.n_kv_heads),
            ("head_dim", d.head_dim),
        ];
        if let Some((k, _)) = sizes.iter().find(|(_, v)| *v == 0) {
            return Err(Error::Config(format!("{k} is 0")));
        }
        if d.n_heads % d.n_kv_heads != 0 {
            return Err(Error::Config(format!(
                "n_heads {} is not a multiple of n_kv_heads {}",
                d.n_heads, d.n_kv_heads
            )));
        }
        if d.head_dim % 2 != 0 {
            return Err(Error::Config(format!(
                "head_dim {} is odd (RoPE rotates pairs)",
                d.head_dim
            )));
        }
        if d.n_heads.checked_mul(d.head_dim).is_none() || d.vocab.checked_mul(d.hidden).is_none() {
            return Err(Error::Config("sizes overflow".into()));
        }
        if !(d.rope_theta.is_finite() && d.rope_theta > 0.0) {
            return Err(Error::Config(format!("rope_theta {}", d.rope_theta)));
        }
        if !(d.rms_eps.is_finite() && d.rms_eps >= 0.0) {
            return Err(Error::Config(format!("rms_norm_eps {}", d.rms_eps)));
        }
        Ok(d)
    }

    /// `n_heads * head_dim`, the width of q and of the attention context.
    pub(crate) fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// `n_kv_heads * head_dim`, the width of k and v.
    pub(crate) fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
