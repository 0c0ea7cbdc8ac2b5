//! `ModelConfig` from a Hugging Face `config.json` (transformers 4.x keys, and the transformers 5.x
//! `rope_parameters` object).

use serde_json::Value;

use super::{default_head_dim, Architecture, ModelConfig};
use crate::Error;

fn cfg_err(msg: String) -> Error {
    Error::Config(msg)
}

/// The value at `key`, treating JSON `null` as absent.
fn field<'a>(cfg: &'a Value, key: &str) -> Option<&'a Value> {
    cfg.get(key).filter(|v| !v.is_null())
}

fn opt_usize(cfg: &Value, key: &str) -> Result<Option<usize>, Error> {
    match field(cfg, key) {
        None => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|x| usize::try_from(x).ok())
            .map(Some)
            .ok_or_else(|| cfg_err(format!("'{key}' is {v}, expected a non-negative integer"))),
    }
}

fn req_usize(cfg: &Value, key: &str) -> Result<usize, Error> {
    opt_usize(cfg, key)?.ok_or_else(|| cfg_err(format!("'{key}' is missing")))
}

fn opt_f32(cfg: &Value, key: &str) -> Result<Option<f32>, Error> {
    match field(cfg, key) {
        None => Ok(None),
        Some(v) => v
            .as_f64()
            .map(|x| Some(x as f32))
            .ok_or_else(|| cfg_err(format!("'{key}' is {v}, expected a number"))),
    }
}

fn opt_bool(cfg: &Value, key: &str) -> Result<Option<bool>, Error> {
    match field(cfg, key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| cfg_err(format!("'{key}' is {v}, expected true or false"))),
    }
}

fn token_id(v: &Value, key: &str) -> Result<u32, Error> {
    v.as_u64()
        .and_then(|x| u32::try_from(x).ok())
        .ok_or_else(|| cfg_err(format!("'{key}' holds {v}, expected a token id")))
}

/// `eos_token_id`: an id, a list of ids, or null.
fn token_ids(cfg: &Value, key: &str) -> Result<Vec<u32>, Error> {
    match field(cfg, key) {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().map(|v| token_id(v, key)).collect(),
        Some(v) => Ok(vec![token_id(v, key)?]),
    }
}

fn architecture(cfg: &Value) -> Result<Architecture, Error> {
    if let Some(v) = field(cfg, "model_type") {
        let name = v
            .as_str()
            .ok_or_else(|| cfg_err(format!("'model_type' is {v}, expected a string")))?;
        return Architecture::from_name(name);
    }
    match field(cfg, "architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        Some(Value::String(name)) => Architecture::from_name(name),
        _ => Err(cfg_err(
            "neither 'model_type' nor 'architectures' names the architecture".to_string(),
        )),
    }
}

/// Only unscaled RoPE is implemented: `rope_scaling` must be null (or of type "default"/"none").
fn check_rope_scaling(obj: Option<&Value>, key: &str) -> Result<(), Error> {
    let Some(obj) = obj else { return Ok(()) };
    let ty = obj
        .get("rope_type")
        .or_else(|| obj.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| cfg_err(format!("'{key}' is {obj} without a rope_type")))?;
    match ty {
        "default" | "none" => Ok(()),
        other => Err(cfg_err(format!(
            "'{key}' of type '{other}' is not supported"
        ))),
    }
}

impl ModelConfig {
    /// Reads an HF `config.json` value. Defaults follow transformers' `Qwen3Config` / `LlamaConfig`.
    pub fn from_hf_json(cfg: &Value) -> Result<ModelConfig, Error> {
        if !cfg.is_object() {
            return Err(cfg_err("config.json is not a JSON object".to_string()));
        }
        let arch = architecture(cfg)?;

        let rope_params = field(cfg, "rope_parameters");
        check_rope_scaling(field(cfg, "rope_scaling"), "rope_scaling")?;
        check_rope_scaling(rope_params, "rope_parameters")?;
        let rope_theta = match opt_f32(cfg, "rope_theta")? {
            Some(t) => t,
            None => match rope_params {
                Some(p) => opt_f32(p, "rope_theta")?.unwrap_or(10000.0),
                None => 10000.0,
            },
        };

        if let Some(act) = field(cfg, "hidden_act") {
            if act.as_str() != Some("silu") {
                return Err(cfg_err(format!(
                    "hidden_act {act} is not supported (only \"silu\")"
                )));
            }
        }
        for key in ["attention_bias", "mlp_bias"] {
            if opt_bool(cfg, key)? == Some(true) {
                return Err(cfg_err(format!("'{key}': true is not supported")));
            }
        }

        let hidden_size = req_usize(cfg, "hidden_size")?;
        let n_heads = req_usize(cfg, "num_attention_heads")?;
        let head_dim = match opt_usize(cfg, "head_dim")? {
            Some(d) => d,
            None => default_head_dim(hidden_size, n_heads)?,
        };
        let default_max_pos = match arch {
            Architecture::Qwen3 => 32768,
            Architecture::Llama => 2048,
        };
        let config = ModelConfig {
            arch,
            vocab_size: req_usize(cfg, "vocab_size")?,
            hidden_size,
            intermediate_size: req_usize(cfg, "intermediate_size")?,
            n_layers: req_usize(cfg, "num_hidden_layers")?,
            n_heads,
            n_kv_heads: opt_usize(cfg, "num_key_value_heads")?.unwrap_or(n_heads),
            head_dim,
            rope_theta,
            rms_norm_eps: opt_f32(cfg, "rms_norm_eps")?.unwrap_or(1e-6),
            max_position_embeddings: opt_usize(cfg, "max_position_embeddings")?
                .unwrap_or(default_max_pos),
            tie_word_embeddings: opt_bool(cfg, "tie_word_embeddings")?.unwrap_or(false),
            bos_token_id: field(cfg, "bos_token_id")
                .map(|v| token_id(v, "bos_token_id"))
                .transpose()?,
            eos_token_ids: token_ids(cfg, "eos_token_id")?,
        };
        config.validate()?;
        Ok(config)
    }
}
