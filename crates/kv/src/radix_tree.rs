//! `RadixTree`: the prefix cache. A tree over FULL blocks of token ids: each node below the
//! root is one block of `block_size` token ids together with the physical block that holds
//! their KV, so a path from the root spells a cached prefix, block by block.
//!
//! References: the tree owns one pool reference per node (taken on insert, dropped on
//! eviction). A sequence that reuses a hit takes its own references
//! (`BlockTable::extend_shared`), so a cached block is never freed while a sequence uses it.
//!
//! Duplicates: when `insert` meets a block of tokens the tree already has, the tree keeps its
//! existing block and takes no reference on the caller's block; the caller's own reference is
//! untouched and goes back to the pool when its table is freed. `Inserted::cached` lists the
//! tree's blocks along the path, so a caller may switch to them and free its duplicates early.
//!
//! Pins: a running request pins the deepest node of its match; the pin counts on that node and
//! every ancestor, and eviction never removes a pinned node. A sequence that also holds its own
//! references on the matched blocks is protected by the counts already (eviction only takes
//! blocks the tree alone holds); the pin keeps the cache entry itself alive, e.g. after the
//! sequence truncated or swapped out its blocks, until the request ends.

use crate::radix_node::{Arena, Node, NodeId, ROOT};
use crate::{BlockId, BlockPool, Error};
use std::collections::HashMap;

#[derive(Debug)]
pub struct RadixTree {
    block_size: usize,
    pub(crate) arena: Arena,
    clock: u64,
}

/// The cached part of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixMatch {
    /// The blocks holding the matched prefix, in order (the tree's references, not the caller's).
    pub blocks: Vec<BlockId>,
    /// Tokens matched: `blocks.len() * block_size`.
    pub n_tokens: usize,
    /// Deepest matched node (the root when nothing matched): what to `pin`.
    pub node: NodeId,
}

/// What an `insert` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    /// Deepest node of the inserted path (the root when `tokens` had no full block).
    pub node: NodeId,
    /// Nodes created (each took a reference on the caller's block).
    pub n_new: usize,
    /// Full blocks that were already cached (the tree kept its own block).
    pub n_existing: usize,
    /// The tree's block for each full block of `tokens`, in order.
    pub cached: Vec<BlockId>,
}

impl RadixTree {
    pub fn new(block_size: usize) -> Result<Self, Error> {
        if block_size == 0 {
            return Err(Error::ZeroBlockSize);
        }
        Ok(Self {
            block_size,
            arena: Arena::new(),
            clock: 0,
        })
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }

    /// Cached blocks (nodes other than the root).
    pub fn num_nodes(&self) -> usize {
        self.arena.live()
    }

    pub fn root(&self) -> NodeId {
        self.arena.id(ROOT)
    }

    /// The longest cached prefix of `tokens`, whole blocks only, and marks its nodes as used
    /// now (LRU). Serving a prompt that is entirely cached, the caller still has to recompute at
    /// least its last token to get logits.
    pub fn match_prefix(&mut self, tokens: &[u32]) -> PrefixMatch {
        self.clock += 1;
        let now = self.clock;
        let mut blocks = Vec::new();
        let mut at = ROOT;
        for key in tokens.chunks_exact(self.block_size) {
            let Some(next) = self.child(at, key) else {
                break;
            };
            let Some(node) = self.arena.get_mut(next) else {
                break;
            };
            node.last_access = now;
            if let Some(b) = node.block {
                blocks.push(b);
            }
            at = next;
        }
        PrefixMatch {
            n_tokens: blocks.len() * self.block_size,
            blocks,
            node: self.arena.id(at),
        }
    }

    /// Tokens of `tokens` the cache holds, without touching the LRU order.
    pub fn match_len(&self, tokens: &[u32]) -> usize {
        let mut at = ROOT;
        let mut n = 0;
        for key in tokens.chunks_exact(self.block_size) {
            let Some(next) = self.child(at, key) else {
                break;
            };
            at = next;
            n += self.block_size;
        }
        n
    }

    /// Caches the full blocks of `tokens` (a trailing partial block is ignored), block `i` of
    /// them held by `blocks[i]`; extra entries of `blocks` are ignored. New nodes take a pool
    /// reference on their block; blocks already cached keep the tree's block (see the module
    /// doc). Every block that would become a new node must be in use (count ≥ 1): checked before
    /// anything changes.
    pub fn insert(
        &mut self,
        pool: &mut BlockPool,
        tokens: &[u32],
        blocks: &[BlockId],
    ) -> Result<Inserted, Error> {
        let full_blocks = tokens.len() / self.block_size;
        if blocks.len() < full_blocks {
            return Err(Error::TooFewBlocks {
                full_blocks,
                given: blocks.len(),
            });
        }
        let keys = tokens.chunks_exact(self.block_size);

        // Check first: the cached part of the path, then every block that would be new.
        let n_existing = self.match_len(tokens) / self.block_size;
        for &b in blocks.iter().take(full_blocks).skip(n_existing) {
            if b.index() >= pool.num_total() {
                return Err(Error::UnknownBlock {
                    block: b,
                    num_blocks: pool.num_total(),
                });
            }
            if pool.ref_count(b) == 0 {
                return Err(Error::BlockIsFree {
                    block: b,
                    op: "insert",
                });
            }
        }

        self.clock += 1;
        let now = self.clock;
        let mut cached = Vec::with_capacity(full_blocks);
        let mut at = ROOT;
        let mut n_new = 0;
        for (key, &block) in keys.zip(blocks) {
            let next = match self.child(at, key) {
                Some(next) => next,
                None => {
                    pool.incref(block)?;
                    n_new += 1;
                    let index = self.arena.insert(Node {
                        tokens: key.into(),
                        block: Some(block),
                        parent: at,
                        children: HashMap::new(),
                        last_access: now,
                        pins: 0,
                    });
                    if let Some(parent) = self.arena.get_mut(at) {
                        parent.children.insert(key.into(), index);
                    }
                    index
                }
            };
            if let Some(node) = self.arena.get_mut(next) {
                node.last_access = now;
                cached.extend(node.block);
            }
            at = next;
        }
        Ok(Inserted {
            node: self.arena.id(at),
            n_new,
            n_existing,
            cached,
        })
    }

    /// Pins `node` and its ancestors against eviction (one pin per call; the root is fine).
    pub fn pin(&mut self, node: NodeId) -> Result<(), Error> {
        self.arena.resolve(node).ok_or(Error::StaleNode { node })?;
        self.walk_up(node.index, |n| n.pins += 1);
        Ok(())
    }

    /// Removes one pin placed by [`pin`](Self::pin) on `node`.
    pub fn unpin(&mut self, node: NodeId) -> Result<(), Error> {
        let n = self.arena.resolve(node).ok_or(Error::StaleNode { node })?;
        if node.index != ROOT && n.pins == 0 {
            return Err(Error::NotPinned { node });
        }
        self.walk_up(node.index, |n| n.pins = n.pins.saturating_sub(1));
        Ok(())
    }

    /// Whether a live node has a pin on it or below it.
    pub fn is_pinned(&self, node: NodeId) -> bool {
        self.arena.resolve(node).is_some_and(|n| n.pins > 0)
    }

    /// The block a live node holds (`None` for the root or a stale id).
    pub fn node_block(&self, node: NodeId) -> Option<BlockId> {
        self.arena.resolve(node)?.block
    }

    /// The block of token ids a live node stands for (empty for the root).
    pub fn node_tokens(&self, node: NodeId) -> Option<&[u32]> {
        self.arena.resolve(node).map(|n| &n.tokens[..])
    }

    /// Every cached (node, block) pair, for audits and tests.
    pub fn cached_blocks(&self) -> Vec<(NodeId, BlockId)> {
        let mut out = Vec::with_capacity(self.arena.live());
        for (index, slot) in self.arena.slots.iter().enumerate() {
            if let Some(block) = slot.node.as_ref().and_then(|n| n.block) {
                out.push((self.arena.id(index as u32), block));
            }
        }
        out
    }

    pub(crate) fn child(&self, at: u32, key: &[u32]) -> Option<u32> {
        self.arena.get(at)?.children.get(key).copied()
    }

    /// Applies `f` to `index` and each ancestor, the root excluded.
    fn walk_up(&mut self, mut index: u32, mut f: impl FnMut(&mut Node)) {
        while index != ROOT {
            let Some(node) = self.arena.get_mut(index) else {
                return;
            };
            f(node);
            index = node.parent;
        }
    }
}
