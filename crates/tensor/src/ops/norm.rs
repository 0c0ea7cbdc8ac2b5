//! RMS normalisation: `out = x / sqrt(mean(x²) + eps) * w`, per row.

/// `out[i, :] = x[i, :] * (1 / sqrt(mean(x[i, :]²) + eps)) * w` for every row `i` (the order of
/// operations of HF's `Qwen3RMSNorm` / `LlamaRMSNorm` in f32). The sum of squares is accumulated in
/// f64 (more exact than the f32 reference, never less).
///
/// # Panics
/// If `w` is empty or `x`, `out` are not both `n * w.len()` long (a caller bug: the model checks
/// its weight shapes at load).
pub fn rms_norm(
    x: &[f32], // [n, d]
    w: &[f32], // [d]
    eps: f32,
    out: &mut [f32], // [n, d]
) {
    let d = w.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d) && out.len() == x.len(),
        "rms_norm: x {} / out {} / w {d}",
        x.len(),
        out.len()
    );
    for (xr, or) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
        let inv = inv_rms(xr, eps);
        for ((o, &xv), &wv) in or.iter_mut().zip(xr).zip(w) {
            *o = (xv * inv) * wv;
        }
    }
}

/// [`rms_norm`] in place (e.g. Qwen3's per-head q/k norm over `[n_tokens * n_heads, head_dim]`).
///
/// # Panics
/// If `w` is empty or `x.len()` is not a multiple of `w.len()`.
pub fn rms_norm_inplace(
    x: &mut [f32], // [n, d]
    w: &[f32],     // [d]
    eps: f32,
) {
    let d = w.len();
    assert!(
        d > 0 && x.len().is_multiple_of(d),
        "rms_norm_inplace: x {} / w {d}",
        x.len()
    );
    for xr in x.chunks_exact_mut(d) {
        let inv = inv_rms(xr, eps);
        for (xv, &wv) in xr.iter_mut().zip(w) {
            *xv = (*xv * inv) * wv;
        }
    }
}

/// `1 / sqrt(mean(x²) + eps)`, the sum of squares in f64 over 8 interleaved partial sums.
fn inv_rms(x: &[f32], eps: f32) -> f32 {
    let mut acc = [0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let v = f64::from(v);
            *a += v * v;
        }
    }
    let mut ss: f64 = acc.iter().sum();
    for &v in chunks.remainder() {
        ss += f64::from(v) * f64::from(v);
    }
    let mean = (ss / x.len() as f64) as f32;
    1.0 / (mean + eps).sqrt()
}
