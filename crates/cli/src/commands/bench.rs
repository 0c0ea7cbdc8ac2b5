//! `inferno bench`: prompt processing and generation speed, with llama-bench's meaning, columns and
//! JSON field names so the two can be run side by side on the same file.
//!
//! - `pp N`: N random tokens prefilled in one batch; t/s = N / time.
//! - `tg N`: N tokens decoded one at a time (one token per forward); t/s = N / time.
//! - `-d D` (llama-bench's `--n-depth`): the test runs after D random tokens are already in the
//!   cache (filled untimed, once per depth; each test then overwrites only the positions after
//!   D); the row reads `tg64 @ d4096`.
//! - `--n-seqs S` (not in llama-bench): S sequences, each with its own depth context (copied from
//!   the first one's blocks: the same bytes at different addresses, so attention reads S distinct
//!   contexts), run together, every forward holding all S (`tg64 x16`: 64 steps of 16 tokens;
//!   `pp512 x4`: one forward of 4 × 512 tokens); t/s counts the tokens of all sequences. For a
//!   `tg` test with S > 1 the time of one step relative to the single-sequence step (same depth and
//!   length) is printed under the table (`step_ratio` in JSON).
//! - `--kv-dtype f32|f16|bf16`: the cache's element type (llama-bench's `type_k`/`type_v`).
//!
//! Each test runs once as a warm-up, then `-r` times; the mean and standard deviation of t/s are shown.

use std::io::Write;
use std::time::Instant;

use anyhow::{bail, Result};
use models::{ForwardBatch, KvTensors, Model};
use tensor::KvDtype;

use super::ModelArgs;
use crate::{load, paths};

const BLOCK_SIZE: usize = 16;
/// Depth contexts are prefilled in forwards of at most this many tokens (llama.cpp's default
/// micro-batch).
const DEPTH_CHUNK: usize = 512;

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
    /// Context depths: each test runs after this many tokens are already in the cache (comma
    /// separated).
    #[arg(
        short = 'd',
        long = "n-depth",
        value_delimiter = ',',
        default_value = "0"
    )]
    pub n_depth: Vec<usize>,
    /// Sequences run together in every forward (comma separated), each with its own context.
    #[arg(long = "n-seqs", value_delimiter = ',', default_value = "1")]
    pub n_seqs: Vec<usize>,
    /// Element type of the KV cache: f32, f16 or bf16.
    #[arg(long = "kv-dtype", default_value_t = KvDtype::F16)]
    pub kv_dtype: KvDtype,
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
    n_depth: usize,
    n_seqs: usize,
    samples_ns: Vec<u128>,
}

impl TestResult {
    fn samples_ts(&self) -> Vec<f64> {
        let n = ((self.n_prompt + self.n_gen) * self.n_seqs) as f64;
        self.samples_ns
            .iter()
            .map(|&ns| n / (ns as f64 * 1e-9))
            .collect()
    }

    fn mean_ns(&self) -> f64 {
        let ns: Vec<f64> = self.samples_ns.iter().map(|&n| n as f64).collect();
        mean_std(&ns).0
    }

    /// `pp512`, `tg64 x16 @ d4096`.
    fn name(&self) -> String {
        let mut s = if self.n_prompt > 0 {
            format!("pp{}", self.n_prompt)
        } else {
            format!("tg{}", self.n_gen)
        };
        if self.n_seqs > 1 {
            s += &format!(" x{}", self.n_seqs);
        }
        if self.n_depth > 0 {
            s += &format!(" @ d{}", self.n_depth);
        }
        s
    }

    /// For a batched `tg` test: the time of one step over the single-sequence step of the same
    /// length and depth, when that was measured too.
    fn step_ratio(&self, all: &[TestResult]) -> Option<f64> {
        if self.n_gen == 0 || self.n_seqs <= 1 {
            return None;
        }
        let single = all.iter().find(|r| {
            r.n_seqs == 1
                && r.n_gen == self.n_gen
                && r.n_prompt == self.n_prompt
                && r.n_depth == self.n_depth
        })?;
        Some(self.mean_ns() / single.mean_ns())
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

/// A fixed pseudo-random token stream (llama-bench also feeds random tokens).
struct Tokens {
    state: u64,
    vocab: u64,
}

impl Tokens {
    fn next(&mut self) -> u32 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state % self.vocab) as u32
    }

    fn take(&mut self, n: usize) -> Vec<u32> {
        (0..n).map(|_| self.next()).collect()
    }
}

pub fn run(args: Args) -> Result<()> {
    if args.output != "md" && args.output != "json" {
        bail!("--output must be md or json, not {:?}", args.output);
    }
    if args.repetitions == 0 {
        bail!("--repetitions must be at least 1");
    }
    if args.n_seqs.contains(&0) {
        bail!("--n-seqs must be at least 1");
    }
    let path = paths::resolve_model(args.model.model.clone())?;
    let threads = args.model.threads();
    let mut loaded = load::load(&path, threads)?;
    let mut tokens = Tokens {
        state: 0x9e37_79b9_7f4a_7c15,
        vocab: loaded.config.vocab_size.max(1) as u64,
    };
    let longest = args
        .n_prompt
        .iter()
        .chain(&args.n_gen)
        .copied()
        .max()
        .unwrap_or(0);
    let mut results = Vec::new();
    let mut batch = ForwardBatch::default();
    for &depth in &args.n_depth {
        for &n_seqs in &args.n_seqs {
            // Every sequence owns `per_seq` consecutive blocks: its depth context and the test's
            // tokens after it.
            let per_seq = (depth + longest + 1).div_ceil(BLOCK_SIZE).max(1);
            let n_blocks = per_seq
                .checked_mul(n_seqs)
                .ok_or_else(|| anyhow::anyhow!("{n_seqs} sequences × {per_seq} blocks overflow"))?;
            let mut kv =
                KvTensors::with_dtype(loaded.model.kv_spec(), n_blocks, BLOCK_SIZE, args.kv_dtype)?;
            let tables: Vec<Vec<u32>> = (0..n_seqs)
                .map(|s| ((s * per_seq) as u32..((s + 1) * per_seq) as u32).collect())
                .collect();
            fill_depth(
                loaded.model.as_mut(),
                &mut kv,
                &mut batch,
                &tables,
                &tokens.take(depth),
            )?;
            let tests = args
                .n_prompt
                .iter()
                .filter(|&&p| p > 0)
                .map(|&p| (p, 0))
                .chain(args.n_gen.iter().filter(|&&n| n > 0).map(|&n| (0, n)));
            for (n_prompt, n_gen) in tests {
                let mut samples_ns = Vec::with_capacity(args.repetitions);
                for rep in 0..=args.repetitions {
                    let toks: Vec<Vec<u32>> = (0..n_seqs)
                        .map(|_| tokens.take(n_prompt.max(n_gen)))
                        .collect();
                    let t0 = Instant::now();
                    if n_prompt > 0 {
                        batch.clear();
                        for (t, table) in toks.iter().zip(&tables) {
                            batch.push_seq(t, depth, table, BLOCK_SIZE, true)?;
                        }
                        loaded.model.forward(&batch, &mut kv)?;
                    } else {
                        decode_steps(
                            loaded.model.as_mut(),
                            &mut kv,
                            &mut batch,
                            &tables,
                            depth,
                            &toks,
                        )?;
                    }
                    // The first run of each test is the warm-up.
                    if rep > 0 {
                        samples_ns.push(t0.elapsed().as_nanos());
                    }
                }
                results.push(TestResult {
                    n_prompt,
                    n_gen,
                    n_depth: depth,
                    n_seqs,
                    samples_ns,
                });
            }
        }
    }
    print_results(&args, &path, &loaded.config, threads, &results)
}

/// Prefills `depth` tokens into the first sequence's blocks (untimed, in chunks), then copies
/// those blocks to every other sequence's.
fn fill_depth(
    model: &mut dyn Model,
    kv: &mut KvTensors,
    batch: &mut ForwardBatch,
    tables: &[Vec<u32>],
    depth: &[u32],
) -> Result<()> {
    let Some(first) = tables.first() else {
        return Ok(());
    };
    for (i, chunk) in depth.chunks(DEPTH_CHUNK).enumerate() {
        batch.clear();
        batch.push_seq(chunk, i * DEPTH_CHUNK, first, BLOCK_SIZE, true)?;
        model.forward(batch, kv)?;
    }
    let used = depth.len().div_ceil(BLOCK_SIZE);
    for table in &tables[1..] {
        for (&src, &dst) in first[..used].iter().zip(&table[..used]) {
            for layer in kv.layers.iter_mut() {
                layer.copy_block(&kv.layout, src, dst)?;
            }
        }
    }
    Ok(())
}

/// `toks[s].len()` steps; step i decodes token `toks[s][i]` of every sequence s at position
/// `depth + i`, all sequences in one forward.
fn decode_steps(
    model: &mut dyn Model,
    kv: &mut KvTensors,
    batch: &mut ForwardBatch,
    tables: &[Vec<u32>],
    depth: usize,
    toks: &[Vec<u32>],
) -> Result<()> {
    let steps = toks.first().map_or(0, Vec::len);
    for i in 0..steps {
        batch.clear();
        for (t, table) in toks.iter().zip(tables) {
            batch.push_seq(&t[i..i + 1], depth + i, table, BLOCK_SIZE, true)?;
        }
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
    let kv_type = args.kv_dtype.name();
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
                    "type_k": kv_type,
                    "type_v": kv_type,
                    "n_prompt": r.n_prompt,
                    "n_gen": r.n_gen,
                    "n_depth": r.n_depth,
                    "n_seqs": r.n_seqs,
                    "avg_ns": avg_ns as u64,
                    "stddev_ns": stddev_ns as u64,
                    "avg_ts": avg_ts,
                    "stddev_ts": stddev_ts,
                    "samples_ns": r.samples_ns,
                    "samples_ts": ts,
                    "step_ratio": r.step_ratio(results),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
        return Ok(());
    }
    // llama-bench shows type_k / type_v only when they are not its default (f16).
    let show_type = args.kv_dtype != KvDtype::F16;
    let (type_head, type_rule, type_cells) = if show_type {
        (
            " type_k | type_v |",
            " ---: | ---: |",
            format!(" {kv_type} | {kv_type} |"),
        )
    } else {
        ("", "", String::new())
    };
    writeln!(
        out,
        "| model | size | backend | threads |{type_head} test | t/s |"
    )?;
    writeln!(out, "| --- | ---: | --- | ---: |{type_rule} ---: | ---: |")?;
    for r in results {
        let (avg, std) = mean_std(&r.samples_ts());
        writeln!(
            out,
            "| {name} | {:.2} MiB | CPU | {threads} |{type_cells} {} | {avg:.2} ± {std:.2} |",
            size as f64 / (1024.0 * 1024.0),
            r.name()
        )?;
    }
    let ratios: Vec<String> = results
        .iter()
        .filter_map(|r| {
            r.step_ratio(results).map(|x| {
                format!(
                    "{}: one step of {} sequences takes {x:.2}× one step of 1",
                    r.name(),
                    r.n_seqs
                )
            })
        })
        .collect();
    if !ratios.is_empty() {
        writeln!(out)?;
        for line in ratios {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
