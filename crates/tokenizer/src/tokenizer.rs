//! The tokenizer: added-token matching, normalization, pre-tokenization and BPE for `encode`;
//! byte-level decoding for `decode`.

use std::borrow::Cow;

use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};

use crate::added_tokens::{AddedMatcher, AddedToken, Segment};
use crate::bpe::{Bpe, BpeScratch};
use crate::byte_level::{byte_to_char_table, encode_bytes};
use crate::pre_tokenizer::{PreTokenizer, SplitBuf};
use crate::vocab::{TokenKind, Vocab};

/// A byte-level BPE tokenizer (Qwen2/Qwen3, Llama 3, GPT-2/SmolLM style).
pub struct Tokenizer {
    vocab: Vocab,
    bpe: Bpe,
    pre: PreTokenizer,
    /// NFC-normalize text between added tokens (HF `normalizer: NFC`).
    nfc: bool,
    /// Emit a whole pre-tokenizer piece as one token when the vocab has it (HF `ignore_merges`).
    ignore_merges: bool,
    byte_chars: [char; 256],
    /// Added tokens matched in the raw text (HF `normalized: false`; all GGUF ones).
    added_raw: AddedMatcher,
    /// Added tokens matched after normalization (HF `normalized: true`).
    added_normalized: AddedMatcher,
    bos: Option<u32>,
    eos: Vec<u32>,
    /// Ids put around the text by `encode(.., add_special_tokens = true)`.
    prefix: Vec<u32>,
    suffix: Vec<u32>,
}

/// Everything a tokenizer is built from (filled in by the tokenizer.json and GGUF readers).
pub(crate) struct Parts {
    pub vocab: Vocab,
    /// (left id, right id, merged id) in rank order.
    pub merges: Vec<(u32, u32, u32)>,
    pub pre: PreTokenizer,
    pub nfc: bool,
    pub ignore_merges: bool,
    pub added_raw: Vec<AddedToken>,
    pub added_normalized: Vec<AddedToken>,
    pub bos: Option<u32>,
    pub eos: Vec<u32>,
    pub prefix: Vec<u32>,
    pub suffix: Vec<u32>,
}

/// Reusable buffers for one `encode` call.
#[derive(Default)]
struct Scratch {
    split: SplitBuf,
    bpe: BpeScratch,
}

impl Tokenizer {
    pub(crate) fn from_parts(p: Parts) -> Tokenizer {
        let byte_chars = byte_to_char_table();
        let mut byte_ids = [None; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            let mut buf = [0u8; 4];
            *slot = p.vocab.id_of(byte_chars[b].encode_utf8(&mut buf));
        }
        Tokenizer {
            bpe: Bpe::new(byte_ids, p.merges),
            vocab: p.vocab,
            pre: p.pre,
            nfc: p.nfc,
            ignore_merges: p.ignore_merges,
            byte_chars,
            added_raw: AddedMatcher::new(p.added_raw),
            added_normalized: AddedMatcher::new(p.added_normalized),
            bos: p.bos,
            eos: p.eos,
            prefix: p.prefix,
            suffix: p.suffix,
        }
    }

    /// Token ids of `text`. Added tokens (`<|im_start|>`, `<think>`, ...) written in the text are
    /// matched as such (HF `split_special_tokens = false`, llama.cpp `parse_special = true`).
    /// With `add_special_tokens`, the tokenizer's own BOS/EOS (if its config asks for them) are
    /// added: never for Qwen3, never for SmolLM2.
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Vec<u32> {
        let mut out = Vec::with_capacity(text.len() / 3 + 4);
        if add_special_tokens {
            out.extend_from_slice(&self.prefix);
        }
        let mut scratch = Scratch::default();
        self.added_raw.split(text, |seg| match seg {
            Segment::Token(id) => out.push(id),
            Segment::Text(a, b) => self.encode_raw_text(&text[a..b], &mut out, &mut scratch),
        });
        if add_special_tokens {
            out.extend_from_slice(&self.suffix);
        }
        out
    }

    /// Text between raw-matched added tokens: normalize, match the normalized added tokens, BPE.
    fn encode_raw_text(&self, text: &str, out: &mut Vec<u32>, scratch: &mut Scratch) {
        let text: Cow<str> = if self.nfc && is_nfc_quick(text.chars()) != IsNormalized::Yes {
            Cow::Owned(text.nfc().collect())
        } else {
            Cow::Borrowed(text)
        };
        if self.added_normalized.is_empty() {
            self.encode_words(&text, out, scratch);
            return;
        }
        self.added_normalized.split(&text, |seg| match seg {
            Segment::Token(id) => out.push(id),
            Segment::Text(a, b) => self.encode_words(&text[a..b], out, scratch),
        });
    }

    /// Pre-tokenize and BPE-encode each piece.
    fn encode_words(&self, text: &str, out: &mut Vec<u32>, scratch: &mut Scratch) {
        let Scratch { split, bpe } = scratch;
        self.pre.split(text, split, |a, b| {
            let piece = &text.as_bytes()[a..b];
            if self.ignore_merges {
                if let Some(id) = self.vocab.id_of(&encode_bytes(&self.byte_chars, piece)) {
                    out.push(id);
                    return;
                }
            }
            self.bpe.encode_word(piece, out, bpe);
        });
    }

    /// The text of `ids`, as HF `decode`: the tokens' bytes joined, then invalid UTF-8 replaced by
    /// U+FFFD. With `skip_special`, special (control) tokens are left out; ids without a token
    /// are always left out.
    pub fn decode(&self, ids: &[u32], skip_special: bool) -> String {
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &id in ids {
            if let Some(b) = self.decode_bytes(id, skip_special) {
                bytes.extend_from_slice(b);
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The bytes `decode` uses for `id` (`None` when it is left out).
    pub(crate) fn decode_bytes(&self, id: u32, skip_special: bool) -> Option<&[u8]> {
        if skip_special && self.is_special(id) {
            return None;
        }
        self.vocab.bytes(id)
    }

    /// The raw bytes token `id` stands for (may be part of a UTF-8 sequence).
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.vocab.bytes(id)
    }

    /// The text of one token (its bytes, invalid UTF-8 replaced by U+FFFD).
    pub fn token_to_piece(&self, id: u32) -> Option<String> {
        self.vocab
            .bytes(id)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The vocabulary string of a token (byte-level form, e.g. `Ġhello`; added tokens as written).
    pub fn token_str(&self, id: u32) -> Option<&str> {
        self.vocab.piece(id)
    }

    /// The id of a vocabulary string (byte-level form, or an added token's content).
    pub fn id_of(&self, token: &str) -> Option<u32> {
        self.vocab.id_of(token)
    }

    /// Number of ids (model vocabulary plus added tokens; GGUF: the token list length).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Number of BPE merge rules.
    pub fn n_merges(&self) -> usize {
        self.bpe.n_merges()
    }

    pub fn token_kind(&self, id: u32) -> TokenKind {
        self.vocab.kind(id)
    }

    /// A special (control) token: `<|im_start|>`, `<|endoftext|>`, ... (not `<think>`, which is
    /// an added but non-special token in Qwen3).
    pub fn is_special(&self, id: u32) -> bool {
        self.vocab.kind(id) == TokenKind::Special
    }

    pub fn pre_tokenizer(&self) -> PreTokenizer {
        self.pre
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// End-of-sequence ids (the tokenizer's EOS first, then any added with [`Tokenizer::with_eos_ids`]).
    pub fn eos_ids(&self) -> &[u32] {
        &self.eos
    }

    /// Adds end-of-sequence ids (e.g. `generation_config.json`'s `eos_token_id` list), keeping
    /// the existing ones first and dropping duplicates.
    pub fn with_eos_ids(mut self, ids: impl IntoIterator<Item = u32>) -> Tokenizer {
        for id in ids {
            if !self.eos.contains(&id) {
                self.eos.push(id);
            }
        }
        self
    }
}
