//! `inferno serve`: the OpenAI-compatible HTTP server. It listens at once and loads the model in
//! the background (`/ready` answers 503 until then). The KV pool is sized in megabytes and cut
//! into blocks; the per-request context is the smaller of `-c` (default: the model's) and the
//! pool, and is what `/v1/models` advertises.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use engine::{EngineConfig, SchedulerConfig};
use server::{LoadedModel, ServerConfig};

use super::ModelArgs;
use crate::{load, paths};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// API key clients must send as `Authorization: Bearer <key>` (repeatable, or comma
    /// separated). /health, /ready and /metrics stay open.
    #[arg(long = "api-key", env = "INFERNO_API_KEY")]
    pub api_keys: Vec<String>,
    /// KV cache size in MiB (default: 25% of available memory, at most 1024).
    #[arg(long)]
    pub kv_cache_mb: Option<usize>,
    /// Element type of the KV cache: f32, f16 or bf16. f32 (the default) is exact; f16 halves the
    /// memory and the bytes attention reads (llama.cpp's default) at the cost of rounding K/V to
    /// 11 significant bits, which can flip near-tied greedy choices of small quantized models.
    #[arg(long = "kv-dtype", default_value_t = tensor::KvDtype::F32)]
    pub kv_dtype: tensor::KvDtype,
    /// Tokens per KV block.
    #[arg(long, default_value_t = 16)]
    pub block_size: usize,
    /// Tokens computed per step at most (decodes and prefill chunks together).
    #[arg(long, default_value_t = 2048)]
    pub max_batched_tokens: usize,
    /// Requests running at once at most.
    #[arg(long, default_value_t = 64)]
    pub max_running: usize,
    /// Requests waiting at most; beyond it requests are answered 429.
    #[arg(long, default_value_t = 256)]
    pub max_waiting: usize,
    /// Request bodies larger than this are answered 413.
    #[arg(long, default_value_t = 4 << 20)]
    pub max_body_bytes: usize,
    /// The model name clients send (default: the model file's or directory's name).
    #[arg(long)]
    pub served_model_name: Option<String>,
    /// Send usage in every stream, whatever `stream_options.include_usage` says.
    #[arg(long)]
    pub always_include_usage: bool,
    /// Seconds running requests get to finish on SIGTERM/SIGINT before they are aborted.
    #[arg(long, default_value_t = 30)]
    pub drain_timeout: u64,
    /// Seconds without output after which a stream gets a `: keep-alive` comment.
    #[arg(long, default_value_t = 5)]
    pub keep_alive: u64,
}

pub fn run(args: Args) -> Result<()> {
    let path = paths::resolve_model(args.model.model.clone())?;
    if args.block_size == 0 {
        bail!("--block-size must be at least 1");
    }
    let model_name = args
        .served_model_name
        .clone()
        .unwrap_or_else(|| default_model_name(&path));
    let cfg = ServerConfig {
        host: args.host.clone(),
        port: args.port,
        api_keys: args.api_keys.clone(),
        model_name,
        max_body_bytes: args.max_body_bytes,
        always_include_usage: args.always_include_usage,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        keep_alive_interval: Duration::from_secs(args.keep_alive.max(1)),
    };
    server::run(cfg, move || {
        load_engine(&path, &args).map_err(|e| format!("{e:#}"))
    })?;
    Ok(())
}

/// The file name without `.gguf`, or the directory's name.
fn default_model_name(path: &Path) -> String {
    let name = if path.is_dir() {
        path.file_name()
    } else {
        path.file_stem()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "model".into())
}

fn load_engine(path: &Path, args: &Args) -> Result<LoadedModel> {
    let threads = args.model.threads();
    let loaded = load::load(path, threads)?;
    let bytes_per_block = loaded
        .model
        .kv_spec()
        .bytes_per_token_as(args.kv_dtype)
        .saturating_mul(args.block_size)
        .max(1);
    let kv_mb = args.kv_cache_mb.unwrap_or_else(default_kv_cache_mb);
    let num_blocks = kv_mb.saturating_mul(1 << 20) / bytes_per_block;
    let pool_tokens = num_blocks.saturating_mul(args.block_size);
    let model_max = loaded.config.max_position_embeddings;
    let wanted = args.model.ctx_size.unwrap_or(model_max).min(model_max);
    let max_model_len = wanted.min(pool_tokens);
    if max_model_len == 0 {
        bail!(
            "a KV cache of {kv_mb} MiB holds no block of {} tokens ({bytes_per_block} bytes); raise --kv-cache-mb",
            args.block_size
        );
    }
    if max_model_len < wanted {
        tracing::warn!(
            "the KV pool ({kv_mb} MiB = {pool_tokens} tokens) is smaller than the context of {wanted} \
             tokens: one request gets at most {max_model_len} tokens; raise --kv-cache-mb for more"
        );
    }
    let cfg = EngineConfig {
        scheduler: SchedulerConfig {
            max_batched_tokens: args.max_batched_tokens,
            max_running: args.max_running,
            max_waiting: args.max_waiting,
            block_size: args.block_size,
            num_blocks,
            enable_prefix_cache: true,
            max_model_len,
        },
        threads,
        always_include_usage: args.always_include_usage,
        kv_dtype: args.kv_dtype,
        ..EngineConfig::default()
    };
    let tokenizer = Arc::new(loaded.tokenizer);
    let engine = engine::spawn(loaded.model, Arc::clone(&tokenizer), cfg)?;
    Ok(LoadedModel {
        engine,
        tokenizer,
        template: loaded.template,
    })
}

/// 25% of `MemAvailable` (/proc/meminfo), at most 1024 MiB; 1024 when unknown.
fn default_kv_cache_mb() -> usize {
    let available_kb = std::fs::read_to_string("/proc/meminfo").ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<usize>().ok())
    });
    match available_kb {
        Some(kb) => (kb / 1024 / 4).clamp(1, 1024),
        None => 1024,
    }
}
