//! Byte-level BPE tokenizer, special tokens, incremental detokenizer, chat templates.
//!
//! - [`Tokenizer`]: built from a HF `tokenizer.json` ([`Tokenizer::from_tokenizer_json`],
//!   [`Tokenizer::from_hf`]) or from GGUF metadata ([`Tokenizer::from_gguf_vocab`]); `encode`
//!   and `decode` match HF tokenizers / llama.cpp token for token.
//! - [`IncrementalDecoder`]: UTF-8-safe streaming detokenization.

mod added_tokens;
mod bpe;
mod byte_level;
mod error;
mod gguf_vocab;
mod hf_json;
mod incremental;
mod pre_tokenizer;
mod split_gpt2;
mod split_qwen2;
mod tokenizer;
mod unicode_class;
mod unicode_tables;
mod vocab;

pub use error::Error;
pub use gguf_vocab::{gguf_pre_tokenizer, GgufVocab};
pub use incremental::IncrementalDecoder;
pub use pre_tokenizer::PreTokenizer;
pub use tokenizer::Tokenizer;
pub use vocab::TokenKind;
