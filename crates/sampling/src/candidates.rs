//! The reusable candidate buffer the truncation stages work on, with a lazily sorted prefix.
//!
//! A candidate's `score` is its logit until [`Candidates::convert_to_weights`] turns every score into
//! the unnormalised probability `exp(l - l_max)` (one `exp` per candidate per token); the later
//! stages (top-p, min-p, the draw) work on weights. The map is increasing, so rank order holds.
//!
//! Stages that need the best tokens ask for a sorted prefix of the length they need, or for the
//! best set by mass; only that much is selected, never the whole vocabulary sorted.

use std::cmp::Ordering;

use crate::mass_select::smallest_prefix_with_mass;

/// One token still in the running.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub id: u32,
    /// Logit (penalised, biased, temperature-scaled), or weight after `convert_to_weights`. Never NaN.
    pub score: f32,
}

/// Rank order: higher score first, ties → lower id first. Scores are never NaN (filtered on
/// fill), so `partial_cmp` only reports `Equal` for equal values (+0 and -0 included).
pub fn rank(a: &Candidate, b: &Candidate) -> Ordering {
    b.score
        .partial_cmp(&a.score)
        .unwrap_or(Ordering::Equal)
        .then(a.id.cmp(&b.id))
}

/// Candidate list; `items[..sorted]` are the `sorted` best candidates in rank order.
#[derive(Debug, Default)]
pub struct Candidates {
    items: Vec<Candidate>,
    sorted: usize,
}

impl Candidates {
    /// Refills from a logits row (index = token id), dropping NaN logits. Reuses the buffer.
    pub fn fill(&mut self, logits: &[f32]) {
        self.items.clear();
        self.items.reserve(logits.len());
        self.items
            .extend(
                logits
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| !l.is_nan())
                    .map(|(i, &score)| Candidate {
                        id: i as u32,
                        score,
                    }),
            );
        self.sorted = 0;
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn items(&self) -> &[Candidate] {
        &self.items
    }

    /// Applies `f` to every score. `f` must be non-decreasing (it keeps the rank order).
    pub fn map_scores_monotonic(&mut self, f: impl Fn(f32) -> f32) {
        for c in &mut self.items {
            c.score = f(c.score);
        }
    }

    /// Turns logits into weights `exp(l - l_max)` (the best weighs 1). A row whose maximum is
    /// infinite (all `-inf`, or some `+inf`) gets weight 1 for the maximal entries, 0 elsewhere.
    pub fn convert_to_weights(&mut self) {
        let Some(max) = self.max_score() else { return };
        if max.is_finite() {
            self.map_scores_monotonic(|l| (l - max).exp());
        } else {
            self.map_scores_monotonic(|l| if l == max { 1.0 } else { 0.0 });
        }
    }

    /// Makes `items[..n]` (n clamped to len) the `n` best candidates in rank order.
    pub fn sort_prefix(&mut self, n: usize) {
        let n = n.min(self.items.len());
        if n <= self.sorted {
            return;
        }
        let rest = &mut self.items[self.sorted..];
        let want = n - self.sorted;
        if want < rest.len() {
            // Partial selection: the `want` best of the unsorted rest move to its front.
            rest.select_nth_unstable_by(want - 1, rank);
        }
        rest[..want].sort_unstable_by(rank);
        self.sorted = n;
    }

    /// The highest score, `None` when empty.
    pub fn max_score(&self) -> Option<f32> {
        if self.sorted > 0 {
            return self.items.first().map(|c| c.score);
        }
        self.items.iter().map(|c| c.score).reduce(f32::max)
    }

    /// Keeps the `n` best candidates (sorts that prefix first).
    pub fn keep_best(&mut self, n: usize) {
        self.sort_prefix(n);
        self.items.truncate(n);
    }

    /// Keeps the fewest best candidates whose summed weight reaches `target` (at least one; all
    /// of them when rounding leaves the total short). Needs weights. The kept set is exact; its
    /// order is not sorted beyond what already was.
    pub fn keep_best_by_mass(&mut self, target: f64) {
        let sorted = self.sorted;
        let mut mass = 0.0f64;
        for (i, c) in self.items[..sorted].iter().enumerate() {
            mass += f64::from(c.score);
            if mass >= target {
                self.items.truncate(i + 1);
                self.sorted = i + 1;
                return;
            }
        }
        let k = smallest_prefix_with_mass(&mut self.items[sorted..], target - mass);
        self.items.truncate((sorted + k).max(1));
        self.sorted = self.sorted.min(self.items.len());
    }

    /// Keeps the candidates for which `keep` holds; `keep` must be monotone in the score (if it
    /// keeps a score it keeps every higher one), so the sorted prefix stays a sorted prefix.
    pub fn retain_monotone(&mut self, keep: impl Fn(f32) -> bool) {
        let sorted_kept = self.items[..self.sorted]
            .iter()
            .take_while(|c| keep(c.score))
            .count();
        self.items.retain(|c| keep(c.score));
        self.sorted = sorted_kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(c: &Candidates) -> Vec<u32> {
        c.items().iter().map(|c| c.id).collect()
    }

    #[test]
    fn sort_prefix_grows_and_matches_full_sort() {
        let logits: Vec<f32> = (0..200u32)
            .map(|i| ((i * 7919) % 101) as f32 * 0.5)
            .collect();
        let mut full: Vec<Candidate> = logits
            .iter()
            .enumerate()
            .map(|(i, &score)| Candidate {
                id: i as u32,
                score,
            })
            .collect();
        full.sort_by(rank);
        let mut c = Candidates::default();
        c.fill(&logits);
        for n in [1usize, 3, 10, 64, 199, 200, 500] {
            c.sort_prefix(n);
            let m = n.min(200);
            assert_eq!(&c.items()[..m], &full[..m], "prefix {n}");
        }
    }

    #[test]
    fn fill_drops_nan() {
        let mut c = Candidates::default();
        c.fill(&[1.0, f32::NAN, 2.0]);
        assert_eq!(ids(&c), vec![0, 2]);
    }
}
