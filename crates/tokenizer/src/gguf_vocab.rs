//! Building a tokenizer from the `tokenizer.ggml.*` metadata of a GGUF file, the way llama.cpp
//! (llama-vocab.cpp) reads it.

use crate::added_tokens::AddedToken;
use crate::byte_level::ByteDecoder;
use crate::error::Error;
use crate::hf_json::resolve_merge;
use crate::pre_tokenizer::PreTokenizer;
use crate::tokenizer::{Parts, Tokenizer};
use crate::vocab::{TokenKind, Vocab};

/// The tokenizer parts of a GGUF file (`tokenizer.ggml.*`).
#[derive(Debug, Clone, Default)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: only `"gpt2"` (byte-level BPE) is supported.
    pub model: String,
    /// `tokenizer.ggml.pre`: `"qwen2"`, `"smollm"`, `"llama-bpe"`, ...
    pub pre: String,
    /// `tokenizer.ggml.tokens`, indexed by id (byte-level form; control and user-defined
    /// tokens as their plain text).
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.merges`: `"left right"`, in rank order.
    pub merges: Vec<String>,
    /// `tokenizer.ggml.token_type` (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused,
    /// 6 byte); empty means all normal.
    pub token_types: Vec<i32>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos: bool,
}

/// llama.cpp's `tokenizer.ggml.pre` names → (pre-tokenizer, ignore_merges), as llama-vocab.cpp
/// maps them (only the families whose regexes we implement).
pub fn gguf_pre_tokenizer(pre: &str) -> Option<(PreTokenizer, bool)> {
    Some(match pre {
        "qwen2" | "deepseek-r1-qwen" | "megrez" | "stablelm2" => {
            (PreTokenizer::Qwen2 { max_digits: 1 }, false)
        }
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "pixtral" => {
            (PreTokenizer::Qwen2 { max_digits: 3 }, true)
        }
        "dbrx" | "smaug-bpe" => (PreTokenizer::Qwen2 { max_digits: 3 }, false),
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            (PreTokenizer::Gpt2 { split_digits: true }, false)
        }
        "gpt-2" | "phi-2" | "mpt" | "olmo" => (
            PreTokenizer::Gpt2 {
                split_digits: false,
            },
            false,
        ),
        _ => return None,
    })
}

impl Tokenizer {
    /// Builds a tokenizer from GGUF vocabulary metadata.
    pub fn from_gguf_vocab(v: GgufVocab) -> Result<Tokenizer, Error> {
        if v.model != "gpt2" {
            return Err(Error::unsupported(
                "GGUF tokenizer.ggml.model",
                format!("{:?} (only \"gpt2\")", v.model),
            ));
        }
        let (pre, ignore_merges) = gguf_pre_tokenizer(&v.pre)
            .ok_or_else(|| Error::unsupported("GGUF tokenizer.ggml.pre", format!("{:?}", v.pre)))?;
        let n = v.tokens.len();
        if !v.token_types.is_empty() && v.token_types.len() != n {
            return Err(Error::Vocab(format!(
                "{} tokens but {} token types",
                n,
                v.token_types.len()
            )));
        }
        if n > u32::MAX as usize {
            return Err(Error::Vocab(format!("{n} tokens")));
        }
        let decoder = ByteDecoder::new();
        let mut vocab = Vocab::with_len(n);
        let mut added = Vec::new();
        for (i, text) in v.tokens.iter().enumerate() {
            let id = i as u32;
            let kind = match v.token_types.get(i).copied().unwrap_or(1) {
                2 | 3 => TokenKind::Special,
                4 => TokenKind::Added,
                5 => TokenKind::Unused,
                _ => TokenKind::Normal,
            };
            let bytes = match kind {
                // llama.cpp prints control and user-defined tokens as their text.
                TokenKind::Special | TokenKind::Added => text.as_bytes().to_vec(),
                TokenKind::Unused | TokenKind::Missing => Vec::new(),
                TokenKind::Normal => decoder
                    .decode_token(text)
                    .unwrap_or_else(|| text.as_bytes().to_vec()),
            };
            if matches!(kind, TokenKind::Special | TokenKind::Added) && !text.is_empty() {
                added.push(AddedToken {
                    id,
                    content: text.clone(),
                    single_word: false,
                    lstrip: false,
                    rstrip: false,
                });
            }
            vocab.set(id, text, bytes, kind).map_err(Error::Vocab)?;
        }
        let mut merges = Vec::with_capacity(v.merges.len());
        for (index, rule) in v.merges.iter().enumerate() {
            // llama.cpp splits at the first space after the first char.
            let split = rule
                .char_indices()
                .skip(1)
                .find(|&(_, c)| c == ' ')
                .map(|(i, _)| i);
            let Some(at) = split else {
                return Err(Error::BadMerge {
                    index,
                    rule: rule.clone(),
                    reason: "no space".into(),
                });
            };
            merges.push(resolve_merge(&vocab, index, &rule[..at], &rule[at + 1..])?);
        }
        for (name, id) in [("bos", v.bos), ("eos", v.eos)] {
            if let Some(id) = id.filter(|&id| id as usize >= n) {
                return Err(Error::Vocab(format!(
                    "{name} id {id} out of range (vocabulary size {n})"
                )));
            }
        }
        let prefix = match (v.add_bos, v.bos) {
            (true, Some(b)) => vec![b],
            _ => Vec::new(),
        };
        Ok(Tokenizer::from_parts(Parts {
            vocab,
            merges,
            pre,
            nfc: false,
            ignore_merges,
            added_raw: added,
            added_normalized: Vec::new(),
            bos: v.bos,
            eos: v.eos.into_iter().collect(),
            prefix,
            suffix: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> GgufVocab {
        GgufVocab {
            model: "gpt2".into(),
            pre: "smollm".into(),
            tokens: ["<s>", "a", "b", "ab", "Ġ", "<x>", "[PAD]"]
                .map(String::from)
                .to_vec(),
            merges: vec!["a b".into()],
            token_types: vec![3, 1, 1, 1, 1, 4, 5],
            bos: Some(0),
            eos: Some(0),
            add_bos: true,
        }
    }

    #[test]
    fn builds_like_llama_cpp() {
        let t = Tokenizer::from_gguf_vocab(vocab()).unwrap();
        assert_eq!(t.encode("ab<x> a<s>[PAD]", true), [0, 3, 5, 4, 1, 0]);
        assert_eq!(t.decode(&[0, 3, 5, 4, 6], false), "<s>ab<x> ");
        assert_eq!(t.decode(&[0, 3, 5, 4, 6], true), "ab<x> ");
        assert!(t.is_special(0) && !t.is_special(5));
        assert_eq!(t.token_kind(6), TokenKind::Unused);
    }

    #[test]
    fn rejects_bad_vocabularies() {
        let err = |f: fn(&mut GgufVocab)| {
            let mut v = vocab();
            f(&mut v);
            Tokenizer::from_gguf_vocab(v)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(|v| v.model = "llama".into()).contains("tokenizer.ggml.model"));
        assert!(err(|v| v.pre = "made-up".into()).contains("made-up"));
        assert!(err(|v| v.token_types.pop().map_or((), drop)).contains("token types"));
        assert!(err(|v| v.merges.push("a zz".into())).contains("\"zz\" is not in the vocabulary"));
        assert!(err(|v| v.merges.push("ab".into())).contains("no space"));
        assert!(err(|v| v.bos = Some(99)).contains("bos id 99"));
    }
}
