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

    /// Whether the bytes can be viewed in place as this dtype's blocks (quant's block structs
    /// need up to 4-byte alignment; F32/F16/BF16 kernels read any alignment). GGUF data always is.
    pub fn is_block_aligned(&self) -> bool {
        !self.dtype.is_quantized()
            || (self.bytes().as_ptr() as usize).is_multiple_of(block_align(self.dtype))
    }

    /// This tensor, or (if its quantized blocks are misaligned) a copy in [`Storage::Aligned`].
    /// Matmul works on misaligned blocks too but copies them on every call; a loader that can
    /// meet such data calls this once instead.
    pub fn to_block_aligned(&self) -> Tensor {
        if self.is_block_aligned() {
            return self.clone();
        }
        let mut b = quant::AlignedBytes::new();
        b.resize(self.bytes().len());
        b.as_bytes_mut().copy_from_slice(self.bytes());
        Tensor {
            dtype: self.dtype,
            shape: self.shape.clone(),
            storage: Storage::Aligned(std::sync::Arc::new(b)),
        }
    }
}

/// Alignment of the block struct of a quantized type (1 for plain types).
pub(crate) fn block_align(ty: GgmlType) -> usize {
    use quant::{
        BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K, BlockQ8K,
        BlockQ8_0, BlockQ8_1,
    };
    use std::mem::align_of;
    match ty {
        GgmlType::Q4_0 => align_of::<BlockQ4_0>(),
        GgmlType::Q4_1 => align_of::<BlockQ4_1>(),
        GgmlType::Q5_0 => align_of::<BlockQ5_0>(),
        GgmlType::Q5_1 => align_of::<BlockQ5_1>(),
        GgmlType::Q8_0 => align_of::<BlockQ8_0>(),
        GgmlType::Q8_1 => align_of::<BlockQ8_1>(),
        GgmlType::Q4K => align_of::<BlockQ4K>(),
        GgmlType::Q5K => align_of::<BlockQ5K>(),
        GgmlType::Q6K => align_of::<BlockQ6K>(),
        GgmlType::Q8K => align_of::<BlockQ8K>(),
        // Quant's block structs are at most 4-aligned (checked there at compile time).
        _ if ty.is_quantized() => 4,
        _ => 1,
    }
}
