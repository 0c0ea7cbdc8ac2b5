//! The GPT-2 pre-tokenizer regex (HF `ByteLevel { use_regex: true }`, llama.cpp's "gpt2"
//! family, used by SmolLM, StarCoder, ...), matched by hand:
//!
//! ```text
//! 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//! ```

use crate::split_qwen2::contraction;
use crate::unicode_class::{is_letter, is_number, is_space};

/// End (exclusive, in chars) of the match starting at `i < cs.len()`.
pub(crate) fn match_at(cs: &[char], i: usize) -> usize {
    let n = cs.len();
    let run = |mut j: usize, f: &dyn Fn(char) -> bool| {
        while j < n && f(cs[j]) {
            j += 1;
        }
        j
    };
    // 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
    if let Some(len) = contraction(cs, i, false) {
        return i + len;
    }
    //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+
    let k = if cs[i] == ' ' { i + 1 } else { i };
    if let Some(&c) = cs.get(k) {
        if is_letter(c) {
            return run(k + 1, &is_letter);
        }
        if is_number(c) {
            return run(k + 1, &is_number);
        }
        let other = |c: char| !is_space(c) && !is_letter(c) && !is_number(c);
        if other(c) {
            return run(k + 1, &other);
        }
    }
    // Only whitespace is left. \s+(?!\S): the whole run at the end of the text, else the run
    // minus its last char; \s+: a single whitespace char before a non-space.
    let end = run(i, &is_space);
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
            let j = match_at(&cs, i);
            out.push(cs[i..j].iter().collect());
            i = j;
        }
        out
    }

    #[test]
    fn gpt2_pieces() {
        assert_eq!(split("Hello world"), ["Hello", " world"]);
        assert_eq!(split("Hello  world  "), ["Hello", " ", " world", "  "]);
        assert_eq!(split("it's HE'S"), ["it", "'s", " HE", "'", "S"]);
        assert_eq!(split("x 123 (y)"), ["x", " 123", " (", "y", ")"]);
        assert_eq!(split("a\n\nb"), ["a", "\n", "\n", "b"]);
        assert_eq!(split("a\n\n b"), ["a", "\n\n", " b"]);
        assert_eq!(split("\tx"), ["\t", "x"]);
    }
}
