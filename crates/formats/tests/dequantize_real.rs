//! Tensor data read through `WeightSource` and dequantized by `quant::dequantize_row` against the
//! fixtures README: BF16 GGUF = safetensors bit for bit, Q8_0 within 2.1e-3, and the real SmolLM2
//! (Q4_1) and Gemma 3 (Q5_0/Q4_K/Q6_K/Q8_0) files dequantize to finite values everywhere.

mod common;

use std::collections::BTreeMap;

use common::qwen3_names::hf_name;
use formats::{GgufFile, HfModelDir, WeightSource};
use quant::GgmlType;
use tensor::Tensor;

/// Calls `f` with each dequantized row (rows run along the innermost dimension).
fn for_each_row(t: &Tensor, buf: &mut Vec<f32>, mut f: impl FnMut(usize, &[f32])) {
    let row_len = t.shape.last().copied().unwrap_or(1);
    let row_bytes = t.dtype.row_bytes(row_len).unwrap();
    buf.resize(row_len, 0.0);
    for (i, src) in t.bytes().chunks_exact(row_bytes).enumerate() {
        quant::dequantize_row(t.dtype, src, buf).unwrap();
        f(i, buf);
    }
}

fn dequantize(t: &Tensor) -> Vec<f32> {
    let mut out = Vec::with_capacity(t.numel());
    for_each_row(t, &mut Vec::new(), |_, r| out.extend_from_slice(r));
    out
}

fn hf_tiny() -> HfModelDir {
    HfModelDir::open(common::fixtures_dir().join("qwen3-tiny")).unwrap()
}

#[test]
fn bf16_gguf_equals_safetensors_bit_for_bit() {
    let g = GgufFile::open(common::model_file(common::QWEN3_TINY_BF16)).unwrap();
    let hf = hf_tiny();
    let mut n = 0;
    for name in g.tensor_names() {
        let a = g.tensor(&name).unwrap();
        let b = hf.tensor(&hf_name(&name)).unwrap();
        assert_eq!(a.shape, b.shape, "{name}");
        let (a, b) = (dequantize(&a), dequantize(&b));
        assert_eq!(a.len(), b.len());
        let diff = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x.to_bits() != y.to_bits())
            .count();
        assert_eq!(diff, 0, "{name}: {diff} values differ");
        n += 1;
    }
    assert_eq!(n, 24);
}

#[test]
fn q8_0_gguf_is_within_2_1e_3_of_safetensors() {
    let g = GgufFile::open(common::model_file(common::QWEN3_TINY_Q8_0)).unwrap();
    let hf = hf_tiny();
    let mut max_err = 0f32;
    for name in g.tensor_names() {
        let a = g.tensor(&name).unwrap();
        let b = hf.tensor(&hf_name(&name)).unwrap();
        let (a_vals, b_vals) = (dequantize(&a), dequantize(&b));
        let err = a_vals
            .iter()
            .zip(&b_vals)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        if a.dtype == GgmlType::F32 {
            assert_eq!(err, 0.0, "{name}: F32 norms are exact");
        }
        max_err = max_err.max(err);
    }
    eprintln!("Q8_0 max abs weight error: {max_err:e} (fixtures README: 2.1e-3)");
    assert!(max_err <= 2.2e-3, "max abs error {max_err}");
    assert!(
        max_err > 1e-3,
        "Q8_0 should not be lossless here: {max_err}"
    );
}

/// Dequantizes every tensor, asserts all values are finite, returns tensor counts per type.
fn all_finite(file: &str) -> BTreeMap<&'static str, usize> {
    let g = GgufFile::open(common::model_file(file)).unwrap();
    let mut counts = BTreeMap::new();
    let mut buf = Vec::new();
    for name in g.tensor_names() {
        let t = g.tensor(&name).unwrap();
        *counts.entry(t.dtype.name()).or_insert(0) += 1;
        let mut n = 0usize;
        for_each_row(&t, &mut buf, |i, r| {
            assert!(
                r.iter().all(|x| x.is_finite()),
                "{name} row {i} has a non-finite value"
            );
            n += r.len();
        });
        assert_eq!(n, t.numel(), "{name}");
    }
    counts
}

#[test]
fn smollm2_q4_1_dequantizes_to_finite_values() {
    let counts = all_finite(common::SMOLLM2_Q4_1);
    eprintln!("SmolLM2 tensor types: {counts:?}");
    assert!(counts.get("q4_1").copied().unwrap_or(0) > 0, "{counts:?}");
}

#[test]
fn gemma3_q4_k_m_dequantizes_to_finite_values() {
    let counts = all_finite(common::GEMMA3_Q4_K_M);
    eprintln!("Gemma 3 tensor types: {counts:?}");
    for ty in [GgmlType::Q5_0, GgmlType::Q4K, GgmlType::Q6K, GgmlType::Q8_0] {
        assert!(
            counts.get(ty.name()).copied().unwrap_or(0) > 0,
            "no {ty} tensors: {counts:?}"
        );
    }
}
