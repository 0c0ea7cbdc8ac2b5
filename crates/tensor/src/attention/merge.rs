//! Folding partition softmax states together, and the final normalisation.

/// Folds one partition's softmax state `(m, l, a)` (max score, Σ e^(s − m), Σ e^(s − m)·v) into
/// a row's running state `(mm, ml, ma)`; `first` starts it. The same function folds in a task and
/// after a split call, so both give the same bits.
#[inline(never)]
pub(super) fn merge_part(
    first: bool,
    mm: &mut f32,
    ml: &mut f32,
    ma: &mut [f32],
    m: f32,
    l: f32,
    a: &[f32],
) {
    if first {
        *mm = m;
        *ml = l;
        ma.copy_from_slice(a);
        return;
    }
    let m_new = mm.max(m);
    let (alpha, beta) = ((*mm - m_new).exp(), (m - m_new).exp());
    *ml = *ml * alpha + l * beta;
    for (x, &y) in ma.iter_mut().zip(a) {
        *x = *x * alpha + y * beta;
    }
    *mm = m_new;
}

/// `out = a / l` (as `a · (1 / l)`).
#[inline(always)]
pub(super) fn finish_row(out: &mut [f32], l: f32, a: &[f32]) {
    let inv = 1.0 / l;
    for (o, &x) in out.iter_mut().zip(a) {
        *o = x * inv;
    }
}
