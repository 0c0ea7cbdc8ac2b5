//! Errors of the kv crate: every one names the block or node concerned.

use crate::{BlockId, NodeId};

/// A misuse of the block pool, a block table or the radix tree. The structure is unchanged
/// when one is returned, unless the method says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("block {block} does not exist in a pool of {num_blocks} blocks")]
    UnknownBlock { block: BlockId, num_blocks: usize },
    #[error("{op} of block {block}, which is free (reference count 0)")]
    BlockIsFree { block: BlockId, op: &'static str },
    #[error("reference count of block {block} would overflow")]
    RefCountOverflow { block: BlockId },
    #[error("block size must be at least 1 token")]
    ZeroBlockSize,
    #[error("radix tree node {node:?} no longer exists (evicted)")]
    StaleNode { node: NodeId },
    #[error("radix tree node {node:?} is not pinned")]
    NotPinned { node: NodeId },
    #[error("insert of {full_blocks} full blocks of tokens given only {given} block ids")]
    TooFewBlocks { full_blocks: usize, given: usize },
}
