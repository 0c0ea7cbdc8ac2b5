//! Bit-for-bit and numeric agreement with llama.cpp itself: the files in fixtures/llamacpp/ were
//! written by llama.cpp's own quantizers, dequantizers and CPU vec_dot kernels (gen_reference.c,
//! linked against a built libggml; see the README there).

mod common;

use common::{abs_dot, dequantize};
use quant::{GgmlType, Kernels};
use std::path::PathBuf;

const ROWS: usize = 6;
const N: usize = 512;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llamacpp")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The fixture bytes copied into an aligned buffer (block casts need alignment).
fn aligned(bytes: &[u8]) -> quant::AlignedBytes {
    let mut buf = quant::AlignedBytes::new();
    buf.resize(bytes.len());
    buf.as_bytes_mut().copy_from_slice(bytes);
    buf
}

fn quantize_rows(ty: GgmlType, x: &[f32]) -> Vec<u8> {
    let rb = ty.row_bytes(N).unwrap();
    let mut out = Vec::new();
    for row in x.chunks_exact(N) {
        out.extend_from_slice(common::quantize(ty, row).as_bytes());
    }
    assert_eq!(out.len(), ROWS * rb);
    out
}

/// Index of the first differing block, for a readable failure.
fn first_diff(ty: GgmlType, ours: &[u8], theirs: &[u8]) -> Option<usize> {
    ours.chunks(ty.type_size())
        .zip(theirs.chunks(ty.type_size()))
        .position(|(a, b)| a != b)
}

#[test]
fn activation_quantizers_match_llamacpp_reference_bytes() {
    let acts = f32s(&fixture("acts.f32"));
    for ty in [GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8K] {
        let ours = quantize_rows(ty, &acts);
        let theirs = fixture(&format!("{}.act_ref", ty.name()));
        assert_eq!(
            first_diff(ty, &ours, &theirs),
            None,
            "{ty}: first differing block"
        );
        assert_eq!(ours, theirs);
    }
}

/// llama.cpp's matmuls quantize activations with the CPU backend's own Q8_0 / Q8_1 quantizers,
/// which on x86 use 127/amax and round half to even. Away from exact ties (rows 0..5 here) they
/// give the same bytes as the reference ones we implement; on the tie row (5) they differ.
#[test]
fn activation_quantizers_match_llamacpp_cpu_bytes_away_from_ties() {
    let acts = f32s(&fixture("acts.f32"));
    for ty in [GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8K] {
        let rb = ty.row_bytes(N).unwrap();
        let ours = quantize_rows(ty, &acts);
        let cpu = fixture(&format!("{}.act_cpu", ty.name()));
        let (ours, cpu) = (&ours[..5 * rb], &cpu[..5 * rb]);
        assert_eq!(
            first_diff(ty, ours, cpu),
            None,
            "{ty}: first block differing from llama.cpp's CPU quantizer"
        );
    }
}

#[test]
fn weight_quantizers_match_llamacpp_reference_bytes() {
    let weights = f32s(&fixture("weights.f32"));
    for ty in [
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ] {
        let ours = quantize_rows(ty, &weights);
        let theirs = fixture(&format!("{}.quant", ty.name()));
        assert_eq!(
            first_diff(ty, &ours, &theirs),
            None,
            "{ty}: first differing block"
        );
    }
}

#[test]
fn dequantize_matches_llamacpp_bit_for_bit() {
    for ty in [
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ] {
        let q = aligned(&fixture(&format!("{}.quant", ty.name())));
        let theirs = f32s(&fixture(&format!("{}.dequant.f32", ty.name())));
        let rb = ty.row_bytes(N).unwrap();
        for (r, (row, want)) in q
            .as_bytes()
            .chunks_exact(rb)
            .zip(theirs.chunks_exact(N))
            .enumerate()
        {
            let mut got = vec![0f32; N];
            quant::dequantize_row(ty, row, &mut got).unwrap();
            for (i, (g, w)) in got.iter().zip(want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "{ty} row {r} value {i}: {g} vs {w}"
                );
            }
        }
    }
}

/// Our dots on llama.cpp's bytes (weights from its reference quantizer, activations from its CPU
/// quantizer) against its CPU vec_dot: equal up to float summation order, for every kernel level.
#[test]
fn vec_dot_matches_llamacpp_cpu_kernels() {
    for ty in [
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q5_1,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ] {
        let at = quant::vec_dot_type(ty);
        let w = aligned(&fixture(&format!("{}.quant", ty.name())));
        let a = aligned(&fixture(&format!("{}.act_cpu", at.name())));
        let want = f32s(&fixture(&format!("{}.dot.f32", ty.name())));
        let (wrb, arb) = (ty.row_bytes(N).unwrap(), at.row_bytes(N).unwrap());
        for r in 0..ROWS {
            let w_row = &w.as_bytes()[r * wrb..(r + 1) * wrb];
            let w_deq = dequantize(ty, w_row, N);
            for c in 0..ROWS {
                let a_row = &a.as_bytes()[c * arb..(c + 1) * arb];
                let scale = abs_dot(&w_deq, &dequantize(at, a_row, N));
                let expected = want[r * ROWS + c];
                let got = quant::vec_dot(ty, w_row, a_row, N).unwrap();
                let tol = 1e-5 * scale + 1e-30;
                assert!(
                    (f64::from(got) - f64::from(expected)).abs() <= tol,
                    "{ty} w{r}·a{c}: {got} vs llama.cpp {expected} (tol {tol})"
                );
                for k in Kernels::available() {
                    let got = kernel_dot(&k, ty, w_row, a_row);
                    assert!(
                        (f64::from(got) - f64::from(expected)).abs() <= tol,
                        "{ty} {:?} w{r}·a{c}: {got} vs llama.cpp {expected}",
                        k.level
                    );
                }
            }
        }
    }
}

fn kernel_dot(k: &Kernels, ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    use quant::cast_blocks as c;
    match ty {
        GgmlType::Q4_0 => (k.q4_0_q8_0)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q4_1 => (k.q4_1_q8_1)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q5_0 => (k.q5_0_q8_0)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q5_1 => (k.q5_1_q8_1)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q8_0 => (k.q8_0_q8_0)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q4K => (k.q4k_q8k)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q5K => (k.q5k_q8k)(c(w).unwrap(), c(a).unwrap()),
        GgmlType::Q6K => (k.q6k_q8k)(c(w).unwrap(), c(a).unwrap()),
        _ => unreachable!(),
    }
}
