//! `inferno generate`: complete a raw text prompt.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};
use sampling::{Sampler, SamplingContext};
use tokenizer::IncrementalDecoder;

use super::{ModelArgs, SamplingArgs};
use crate::{load, paths, session::Session};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// The prompt text (used as is: no chat template).
    #[arg(short, long)]
    pub prompt: String,
    /// Most tokens to generate.
    #[arg(short = 'n', long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Keep generating after an end-of-sequence token.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Print one JSON object (prompt_ids, ids, text, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let path = paths::resolve_model(args.model.model.clone())?;
    let loaded = load::load(&path, args.model.threads())?;
    let prompt_ids = loaded.tokenizer.encode(&args.prompt, true);
    if prompt_ids.is_empty() {
        bail!("the prompt is empty after tokenization");
    }
    let ctx = args.model.ctx_size(loaded.config.max_position_embeddings);
    if prompt_ids.len() + args.max_tokens > ctx {
        bail!(
            "prompt ({} tokens) + max tokens ({}) exceed the context size {ctx}",
            prompt_ids.len(),
            args.max_tokens
        );
    }
    let session_start = Instant::now();
    let mut session = Session::new(loaded.model, ctx)?;
    let session_time = session_start.elapsed();
    let mut sampler = Sampler::new(args.sampling.config())?;
    let eos = loaded.tokenizer.eos_ids();
    let mut decoder = IncrementalDecoder::new(&loaded.tokenizer);
    let mut out = std::io::stdout().lock();

    let t0 = Instant::now();
    let mut logits = session.feed(&prompt_ids)?.to_vec();
    let prefill = t0.elapsed();
    let mut ids: Vec<u32> = Vec::with_capacity(args.max_tokens);
    let t1 = Instant::now();
    let mut first_token = None;
    while ids.len() < args.max_tokens {
        let id = sampler.sample_with(
            &logits,
            &SamplingContext {
                prompt: &prompt_ids,
                generated: &ids,
            },
        );
        first_token.get_or_insert_with(|| (t0.elapsed(), started.elapsed()));
        ids.push(id);
        if !args.json {
            if let Some(text) = decoder.push(id) {
                write!(out, "{text}")?;
                out.flush()?;
            }
        }
        if !args.ignore_eos && eos.contains(&id) {
            break;
        }
        if ids.len() == args.max_tokens {
            break;
        }
        logits.clear();
        logits.extend_from_slice(session.feed(&[id])?);
    }
    let decode = t1.elapsed();
    // Tokens whose logits were computed during the decode phase (the first came from prefill).
    let decoded_steps = ids.len().saturating_sub(1);
    let prefill_tps = prompt_ids.len() as f64 / prefill.as_secs_f64();
    let decode_tps = decoded_steps as f64 / decode.as_secs_f64().max(1e-9);
    if args.json {
        let text = loaded.tokenizer.decode(&ids, false);
        let v = serde_json::json!({
            "model": path.display().to_string(),
            "prompt_ids": prompt_ids,
            "ids": ids,
            "text": text,
            "timings": {
                "load_ms": loaded.load_time.as_secs_f64() * 1e3,
                "load_weights_ms": loaded.weights_time.as_secs_f64() * 1e3,
                "kv_alloc_ms": session_time.as_secs_f64() * 1e3,
                "prefill_ms": prefill.as_secs_f64() * 1e3,
                "decode_ms": decode.as_secs_f64() * 1e3,
                "time_to_first_token_ms": first_token.unwrap_or_default().0.as_secs_f64() * 1e3,
                "startup_to_first_token_ms": first_token.unwrap_or_default().1.as_secs_f64() * 1e3,
                "prompt_tokens": prompt_ids.len(),
                "generated_tokens": ids.len(),
                "prefill_tokens_per_s": prefill_tps,
                "decode_tokens_per_s": decode_tps,
            },
        });
        writeln!(out, "{v}")?;
    } else {
        if let Some(rest) = decoder.finish() {
            write!(out, "{rest}")?;
        }
        writeln!(out)?;
        eprintln!(
            "load {:.0} ms (weights {:.0} ms), first token {:.0} ms after start",
            loaded.load_time.as_secs_f64() * 1e3,
            loaded.weights_time.as_secs_f64() * 1e3,
            first_token.unwrap_or_default().1.as_secs_f64() * 1e3
        );
        eprintln!(
            "prompt {} tokens in {:.0} ms ({prefill_tps:.1} tok/s), generated {} tokens ({decode_tps:.1} tok/s)",
            prompt_ids.len(),
            prefill.as_secs_f64() * 1e3,
            ids.len()
        );
    }
    Ok(())
}
