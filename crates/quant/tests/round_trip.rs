//! Quantize → dequantize error bounds, derived from each format's levels: every value must land on
//! the nearest representable level of its block (half a step), or, when outside the block's range,
//! on the range's edge; f16 rounding of the stored scales adds `|q|·|Δd|`.

mod common;

use common::{dequantize, quantize, Rng};
use proptest::prelude::*;
use quant::{cast_blocks, GgmlType, QK, QK_K};
use quant::{BlockQ4K, BlockQ5K, BlockQ6K};

fn dist_outside(x: f32, lo: f32, hi: f32) -> f32 {
    let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
    (lo - x).max(x - hi).max(0.0)
}

fn f16_err(v: f32) -> f32 {
    (v - half::f16::from_f32(v).to_f32()).abs()
}

/// Symmetric formats: value = d·(q - off), q in 0..=qmax; `d_true` is the spec's unrounded scale.
fn check_symmetric(x: &[f32], deq: &[f32], d_true: f32, off: i32, qmax: i32) {
    let amax = x.iter().fold(0f32, |m, v| m.max(v.abs()));
    let (lo, hi) = (d_true * (-off) as f32, d_true * (qmax - off) as f32);
    let slack = (qmax.max(off) as f32 + 1.0) * f16_err(d_true) + 1e-6 * amax;
    for (i, (&v, &r)) in x.iter().zip(deq).enumerate() {
        let bound = d_true.abs() / 2.0 + dist_outside(v, lo, hi) + slack;
        assert!(
            (v - r).abs() <= bound,
            "value {i}: {v} → {r}, bound {bound} (d {d_true})"
        );
    }
}

/// Asymmetric formats: value = d·q + m, q in 0..=nmax, d = (max - min)/nmax, m = min.
fn check_affine(x: &[f32], deq: &[f32], nmax: i32) {
    let min = x.iter().fold(f32::MAX, |m, &v| m.min(v));
    let max = x.iter().fold(-f32::MAX, |m, &v| m.max(v));
    let d = (max - min) / nmax as f32;
    let slack = (nmax as f32 + 1.0) * f16_err(d) + f16_err(min) + 1e-6 * (max.abs() + min.abs());
    for (i, (&v, &r)) in x.iter().zip(deq).enumerate() {
        let bound = d / 2.0 + slack;
        assert!(
            (v - r).abs() <= bound,
            "value {i}: {v} → {r}, bound {bound} (d {d})"
        );
    }
}

/// k-quants: per sub-block, levels `d_j·q - m_j` for q in `qlo..=qhi` from the stored parameters.
fn check_levels(x: &[f32], deq: &[f32], d: f32, m: f32, qlo: i32, qhi: i32) {
    let (lo, hi) = (d * qlo as f32 - m, d * qhi as f32 - m);
    let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
    for (i, (&v, &r)) in x.iter().zip(deq).enumerate() {
        let bound =
            d.abs() / 2.0 + dist_outside(v, lo, hi) + 2e-6 * (amax + m.abs() + d.abs() * 64.0);
        assert!(
            (v - r).abs() <= bound,
            "value {i}: {v} → {r}, bound {bound} (d {d}, m {m})"
        );
    }
}

fn round_trip(ty: GgmlType, x: &[f32]) {
    let q = quantize(ty, x);
    let deq = dequantize(ty, q.as_bytes(), x.len());
    match ty {
        GgmlType::Q4_0 | GgmlType::Q5_0 | GgmlType::Q8_0 => {
            let (div, off, qmax) = match ty {
                GgmlType::Q4_0 => (-8.0, 8, 15),
                GgmlType::Q5_0 => (-16.0, 16, 31),
                _ => (127.0, 0, 127),
            };
            for (x, r) in x.chunks_exact(QK).zip(deq.chunks_exact(QK)) {
                // the signed value of largest magnitude (Q8_0: its magnitude)
                let max = x
                    .iter()
                    .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                let d = if ty == GgmlType::Q8_0 {
                    max.abs() / div
                } else {
                    max / div
                };
                let (off, qmax) = if ty == GgmlType::Q8_0 {
                    (127, 254)
                } else {
                    (off, qmax)
                };
                check_symmetric(x, r, d, off, qmax);
            }
        }
        GgmlType::Q4_1 | GgmlType::Q5_1 => {
            let nmax = if ty == GgmlType::Q4_1 { 15 } else { 31 };
            for (x, r) in x.chunks_exact(QK).zip(deq.chunks_exact(QK)) {
                check_affine(x, r, nmax);
            }
        }
        GgmlType::Q4K | GgmlType::Q5K => {
            let nmax = if ty == GgmlType::Q4K { 15 } else { 31 };
            // (d, dmin, scales) of each super-block
            let params: Vec<(f32, f32, [u8; 12])> = if ty == GgmlType::Q4K {
                let b: &[BlockQ4K] = cast_blocks(q.as_bytes()).unwrap();
                b.iter()
                    .map(|b| (b.d.to_f32(), b.dmin.to_f32(), b.scales))
                    .collect()
            } else {
                let b: &[BlockQ5K] = cast_blocks(q.as_bytes()).unwrap();
                b.iter()
                    .map(|b| (b.d.to_f32(), b.dmin.to_f32(), b.scales))
                    .collect()
            };
            for ((x, r), (d, dmin, sc)) in
                x.chunks_exact(QK_K).zip(deq.chunks_exact(QK_K)).zip(params)
            {
                for (j, (x, r)) in x.chunks_exact(32).zip(r.chunks_exact(32)).enumerate() {
                    let (s, m) = scale_min(j, &sc);
                    check_levels(x, r, d * s as f32, dmin * m as f32, 0, nmax);
                }
            }
        }
        GgmlType::Q6K => {
            let b: &[BlockQ6K] = cast_blocks(q.as_bytes()).unwrap();
            for ((x, r), b) in x.chunks_exact(QK_K).zip(deq.chunks_exact(QK_K)).zip(b) {
                for ((x, r), &s) in x.chunks_exact(16).zip(r.chunks_exact(16)).zip(&b.scales) {
                    check_levels(x, r, b.d.to_f32() * f32::from(s), 0.0, -32, 31);
                }
            }
        }
        GgmlType::Q8K => {
            for (x, r) in x.chunks_exact(QK_K).zip(deq.chunks_exact(QK_K)) {
                let max = x
                    .iter()
                    .fold(0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
                check_symmetric(x, r, max / 127.0, 127, 254);
            }
        }
        GgmlType::Q8_1 => {
            for (x, r) in x.chunks_exact(QK).zip(deq.chunks_exact(QK)) {
                let amax = x.iter().fold(0f32, |m, &v| m.max(v.abs()));
                check_symmetric(x, r, amax / 127.0, 127, 254);
            }
        }
        _ => unreachable!("no round-trip rule for {ty}"),
    }
}

/// Sub-block scale / min from the 12-byte k-quant scale block, written from the format spec.
fn scale_min(j: usize, q: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

const ALL: [GgmlType; 10] = [
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q8_1,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
    GgmlType::Q8K,
];

#[test]
fn gaussian_rows_round_trip() {
    let mut rng = Rng::new(1);
    for ty in ALL {
        for scale in [1e-3f32, 0.02, 1.0, 300.0] {
            let x = rng.normals(2 * QK_K, scale);
            round_trip(ty, &x);
        }
    }
}

#[test]
fn special_rows_round_trip() {
    let n = 2 * QK_K;
    let rows: Vec<Vec<f32>> = vec![
        vec![0.0; n],
        vec![1.5; n],
        vec![-2.0; n],
        (0..n).map(|i| i as f32).collect(),
        (0..n)
            .map(|i| {
                if i % 37 == 0 {
                    50.0
                } else {
                    0.01 * (i % 7) as f32
                }
            })
            .collect(),
        (0..n)
            .map(|i| {
                if i < QK_K {
                    0.0
                } else {
                    1.0 - 0.001 * i as f32
                }
            })
            .collect(),
    ];
    for ty in ALL {
        for x in &rows {
            round_trip(ty, x);
        }
    }
}

#[test]
fn k_quant_rms_error_is_below_half_the_largest_step() {
    let mut rng = Rng::new(7);
    let x = rng.normals(4 * QK_K, 1.0);
    for (ty, nmax) in [
        (GgmlType::Q4K, 15.0f32),
        (GgmlType::Q5K, 31.0),
        (GgmlType::Q6K, 63.0),
    ] {
        let deq = dequantize(ty, quantize(ty, &x).as_bytes(), x.len());
        for (x, r) in x.chunks_exact(QK_K).zip(deq.chunks_exact(QK_K)) {
            let range = x.iter().fold(0f32, |m, v| m.max(v.abs())) * 2.0;
            let mse = x.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum::<f32>() / QK_K as f32;
            assert!(
                mse.sqrt() <= range / nmax / 2.0,
                "{ty}: rms {} vs step {}",
                mse.sqrt(),
                range / nmax
            );
        }
    }
}

fn row_strategy(block: usize) -> impl Strategy<Value = Vec<f32>> {
    (1usize..=3, -3i32..=3, any::<bool>()).prop_flat_map(move |(nb, exp, offset)| {
        let scale = 10f32.powi(exp);
        let shift = if offset { scale * 3.0 } else { 0.0 };
        prop::collection::vec(-1.0f32..1.0, nb * block)
            .prop_map(move |v| v.into_iter().map(|x| x * scale + shift).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_legacy_round_trip(x in row_strategy(QK)) {
        for ty in [GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1] {
            round_trip(ty, &x);
        }
    }

    #[test]
    fn prop_k_quant_round_trip(x in row_strategy(QK_K)) {
        for ty in [GgmlType::Q4K, GgmlType::Q5K, GgmlType::Q6K, GgmlType::Q8K] {
            round_trip(ty, &x);
        }
    }

    #[test]
    fn prop_float_round_trip(x in prop::collection::vec(-1e4f32..1e4, 0..64)) {
        let f32_back = dequantize(GgmlType::F32, quantize(GgmlType::F32, &x).as_bytes(), x.len());
        prop_assert_eq!(&f32_back, &x);
        let f16_back = dequantize(GgmlType::F16, quantize(GgmlType::F16, &x).as_bytes(), x.len());
        let bf16_back = dequantize(GgmlType::BF16, quantize(GgmlType::BF16, &x).as_bytes(), x.len());
        for ((&v, &h), &b) in x.iter().zip(&f16_back).zip(&bf16_back) {
            // f16 keeps 11 significant bits, bf16 8: half an ulp of relative error at most.
            prop_assert!((v - h).abs() <= v.abs() * 2f32.powi(-11) + 2f32.powi(-25));
            prop_assert!((v - b).abs() <= v.abs() * 2f32.powi(-8));
        }
    }
}
