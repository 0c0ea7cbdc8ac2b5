//! The qwen3-tiny reference checks, shared by the safetensors and GGUF tests
//! (fixture: tests/fixtures/qwen3-tiny/expected.json, see README-qwen3.md "Tolerances").

use std::collections::HashMap;

use anyhow::{anyhow, ensure, Result};
use models::{ForwardBatch, KvTensors, Model};

use super::*;

/// f32 compute: at every position of every prompt the top-10 ids equal the reference's (adjacent
/// swaps of near-ties allowed) and our logits at the reference ids are within `tol`; the last
/// position's full logits are within `tol`. Returns the largest errors (last logits, top-k values).
pub fn check_logits_and_topk(model: &mut dyn Model, tol: f32) -> Result<(f32, f32)> {
    let (_, prompts) = tiny_expected()?;
    let (mut worst_last, mut worst_topk) = (0f32, 0f32);
    for p in &prompts {
        ensure!(
            p.topk.len() == p.ids.len(),
            "{}: topk for every position",
            p.name
        );
        let mut failures = Vec::new();
        let mut last_err = f32::NAN;
        let mut seen = 0;
        visit_position_logits(model, &p.ids, 64, &mut |pos, logits| {
            seen += 1;
            let (rpos, rids, rvals) = &p.topk[pos];
            assert_eq!(*rpos, pos);
            if let Err(e) = topk_matches(logits, rids, rvals, 1e-4) {
                failures.push(format!("{} pos {pos}: {e}", p.name));
            }
            for (&id, &v) in rids.iter().zip(rvals) {
                worst_topk = worst_topk.max((logits[id as usize] - v).abs());
            }
            if pos + 1 == p.ids.len() {
                last_err = max_abs_diff(logits, &p.last_logits);
            }
        })?;
        ensure!(seen == p.ids.len(), "{}: {seen} positions", p.name);
        ensure!(
            failures.is_empty(),
            "top-10 mismatches:\n{}",
            failures.join("\n")
        );
        eprintln!(
            "{}: last-position logits max abs error {last_err:.3e}",
            p.name
        );
        ensure!(
            last_err <= tol,
            "{}: last logits max abs error {last_err} > {tol}",
            p.name
        );
        worst_last = worst_last.max(last_err);
    }
    eprintln!(
        "all prompts: last logits max abs {worst_last:.3e}, top-10 values max abs {worst_topk:.3e}"
    );
    ensure!(
        worst_topk <= tol,
        "top-10 values max abs error {worst_topk} > {tol}"
    );
    Ok((worst_last, worst_topk))
}

/// The 32 greedy ids of every prompt, generated one token per step through the paged cache
/// (16-token blocks, which divide none of the prompt lengths 19/27/35/332, and a scrambled table).
pub fn check_greedy(model: &mut dyn Model) -> Result<()> {
    let (_, prompts) = tiny_expected()?;
    for p in &prompts {
        ensure!(
            p.ids.len() % 16 != 0,
            "block size must not divide the prompt length"
        );
        let (ids, steps) = greedy_paged(model, &p.ids, p.greedy.len(), 16, usize::MAX)?;
        let err = max_abs_diff(&steps[0], &p.last_logits);
        eprintln!(
            "{}: greedy {}/{} equal, step-0 logits max abs {err:.3e}",
            p.name,
            common_prefix(&ids, &p.greedy),
            p.greedy.len()
        );
        ensure!(
            ids == p.greedy,
            "{}: greedy ids\n ours {ids:?}\n ref  {:?}",
            p.name,
            p.greedy
        );
    }
    Ok(())
}

pub fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Prefill in two chunks (split inside a block, at a block boundary, after one token) gives
/// bit-identical logits to one chunk, at every position of the second chunk.
pub fn check_chunked_prefill(model: &mut dyn Model) -> Result<()> {
    let (_, prompts) = tiny_expected()?;
    let prompt = &prompts[0].ids; // 19 tokens
    let vocab = model.config().vocab_size;
    let n_blocks = prompt.len().div_ceil(16);
    let table = scrambled_table(n_blocks, n_blocks + 4);
    let all_rows: Vec<usize> = (0..prompt.len()).collect();
    let mut kv = KvTensors::new(model.kv_spec(), n_blocks + 4, 16)?;
    let one = run_chunk(model, &mut kv, prompt, 0, &table, &all_rows)?;
    for split in [7, 16, 1, 18] {
        let mut kv = KvTensors::new(model.kv_spec(), n_blocks + 4, 16)?;
        let first = run_chunk(model, &mut kv, &prompt[..split], 0, &table, &[])?;
        ensure!(first.is_empty(), "no logits rows asked, none returned");
        let rows: Vec<usize> = (0..prompt.len() - split).collect();
        let second = run_chunk(model, &mut kv, &prompt[split..], split, &table, &rows)?;
        let diff = max_abs_diff(&second, &one[split * vocab..]);
        ensure!(
            second == one[split * vocab..],
            "split at {split}: logits differ from one chunk by up to {diff}"
        );
    }
    Ok(())
}

/// `forward_traced` on p0_plain against the per-layer activation files. Returns the largest error.
pub fn check_activations(model: &mut dyn Model, tol: f32) -> Result<f32> {
    let (exp, prompts) = tiny_expected()?;
    let p = prompts
        .iter()
        .find(|p| p.name == "p0_plain")
        .ok_or_else(|| anyhow!("no p0_plain"))?;
    let n_blocks = p.ids.len().div_ceil(16);
    let mut kv = KvTensors::new(model.kv_spec(), n_blocks + 1, 16)?;
    let mut batch = ForwardBatch::default();
    batch.push_seq(
        &p.ids,
        0,
        &scrambled_table(n_blocks, n_blocks + 1),
        16,
        true,
    )?;
    let mut got: HashMap<String, Vec<f32>> = HashMap::new();
    let traced = model
        .forward_traced(&batch, &mut kv, &mut |name, x| {
            assert!(
                got.insert(name.to_string(), x.to_vec()).is_none(),
                "{name} emitted twice"
            );
        })?
        .to_vec();
    let last_err = max_abs_diff(&traced, &p.last_logits);
    ensure!(
        last_err <= tol,
        "traced forward last logits off by {last_err}"
    );
    let files = exp["activations"]["files"]
        .as_array()
        .ok_or_else(|| anyhow!("no activation files"))?;
    ensure!(
        files.len() == 28,
        "expected 28 activation files, found {}",
        files.len()
    );
    let mut worst = 0f32;
    for f in files {
        let name = f["name"].as_str().unwrap_or_default();
        let want = read_f32(&tiny_dir().join(f["file"].as_str().unwrap_or_default()))?;
        let numel: usize = f["shape"]
            .as_array()
            .map(|s| s.iter().filter_map(|d| d.as_u64()).product::<u64>() as usize)
            .unwrap_or(0);
        ensure!(
            want.len() == numel,
            "{name}: file has {} values, shape says {numel}",
            want.len()
        );
        let ours = got
            .get(name)
            .ok_or_else(|| anyhow!("activation {name} was not traced"))?;
        ensure!(
            ours.len() == want.len(),
            "{name}: {} values traced, {} expected",
            ours.len(),
            want.len()
        );
        let err = max_abs_diff(ours, &want);
        eprintln!("  activation {name:<36} max abs {err:.3e}");
        ensure!(err <= tol, "activation {name}: max abs error {err} > {tol}");
        worst = worst.max(err);
    }
    ensure!(
        got.len() == files.len(),
        "traced {} names, the fixture has {}: {:?}",
        got.len(),
        files.len(),
        got.keys().collect::<Vec<_>>()
    );
    Ok(worst)
}

/// Q8_0 weights (README "Q8_0 weights"): last logits within 0.25, top-10 overlap ≥ 7, the first
/// greedy token equal. Returns the largest last-logits error.
pub fn check_q8_0(model: &mut dyn Model) -> Result<f32> {
    let (_, prompts) = tiny_expected()?;
    let mut worst = 0f32;
    for p in &prompts {
        let (ids, steps) = greedy_paged(model, &p.ids, 1, 16, usize::MAX)?;
        let logits = &steps[0];
        let err = max_abs_diff(logits, &p.last_logits);
        let (_, ref_ids, _) = &p.topk[p.ids.len() - 1];
        let ours: Vec<u32> = topk(logits, 10).into_iter().map(|(i, _)| i).collect();
        let overlap = ours.iter().filter(|i| ref_ids.contains(i)).count();
        eprintln!("{}: Q8_0 last logits max abs {err:.4}, top-10 overlap {overlap}, first token {} (ref {})", p.name, ids[0], p.greedy[0]);
        ensure!(
            err <= 0.25,
            "{}: last logits max abs error {err} > 0.25",
            p.name
        );
        ensure!(overlap >= 7, "{}: top-10 overlap {overlap} < 7", p.name);
        ensure!(
            ids[0] == p.greedy[0],
            "{}: first greedy token {} != {}",
            p.name,
            ids[0],
            p.greedy[0]
        );
        worst = worst.max(err);
    }
    Ok(worst)
}
