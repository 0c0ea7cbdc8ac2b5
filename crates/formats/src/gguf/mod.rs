//! GGUF (llama.cpp's model file format), versions 2 and 3, little-endian.

mod cursor;
mod file;
mod metadata;
pub(crate) mod reader;
mod tensor_info;
mod value;
mod writer;

pub use file::GgufFile;
pub use tensor_info::GgufTensorInfo;
pub use value::{GgufArray, GgufValue, GgufValueType};
pub use writer::{GgufTensorSpec, GgufWriter, GGUF_DEFAULT_ALIGNMENT};
