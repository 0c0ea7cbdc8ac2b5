//! Paged KV bookkeeping, pure logic, no tensors: the block pool (free list, reference counts),
//! per-sequence block tables, and the radix prefix cache whose values are block ids.
//!
//! ```
//! use kv::{BlockPool, BlockTable, RadixTree};
//! let mut pool = BlockPool::new(8);
//! let mut tree = RadixTree::new(2)?;
//! let prompt = [1, 2, 3, 4, 5];
//! // First request: nothing cached; allocate, (compute), then cache its full blocks.
//! let mut a = BlockTable::new(2)?;
//! a.append_slots(&mut pool, prompt.len()).expect("free blocks");
//! tree.insert(&mut pool, &prompt, a.blocks())?;
//! a.free(&mut pool)?;
//! // Second request with the same prompt: two blocks (4 tokens) come from the cache.
//! let hit = tree.match_prefix(&prompt);
//! assert_eq!(hit.n_tokens, 4);
//! let mut b = BlockTable::new(2)?;
//! b.extend_shared(&mut pool, &hit.blocks)?;
//! tree.pin(hit.node)?;
//! b.append_slots(&mut pool, prompt.len()).expect("free blocks");
//! # Ok::<(), kv::Error>(())
//! ```

mod block_id;
mod block_pool;
mod block_table;
mod copy_on_write;
mod error;
mod radix_evict;
mod radix_node;
mod radix_tree;

pub use block_id::BlockId;
pub use block_pool::BlockPool;
pub use block_table::BlockTable;
pub use copy_on_write::{BlockCopy, CopyOnWrite};
pub use error::Error;
pub use radix_node::NodeId;
pub use radix_tree::{Inserted, PrefixMatch, RadixTree};
