//! `inferno chat`: a streaming REPL through the model's chat template. The KV cache is kept between
//! turns: only the new part of the rendered conversation is prefilled.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Instant;

use anyhow::{anyhow, Result};
use sampling::{Sampler, SamplingContext};
use serde_json::{json, Value};
use tokenizer::IncrementalDecoder;

use super::{ModelArgs, SamplingArgs};
use crate::{load, paths, session::Session};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    /// A system prompt.
    #[arg(short, long)]
    pub system: Option<String>,
    /// Most tokens per reply.
    #[arg(short = 'n', long, default_value_t = 512)]
    pub max_tokens: usize,
    /// Qwen3: ask the model not to think (`enable_thinking: false` in the template).
    #[arg(long)]
    pub no_think: bool,
}

const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

pub fn run(args: Args) -> Result<()> {
    let path = paths::resolve_model(args.model.model.clone())?;
    let loaded = load::load(&path, args.model.threads())?;
    let template = loaded
        .template
        .ok_or_else(|| anyhow!("{} has no chat template", path.display()))?;
    let tok = loaded.tokenizer;
    let ctx = args.model.ctx_size(loaded.config.max_position_embeddings);
    let mut session = Session::new(loaded.model, ctx)?;
    let mut sampler = Sampler::new(args.sampling.config())?;
    let eos = tok.eos_ids();
    let think_open = tok.id_of("<think>");
    let think_close = tok.id_of("</think>");
    let mut extra = serde_json::Map::new();
    if args.no_think {
        extra.insert("enable_thinking".into(), Value::Bool(false));
    }
    let mut messages: Vec<Value> = Vec::new();
    if let Some(s) = &args.system {
        messages.push(json!({"role": "system", "content": s}));
    }
    let interactive = std::io::stdin().is_terminal();
    let color = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    if interactive {
        eprintln!(
            "inferno chat: {} (type /reset to forget the conversation, /exit or Ctrl-D to leave)",
            path.display()
        );
    }
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            write!(out, "> ")?;
            out.flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        match line {
            "" => continue,
            "/exit" | "/quit" => break,
            "/reset" => {
                messages.retain(|m| m["role"] == "system");
                continue;
            }
            _ => {}
        }
        messages.push(json!({"role": "user", "content": line}));
        let rendered = template.render(&messages, None, true, &extra)?;
        let prompt = tok.encode(&rendered, false);
        if prompt.len() + args.max_tokens > session.max_context() {
            messages.pop();
            eprintln!(
                "this turn would exceed the context size {} (use /reset)",
                session.max_context()
            );
            continue;
        }
        let reused = session.keep_common_prefix(&prompt);
        let t0 = Instant::now();
        let mut logits = session.feed(&prompt[reused..])?.to_vec();
        let mut ids: Vec<u32> = Vec::new();
        let mut decoder = IncrementalDecoder::new(&tok);
        let t1 = Instant::now();
        while ids.len() < args.max_tokens {
            let id = sampler.sample_with(
                &logits,
                &SamplingContext {
                    prompt: &prompt,
                    generated: &ids,
                },
            );
            ids.push(id);
            if eos.contains(&id) {
                break;
            }
            if Some(id) == think_open {
                write!(out, "{}[thinking] ", if color { DIM } else { "" })?;
            } else if Some(id) == think_close {
                writeln!(out, " [/thinking]{}", if color { RESET } else { "" })?;
            } else if let Some(text) = decoder.push(id) {
                write!(out, "{text}")?;
            }
            out.flush()?;
            if ids.len() < args.max_tokens {
                logits.clear();
                logits.extend_from_slice(session.feed(&[id])?);
            }
        }
        if let Some(rest) = decoder.finish() {
            write!(out, "{rest}")?;
        }
        writeln!(out)?;
        let n_gen = ids.len();
        let dt = t1.elapsed().as_secs_f64();
        eprintln!(
            "[{} prompt tokens ({reused} cached) in {:.0} ms, {n_gen} tokens at {:.1} tok/s]",
            prompt.len(),
            (t1 - t0).as_secs_f64() * 1e3,
            n_gen as f64 / dt.max(1e-9)
        );
        let reply_ids: Vec<u32> = ids.iter().copied().filter(|i| !eos.contains(i)).collect();
        messages.push(json!({"role": "assistant", "content": tok.decode(&reply_ids, false)}));
    }
    Ok(())
}
