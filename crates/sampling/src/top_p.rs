//! Top-p (nucleus): keep the smallest rank-ordered prefix whose probability mass reaches `p`
//! (HF `TopPLogitsWarper`: a token is kept when the mass strictly above it is below `p`; at
//! least one token is kept). Works on weights (`Candidates::convert_to_weights`).
//!
//! One pass for the normaliser, then a weighted quickselect: O(vocab) expected even when the
//! nucleus is most of the vocabulary, and no sort of the vocabulary.

use crate::candidates::Candidates;

pub fn apply_top_p(c: &mut Candidates, p: f32) {
    if p >= 1.0 || c.len() <= 1 {
        return;
    }
    let z: f64 = c.items().iter().map(|x| f64::from(x.score)).sum();
    c.keep_best_by_mass(f64::from(p) * z);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::candidates::{rank, Candidate};
    use crate::rng::Rng;

    /// Naive nucleus: full sort, then the HF rule, on the same f32 weights.
    fn naive(logits: &[f32], p: f32) -> Vec<u32> {
        let mut all: Vec<_> = logits
            .iter()
            .enumerate()
            .map(|(i, &score)| Candidate {
                id: i as u32,
                score,
            })
            .collect();
        all.sort_by(rank);
        let max = all[0].score;
        let w = |c: &Candidate| f64::from((c.score - max).exp());
        let z: f64 = all.iter().map(w).sum();
        let mut above = 0.0f64;
        let mut out = Vec::new();
        for c in &all {
            if above >= f64::from(p) * z && !out.is_empty() {
                break;
            }
            out.push(c.id);
            above += w(c);
        }
        out.sort();
        out
    }

    #[test]
    fn matches_full_sort_on_random_rows() {
        let mut rng = Rng::from_seed(3);
        for case in 0..300 {
            let n = 1 + (rng.next_u64() % 3000) as usize;
            let spread = [0.5f64, 3.0, 20.0][case % 3];
            let mut logits: Vec<f32> = (0..n)
                .map(|_| ((rng.next_f64() - 0.5) * spread) as f32)
                .collect();
            if case % 5 == 0 {
                // Coarse values: many ties, broken by id.
                logits.iter_mut().for_each(|l| *l = l.round());
            }
            let p = [0.01f32, 0.3, 0.9, 0.999][case % 4];
            let mut c = Candidates::default();
            c.fill(&logits);
            if case % 2 == 0 {
                c.sort_prefix(1 + case % 7); // as after top-k's selection
            }
            c.convert_to_weights();
            apply_top_p(&mut c, p);
            let mut got: Vec<u32> = c.items().iter().map(|c| c.id).collect();
            got.sort();
            assert_eq!(got, naive(&logits, p), "case {case} n {n} p {p}");
        }
    }
}
