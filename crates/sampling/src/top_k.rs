//! Top-k: keep the `k` highest logits (ties → lower ids). Partial selection, no full sort.

use crate::candidates::Candidates;

pub fn apply_top_k(c: &mut Candidates, k: usize) {
    if k > 0 && k < c.len() {
        c.keep_best(k);
    }
}
