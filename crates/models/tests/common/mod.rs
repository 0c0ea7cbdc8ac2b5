//! Shared helpers of the models integration tests: fixture paths, model loading, paged prefill and
//! greedy decoding through `ForwardBatch`, and logits comparisons.
#![allow(dead_code)]

pub mod tiny;

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use formats::{GgufFile, HfModelDir, ModelConfig};
use models::{ForwardBatch, KvTensors, Model};
use serde_json::Value;

/// `tests/fixtures` of the repository.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// The fetched-models folder (`INFERNO_MODELS_DIR` or `models/` of the repository).
pub fn models_dir() -> PathBuf {
    std::env::var_os("INFERNO_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// A file under the models folder; fails (never skips) when it is absent.
pub fn model_file(rel: &str) -> PathBuf {
    let p = models_dir().join(rel);
    assert!(
        p.exists(),
        "model file {} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)",
        p.display()
    );
    p
}

pub fn tiny_dir() -> PathBuf {
    fixtures_dir().join("qwen3-tiny")
}

pub fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

pub fn read_f32(path: &Path) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.len() % 4 != 0 {
        bail!("{} is not a whole number of f32", path.display());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

pub fn u32s(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("int") as u32)
        .collect()
}

pub fn f32s(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("float") as f32)
        .collect()
}

/// One prompt of `qwen3-tiny/expected.json`.
pub struct TinyPrompt {
    pub name: String,
    pub ids: Vec<u32>,
    pub last_logits: Vec<f32>,
    /// `(pos, ids[10], values[10])` for every prompt position.
    pub topk: Vec<(usize, Vec<u32>, Vec<f32>)>,
    pub greedy: Vec<u32>,
}

pub fn tiny_expected() -> Result<(Value, Vec<TinyPrompt>)> {
    let dir = tiny_dir();
    let exp = read_json(&dir.join("expected.json"))?;
    let mut out = Vec::new();
    for p in exp["prompts"]
        .as_array()
        .ok_or_else(|| anyhow!("no prompts"))?
    {
        out.push(TinyPrompt {
            name: p["name"].as_str().unwrap_or_default().to_string(),
            ids: u32s(&p["ids"]),
            last_logits: read_f32(&dir.join(p["last_logits_file"].as_str().unwrap_or_default()))?,
            topk: p["topk"]
                .as_array()
                .ok_or_else(|| anyhow!("no topk"))?
                .iter()
                .map(|t| {
                    (
                        t["pos"].as_u64().unwrap_or(0) as usize,
                        u32s(&t["ids"]),
                        f32s(&t["values"]),
                    )
                })
                .collect(),
            greedy: u32s(&p["greedy"]["ids"]),
        });
    }
    Ok((exp, out))
}

pub fn load_hf(dir: &Path, threads: usize) -> Result<Box<dyn Model>> {
    let src = HfModelDir::open(dir)?;
    let cfg = src.config().clone();
    Ok(models::load(&src, &cfg, threads, &mut |_, _| {})?)
}

pub fn load_gguf(path: &Path, threads: usize) -> Result<Box<dyn Model>> {
    let src = GgufFile::open(path)?;
    let cfg = ModelConfig::from_gguf(&src)?;
    Ok(models::load(&src, &cfg, threads, &mut |_, _| {})?)
}

/// A block table of `n` blocks taken from the END of a pool of `pool` blocks, in an order that is
/// neither ascending nor contiguous (reverse, odd blocks first), so paging bugs show.
pub fn scrambled_table(n: usize, pool: usize) -> Vec<u32> {
    assert!(n <= pool);
    let mut ids: Vec<u32> = (0..pool as u32).rev().collect();
    ids.sort_by_key(|b| b % 2 == 0);
    ids.truncate(n);
    ids
}

/// Runs `tokens` after `n_cached` cached tokens of the sequence owning `table`, asking logits for
/// the rows in `rows` (indices into `tokens`). Returns them `[rows.len(), vocab]`.
pub fn run_chunk(
    model: &mut dyn Model,
    kv: &mut KvTensors,
    tokens: &[u32],
    n_cached: usize,
    table: &[u32],
    rows: &[usize],
) -> Result<Vec<f32>> {
    let mut b = ForwardBatch::default();
    b.push_seq(tokens, n_cached, table, kv.block_size(), false)?;
    b.logits_rows = rows.to_vec();
    Ok(model.forward(&b, kv)?.to_vec())
}

/// Prefill `prompt` (in chunks of `chunk` tokens) then decode `n_new` greedy tokens one at a time,
/// all through the paged cache with the given block size and a scrambled block table.
/// Returns (generated ids, logits of every step: the last prompt position, then each decode).
pub fn greedy_paged(
    model: &mut dyn Model,
    prompt: &[u32],
    n_new: usize,
    block_size: usize,
    chunk: usize,
) -> Result<(Vec<u32>, Vec<Vec<f32>>)> {
    let total = prompt.len() + n_new;
    let n_blocks = total.div_ceil(block_size);
    let pool = n_blocks + 3;
    let mut kv = KvTensors::new(model.kv_spec(), pool, block_size)?;
    let table = scrambled_table(n_blocks, pool);
    let mut last = Vec::new();
    let mut done = 0;
    while done < prompt.len() {
        let end = (done + chunk).min(prompt.len());
        let rows: Vec<usize> = if end == prompt.len() {
            vec![end - done - 1]
        } else {
            vec![]
        };
        last = run_chunk(model, &mut kv, &prompt[done..end], done, &table, &rows)?;
        done = end;
    }
    let mut ids = Vec::new();
    let mut steps = Vec::new();
    for step in 0..n_new {
        let next = argmax(&last);
        ids.push(next);
        steps.push(std::mem::take(&mut last));
        if step + 1 < n_new {
            last = run_chunk(model, &mut kv, &[next], prompt.len() + step, &table, &[0])?;
        }
    }
    Ok((ids, steps))
}

/// Index of the largest value, the lowest index on ties.
pub fn argmax(x: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best as u32
}

/// The `k` largest entries, descending, lower id first on ties.
pub fn topk(x: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut idx: Vec<u32> = (0..x.len() as u32).collect();
    let k = k.min(x.len());
    idx.select_nth_unstable_by(k.saturating_sub(1), |&a, &b| {
        x[b as usize].total_cmp(&x[a as usize]).then(a.cmp(&b))
    });
    idx.truncate(k);
    idx.sort_by(|&a, &b| x[b as usize].total_cmp(&x[a as usize]).then(a.cmp(&b)));
    idx.into_iter().map(|i| (i, x[i as usize])).collect()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Checks our top-10 ids against the reference's: equal, except that two adjacent reference
/// entries whose values differ by less than `tie` may come swapped, and the 10th may be another id
/// whose value is within `tie` of the reference's 10th value. Returns a description on mismatch.
pub fn topk_matches(
    logits: &[f32],
    ref_ids: &[u32],
    ref_vals: &[f32],
    tie: f32,
) -> Result<(), String> {
    let ours: Vec<u32> = topk(logits, ref_ids.len())
        .into_iter()
        .map(|(i, _)| i)
        .collect();
    let k = ref_ids.len();
    let mut j = 0;
    while j < k {
        if ours[j] == ref_ids[j] {
            j += 1;
            continue;
        }
        let swapped = j + 1 < k
            && ours[j] == ref_ids[j + 1]
            && ours[j + 1] == ref_ids[j]
            && (ref_vals[j] - ref_vals[j + 1]).abs() < tie;
        if swapped {
            j += 2;
            continue;
        }
        let last_tie = j + 1 == k && (logits[ours[j] as usize] - ref_vals[j]).abs() < tie;
        if last_tie {
            j += 1;
            continue;
        }
        return Err(format!(
            "ours {ours:?} vs reference {ref_ids:?} (first difference at rank {j})"
        ));
    }
    Ok(())
}

/// Calls `f(pos, logits)` for every position of `prompt` (prefill in chunks of `chunk` tokens with
/// every row requested, through a scrambled block table of 16-token blocks).
pub fn visit_position_logits(
    model: &mut dyn Model,
    prompt: &[u32],
    chunk: usize,
    f: &mut dyn FnMut(usize, &[f32]),
) -> Result<()> {
    let block_size = 16;
    let n_blocks = prompt.len().div_ceil(block_size);
    let mut kv = KvTensors::new(model.kv_spec(), n_blocks + 2, block_size)?;
    let table = scrambled_table(n_blocks, n_blocks + 2);
    let vocab = model.config().vocab_size;
    let mut done = 0;
    while done < prompt.len() {
        let end = (done + chunk).min(prompt.len());
        let rows: Vec<usize> = (0..end - done).collect();
        let l = run_chunk(model, &mut kv, &prompt[done..end], done, &table, &rows)?;
        for (r, row) in l.chunks_exact(vocab).enumerate() {
            f(done + r, row);
        }
        done = end;
    }
    Ok(())
}

/// A source whose tensors are the inner source's, dequantized to owned f32 (test-only: isolates the
/// weight rounding of a quantized file from the activation quantization of quantized matmuls).
pub struct Dequantized<'a>(pub &'a dyn formats::WeightSource);

impl formats::WeightSource for Dequantized<'_> {
    fn kind(&self) -> formats::SourceKind {
        self.0.kind()
    }

    fn tensor(&self, name: &str) -> Result<tensor::Tensor, formats::Error> {
        let t = self.0.tensor(name)?;
        let row = *t.shape.last().unwrap_or(&1);
        let mut out = vec![0f32; t.numel()];
        let row_bytes = t.dtype.row_bytes(row).unwrap();
        for (src, dst) in t.bytes().chunks(row_bytes).zip(out.chunks_mut(row)) {
            quant::dequantize_row(t.dtype, src, dst).unwrap();
        }
        Ok(tensor::Tensor::from_f32(t.shape.clone(), out)?)
    }

    fn tensor_names(&self) -> Vec<String> {
        self.0.tensor_names()
    }

    fn has(&self, name: &str) -> bool {
        self.0.has(name)
    }
}
