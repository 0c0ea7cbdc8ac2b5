//! The `general.*` and `{arch}.*` metadata of a GGUF made from a Hugging Face directory, with the
//! keys, types and order convert_hf_to_gguf.py writes (`set_gguf_parameters`, gguf-py metadata).

use serde_json::Value;

use crate::{Architecture, Error, GgufValue, HfModelDir, ModelConfig};

type Metadata = Vec<(String, GgufValue)>;

fn u32_of(what: &str, v: usize) -> Result<GgufValue, Error> {
    u32::try_from(v)
        .map(GgufValue::U32)
        .map_err(|_| Error::Config(format!("{what} {v} does not fit a u32")))
}

/// `qwen3-tiny` → `Qwen3 Tiny` (the directory name, as convert names a model without a card).
fn display_name(dir_name: &str) -> String {
    dir_name
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// gguf-py's `model_weight_count_rounded_notation`: 9,847,232 → `10M`, 596,049,920 → `596M`.
pub fn size_label(params: u64) -> String {
    let p = params as f64;
    let (scaled, suffix) = if p > 1e12 {
        (p * 1e-12, "T")
    } else if p > 1e9 {
        (p * 1e-9, "B")
    } else if p > 1e6 {
        (p * 1e-6, "M")
    } else {
        (p * 1e-3, "K")
    };
    let digits = format!("{}", scaled.round() as u64);
    let digits = digits.trim_start_matches('0').len();
    let fix = 2usize.saturating_sub(digits);
    format!("{scaled:.fix$}{suffix}")
}

/// `general.architecture`, `general.type`, `general.sampling.*` (from generation_config.json),
/// `general.name`, `general.size_label`.
pub fn general_metadata(dir: &HfModelDir, total_params: u64) -> Result<Metadata, Error> {
    let cfg = dir.config();
    let mut md: Metadata = vec![
        (
            "general.architecture".into(),
            GgufValue::String(cfg.arch.name().into()),
        ),
        ("general.type".into(), GgufValue::String("model".into())),
    ];
    if let Some(gen) = dir.generation_config()? {
        let int = |k: &str| gen.get(k).and_then(Value::as_i64);
        let float = |k: &str| gen.get(k).and_then(Value::as_f64);
        if let Some(v) = int("top_k").and_then(|v| i32::try_from(v).ok()) {
            md.push(("general.sampling.top_k".into(), GgufValue::I32(v)));
        }
        for (src, key) in [
            ("top_p", "general.sampling.top_p"),
            ("min_p", "general.sampling.min_p"),
            ("temperature", "general.sampling.temp"),
            ("repetition_penalty", "general.sampling.penalty_repeat"),
        ] {
            if let Some(v) = float(src) {
                md.push((key.into(), GgufValue::F32(v as f32)));
            }
        }
    }
    let dir_name = dir
        .dir()
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_default();
    if !dir_name.is_empty() {
        md.push((
            "general.name".into(),
            GgufValue::String(display_name(&dir_name)),
        ));
    }
    md.push((
        "general.size_label".into(),
        GgufValue::String(size_label(total_params)),
    ));
    Ok(md)
}

/// `{arch}.block_count`, `context_length`, ... as convert writes them for Qwen3 and Llama.
/// RoPE scaling is refused: these converters do not write its keys (or Llama 3's `rope_freqs`).
pub fn arch_metadata(cfg: &ModelConfig, config_json: &Value) -> Result<Metadata, Error> {
    if let Some(scaling) = config_json.get("rope_scaling").filter(|v| !v.is_null()) {
        let kind = scaling
            .get("rope_type")
            .or_else(|| scaling.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        if kind != "default" {
            return Err(Error::Config(format!(
                "rope_scaling of type '{kind}' is not supported by the GGUF converter"
            )));
        }
    }
    let a = cfg.arch.name();
    let mut md: Metadata = vec![
        (
            format!("{a}.block_count"),
            u32_of("n_layers", cfg.n_layers)?,
        ),
        (
            format!("{a}.context_length"),
            u32_of("max_position_embeddings", cfg.max_position_embeddings)?,
        ),
        (
            format!("{a}.embedding_length"),
            u32_of("hidden_size", cfg.hidden_size)?,
        ),
        (
            format!("{a}.feed_forward_length"),
            u32_of("intermediate_size", cfg.intermediate_size)?,
        ),
        (
            format!("{a}.attention.head_count"),
            u32_of("num_attention_heads", cfg.n_heads)?,
        ),
        (
            format!("{a}.attention.head_count_kv"),
            u32_of("num_key_value_heads", cfg.n_kv_heads)?,
        ),
        (
            format!("{a}.rope.freq_base"),
            GgufValue::F32(cfg.rope_theta),
        ),
        (
            format!("{a}.attention.layer_norm_rms_epsilon"),
            GgufValue::F32(cfg.rms_norm_eps),
        ),
    ];
    if config_json.get("head_dim").is_some_and(|v| !v.is_null()) {
        md.push((
            format!("{a}.attention.key_length"),
            u32_of("head_dim", cfg.head_dim)?,
        ));
        md.push((
            format!("{a}.attention.value_length"),
            u32_of("head_dim", cfg.head_dim)?,
        ));
    }
    if cfg.arch == Architecture::Llama {
        md.push((
            format!("{a}.vocab_size"),
            u32_of("vocab_size", cfg.vocab_size)?,
        ));
        md.push((
            format!("{a}.rope.dimension_count"),
            u32_of("head_dim", cfg.head_dim)?,
        ));
    }
    Ok(md)
}
