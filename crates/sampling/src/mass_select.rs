//! Weighted quickselect: the fewest best candidates (by rank) whose weights sum to a target,
//! in expected O(n) — no sort of the whole slice, however large the answer.

use crate::candidates::{rank, Candidate};

/// Below this many candidates the search sorts and walks.
const SMALL: usize = 32;

/// Reorders `s` so that `s[..k]` are its `k` best candidates (as a set) and returns the smallest
/// such `k` whose summed weight is `>= target`; `s.len()` when even the whole slice falls short
/// (rounding), 0 only for an empty slice or `target <= 0`.
pub fn smallest_prefix_with_mass(s: &mut [Candidate], mut target: f64) -> usize {
    if target <= 0.0 {
        return 0;
    }
    // Invariant: s[..lo] are the best `lo` of `s`, their mass already taken off `target`, and
    // the answer lies in (lo, hi].
    let (mut lo, mut hi) = (0usize, s.len());
    while hi - lo > SMALL {
        let mid = lo + (hi - lo) / 2;
        let window = &mut s[lo..hi];
        window.select_nth_unstable_by(mid - lo, rank);
        let upper: f64 = window[..mid - lo].iter().map(|c| f64::from(c.score)).sum();
        let pivot = f64::from(window[mid - lo].score);
        if upper >= target {
            hi = mid;
        } else if upper + pivot >= target {
            return mid + 1;
        } else {
            target -= upper + pivot;
            lo = mid + 1;
        }
    }
    let window = &mut s[lo..hi];
    window.sort_unstable_by(rank);
    let mut mass = 0.0f64;
    for (i, c) in window.iter().enumerate() {
        mass += f64::from(c.score);
        if mass >= target {
            return lo + i + 1;
        }
    }
    hi
}
