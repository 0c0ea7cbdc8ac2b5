//! GGUF block formats, bit-exact with llama.cpp's layouts.

mod ggml_type;

pub use ggml_type::GgmlType;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown ggml type id {0}")]
    UnknownType(u32),
}
