//! Temperature scaling (`l / T`, T > 0), applied before the truncation stages as HF and vLLM do.

use crate::candidates::Candidates;

pub fn apply_temperature(c: &mut Candidates, temperature: f32) {
    if temperature != 1.0 {
        c.map_scores_monotonic(|l| l / temperature);
    }
}
