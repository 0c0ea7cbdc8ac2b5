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
    /// Whole `load`: opening, tokenizer and template, weights.
    pub load_time: std::time::Duration,
    /// The `models::load` part of it (checking, interleaving the quantized weights).
    pub weights_time: std::time::Duration,
}

/// The tokenizer of a model (GGUF vocab or tokenizer.json), without loading the weights.
pub fn load_tokenizer(path: &Path) -> Result<Tokenizer> {
    if path.is_dir() {
        Ok(hf_text_side(&HfModelDir::open(path)?, path)?.0)
    } else {
        gguf_tokenizer(&GgufFile::open(path)?)
    }
}

/// Loads the model at `path` on `threads` threads. The tokenizer and chat template are built on
/// another thread meanwhile (parsing a large vocabulary takes about as long as packing the
/// weights of a small model).
pub fn load(path: &Path, threads: usize) -> Result<Loaded> {
    let start = Instant::now();
    if path.is_dir() {
        let dir = HfModelDir::open(path)?;
        let config = dir.config().clone();
        load_from(
            &dir,
            config,
            || hf_text_side(&dir, path),
            path,
            threads,
            start,
        )
    } else {
        let gguf = GgufFile::open(path)?;
        let config = ModelConfig::from_gguf(&gguf)?;
        load_from(
            &gguf,
            config,
            || gguf_text_side(&gguf),
            path,
            threads,
            start,
        )
    }
}

fn load_from<S: WeightSource + Sync>(
    source: &S,
    config: ModelConfig,
    text_side: impl FnOnce() -> Result<(Tokenizer, Option<ChatTemplate>)> + Send,
    path: &Path,
    threads: usize,
    start: Instant,
) -> Result<Loaded> {
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
    let (model, text, weights_time) = std::thread::scope(|s| {
        let text = s.spawn(text_side);
        let weights_start = Instant::now();
        let model = models::load(source, &config, threads, &mut |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        });
        let weights_time = weights_start.elapsed();
        let text = text
            .join()
            .unwrap_or_else(|_| Err(anyhow!("the tokenizer thread panicked")));
        (model, text, weights_time)
    });
    bar.finish_and_clear();
    let (tokenizer, template) = text?;
    Ok(Loaded {
        model: model?,
        tokenizer,
        template,
        config,
        load_time: start.elapsed(),
        weights_time,
    })
}

fn gguf_text_side(gguf: &GgufFile) -> Result<(Tokenizer, Option<ChatTemplate>)> {
    let tokenizer = gguf_tokenizer(gguf)?;
    let template = match gguf.get_str("tokenizer.chat_template") {
        Some(src) => Some(template_with_specials(src, &tokenizer)?),
        None => None,
    };
    Ok((tokenizer, template))
}

fn hf_text_side(dir: &HfModelDir, path: &Path) -> Result<(Tokenizer, Option<ChatTemplate>)> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let tok_path = dir
        .tokenizer_json_path()
        .ok_or_else(|| anyhow!("{} has no tokenizer.json", path.display()))?;
    let tok_json = read(tok_path)?;
    let cfg_json = dir.tokenizer_config_path().map(read).transpose()?;
    // EOS: tokenizer_config's eos_token, plus config.json's and generation_config.json's eos ids
    // (Qwen3 ends a chat turn with <|im_end|> and a raw completion with <|endoftext|>).
    let mut eos = dir.config().eos_token_ids.clone();
    if let Some(gen) = dir.generation_config()? {
        match gen.get("eos_token_id") {
            Some(serde_json::Value::Number(n)) => {
                eos.extend(n.as_u64().and_then(|v| u32::try_from(v).ok()))
            }
            Some(serde_json::Value::Array(list)) => eos.extend(
                list.iter()
                    .filter_map(|v| v.as_u64())
                    .filter_map(|v| u32::try_from(v).ok()),
            ),
            _ => {}
        }
    }
    let tokenizer = Tokenizer::from_hf(&tok_json, cfg_json.as_deref())?.with_eos_ids(eos);
    let template = match &cfg_json {
        Some(bytes) => ChatTemplate::from_tokenizer_config(bytes)?,
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

fn template_with_specials(source: &str, tok: &Tokenizer) -> Result<ChatTemplate> {
    let piece = |id: Option<u32>| id.and_then(|i| tok.token_to_piece(i)).unwrap_or_default();
    let bos = piece(tok.bos_id());
    let eos = piece(tok.eos_ids().first().copied());
    Ok(ChatTemplate::new(source, &bos, &eos)?)
}
