//! `vec_dot` equals the dot of the dequantized weight and the dequantized activation, up to float
//! rounding (1e-5 of Σ|w·a| for block formats, n·2^-24·Σ|w·a| for float ones). For Q4_1 / Q5_1 the
//! activation's `s = d·Σq` is stored as its own f16, so the bound adds |m|·|s - d·Σq| per block.

mod common;

use common::{abs_dot, dequantize, dot64, quantize, Rng};
use quant::{cast_blocks, vec_dot, vec_dot_type, BlockQ4_1, BlockQ5_1, BlockQ8_1, GgmlType};

fn s_rounding(ty: GgmlType, w: &[u8], a: &[u8]) -> f64 {
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
    let a: &[BlockQ8_1] = cast_blocks(a).unwrap();
    m.iter()
        .zip(a)
        .map(|(&m, b)| {
            let sum: i32 = b.qs.iter().map(|&q| i32::from(q)).sum();
            let exact = f64::from(b.d.to_f32()) * f64::from(sum);
            f64::from(m).abs() * (f64::from(b.s.to_f32()) - exact).abs()
        })
        .sum()
}

#[test]
fn vec_dot_equals_dot_of_dequantized_rows() {
    let mut rng = Rng::new(21);
    for ty in [
        GgmlType::F32,
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
        let at = vec_dot_type(ty);
        for (n, w_scale, a_scale, a_shift) in [
            (256, 1.0, 1.0, 0.0),
            (512, 0.02, 3.0, 0.5),
            (1024, 10.0, 0.01, -0.02),
        ] {
            let wx = rng.normals(n, w_scale);
            let ax: Vec<f32> = rng
                .normals(n, a_scale)
                .into_iter()
                .map(|v| v + a_shift)
                .collect();
            let w = quantize(ty, &wx);
            let a = quantize(at, &ax);
            let (wd, ad) = (
                dequantize(ty, w.as_bytes(), n),
                dequantize(at, a.as_bytes(), n),
            );
            let exact = dot64(&wd, &ad);
            let rounding = if ty.is_quantized() {
                1e-5
            } else {
                n as f64 * 2f64.powi(-24)
            };
            let tol = rounding * abs_dot(&wd, &ad) + s_rounding(ty, w.as_bytes(), a.as_bytes());
            let got = vec_dot(ty, w.as_bytes(), a.as_bytes(), n).unwrap();
            assert!(
                (f64::from(got) - exact).abs() <= tol,
                "{ty} n {n}: {got} vs {exact} (tol {tol})"
            );
        }
    }
}

#[test]
fn quantized_dot_approximates_the_float_dot() {
    // The end-to-end error of quantizing both sides, relative to Σ|w·a|: a sanity bound per
    // format from its step (4-bit ≈ 1/16 of the range, 8-bit activations ≈ 1/256).
    let mut rng = Rng::new(22);
    let n = 4096;
    let wx = rng.normals(n, 1.0);
    let ax = rng.normals(n, 1.0);
    let exact = dot64(&wx, &ax);
    let scale = abs_dot(&wx, &ax);
    for (ty, rel) in [
        (GgmlType::Q4_0, 0.04),
        (GgmlType::Q4_1, 0.04),
        (GgmlType::Q5_0, 0.02),
        (GgmlType::Q5_1, 0.02),
        (GgmlType::Q8_0, 0.01),
        (GgmlType::Q4K, 0.04),
        (GgmlType::Q5K, 0.02),
        (GgmlType::Q6K, 0.01),
    ] {
        let w = quantize(ty, &wx);
        let a = quantize(vec_dot_type(ty), &ax);
        let got = vec_dot(ty, w.as_bytes(), a.as_bytes(), n).unwrap();
        assert!(
            (f64::from(got) - exact).abs() <= rel * scale,
            "{ty}: {got} vs {exact}"
        );
    }
}
