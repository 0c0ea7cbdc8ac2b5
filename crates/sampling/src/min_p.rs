//! Min-p: drop tokens whose probability is below `min_p · p_max` (HF `MinPLogitsWarper`).
//! Works on weights (`Candidates::convert_to_weights`), where the best token weighs exactly 1, so the
//! rule is `w >= min_p`. The top token always survives.

use crate::candidates::Candidates;

pub fn apply_min_p(c: &mut Candidates, min_p: f32) {
    if min_p <= 0.0 || c.len() <= 1 {
        return;
    }
    c.retain_monotone(|w| w >= min_p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tokens_at_least_min_p_times_the_top() {
        // probabilities 0.5, 0.3, 0.15, 0.05; min_p 0.2 → threshold 0.1
        let logits: Vec<f32> = [0.5f32, 0.3, 0.15, 0.05].iter().map(|p| p.ln()).collect();
        let mut c = Candidates::default();
        c.fill(&logits);
        c.convert_to_weights();
        apply_min_p(&mut c, 0.2);
        let mut ids: Vec<u32> = c.items().iter().map(|c| c.id).collect();
        ids.sort();
        assert_eq!(ids, vec![0, 1, 2]);
    }
}
