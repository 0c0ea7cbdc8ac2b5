//! One entry of a GGUF file's tensor index.

use quant::GgmlType;

/// Where a tensor lives in the file and what it holds. `shape` is row-major (outermost first):
/// GGUF lists `ne` innermost first, so it is reversed here (`[in, out]` in the file → `[out, in]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufTensorInfo {
    pub name: String,
    pub dtype: GgmlType,
    pub shape: Vec<usize>,
    /// Absolute offset of the first byte in the file (data section start + the stored offset).
    pub offset: u64,
    pub n_bytes: usize,
}

impl GgufTensorInfo {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}
