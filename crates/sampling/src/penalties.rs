//! Repetition (HF / llama.cpp) and presence / frequency (OpenAI) penalties, in place on a logits
//! row indexed by token id. Token ids outside the row are ignored.
//!
//! `marks` is a scratch buffer of the vocabulary's length kept by the caller; it is all zero on
//! entry and on exit, so nothing is allocated per token once it has grown to the vocabulary size.

/// HF `RepetitionPenaltyLogitsProcessor`: every distinct token of `prompt` ∪ `generated` gets
/// `l / p` when `l > 0`, else `l · p` — once, however often it occurred.
pub fn apply_repetition(
    logits: &mut [f32],
    prompt: &[u32],
    generated: &[u32],
    penalty: f32,
    marks: &mut Vec<u32>,
) {
    if penalty == 1.0 {
        return;
    }
    grow(marks, logits.len());
    for &t in prompt.iter().chain(generated) {
        let i = t as usize;
        if let (Some(m), Some(l)) = (marks.get_mut(i), logits.get_mut(i)) {
            if *m == 0 {
                *m = 1;
                *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
            }
        }
    }
    clear(marks, prompt.iter().chain(generated));
}

/// OpenAI: `l -= count · frequency + (count > 0) · presence`, counts over `generated`.
pub fn apply_presence_frequency(
    logits: &mut [f32],
    generated: &[u32],
    presence: f32,
    frequency: f32,
    marks: &mut Vec<u32>,
) {
    if presence == 0.0 && frequency == 0.0 {
        return;
    }
    grow(marks, logits.len());
    for &t in generated {
        if let Some(m) = marks.get_mut(t as usize) {
            *m = m.saturating_add(1);
        }
    }
    for &t in generated {
        let i = t as usize;
        if let (Some(m), Some(l)) = (marks.get_mut(i), logits.get_mut(i)) {
            if *m > 0 {
                *l -= *m as f32 * frequency + presence;
                *m = 0;
            }
        }
    }
}

fn grow(marks: &mut Vec<u32>, n: usize) {
    if marks.len() < n {
        marks.resize(n, 0);
    }
}

fn clear<'a>(marks: &mut [u32], tokens: impl Iterator<Item = &'a u32>) {
    for &t in tokens {
        if let Some(m) = marks.get_mut(t as usize) {
            *m = 0;
        }
    }
}
