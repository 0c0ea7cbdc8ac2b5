//! A typed, shaped view over storage. No autograd: tensors are weights, logits and cache buffers.

use quant::GgmlType;

use crate::{Error, Storage};

/// Shape in row-major order, outermost dimension first: a linear weight is `[out_features, in_features]`
/// (Hugging Face order; GGUF's `ne` is the reverse and is converted at the load boundary).
pub type Shape = Vec<usize>;

#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: GgmlType,
    pub shape: Shape,
    pub storage: Storage,
}

impl Tensor {
    /// Checks that the storage holds exactly the bytes the dtype and shape need.
    pub fn new(dtype: GgmlType, shape: Shape, storage: Storage) -> Result<Self, Error> {
        let n = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| Error::Shape(format!("shape {shape:?} overflows")))?;
        let inner = shape.last().copied().unwrap_or(1);
        if inner % dtype.block_size() != 0 {
            return Err(Error::Shape(format!(
                "innermost dimension {inner} of {shape:?} is not a multiple of the {dtype} block size {}",
                dtype.block_size()
            )));
        }
        let need = dtype.row_bytes(n).ok_or_else(|| {
            Error::Shape(format!("{n} values of {dtype} do not fill whole blocks"))
        })?;
        if need != storage.len_bytes() {
            return Err(Error::Shape(format!(
                "{dtype} {shape:?} needs {need} bytes, storage has {}",
                storage.len_bytes()
            )));
        }
        Ok(Tensor {
            dtype,
            shape,
            storage,
        })
    }

    pub fn from_f32(shape: Shape, data: Vec<f32>) -> Result<Self, Error> {
        Tensor::new(
            GgmlType::F32,
            shape,
            Storage::F32(std::sync::Arc::new(data)),
        )
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn bytes(&self) -> &[u8] {
        self.storage.bytes()
    }
}
