//! Where a tensor's bytes live: owned memory or a memory-mapped file region.

use std::sync::Arc;

/// The bytes of a tensor. Mapped storage keeps the file mapping alive, so GGUF/safetensors weights are
/// used in place (quantized blocks stay quantized, nothing is copied).
#[derive(Clone, Debug)]
pub enum Storage {
    /// Owned f32 values (activations, upcast or computed weights).
    F32(Arc<Vec<f32>>),
    /// Owned raw bytes of any dtype (e.g. a re-quantized weight). No alignment is promised.
    Bytes(Arc<Vec<u8>>),
    /// Owned raw bytes aligned for every quant block type (see [`crate::Tensor::to_block_aligned`]).
    Aligned(Arc<quant::AlignedBytes>),
    /// `len` bytes at `offset` inside a mapped file.
    Mapped {
        map: Arc<memmap2::Mmap>,
        offset: usize,
        len: usize,
    },
}

impl Storage {
    /// The raw little-endian bytes. No alignment is promised (safetensors data can sit at any offset).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Storage::F32(v) => {
                let v: &[f32] = v;
                // SAFETY: f32 has no invalid bit patterns and u8 has alignment 1.
                unsafe {
                    std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v))
                }
            }
            Storage::Bytes(b) => b,
            Storage::Aligned(b) => b.as_bytes(),
            // A range outside the map (only possible for hand-built storage) reads as empty, which
            // `Tensor::new` and every kernel reject as a length mismatch instead of panicking.
            Storage::Mapped { map, offset, len } => offset
                .checked_add(*len)
                .and_then(|end| map.get(*offset..end))
                .unwrap_or(&[]),
        }
    }

    pub fn len_bytes(&self) -> usize {
        self.bytes().len()
    }
}
