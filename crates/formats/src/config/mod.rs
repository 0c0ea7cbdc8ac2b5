//! `ModelConfig`: the hyper-parameters a model loader needs, read from a Hugging Face `config.json`
//! or from GGUF metadata, so both sources describe the same model the same way.

mod from_gguf;
mod from_hf;

use crate::Error;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Architecture {
    Qwen3,
    Llama,
}

impl Architecture {
    /// Accepts HF `model_type` / GGUF `general.architecture` names and HF `architectures[]` class
    /// names. Anything else is `Error::UnsupportedArchitecture(name)`.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            "qwen3" | "Qwen3ForCausalLM" => Ok(Architecture::Qwen3),
            "llama" | "LlamaForCausalLM" => Ok(Architecture::Llama),
            other => Err(Error::UnsupportedArchitecture(other.to_string())),
        }
    }

    /// The GGUF / HF `model_type` name.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Qwen3 => "qwen3",
            Architecture::Llama => "llama",
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ModelConfig {
    pub arch: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rope_theta: f32,
    pub rms_norm_eps: f32,
    pub max_position_embeddings: usize,
    /// The output projection is the token embedding (no separate `lm_head` / `output.weight`).
    pub tie_word_embeddings: bool,
    pub bos_token_id: Option<u32>,
    pub eos_token_ids: Vec<u32>,
}

impl ModelConfig {
    /// Rejects values a forward pass cannot use (zero sizes, heads not divisible by kv heads, ...).
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |msg: String| Err(Error::Config(msg));
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("head_dim", self.head_dim),
            ("max_position_embeddings", self.max_position_embeddings),
        ] {
            if v == 0 {
                return bad(format!("{name} is 0"));
            }
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return bad(format!(
                "n_heads {} is not a multiple of n_kv_heads {}",
                self.n_heads, self.n_kv_heads
            ));
        }
        if !self.head_dim.is_multiple_of(2) {
            return bad(format!(
                "head_dim {} is odd (RoPE rotates pairs)",
                self.head_dim
            ));
        }
        if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            return bad(format!(
                "rope_theta {} is not a positive number",
                self.rope_theta
            ));
        }
        if !(self.rms_norm_eps.is_finite() && self.rms_norm_eps > 0.0) {
            return bad(format!(
                "rms_norm_eps {} is not a positive number",
                self.rms_norm_eps
            ));
        }
        for id in self.bos_token_id.iter().chain(&self.eos_token_ids) {
            if *id as usize >= self.vocab_size {
                return bad(format!(
                    "special token id {id} is outside the vocabulary of {}",
                    self.vocab_size
                ));
            }
        }
        Ok(())
    }
}

/// `hidden / heads` when it divides evenly.
fn default_head_dim(hidden: usize, heads: usize) -> Result<usize, Error> {
    if heads == 0 || !hidden.is_multiple_of(heads) {
        return Err(Error::Config(format!(
            "no head_dim given and hidden size {hidden} is not divisible by {heads} heads"
        )));
    }
    Ok(hidden / heads)
}
