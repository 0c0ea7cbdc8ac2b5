//! A growable byte buffer aligned for every block type (4 bytes), for quantized activations.

/// Bytes backed by `u32` words, so [`crate::cast_blocks`] never fails on alignment.
#[derive(Clone, Debug, Default)]
pub struct AlignedBytes {
    words: Vec<u32>,
    len: usize,
}

impl AlignedBytes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the length to `len` bytes (new bytes are zero); keeps the allocation when shrinking.
    pub fn resize(&mut self, len: usize) {
        self.words.resize(len.div_ceil(4), 0);
        self.len = len;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `words` holds at least `len` initialised bytes; u8 has alignment 1.
        unsafe { std::slice::from_raw_parts(self.words.as_ptr().cast::<u8>(), self.len) }
    }

    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, with the exclusive borrow of `self`; any byte value is a valid u32 part.
        unsafe { std::slice::from_raw_parts_mut(self.words.as_mut_ptr().cast::<u8>(), self.len) }
    }
}
