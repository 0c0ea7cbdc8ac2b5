//! Log-probabilities in OpenAI's sense: of the model's own distribution, i.e. `log_softmax` of
//! the raw logits row, before penalties, bias, temperature or truncation (the sampler's choices
//! do not change what is reported). The log-sum-exp subtracts the maximum and sums in f64.
//!
//! NaN logits count as probability 0 (log-probability `-inf`).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Log-probabilities for one sampled position.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenLogprobs {
    /// `log p(chosen)`; `-inf` when `chosen` is outside the row or its logit is NaN.
    pub chosen_logprob: f32,
    /// The `top_n` most likely tokens, most likely first (ties → lower id), at most one per
    /// non-NaN logit.
    pub top: Vec<(u32, f32)>,
}

/// `log_softmax(logits)[chosen]` and the `top_n` best entries.
pub fn logprobs(logits: &[f32], chosen: u32, top_n: usize) -> TokenLogprobs {
    let lse = log_sum_exp(logits);
    let logprob = |l: f32| -> f32 {
        if l.is_nan() || lse == f64::NEG_INFINITY {
            f32::NEG_INFINITY
        } else if lse == f64::INFINITY {
            // Some logits are +inf: they share the mass equally, the rest get none.
            if l == f32::INFINITY {
                -(n_pos_inf(logits) as f32).ln()
            } else {
                f32::NEG_INFINITY
            }
        } else {
            (f64::from(l) - lse) as f32
        }
    };
    let chosen_logprob = logits
        .get(chosen as usize)
        .map_or(f32::NEG_INFINITY, |&l| logprob(l));
    let top = top_n_entries(logits, top_n)
        .into_iter()
        .map(|(id, l)| (id, logprob(l)))
        .collect();
    TokenLogprobs {
        chosen_logprob,
        top,
    }
}

/// `ln Σ exp(l)` over the non-NaN logits, stable (max subtracted, f64 sum). `-inf` for a row
/// with no non-NaN value or only `-inf`; `+inf` when some logit is `+inf`.
pub fn log_sum_exp(logits: &[f32]) -> f64 {
    let max = logits
        .iter()
        .copied()
        .filter(|l| !l.is_nan())
        .fold(f32::NEG_INFINITY, f32::max);
    if max.is_infinite() {
        return f64::from(max);
    }
    let max = f64::from(max);
    let sum: f64 = logits
        .iter()
        .filter(|l| !l.is_nan())
        .map(|&l| (f64::from(l) - max).exp())
        .sum();
    max + sum.ln()
}

fn n_pos_inf(logits: &[f32]) -> usize {
    logits.iter().filter(|&&l| l == f32::INFINITY).count()
}

/// Heap entry ordered so that the heap's top is the WORST kept entry.
#[derive(PartialEq)]
struct Entry(f32, u32);

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // "Greater" = worse: lower logit, or equal logit and higher id.
        other
            .0
            .partial_cmp(&self.0)
            .unwrap_or(Ordering::Equal)
            .then(self.1.cmp(&other.1))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The `n` best (id, logit) pairs among non-NaN logits, best first. O(V log n), allocates
/// at most `min(n, V)` entries.
fn top_n_entries(logits: &[f32], n: usize) -> Vec<(u32, f32)> {
    let n = n.min(logits.len());
    if n == 0 {
        return Vec::new();
    }
    let mut heap: BinaryHeap<Entry> = BinaryHeap::with_capacity(n + 1);
    for (i, &l) in logits.iter().enumerate() {
        if l.is_nan() {
            continue;
        }
        let e = Entry(l, i as u32);
        if heap.len() < n {
            heap.push(e);
        } else if heap.peek().is_some_and(|worst| e < *worst) {
            heap.pop();
            heap.push(e);
        }
    }
    // into_sorted_vec is ascending in `Ord`, i.e. best first.
    heap.into_sorted_vec()
        .into_iter()
        .map(|Entry(l, id)| (id, l))
        .collect()
}
