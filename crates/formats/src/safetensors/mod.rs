//! safetensors (Hugging Face's weight file format).

mod dtype;
mod file;
mod header;

pub use dtype::SafetensorsDtype;
pub use file::SafetensorsFile;
pub use header::{SafetensorsTensorInfo, MAX_HEADER_BYTES, MAX_SHAPE_DIMS};
