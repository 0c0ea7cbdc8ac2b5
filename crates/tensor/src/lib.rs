//! Tensors and the CPU backend.

mod storage;
mod tensor;

pub use storage::Storage;
pub use tensor::{Shape, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("shape error: {0}")]
    Shape(String),
    #[error(transparent)]
    Quant(#[from] quant::Error),
}
