//! Viewing raw bytes as typed blocks, safely: length and alignment are checked, never assumed.

use crate::{Error, GgmlType};
use std::mem::{align_of, size_of};

/// A plain-data GGUF block (or `f32`, a "block" of one value).
///
/// # Safety
/// Implementors are `#[repr(C)]` (or primitive) with no padding, every bit pattern valid, alignment
/// at most 4, and `size_of::<Self>() == Self::TYPE.type_size()`.
pub unsafe trait Block: Copy + Send + Sync + 'static {
    /// The ggml type this block stores.
    const TYPE: GgmlType;
}

// SAFETY: f32 is plain data of 4 bytes, any bit pattern is a valid f32.
unsafe impl Block for f32 {
    const TYPE: GgmlType = GgmlType::F32;
}

/// Declares `Block` for a `#[repr(C)]` block struct and checks its size and alignment at compile time.
macro_rules! impl_block {
    ($block:ty, $ty:expr, $size:expr) => {
        const _: () = assert!(std::mem::size_of::<$block>() == $size);
        const _: () = assert!(std::mem::size_of::<$block>() == $ty.type_size());
        const _: () = assert!(std::mem::align_of::<$block>() <= 4);
        // SAFETY: the struct is #[repr(C)] with only u8/i8/i16/f16/f32 fields and no padding
        // (its size equals the sum of its fields, checked above); every bit pattern is valid.
        unsafe impl $crate::block::Block for $block {
            const TYPE: $crate::GgmlType = $ty;
        }
    };
}
pub(crate) use impl_block;

fn check<B: Block>(what: &'static str, addr: usize, len: usize) -> Result<(), Error> {
    let size = size_of::<B>();
    if !len.is_multiple_of(size) {
        return Err(Error::Length {
            what,
            ty: B::TYPE,
            expected: len / size * size,
            got: len,
        });
    }
    if !addr.is_multiple_of(align_of::<B>()) {
        return Err(Error::Misaligned {
            what,
            ty: B::TYPE,
            addr,
            align: align_of::<B>(),
        });
    }
    Ok(())
}

/// Views `bytes` as blocks. Errors when the length is not a whole number of blocks or the data is
/// not aligned for `B` (never undefined behaviour).
pub fn cast_blocks<B: Block>(bytes: &[u8]) -> Result<&[B], Error> {
    check::<B>("cast_blocks", bytes.as_ptr() as usize, bytes.len())?;
    let n = bytes.len() / size_of::<B>();
    // SAFETY: length and alignment checked above; `B: Block` guarantees any bit pattern is valid
    // and there is no padding; the lifetime is tied to `bytes`.
    Ok(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<B>(), n) })
}

/// Mutable version of [`cast_blocks`].
pub fn cast_blocks_mut<B: Block>(bytes: &mut [u8]) -> Result<&mut [B], Error> {
    check::<B>("cast_blocks_mut", bytes.as_ptr() as usize, bytes.len())?;
    let n = bytes.len() / size_of::<B>();
    // SAFETY: as in `cast_blocks`; the exclusive borrow of `bytes` moves to the result, and any
    // bytes written through a `B` are valid `u8`s (no padding).
    Ok(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<B>(), n) })
}

/// The raw bytes of a block slice (what a GGUF file stores).
pub fn blocks_as_bytes<B: Block>(blocks: &[B]) -> &[u8] {
    // SAFETY: `B: Block` has no padding, so every byte is initialised; u8 has alignment 1.
    unsafe {
        std::slice::from_raw_parts(blocks.as_ptr().cast::<u8>(), std::mem::size_of_val(blocks))
    }
}
