//! Pre-tokenization: cutting text (between added tokens) into the pieces BPE runs on.

use crate::split_gpt2;
use crate::split_qwen2;
use crate::unicode_class::is_number;

/// The pre-tokenizers we implement exactly (each one a known regex, hand-matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// Qwen2/Qwen3 (`max_digits == 1`, `\p{N}`) and Llama 3 (`max_digits == 3`, `\p{N}{1,3}`).
    Qwen2 { max_digits: usize },
    /// The GPT-2 regex; with `split_digits`, every `\p{N}` char is first cut out on its own
    /// (HF `Digits { individual_digits: true }`, llama.cpp's extra `\p{N}` regex for SmolLM).
    Gpt2 { split_digits: bool },
}

impl PreTokenizer {
    /// The pieces of `text` (the pre-tokenizer's split, for inspection and tests).
    pub fn pieces<'a>(&self, text: &'a str) -> Vec<&'a str> {
        let mut out = Vec::new();
        self.split(text, &mut SplitBuf::default(), |a, b| out.push(&text[a..b]));
        out
    }

    /// Calls `piece(start, end)` with the byte range of each piece of `text`, in order; the
    /// pieces tile the text. `buf` is reusable scratch space.
    pub(crate) fn split(
        &self,
        text: &str,
        buf: &mut SplitBuf,
        mut piece: impl FnMut(usize, usize),
    ) {
        buf.chars.clear();
        buf.offsets.clear();
        for (b, c) in text.char_indices() {
            buf.chars.push(c);
            buf.offsets.push(b);
        }
        buf.offsets.push(text.len());
        let (cs, offsets) = (&buf.chars[..], &buf.offsets[..]);
        let byte_at = |i: usize| offsets.get(i).copied().unwrap_or(text.len());
        match *self {
            PreTokenizer::Qwen2 { max_digits } => {
                let mut i = 0;
                while i < cs.len() {
                    let j = split_qwen2::match_at(cs, i, max_digits);
                    piece(byte_at(i), byte_at(j));
                    i = j;
                }
            }
            PreTokenizer::Gpt2 { split_digits } => {
                let mut start = 0;
                while start < cs.len() {
                    // The span up to the next number char (or the number char alone).
                    let end = if split_digits && is_number(cs[start]) {
                        start + 1
                    } else if split_digits {
                        cs[start..]
                            .iter()
                            .position(|&c| is_number(c))
                            .map_or(cs.len(), |p| start + p)
                    } else {
                        cs.len()
                    };
                    // The GPT-2 regex sees each span as a whole text of its own.
                    let span = &cs[start..end];
                    let mut i = 0;
                    while i < span.len() {
                        let j = split_gpt2::match_at(span, i);
                        piece(byte_at(start + i), byte_at(start + j));
                        i = j;
                    }
                    start = end;
                }
            }
        }
    }
}

/// Scratch buffers for [`PreTokenizer::split`]: the chars of the text and their byte offsets.
#[derive(Default)]
pub(crate) struct SplitBuf {
    chars: Vec<char>,
    /// `offsets[i]` is the byte offset of `chars[i]`; one extra entry holds the text length.
    offsets: Vec<usize>,
}
