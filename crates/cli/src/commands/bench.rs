//! `inferno bench`: prompt processing and generation speed, with llama-bench's meaning, columns and
//! JSON field names so the two can be run side by side on the same file.
//!
//! - `pp N`: N random tokens prefilled in one batch into an empty cache; t/s = N / time.
//! - `tg N`: N tokens decoded one at a time (one token per forward) after an empty cache; t/s = N / time.
//!
//! Each test runs once as a warm-up, then `-r` times; the mean and standard deviation of t/s are shown.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};
use models::{ForwardBatch, KvTensors, Model};

use super::ModelArgs;
use crate::{load, paths};

const BLOCK_SIZE: usize = 16;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt lengths to test (comma separated; 0 skips).
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub n_prompt: Vec<usize>,
    /// Generation lengths to test (comma separated; 0 skips).
    #[arg(
        short = 'n',
        long = "n-gen",
        value_delimiter = ',',
        default_value = "128"
    )]
    pub n_gen: Vec<usize>,
    /// Repetitions of each test.
    #[arg(short = 'r', long, default_value_t = 5)]
    pub repetitions: usize,
    /// Output format: md or json.
    #[arg(short = 'o', long, default_value = "md")]
    pub output: String,
}

struct TestResult {
    n_prompt: usize,
    n_gen: usize,
    samples_ns: Vec<u128>,
}

impl TestResult {
    fn samples_ts(&self) -> Vec<f64> {
        let n = (self.n_prompt + self.n_gen) as f64;
        self.samples_ns
            .iter()
            .map(|&ns| n / (ns as f64 * 1e-9))
            .collect()
    }
}

fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

pub fn run(args: Args) -> Result<()> {
    if args.output != "md" && args.output != "json" {
        bail!("--output must be md or json, not {:?}", args.output);
    }
    if args.repetitions == 0 {
        bail!("--repetitions must be at least 1");
    }
    let path = paths::resolve_model(args.model.model.clone())?;
    let threads = args.model.threads();
    let mut loaded = load::load(&path, threads)?;
    let vocab = loaded.config.vocab_size;
    let longest = args
        .n_prompt
        .iter()
        .chain(&args.n_gen)
        .copied()
        .max()
        .unwrap_or(0);
    let n_blocks = (longest + 1).div_ceil(BLOCK_SIZE).max(1);
    let mut kv = KvTensors::new(loaded.model.kv_spec(), n_blocks, BLOCK_SIZE)?;
    let table: Vec<u32> = (0..n_blocks as u32).collect();
    let mut batch = ForwardBatch::default();
    // A fixed pseudo-random token stream (llama-bench also feeds random tokens).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next_token = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % vocab as u64) as u32
    };
    let mut results = Vec::new();
    let tests = args
        .n_prompt
        .iter()
        .filter(|&&p| p > 0)
        .map(|&p| (p, 0))
        .chain(args.n_gen.iter().filter(|&&n| n > 0).map(|&n| (0, n)));
    for (n_prompt, n_gen) in tests {
        let mut samples_ns = Vec::with_capacity(args.repetitions);
        for rep in 0..=args.repetitions {
            let tokens: Vec<u32> = (0..n_prompt.max(n_gen)).map(|_| next_token()).collect();
            let t0 = Instant::now();
            if n_prompt > 0 {
                batch.clear();
                batch.push_seq(&tokens, 0, &table, BLOCK_SIZE, true)?;
                loaded.model.forward(&batch, &mut kv)?;
            } else {
                decode_steps(loaded.model.as_mut(), &mut kv, &mut batch, &table, &tokens)?;
            }
            // The first run of each test is the warm-up.
            if rep > 0 {
                samples_ns.push(t0.elapsed().as_nanos());
            }
        }
        results.push(TestResult {
            n_prompt,
            n_gen,
            samples_ns,
        });
    }
    print_results(&args, &path, &loaded.config, threads, &results)
}

fn decode_steps(
    model: &mut dyn Model,
    kv: &mut KvTensors,
    batch: &mut ForwardBatch,
    table: &[u32],
    tokens: &[u32],
) -> Result<()> {
    for (pos, &t) in tokens.iter().enumerate() {
        batch.clear();
        batch.push_seq(&[t], pos, table, BLOCK_SIZE, true)?;
        model.forward(batch, kv)?;
    }
    Ok(())
}

fn print_results(
    args: &Args,
    path: &std::path::Path,
    config: &formats::ModelConfig,
    threads: usize,
    results: &[TestResult],
) -> Result<()> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if args.output == "json" {
        let rows: Vec<serde_json::Value> = results
            .iter()
            .map(|r| {
                let ts = r.samples_ts();
                let (avg_ts, stddev_ts) = mean_std(&ts);
                let ns: Vec<f64> = r.samples_ns.iter().map(|&n| n as f64).collect();
                let (avg_ns, stddev_ns) = mean_std(&ns);
                serde_json::json!({
                    "build_commit": env!("CARGO_PKG_VERSION"),
                    "model_filename": path.display().to_string(),
                    "model_type": format!("{:?}", config.arch),
                    "model_size": size,
                    "n_threads": threads,
                    "n_prompt": r.n_prompt,
                    "n_gen": r.n_gen,
                    "avg_ns": avg_ns as u64,
                    "stddev_ns": stddev_ns as u64,
                    "avg_ts": avg_ts,
                    "stddev_ts": stddev_ts,
                    "samples_ns": r.samples_ns,
                    "samples_ts": ts,
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    writeln!(out, "| model | size | backend | threads | test | t/s |")?;
    writeln!(out, "| --- | ---: | --- | ---: | ---: | ---: |")?;
    for r in results {
        let (avg, std) = mean_std(&r.samples_ts());
        let test = if r.n_prompt > 0 {
            format!("pp{}", r.n_prompt)
        } else {
            format!("tg{}", r.n_gen)
        };
        writeln!(
            out,
            "| {name} | {:.2} MiB | CPU | {threads} | {test} | {avg:.2} ± {std:.2} |",
            size as f64 / (1024.0 * 1024.0)
        )?;
    }
    Ok(())
}
