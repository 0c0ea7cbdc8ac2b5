//! Turns a model path (a GGUF file or a Hugging Face directory) into a model, its tokenizer and its
//! chat template.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use formats::{GgufFile, GgufValue, HfModelDir, ModelConfig, WeightSource};
use indicatif::{ProgressBar, ProgressStyle};
use models::Model;
use tokenizer::{ChatTemplate, GgufVocab, Tokenizer};

pub struct Loaded {
    pub model: Box<dyn Model>,
    pub tokenizer: Tokenizer,
    pub template: Option<ChatTemplate>,
    pub config: ModelConfig,
    pub load_time: std::time::Duration,
}

/// The tokenizer of a model (GGUF vocab or tokenizer.json), without loading the weights.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if path.is_dir() {
        Ok(hf_text_side(&HfModelDir::open(path)?, path)?.0)
    } else {
        gguf_tokenizer(&GgufFile::open(path)?)
    }
}

pub fn load(path: &Path, threads: usize) -> Result<Loaded> {
    let start = Instant::now();
    let (source, config, tokenizer, template): (Box<dyn WeightSource>, _, _, _) = if path.is_dir() {
        let dir = HfModelDir::open(path)?;
        let config = dir.config().clone();
        let (tokenizer, template) = hf_text_side(&dir, path)?;
        (Box::new(dir), config, tokenizer, template)
    } else {
        let gguf = GgufFile::open(path)?;
        let config = ModelConfig::from_gguf(&gguf)?;
        let tokenizer = gguf_tokenizer(&gguf)?;
        let template = match gguf.get_str("tokenizer.chat_template") {
            Some(src) => Some(template_with_specials(src, &tokenizer)?),
            None => None,
        };
        (Box::new(gguf), config, tokenizer, template)
    };
    tracing::info!(?config, "loading model");
    let bar = ProgressBar::new(0).with_style(
        ProgressStyle::with_template("loading {msg} [{bar:30}] {pos}/{len} tensors")
            .map_err(|e| anyhow!("{e}"))?,
    );
    bar.set_message(
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let model = models::load(source.as_ref(), &config, threads, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(Loaded {
        model,
        tokenizer,
        template,
        config,
        load_time: start.elapsed(),
    })
}

fn hf_text_side(dir: &HfModelDir, path: &Path) -> Result<(Tokenizer, Option<ChatTemplate>)> {
    let tok_path = dir
        .tokenizer_json_path()
        .ok_or_else(|| anyhow!("{} has no tokenizer.json", path.display()))?;
    let bytes =
        std::fs::read(tok_path).with_context(|| format!("reading {}", tok_path.display()))?;
    let tokenizer = Tokenizer::from_tokenizer_json(&bytes)?;
    let template = match dir.tokenizer_config_path() {
        Some(p) => hf_chat_template(p)?,
        None => None,
    };
    Ok((tokenizer, template))
}

fn gguf_tokenizer(gguf: &GgufFile) -> Result<Tokenizer> {
    let model = gguf
        .get_str("tokenizer.ggml.model")
        .ok_or_else(|| anyhow!("GGUF has no tokenizer.ggml.model"))?
        .to_string();
    let pre = gguf
        .get_str("tokenizer.ggml.pre")
        .unwrap_or("default")
        .to_string();
    let tokens = gguf
        .get_str_array("tokenizer.ggml.tokens")?
        .into_iter()
        .map(String::from)
        .collect();
    let merges = gguf
        .get_str_array("tokenizer.ggml.merges")?
        .into_iter()
        .map(String::from)
        .collect();
    let token_types = gguf
        .get_i32_array("tokenizer.ggml.token_type")
        .unwrap_or_default();
    let id = |k: &str| gguf.get_u64(k).and_then(|v| u32::try_from(v).ok());
    let add_bos = matches!(
        gguf.get("tokenizer.ggml.add_bos_token"),
        Some(GgufValue::Bool(true))
    );
    Ok(Tokenizer::from_gguf_vocab(GgufVocab {
        model,
        pre,
        tokens,
        merges,
        token_types,
        bos: id("tokenizer.ggml.bos_token_id"),
        eos: id("tokenizer.ggml.eos_token_id"),
        add_bos,
    })?)
}

/// Reads `chat_template` (a string, or a list of named templates) from `tokenizer_config.json`.
fn hf_chat_template(path: &Path) -> Result<Option<ChatTemplate>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let cfg: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let source = match cfg.get("chat_template") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(list)) => match list
            .iter()
            .find(|t| t.get("name").and_then(|n| n.as_str()) == Some("default"))
            .and_then(|t| t.get("template"))
            .and_then(|t| t.as_str())
        {
            Some(s) => s.to_string(),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let token_str = |k: &str| match cfg.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v
            .get("content")
            .and_then(|c| c.as_str())
            .unwrap_or_default()
            .to_string(),
        None => String::new(),
    };
    Ok(Some(ChatTemplate::new(
        &source,
        &token_str("bos_token"),
        &token_str("eos_token"),
    )?))
}

fn template_with_specials(source: &str, tok: &Tokenizer) -> Result<ChatTemplate> {
    let piece = |id: Option<u32>| id.and_then(|i| tok.token_to_piece(i)).unwrap_or_default();
    let bos = piece(tok.bos_id());
    let eos = piece(tok.eos_ids().first().copied());
    Ok(ChatTemplate::new(source, &bos, &eos)?)
}
