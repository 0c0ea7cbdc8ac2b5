//! The residual add.

/// `x[i] += y[i]`.
///
/// # Panics
/// If the lengths differ (a caller bug).
pub fn add_inplace(
    x: &mut [f32], // [n, d]
    y: &[f32],     // [n, d]
) {
    assert_eq!(x.len(), y.len(), "add_inplace: lengths differ");
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
