//! Greedy choice: the highest logit, ties → lowest id, NaN never chosen.

/// Lanes of the maximum search: independent accumulators break the dependency chain so the
/// loop vectorises (a 150k-entry row on every token).
const LANES: usize = 16;

/// Chunk of the position search: test a whole chunk branch-free, then find the index in it.
const CHUNK: usize = 64;

/// Index of the largest non-NaN value (the first one on ties), `None` when there is none.
pub fn argmax(logits: &[f32]) -> Option<u32> {
    let max = max_non_nan(logits);
    let mut base = 0usize;
    for chunk in logits.chunks(CHUNK) {
        if chunk.iter().fold(false, |hit, &l| hit | (l == max)) {
            return chunk
                .iter()
                .position(|&l| l == max)
                .map(|i| (base + i) as u32);
        }
        base += chunk.len();
    }
    None // empty, or all NaN (NaN == max never holds)
}

/// The largest non-NaN value; `-inf` when there is none. `v > a` is false for a NaN `v`.
fn max_non_nan(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = if v > *a { v } else { *a };
        }
    }
    let mut max = f32::NEG_INFINITY;
    for &v in acc.iter().chain(tail) {
        if v > max {
            max = v;
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinities_nan_and_empty() {
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[f32::NAN; 40]), None);
        assert_eq!(argmax(&[f32::NEG_INFINITY; 40]), Some(0));
        let mut row = vec![f32::NEG_INFINITY; 70];
        row[66] = f32::NAN;
        row[67] = -1e30;
        assert_eq!(argmax(&row), Some(67));
        row[3] = f32::INFINITY;
        assert_eq!(argmax(&row), Some(3));
    }

    #[test]
    fn lanes_and_tail_agree_with_a_plain_scan() {
        for n in [1usize, 15, 16, 17, 33, 63, 64, 65, 100, 130] {
            for at in 0..n {
                let mut row: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.1).collect();
                row[at] = 5.0;
                assert_eq!(argmax(&row), Some(at as u32), "n {n} at {at}");
                row[at] = f32::NAN;
                let plain = row
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| !l.is_nan())
                    .fold(None::<(usize, f32)>, |b, (i, &l)| match b {
                        Some((_, bl)) if l <= bl => b,
                        _ => Some((i, l)),
                    })
                    .map(|(i, _)| i as u32);
                assert_eq!(argmax(&row), plain, "n {n} nan at {at}");
            }
        }
    }
}
