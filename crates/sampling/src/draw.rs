//! The final stage: draw one candidate in proportion to its weight (`Candidates::convert_to_weights`).

use crate::candidates::Candidates;
use crate::rng::Rng;

/// Consumes exactly one random number. `None` only when there are no candidates.
pub fn draw(c: &Candidates, rng: &mut Rng) -> Option<u32> {
    let u = rng.next_f64();
    let total: f64 = c.items().iter().map(|x| f64::from(x.score)).sum();
    let target = u * total;
    let mut cum = 0.0f64;
    let mut last = None;
    for x in c.items() {
        if x.score <= 0.0 {
            continue;
        }
        cum += f64::from(x.score);
        last = Some(x.id);
        if cum > target {
            return Some(x.id);
        }
    }
    // Rounding left `target` at or past the sum, or every weight is 0: the last token with
    // weight, else the best candidate.
    last.or_else(|| c.items().first().map(|x| x.id))
}
