//! The Qwen2 / Llama 3 pre-tokenizer regex, matched by hand:
//!
//! ```text
//! (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//! ```
//!
//! with `D = 1` for Qwen2/Qwen3 (`\p{N}`) and `D = 3` for Llama 3. The branches are tried in
//! order at each position (leftmost-first alternation, greedy quantifiers with backtracking), which
//! is what Oniguruma (HF tokenizers) does; every match is non-empty, so the pieces tile the text.

use crate::unicode_class::{is_letter, is_number, is_space};

/// `[^\s\p{L}\p{N}]`.
#[inline]
fn is_other(c: char) -> bool {
    !is_space(c) && !is_letter(c) && !is_number(c)
}

/// Case-insensitive comparison of `c` against a lowercase ASCII letter, as `(?i:...)` does with
/// Unicode simple case folding (`ſ` U+017F folds to `s`, the Kelvin sign U+212A to `k`).
#[inline]
fn eq_fold(c: char, lower: char) -> bool {
    c.to_ascii_lowercase() == lower
        || (lower == 's' && c == '\u{17F}')
        || (lower == 'k' && c == '\u{212A}')
}

/// Length in chars of the contraction starting at `i`, if any (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`).
pub(crate) fn contraction(cs: &[char], i: usize, fold: bool) -> Option<usize> {
    let eq = |c: char, l: char| if fold { eq_fold(c, l) } else { c == l };
    if cs.get(i) != Some(&'\'') {
        return None;
    }
    let c1 = *cs.get(i + 1)?;
    if ['s', 't', 'm', 'd'].iter().any(|&l| eq(c1, l)) {
        return Some(2);
    }
    let c2 = *cs.get(i + 2)?;
    let two = [('r', 'e'), ('v', 'e'), ('l', 'l')];
    if two.iter().any(|&(a, b)| eq(c1, a) && eq(c2, b)) {
        return Some(3);
    }
    None
}

/// End (exclusive, in chars) of the match starting at `i < cs.len()`.
pub(crate) fn match_at(cs: &[char], i: usize, max_digits: usize) -> usize {
    let n = cs.len();
    let run = |mut j: usize, f: fn(char) -> bool| {
        while j < n && f(cs[j]) {
            j += 1;
        }
        j
    };
    let c = cs[i];
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if let Some(len) = contraction(cs, i, true) {
        return i + len;
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if is_letter(c) {
        return run(i + 1, is_letter);
    }
    if c != '\r' && c != '\n' && !is_number(c) && i + 1 < n && is_letter(cs[i + 1]) {
        return run(i + 2, is_letter);
    }
    // \p{N}{1,D}
    if is_number(c) {
        let mut j = i + 1;
        while j < n && j - i < max_digits && is_number(cs[j]) {
            j += 1;
        }
        return j;
    }
    //  ?[^\s\p{L}\p{N}]+[\r\n]*
    let k = if c == ' ' { i + 1 } else { i };
    if k < n && is_other(cs[k]) {
        let j = run(k + 1, is_other);
        return run(j, |c| c == '\r' || c == '\n');
    }
    // Only whitespace is left: c is \s (letters, numbers and others were handled above).
    let mut end = i;
    let mut last_newline = None;
    while end < n && is_space(cs[end]) {
        if cs[end] == '\r' || cs[end] == '\n' {
            last_newline = Some(end);
        }
        end += 1;
    }
    // \s*[\r\n]+ : \s* backs off to the last \r or \n of the run, [\r\n]+ takes it.
    if let Some(nl) = last_newline {
        return nl + 1;
    }
    // \s+(?!\S) : the whole run at the end of the text, else the run minus its last char;
    // \s+ : a single whitespace char before a non-space.
    if end == n || end - i == 1 {
        end
    } else {
        end - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<String> {
        let cs: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < cs.len() {
            let j = match_at(&cs, i, 1);
            out.push(cs[i..j].iter().collect());
            i = j;
        }
        out
    }

    #[test]
    fn qwen2_pieces() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(split("Hello  world"), ["Hello", " ", " world"]);
        assert_eq!(split("  x  "), [" ", " x", "  "]);
        assert_eq!(split("a\n\n b"), ["a", "\n\n", " b"]);
        assert_eq!(split("x \n  y"), ["x", " \n", " ", " y"]);
        assert_eq!(split("don't HE'S"), ["don", "'t", " HE", "'S"]);
        assert_eq!(split("x'ſ"), ["x", "'ſ"]);
        assert_eq!(split("2025!"), ["2", "0", "2", "5", "!"]);
        assert_eq!(
            split("a (b) ;;\n\nc"),
            ["a", " (", "b", ")", " ;;\n\n", "c"]
        );
        assert_eq!(split("\u{a0}non"), ["\u{a0}non"]);
        assert_eq!(split("\r\nCRLF"), ["\r\n", "CRLF"]);
        assert_eq!(split("\t tabs"), ["\t", " tabs"]);
    }
}
