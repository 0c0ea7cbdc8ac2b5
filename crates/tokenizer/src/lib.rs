//! Byte-level BPE tokenizer, special tokens, incremental detokenizer, chat templates.
//!
//! - [`Tokenizer`]: built from a HF `tokenizer.json` ([`Tokenizer::from_tokenizer_json`],
//!   [`Tokenizer::from_hf`]) or from GGUF metadata ([`Tokenizer::from_gguf_vocab`]); `encode`
//!   and `decode` match HF tokenizers / llama.cpp token for token.
//! - [`IncrementalDecoder`] / [`DecodeStream`]: UTF-8-safe streaming detokenization.
//! - [`ChatTemplate`]: HF chat templates rendered with minijinja, Python-compatible.

mod added_tokens;
mod bpe;
mod byte_level;
mod chat_template;
mod error;
mod gguf_vocab;
mod hf_json;
mod incremental;
mod json_value;
mod pre_tokenizer;
mod py_json;
mod py_methods;
mod split_gpt2;
mod split_qwen2;
mod strftime;
mod template_value;
mod tokenizer;
mod unicode_class;
mod unicode_tables;
mod vocab;

pub use chat_template::ChatTemplate;
pub use error::Error;
pub use gguf_vocab::{gguf_pre_tokenizer, GgufVocab};
pub use incremental::{DecodeStream, IncrementalDecoder};
pub use json_value::JsonValue;
pub use pre_tokenizer::PreTokenizer;
pub use tokenizer::Tokenizer;
pub use vocab::TokenKind;

#[cfg(test)]
mod tests {
    /// The server shares one tokenizer and template between threads.
    #[test]
    fn shareable_between_threads() {
        fn check<T: Send + Sync>() {}
        check::<crate::Tokenizer>();
        check::<crate::ChatTemplate>();
        check::<crate::DecodeStream>();
    }
}
