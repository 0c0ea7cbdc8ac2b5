//! Temperature scaling (`l / T`, T > 0), applied before the truncation stages as HF and vLLM do.
//!
//! Computed as `(l - l_max) / T`: the same distribution (softmax is shift-invariant), but a
//! tiny `T` sends the others to `-inf` instead of overflowing the best to `+inf`.

use crate::candidates::Candidates;

pub fn apply_temperature(c: &mut Candidates, temperature: f32) {
    if temperature == 1.0 {
        return;
    }
    let shift = c.max_score().filter(|m| m.is_finite()).unwrap_or(0.0);
    c.map_scores_monotonic(|l| (l - shift) / temperature);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiny_temperature_does_not_overflow() {
        for t in [1e-30f32, 1e-44] {
            let mut c = Candidates::default();
            c.fill(&[3.0, 2.999, 1.0, 3.0]);
            apply_temperature(&mut c, t);
            // Unshifted, 3.0 / 1e-44 would be +inf for both maxima, and NaN after `l - max`.
            assert!(c.items().iter().all(|x| x.score <= 0.0), "T {t}");
            c.convert_to_weights();
            let w: Vec<f32> = c.items().iter().map(|x| x.score).collect();
            assert_eq!(w, vec![1.0, 0.0, 0.0, 1.0], "T {t}");
        }
    }
}
