//! Every SIMD kernel table available on this CPU against the scalar reference kernels.
//!
//! With all scales 1.0 every partial sum is a small integer, so any difference in the integer
//! part of a kernel shows up as inequality; with random scales only the float summation order may
//! differ (bounded by 1e-5 of Σ|w·a|). F32 / F16 / BF16 weights are read from misaligned bytes too.

mod common;

use common::{abs_dot, dequantize, quantize, Rng};
use half::f16;
use quant::{cast_blocks, cast_blocks_mut, AlignedBytes, GgmlType, Kernels, SimdLevel};
use quant::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8K};
use quant::{BlockQ8_0, BlockQ8_1};

const QUANTIZED: [GgmlType; 8] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

fn simd_tables() -> Vec<Kernels> {
    let tables: Vec<Kernels> = Kernels::available()
        .into_iter()
        .filter(|k| k.level != SimdLevel::Scalar)
        .collect();
    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        assert!(
            tables.iter().any(|k| k.level == SimdLevel::Avx2),
            "AVX2 CPU without an AVX2 table"
        );
    }
    tables
}

/// Random quants with scale fields set to `unit ? 1.0 : small random` values.
fn random_weights(rng: &mut Rng, ty: GgmlType, n_blocks: usize, unit: bool) -> AlignedBytes {
    let mut buf = AlignedBytes::new();
    buf.resize(n_blocks * ty.type_size());
    for b in buf.as_bytes_mut() {
        *b = rng.byte();
    }
    let mut s = || {
        if unit {
            f16::ONE
        } else {
            f16::from_f32(rng.uniform() * 0.05)
        }
    };
    let bytes = buf.as_bytes_mut();
    match ty {
        GgmlType::Q4_0 => cast_blocks_mut::<BlockQ4_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q5_0 => cast_blocks_mut::<BlockQ5_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q8_0 => cast_blocks_mut::<BlockQ8_0>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        GgmlType::Q4_1 => cast_blocks_mut::<BlockQ4_1>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.m) = (s(), s())),
        GgmlType::Q5_1 => cast_blocks_mut::<BlockQ5_1>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.m) = (s(), s())),
        GgmlType::Q4K => cast_blocks_mut::<BlockQ4K>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.dmin) = (s(), s())),
        GgmlType::Q5K => cast_blocks_mut::<BlockQ5K>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| (b.d, b.dmin) = (s(), s())),
        GgmlType::Q6K => cast_blocks_mut::<BlockQ6K>(bytes)
            .unwrap()
            .iter_mut()
            .for_each(|b| b.d = s()),
        _ => unreachable!(),
    }
    buf
}

/// Activations from our quantizer (quants in [-127, 127], consistent sums); `unit` sets d (and s) to 1.
fn activations(rng: &mut Rng, ty: GgmlType, n: usize, unit: bool, saturate: bool) -> AlignedBytes {
    let x: Vec<f32> = (0..n)
        .map(|_| {
            if saturate {
                rng.uniform().signum()
            } else {
                rng.normal()
            }
        })
        .collect();
    let mut buf = quantize(ty, &x);
    if unit {
        let bytes = buf.as_bytes_mut();
        match ty {
            GgmlType::Q8_0 => cast_blocks_mut::<BlockQ8_0>(bytes)
                .unwrap()
                .iter_mut()
                .for_each(|b| b.d = f16::ONE),
            GgmlType::Q8_1 => cast_blocks_mut::<BlockQ8_1>(bytes)
                .unwrap()
                .iter_mut()
                .for_each(|b| (b.d, b.s) = (f16::ONE, f16::ONE)),
            GgmlType::Q8K => cast_blocks_mut::<BlockQ8K>(bytes)
                .unwrap()
                .iter_mut()
                .for_each(|b| b.d = 1.0),
            _ => unreachable!(),
        }
    }
    buf
}

fn run(k: &Kernels, ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    match ty {
        GgmlType::Q4_0 => (k.q4_0_q8_0)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q4_1 => (k.q4_1_q8_1)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q5_0 => (k.q5_0_q8_0)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q5_1 => (k.q5_1_q8_1)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q8_0 => (k.q8_0_q8_0)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q4K => (k.q4k_q8k)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q5K => (k.q5k_q8k)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        GgmlType::Q6K => (k.q6k_q8k)(cast_blocks(w).unwrap(), cast_blocks(a).unwrap()),
        _ => unreachable!(),
    }
}

/// Σ|m_w · s_a| over blocks (the Q8_1 offset term, not part of Σ|w·a| of the quants).
fn offset_scale(ty: GgmlType, w: &[u8], a: &[u8]) -> f64 {
    let s: Vec<f32> = cast_blocks::<BlockQ8_1>(a)
        .map(|b| b.iter().map(|b| b.s.to_f32()).collect())
        .unwrap_or_default();
    let m: Vec<f32> = match ty {
        GgmlType::Q4_1 => cast_blocks::<BlockQ4_1>(w)
            .unwrap()
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        GgmlType::Q5_1 => cast_blocks::<BlockQ5_1>(w)
            .unwrap()
            .iter()
            .map(|b| b.m.to_f32())
            .collect(),
        _ => return 0.0,
    };
    m.iter().zip(&s).map(|(m, s)| f64::from(m * s).abs()).sum()
}

#[test]
fn dispatch_uses_the_best_available_table() {
    let best = Kernels::available().last().map(|k| k.level);
    assert_eq!(Some(quant::kernels().level), best);
    assert!(Kernels::for_level(SimdLevel::Scalar).is_some());
}

#[test]
fn quantized_kernels_integer_parts_are_exact() {
    let mut rng = Rng::new(11);
    let scalar = Kernels::scalar();
    for k in simd_tables() {
        for ty in QUANTIZED {
            let at = quant::vec_dot_type(ty);
            // (blocks, activations at ±127) small enough that every sum stays below 2^23
            let cases = if ty.block_size() == 256 {
                [(1, false), (3, false), (1, true), (2, true)]
            } else {
                [(1, false), (3, false), (8, true), (2, true)]
            };
            for (nb, saturate) in cases {
                let n = nb * ty.block_size();
                let w = random_weights(&mut rng, ty, nb, true);
                let a = activations(&mut rng, at, n, true, saturate);
                let want = run(&scalar, ty, w.as_bytes(), a.as_bytes());
                assert!(
                    want.abs() < (1 << 23) as f32,
                    "integer sums must stay exact in f32: {ty} {nb} {want}"
                );
                let got = run(&k, ty, w.as_bytes(), a.as_bytes());
                assert_eq!(got, want, "{ty} {:?}, {nb} blocks", k.level);
            }
        }
    }
}

#[test]
fn quantized_kernels_match_scalar_with_random_scales() {
    let mut rng = Rng::new(12);
    let scalar = Kernels::scalar();
    for k in simd_tables() {
        for ty in QUANTIZED {
            let at = quant::vec_dot_type(ty);
            for nb in [1usize, 2, 5, 16] {
                let n = nb * ty.block_size();
                let w = random_weights(&mut rng, ty, nb, false);
                let a = activations(&mut rng, at, n, false, false);
                let scale = abs_dot(
                    &dequantize(ty, w.as_bytes(), n),
                    &dequantize(at, a.as_bytes(), n),
                ) + offset_scale(ty, w.as_bytes(), a.as_bytes());
                let want = run(&scalar, ty, w.as_bytes(), a.as_bytes());
                let got = run(&k, ty, w.as_bytes(), a.as_bytes());
                let tol = 1e-5 * scale;
                assert!(
                    (f64::from(got) - f64::from(want)).abs() <= tol,
                    "{ty} {:?} {nb} blocks: {got} vs {want}",
                    k.level
                );
            }
        }
    }
}

#[test]
fn quantized_kernels_read_the_shorter_row() {
    let mut rng = Rng::new(13);
    for k in Kernels::available() {
        for ty in QUANTIZED {
            let at = quant::vec_dot_type(ty);
            let wb = ty.type_size();
            let w = random_weights(&mut rng, ty, 3, true);
            let a = activations(&mut rng, at, 2 * ty.block_size(), true, false);
            let both_two = run(&k, ty, &w.as_bytes()[..2 * wb], a.as_bytes());
            assert_eq!(
                run(&k, ty, w.as_bytes(), a.as_bytes()),
                both_two,
                "{ty} {:?}",
                k.level
            );
            assert_eq!(run(&k, ty, &w.as_bytes()[..0], a.as_bytes()), 0.0);
            assert_eq!(run(&k, ty, w.as_bytes(), &a.as_bytes()[..0]), 0.0);
        }
    }
}

fn float_kernel(k: &Kernels, ty: GgmlType) -> fn(&[u8], &[f32]) -> f32 {
    match ty {
        GgmlType::F32 => k.f32_f32,
        GgmlType::F16 => k.f16_f32,
        _ => k.bf16_f32,
    }
}

#[test]
fn float_kernels_match_scalar_at_every_length_and_alignment() {
    let mut rng = Rng::new(14);
    let scalar = Kernels::scalar();
    for k in simd_tables() {
        for ty in [GgmlType::F32, GgmlType::F16, GgmlType::BF16] {
            for n in [
                0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 257, 1000,
            ] {
                let x = rng.normals(n, 1.0);
                let a = rng.normals(n, 1.0);
                let bytes = quantize(ty, &x);
                let w_deq = dequantize(ty, bytes.as_bytes(), n);
                for offset in 0..4 {
                    // the same weight bytes starting at every alignment
                    let mut shifted = vec![0u8; offset];
                    shifted.extend_from_slice(bytes.as_bytes());
                    let w = &shifted[offset..];
                    let want = float_kernel(&scalar, ty)(w, &a);
                    let got = float_kernel(&k, ty)(w, &a);
                    // both are within n·2^-24·Σ|w·a| of the exact dot
                    let tol = 2.0 * n as f64 * 2f64.powi(-24) * abs_dot(&w_deq, &a) + 1e-30;
                    assert!(
                        (f64::from(got) - f64::from(want)).abs() <= tol,
                        "{ty} {:?} n {n} offset {offset}: {got} vs {want}",
                        k.level
                    );
                }
                // small integers: every partial sum exact, so the kernels agree exactly
                let xi: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32) - 6.0).collect();
                let ai: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32) - 5.0).collect();
                let wi = quantize(ty, &xi);
                assert_eq!(
                    float_kernel(&k, ty)(wi.as_bytes(), &ai),
                    float_kernel(&scalar, ty)(wi.as_bytes(), &ai),
                    "{ty} {:?} n {n}",
                    k.level
                );
            }
        }
    }
}
