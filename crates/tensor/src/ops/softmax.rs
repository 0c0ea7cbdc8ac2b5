//! Softmax over one vector.

/// `x ← exp(x - max) / Σ exp(x - max)`. The sum is accumulated in f64. An empty slice is left as is;
/// `-inf` entries become 0 (if all are `-inf` the result is all NaN, like the reference).
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += f64::from(*v);
    }
    for v in x.iter_mut() {
        *v = (f64::from(*v) / sum) as f32;
    }
}
