//! GGUF and safetensors readers, Hugging Face config.json, the WeightSource seam.
//!
//! Everything read from a file is validated before use: malformed input is an `Error` naming what is
//! wrong (key, tensor, offset, path), never a panic, and allocations are bounded by the input size.

mod config;
mod error;
pub mod gguf;
pub mod gguf_export;
mod hf_dir;
pub mod inspect;
mod mapped_file;
mod mapping;
pub mod safetensors;
mod weight_source;

pub use config::{Architecture, ModelConfig};
pub use error::Error;
pub use gguf::{
    GgufArray, GgufFile, GgufTensorInfo, GgufTensorSpec, GgufValue, GgufValueType, GgufWriter,
};
pub use hf_dir::HfModelDir;
pub use safetensors::{SafetensorsDtype, SafetensorsFile, SafetensorsTensorInfo};
pub use weight_source::{SourceKind, WeightSource};
