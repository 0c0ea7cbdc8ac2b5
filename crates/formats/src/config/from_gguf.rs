//! `ModelConfig` from GGUF metadata (`general.architecture` and the `{arch}.*` keys llama.cpp writes).

use super::{default_head_dim, Architecture, ModelConfig};
use crate::{Error, GgufFile};

fn usize_of(g: &GgufFile, key: &str) -> Result<usize, Error> {
    let v = g.require_u64(key)?;
    usize::try_from(v).map_err(|_| Error::Config(format!("'{key}' = {v} is out of range")))
}

fn opt_usize_of(g: &GgufFile, key: &str) -> Result<Option<usize>, Error> {
    g.get(key).map(|_| usize_of(g, key)).transpose()
}

impl ModelConfig {
    /// Reads the hyper-parameters of a qwen3 or llama GGUF. Other architectures (the file itself may
    /// open fine) give `Error::UnsupportedArchitecture`.
    pub fn from_gguf(g: &GgufFile) -> Result<ModelConfig, Error> {
        let arch_name = g.require_str("general.architecture")?;
        let arch = Architecture::from_name(arch_name)?;
        let k = |suffix: &str| format!("{arch_name}.{suffix}");

        if let Some(ty) = g.opt_str(&k("rope.scaling.type"))? {
            if ty != "none" {
                return Err(Error::Config(format!(
                    "'{}' = '{ty}' is not supported",
                    k("rope.scaling.type")
                )));
            }
        }

        let hidden_size = usize_of(g, &k("embedding_length"))?;
        let n_heads = usize_of(g, &k("attention.head_count"))?;
        let head_dim = match opt_usize_of(g, &k("attention.key_length"))? {
            Some(d) => d,
            None => default_head_dim(hidden_size, n_heads)?,
        };
        let vocab_size = match opt_usize_of(g, &k("vocab_size"))? {
            Some(v) => v,
            None => g.array_len("tokenizer.ggml.tokens")?,
        };
        let config = ModelConfig {
            arch,
            vocab_size,
            hidden_size,
            intermediate_size: usize_of(g, &k("feed_forward_length"))?,
            n_layers: usize_of(g, &k("block_count"))?,
            n_heads,
            n_kv_heads: opt_usize_of(g, &k("attention.head_count_kv"))?.unwrap_or(n_heads),
            head_dim,
            rope_theta: g.opt_f32(&k("rope.freq_base"))?.unwrap_or(10000.0),
            rms_norm_eps: g.require_f32(&k("attention.layer_norm_rms_epsilon"))?,
            max_position_embeddings: usize_of(g, &k("context_length"))?,
            tie_word_embeddings: g.tensor_info("output.weight").is_none(),
            bos_token_id: g.opt_u32("tokenizer.ggml.bos_token_id")?,
            eos_token_ids: g
                .opt_u32("tokenizer.ggml.eos_token_id")?
                .into_iter()
                .collect(),
        };
        config.validate()?;
        Ok(config)
    }
}
