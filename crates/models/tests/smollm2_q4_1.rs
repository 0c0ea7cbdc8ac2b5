//! Llama forward on the real SmolLM2-135M-Instruct (GGUF, Q4_1 blocks) against llama.cpp's greedy
//! runs in tests/fixtures/smollm2-llamacpp/: per prompt the prompt ids, the generated ids and the
//! top-5 log-probs llama.cpp saw at every step. llama.cpp ran the Q4_1 file and F32 / F16 files
//! requantized from it, with its default CPU settings (f16 KV cache, flash attention).
//!
//! What each comparison can promise:
//! - F32 weights (the Q4_1 blocks dequantized here, the same values as llama.cpp's F32 file): the
//!   math is exact on both sides except llama.cpp's f16 KV cache / f16 flash-attention accumulators
//!   (fixtures README: ~2e-3 on logits). Tight: 0.01 at step 0, 0.03 at every step, greedy equal.
//! - F16 weights (the same values rounded to f16 like llama-quantize): llama.cpp also rounds the
//!   activations to f16 for F16 matmuls, we keep them f32; 0.05 per step.
//! - Q4_1 weights: both sides quantize activations to Q8_1 (Q8_0 for the Q8_0 token embedding /
//!   tied output), but this model is very sensitive to that rounding: llama.cpp's own Q4_1 and F32
//!   runs differ by up to 0.96 in top-5 log-probs (mean 0.15–0.23 per prompt) and part after 5, 16
//!   and 25 tokens. Any perturbation upstream of a Q8_1 rounding flips int8 codes whose step is large
//!   next to typical activations (SmolLM2 has outlier channels), and the flips cascade: emulating
//!   llama.cpp's f16 K/V and f16 Q in our attention moved our own Q4_1 step-0 log-probs by up to
//!   0.3, and a mere change of summation order inside quant's AVX2 Q4_1 dot (two accumulators
//!   instead of one) moved our step-0 distance to llama.cpp from 0.05 to 0.24. The F32 run, with
//!   the same weights and no activation rounding, stays within 0.02 under both changes. So the two
//!   Q4_1 runs agree only within that noise band, not bit-near. The assertions there
//!   are: log-probs within 0.75 at every step both runs share, mean within 0.3, and a greedy
//!   divergence only where llama.cpp's top-2 margin lies inside twice that band and our token is one
//!   of its top 5 (the measured log-prob agreement then explains the swap).

mod common;

use common::{greedy_paged, read_json};
use formats::{GgufFile, ModelConfig, SourceKind, WeightSource};
use models::Model;
use tensor::{Storage, Tensor};

struct Run {
    prompt: Vec<u32>,
    generated: Vec<u32>,
    /// llama.cpp's top 5 `(id, logprob)` at each generated step.
    top5: Vec<Vec<(u32, f32)>>,
}

fn fixture(name: &str) -> Vec<Run> {
    let path = common::fixtures_dir().join(format!(
        "smollm2-llamacpp/SmolLM2-135M-Instruct.{name}.json"
    ));
    let json = read_json(&path).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|c| Run {
            prompt: common::u32s(&c["prompt_tokens"]),
            generated: common::u32s(&c["generated_tokens"]),
            top5: c["top5"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    s.as_array()
                        .unwrap()
                        .iter()
                        .map(|e| (e[0].as_u64().unwrap() as u32, e[2].as_f64().unwrap() as f32))
                        .collect()
                })
                .collect(),
        })
        .collect()
}

fn log_softmax(x: &[f32]) -> Vec<f32> {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f64 = x.iter().map(|&v| ((v - max) as f64).exp()).sum();
    let lse = max + sum.ln() as f32;
    x.iter().map(|&v| v - lse).collect()
}

struct Tolerance {
    step0: f32,
    every_step: f32,
    mean: f32,
}

/// Greedy-decodes every prompt of the fixture and checks it against llama.cpp's run (see the module
/// doc for what is asserted). Returns the greedy prefix length of each prompt.
fn compare(model: &mut dyn Model, fixture_name: &str, tol: &Tolerance) -> Vec<usize> {
    let mut prefixes = Vec::new();
    for (ci, run) in fixture(fixture_name).iter().enumerate() {
        let n = run.generated.len();
        let (ours, logits) = greedy_paged(model, &run.prompt, n, 16, usize::MAX).unwrap();
        let prefix = ours
            .iter()
            .zip(&run.generated)
            .take_while(|(a, b)| a == b)
            .count();

        // Log-probs of llama.cpp's top 5 at every step where both saw the same context.
        let diffs: Vec<f32> = (0..=prefix.min(n - 1))
            .map(|s| {
                let lp = log_softmax(&logits[s]);
                run.top5[s]
                    .iter()
                    .map(|&(id, want)| (lp[id as usize] - want).abs())
                    .fold(0.0, f32::max)
            })
            .collect();
        let worst = diffs.iter().copied().fold(0.0, f32::max);
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        eprintln!(
            "{fixture_name} prompt {ci}: greedy {prefix}/{n} equal; top-5 log-prob diff step 0 {:.4}, max {worst:.4}, mean {mean:.4}",
            diffs[0]
        );
        assert!(
            diffs[0] <= tol.step0,
            "{fixture_name} prompt {ci}: step-0 log-probs off by {}",
            diffs[0]
        );
        assert!(
            worst <= tol.every_step,
            "{fixture_name} prompt {ci}: log-probs off by {worst}"
        );
        assert!(
            mean <= tol.mean,
            "{fixture_name} prompt {ci}: mean log-prob difference {mean}"
        );

        if prefix < n {
            let top5 = &run.top5[prefix];
            let ours_lp = top5.iter().find(|e| e.0 == ours[prefix]).map(|e| e.1);
            let margin = ours_lp.map(|lp| top5[0].1 - lp);
            eprintln!(
                "{fixture_name} prompt {ci}: diverges at step {prefix}: ours {} vs llama.cpp {}, llama.cpp margin to ours {margin:?}",
                ours[prefix], run.generated[prefix]
            );
            assert!(
                margin.is_some_and(|m| m < 2.0 * tol.every_step),
                "{fixture_name} prompt {ci}: step {prefix} picked {} outside llama.cpp's near-ties {top5:?}",
                ours[prefix]
            );
        }
        prefixes.push(prefix);
    }
    prefixes
}

fn q4_1_file() -> GgufFile {
    GgufFile::open(common::model_file("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap()
}

/// The Q4_1 file's 2-D weights dequantized and rounded to f16 (llama-quantize's F16 conversion,
/// round to nearest even); 1-D norm weights stay f32 as in llama.cpp's F16 files.
struct AsF16<'a>(&'a dyn WeightSource);

impl WeightSource for AsF16<'_> {
    fn kind(&self) -> SourceKind {
        self.0.kind()
    }

    fn tensor(&self, name: &str) -> Result<Tensor, formats::Error> {
        let t = common::Dequantized(self.0).tensor(name)?;
        if t.shape.len() < 2 {
            return Ok(t);
        }
        let bytes: Vec<u8> = t
            .bytes()
            .chunks_exact(4)
            .flat_map(|c| {
                half::f16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes()
            })
            .collect();
        Ok(Tensor::new(
            quant::GgmlType::F16,
            t.shape,
            Storage::Bytes(bytes.into()),
        )?)
    }

    fn tensor_names(&self) -> Vec<String> {
        self.0.tensor_names()
    }

    fn has(&self, name: &str) -> bool {
        self.0.has(name)
    }
}

fn load(src: &dyn WeightSource, gguf: &GgufFile) -> Box<dyn Model> {
    let cfg = ModelConfig::from_gguf(gguf).unwrap();
    models::load(src, &cfg, 2, &mut |_, _| {}).unwrap()
}

#[test]
fn f32_weights_match_llama_cpp_f32_run() {
    let gguf = q4_1_file();
    let mut model = load(&common::Dequantized(&gguf), &gguf);
    let tol = Tolerance {
        step0: 0.01,
        every_step: 0.03,
        mean: 0.01,
    };
    let prefixes = compare(model.as_mut(), "F32-from-Q4_1", &tol);
    // Exact math on both sides: every greedy token equal (30 ending with EOS, 64, 64).
    let lens: Vec<usize> = fixture("F32-from-Q4_1")
        .iter()
        .map(|r| r.generated.len())
        .collect();
    assert_eq!(prefixes, lens);
}

#[test]
fn f16_weights_match_llama_cpp_f16_run() {
    let gguf = q4_1_file();
    let mut model = load(&AsF16(&gguf), &gguf);
    let tol = Tolerance {
        step0: 0.05,
        every_step: 0.05,
        mean: 0.02,
    };
    compare(model.as_mut(), "F16-from-Q4_1", &tol);
}

#[test]
fn q4_1_weights_match_llama_cpp_q4_1_run_within_its_quantization_noise() {
    let gguf = q4_1_file();
    let mut model = load(&gguf, &gguf);
    let tol = Tolerance {
        step0: 0.75,
        every_step: 0.75,
        mean: 0.3,
    };
    compare(model.as_mut(), "Q4_1", &tol);
}

#[test]
fn q4_1_chunked_prefill_and_batching_are_bit_identical() {
    // The quantized path must not depend on how tokens are grouped: one chunk vs two, and two
    // sequences in one batch vs alone (activation rows are quantized independently).
    let gguf = q4_1_file();
    let mut model = load(&gguf, &gguf);
    let vocab = model.config().vocab_size;
    let runs = fixture("Q4_1");
    let (a, b) = (&runs[1].prompt, &runs[2].prompt); // 10 and 6 tokens
    let spec = model.kv_spec();
    let rows = |n: usize| (0..n).collect::<Vec<usize>>();

    let mut kv = models::KvTensors::new(spec, 4, 4).unwrap();
    let one = common::run_chunk(model.as_mut(), &mut kv, a, 0, &[3, 1, 0], &rows(a.len())).unwrap();
    let mut kv = models::KvTensors::new(spec, 4, 4).unwrap();
    common::run_chunk(model.as_mut(), &mut kv, &a[..5], 0, &[3, 1, 0], &[]).unwrap();
    let two = common::run_chunk(
        model.as_mut(),
        &mut kv,
        &a[5..],
        5,
        &[3, 1, 0],
        &rows(a.len() - 5),
    )
    .unwrap();
    assert!(two == one[5 * vocab..], "chunked prefill differs");

    let mut kv = models::KvTensors::new(spec, 4, 4).unwrap();
    let alone_b =
        common::run_chunk(model.as_mut(), &mut kv, b, 0, &[2, 0], &rows(b.len())).unwrap();
    let mut kv = models::KvTensors::new(spec, 6, 4).unwrap();
    let mut batch = models::ForwardBatch::default();
    batch.push_seq(a, 0, &[5, 1, 3], 4, false).unwrap();
    batch.push_seq(b, 0, &[0, 4], 4, false).unwrap();
    batch.logits_rows = rows(a.len() + b.len());
    let both = model.forward(&batch, &mut kv).unwrap();
    assert!(
        both[..a.len() * vocab] == one[..],
        "sequence a differs when batched"
    );
    assert!(
        both[a.len() * vocab..] == alone_b[..],
        "sequence b differs when batched"
    );
}
