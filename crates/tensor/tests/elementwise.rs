//! rms_norm, rope, silu_mul, add_inplace, softmax against plain f64 references written here.

mod common;
use common::{assert_close, Rng};

use tensor::ops::{
    add_inplace, rms_norm, rms_norm_inplace, rope, silu_mul, softmax_inplace, RopeStyle,
};

fn rms_norm_ref(x: &[f32], w: &[f32], eps: f32) -> Vec<f64> {
    let d = w.len();
    let mut out = Vec::new();
    for row in x.chunks(d) {
        let ms = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / d as f64;
        let inv = 1.0 / (ms + f64::from(eps)).sqrt();
        out.extend(
            row.iter()
                .zip(w)
                .map(|(&v, &wv)| f64::from(v) * inv * f64::from(wv)),
        );
    }
    out
}

#[test]
fn rms_norm_matches_reference() {
    let mut rng = Rng::new(1);
    for (n, d) in [(1, 1), (1, 64), (3, 100), (5, 1024), (2, 17)] {
        let x = rng.vec(n * d, 3.0);
        let w = rng.vec(d, 1.0);
        let mut out = vec![0.0; n * d];
        rms_norm(&x, &w, 1e-6, &mut out);
        let want = rms_norm_ref(&x, &w, 1e-6);
        // A few f32 roundings per element.
        assert_close(&out, &want, 1e-6, 1e-7, &format!("rms_norm n={n} d={d}"));
        let mut inplace = x.clone();
        rms_norm_inplace(&mut inplace, &w, 1e-6);
        assert_eq!(inplace, out, "in-place equals out-of-place");
    }
    // eps dominates for a zero row.
    let mut out = vec![1.0; 4];
    rms_norm(&[0.0; 4], &[1.0; 4], 1e-6, &mut out);
    assert_eq!(out, vec![0.0; 4]);
}

fn rope_ref(
    x: &[f32],
    pos: &[u32],
    n_heads: usize,
    hd: usize,
    theta: f32,
    style: RopeStyle,
) -> Vec<f64> {
    let mut out: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for (t, &p) in pos.iter().enumerate() {
        for h in 0..n_heads {
            let base = (t * n_heads + h) * hd;
            for i in 0..hd / 2 {
                let freq = 1.0 / f64::from(theta).powf(2.0 * i as f64 / hd as f64);
                let angle = f64::from(p) * freq;
                let (a_i, b_i) = match style {
                    RopeStyle::Neox => (i, i + hd / 2),
                    RopeStyle::Interleaved => (2 * i, 2 * i + 1),
                };
                let (a, b) = (f64::from(x[base + a_i]), f64::from(x[base + b_i]));
                out[base + a_i] = a * angle.cos() - b * angle.sin();
                out[base + b_i] = b * angle.cos() + a * angle.sin();
            }
        }
    }
    out
}

#[test]
fn rope_matches_reference_for_both_styles() {
    let mut rng = Rng::new(2);
    for style in [RopeStyle::Neox, RopeStyle::Interleaved] {
        for (n_tokens, n_heads, hd, theta) in [
            (1, 1, 2, 10_000.0),
            (5, 4, 32, 1e6),
            (3, 2, 128, 500_000.0),
            (2, 3, 64, 10_000.0),
        ] {
            let x = rng.vec(n_tokens * n_heads * hd, 1.0);
            // Positions up to a few thousand: the f32 angle (as HF computes it) differs from the f64
            // one by up to pos·2⁻²⁴ radians, i.e. ~3e-4 at position 4000.
            let pos: Vec<u32> = (0..n_tokens).map(|_| rng.below(4000) as u32).collect();
            let mut got = x.clone();
            rope(&mut got, &pos, n_heads, hd, theta, style);
            let want = rope_ref(&x, &pos, n_heads, hd, theta, style);
            let max_pos = f64::from(*pos.iter().max().unwrap_or(&0));
            let abs = 4.0 * (max_pos + 1.0) * f64::from(f32::EPSILON) + 1e-6;
            assert_close(&got, &want, 0.0, abs, &format!("rope {style:?} hd={hd}"));
        }
    }
}

#[test]
fn rope_at_position_zero_is_identity_and_styles_differ() {
    let mut rng = Rng::new(3);
    let x = rng.vec(2 * 8, 1.0);
    let mut y = x.clone();
    rope(&mut y, &[0], 2, 8, 10_000.0, RopeStyle::Neox);
    assert_eq!(x, y);
    let (mut a, mut b) = (x.clone(), x.clone());
    rope(&mut a, &[7], 2, 8, 10_000.0, RopeStyle::Neox);
    rope(&mut b, &[7], 2, 8, 10_000.0, RopeStyle::Interleaved);
    assert_ne!(a, b);
}

#[test]
fn silu_mul_and_add_match_reference() {
    let mut rng = Rng::new(4);
    let gate = rng.vec(1000, 4.0);
    let up = rng.vec(1000, 2.0);
    let mut got = gate.clone();
    silu_mul(&mut got, &up);
    let want: Vec<f64> = gate
        .iter()
        .zip(&up)
        .map(|(&g, &u)| {
            let g = f64::from(g);
            g / (1.0 + (-g).exp()) * f64::from(u)
        })
        .collect();
    assert_close(&got, &want, 4e-7, 1e-30, "silu_mul");
    // Large negative gates saturate to -0 / 0 without NaN.
    let mut g = vec![-200.0f32, 200.0];
    silu_mul(&mut g, &[1.0, 1.0]);
    assert_eq!(g, vec![0.0, 200.0]);

    let mut x = rng.vec(100, 1.0);
    let y = rng.vec(100, 1.0);
    let want: Vec<f64> = x
        .iter()
        .zip(&y)
        .map(|(&a, &b)| f64::from(a) + f64::from(b))
        .collect();
    add_inplace(&mut x, &y);
    assert_close(&x, &want, 6e-8, 1e-30, "add_inplace");
}

#[test]
fn softmax_matches_reference() {
    let mut rng = Rng::new(5);
    for n in [1usize, 2, 10, 151_936] {
        let x = rng.vec(n, 5.0);
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f64> = x
            .iter()
            .map(|&v| (f64::from(v) - f64::from(max)).exp())
            .collect();
        let sum: f64 = exps.iter().sum();
        let want: Vec<f64> = exps.iter().map(|e| e / sum).collect();
        let mut got = x.clone();
        softmax_inplace(&mut got);
        // f32 exp(x - max) carries a relative error of about |x - max|·2⁻²⁴ (the rounding of its
        // argument, amplified by exp) plus a few roundings; the reference has none of it.
        for (i, ((&g, &w), &xi)) in got.iter().zip(&want).zip(&x).enumerate() {
            let rel = (f64::from(max - xi) + 4.0) * f64::from(f32::EPSILON);
            assert!(
                (f64::from(g) - w).abs() <= rel * w,
                "softmax n={n} [{i}]: {g} vs {w}"
            );
        }
    }
    let mut m = vec![0.0, f32::NEG_INFINITY, 0.0];
    softmax_inplace(&mut m);
    assert_eq!(m, vec![0.5, 0.0, 0.5]);
    let mut empty: Vec<f32> = vec![];
    softmax_inplace(&mut empty);
}
