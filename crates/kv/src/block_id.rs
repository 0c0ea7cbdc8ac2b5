//! `BlockId`: the index of one physical KV block (`block_size` token slots) in the pool.

use std::fmt;

/// Index of a physical KV block; slot `s` of the KV tensors belongs to block `s / block_size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

impl BlockId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for BlockId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
