//! Radix prefix cache: edge cases and the documented semantics (duplicates, pins, LRU).

use kv::{BlockId, BlockPool, BlockTable, Error, RadixTree};

const BS: usize = 4;

/// A sequence that computed `tokens` into freshly allocated blocks.
fn computed(pool: &mut BlockPool, tokens: &[u32]) -> BlockTable {
    let mut t = BlockTable::new(BS).unwrap();
    t.append_slots(pool, tokens.len()).unwrap();
    t
}

#[test]
fn empty_prompt() {
    let mut pool = BlockPool::new(4);
    let mut tree = RadixTree::new(BS).unwrap();
    let m = tree.match_prefix(&[]);
    assert_eq!((m.blocks.len(), m.n_tokens, m.node), (0, 0, tree.root()));
    let ins = tree.insert(&mut pool, &[], &[]).unwrap();
    assert_eq!((ins.n_new, ins.node), (0, tree.root()));
    tree.pin(m.node).unwrap();
    tree.unpin(m.node).unwrap();
    assert_eq!(tree.num_nodes(), 0);
    assert_eq!(tree.evict(&mut pool, 10), Ok(0));
}

#[test]
fn prompt_shorter_than_a_block_is_not_cached() {
    let mut pool = BlockPool::new(4);
    let mut tree = RadixTree::new(BS).unwrap();
    let mut t = computed(&mut pool, &[1, 2, 3]);
    let ins = tree.insert(&mut pool, &[1, 2, 3], t.blocks()).unwrap();
    assert_eq!(ins.n_new, 0);
    assert_eq!(
        pool.ref_count(t.blocks()[0]),
        1,
        "the tree took no reference"
    );
    assert_eq!(tree.match_prefix(&[1, 2, 3]).n_tokens, 0);
    t.free(&mut pool).unwrap();
    assert_eq!(pool.num_free(), 4);
}

#[test]
fn exact_multiple_and_partial_tail() {
    let mut pool = BlockPool::new(8);
    let mut tree = RadixTree::new(BS).unwrap();
    let tokens: Vec<u32> = (10..18).collect(); // exactly two blocks
    let mut t = computed(&mut pool, &tokens);
    let ins = tree.insert(&mut pool, &tokens, t.blocks()).unwrap();
    assert_eq!((ins.n_new, ins.n_existing), (2, 0));
    assert_eq!(ins.cached, t.blocks());
    assert!(t.blocks().iter().all(|&b| pool.ref_count(b) == 2));

    let m = tree.match_prefix(&tokens);
    assert_eq!((m.blocks.as_slice(), m.n_tokens), (t.blocks(), 8));
    assert_eq!(tree.node_block(m.node), Some(t.blocks()[1]));
    let mut longer = tokens.clone();
    longer.push(99);
    assert_eq!(tree.match_prefix(&longer).n_tokens, 8);
    assert_eq!(tree.match_prefix(&tokens[..7]).n_tokens, 4);
    assert_eq!(tree.match_prefix(&[10, 11, 12, 99]).n_tokens, 0);
    assert_eq!(tree.match_len(&tokens), 8);

    // Inserting a 9-token sequence reuses both nodes and ignores the partial third block.
    let mut t9 = computed(&mut pool, &longer);
    let ins = tree.insert(&mut pool, &longer, t9.blocks()).unwrap();
    assert_eq!((ins.n_new, ins.n_existing), (0, 2));
    assert_eq!(pool.ref_count(t9.blocks()[2]), 1);
    t9.free(&mut pool).unwrap();
    t.free(&mut pool).unwrap();
    assert_eq!(pool.num_free(), 6, "the tree still holds two blocks");
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(2));
    assert_eq!(pool.num_free(), 8);
}

/// Two sequences computed the same prefix into different blocks. The tree keeps the first
/// one's blocks and never references the second one's; freeing the second sequence returns
/// its blocks to the pool, and the cache still serves the first one's.
#[test]
fn duplicate_insert_keeps_the_first_blocks() {
    let mut pool = BlockPool::new(8);
    let mut tree = RadixTree::new(BS).unwrap();
    let tokens: Vec<u32> = (0..8).collect();
    let mut a = computed(&mut pool, &tokens);
    let mut b = computed(&mut pool, &tokens);
    tree.insert(&mut pool, &tokens, a.blocks()).unwrap();
    let ins = tree.insert(&mut pool, &tokens, b.blocks()).unwrap();
    assert_eq!((ins.n_new, ins.n_existing), (0, 2));
    assert_eq!(ins.cached, a.blocks(), "the tree's blocks, to switch to");
    assert!(a.blocks().iter().all(|&x| pool.ref_count(x) == 2));
    assert!(b.blocks().iter().all(|&x| pool.ref_count(x) == 1));

    let b_blocks = b.blocks().to_vec();
    b.free(&mut pool).unwrap();
    assert!(b_blocks.iter().all(|&x| pool.is_free(x)));
    let a_blocks = a.blocks().to_vec();
    a.free(&mut pool).unwrap();
    assert_eq!(tree.match_prefix(&tokens).blocks, a_blocks);
    assert_eq!(pool.num_used(), 2);
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(2));
    assert_eq!(pool.num_free(), 8);
}

#[test]
fn diverging_prompts_share_their_common_blocks() {
    let mut pool = BlockPool::new(8);
    let mut tree = RadixTree::new(BS).unwrap();
    let p1 = [1, 2, 3, 4, 5, 6, 7, 8];
    let p2 = [1, 2, 3, 4, 9, 9, 9, 9];
    let a = computed(&mut pool, &p1);
    tree.insert(&mut pool, &p1, a.blocks()).unwrap();
    let hit = tree.match_prefix(&p2);
    assert_eq!(hit.blocks, vec![a.blocks()[0]]);
    let mut b = BlockTable::new(BS).unwrap();
    b.extend_shared(&mut pool, &hit.blocks).unwrap();
    b.append_slots(&mut pool, p2.len()).unwrap();
    let ins = tree.insert(&mut pool, &p2, b.blocks()).unwrap();
    assert_eq!((ins.n_new, ins.n_existing), (1, 1));
    assert_eq!(tree.num_nodes(), 3);
    assert_eq!(pool.ref_count(a.blocks()[0]), 3); // a, b, tree
}

#[test]
fn insert_errors_change_nothing() {
    let mut pool = BlockPool::new(4);
    let mut tree = RadixTree::new(BS).unwrap();
    let tokens: Vec<u32> = (0..8).collect();
    let t = computed(&mut pool, &tokens[..4]);
    assert_eq!(
        tree.insert(&mut pool, &tokens, t.blocks()),
        Err(Error::TooFewBlocks {
            full_blocks: 2,
            given: 1
        })
    );
    let free_block = BlockId(3);
    assert!(pool.is_free(free_block));
    let err = tree.insert(&mut pool, &tokens, &[t.blocks()[0], free_block]);
    assert!(matches!(err, Err(Error::BlockIsFree { .. })), "{err:?}");
    let err = tree.insert(&mut pool, &tokens, &[t.blocks()[0], BlockId(77)]);
    assert!(matches!(err, Err(Error::UnknownBlock { .. })), "{err:?}");
    assert_eq!(tree.num_nodes(), 0);
    assert_eq!(pool.ref_count(t.blocks()[0]), 1);
    assert!(matches!(RadixTree::new(0), Err(Error::ZeroBlockSize)));
}

#[test]
fn pinned_paths_survive_eviction_until_unpinned() {
    let mut pool = BlockPool::new(8);
    let mut tree = RadixTree::new(BS).unwrap();
    let tokens: Vec<u32> = (0..12).collect();
    let mut a = computed(&mut pool, &tokens);
    tree.insert(&mut pool, &tokens, a.blocks()).unwrap();
    a.free(&mut pool).unwrap();

    // A request matched the first two blocks and pinned them.
    let hit = tree.match_prefix(&tokens[..8]);
    tree.pin(hit.node).unwrap();
    assert_eq!(tree.num_evictable(&pool), 1);
    assert_eq!(
        tree.evict(&mut pool, usize::MAX),
        Ok(1),
        "only the unpinned leaf"
    );
    assert_eq!(tree.match_len(&tokens), 8);
    assert!(tree.is_pinned(hit.node));
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(0));

    tree.unpin(hit.node).unwrap();
    assert_eq!(
        tree.unpin(hit.node),
        Err(Error::NotPinned { node: hit.node })
    );
    assert_eq!(tree.num_evictable(&pool), 2);
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(2));
    assert_eq!(pool.num_free(), 8);
    assert_eq!(tree.pin(hit.node), Err(Error::StaleNode { node: hit.node }));
    assert_eq!(tree.node_block(hit.node), None);
}

#[test]
fn blocks_a_sequence_still_uses_are_not_evicted() {
    let mut pool = BlockPool::new(4);
    let mut tree = RadixTree::new(BS).unwrap();
    let tokens: Vec<u32> = (0..8).collect();
    let mut a = computed(&mut pool, &tokens);
    tree.insert(&mut pool, &tokens, a.blocks()).unwrap();
    // Not pinned, but `a` holds both blocks: evicting would free nothing.
    assert_eq!(tree.num_evictable(&pool), 0);
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(0));
    assert_eq!(tree.num_nodes(), 2);
    a.free(&mut pool).unwrap();
    assert_eq!(tree.evict(&mut pool, usize::MAX), Ok(2));
}

#[test]
fn eviction_is_least_recently_used_first_leaves_first() {
    let mut pool = BlockPool::new(16);
    let mut tree = RadixTree::new(BS).unwrap();
    let prompts: Vec<Vec<u32>> = (0..3u32)
        .map(|p| (0..8).map(|i| p * 100 + i).collect())
        .collect();
    for p in &prompts {
        let mut t = computed(&mut pool, p);
        tree.insert(&mut pool, p, t.blocks()).unwrap();
        t.free(&mut pool).unwrap();
    }
    // Touch prompt 0, so prompt 1 is now the least recently used.
    tree.match_prefix(&prompts[0]);
    assert_eq!(tree.evict(&mut pool, 1), Ok(1));
    assert_eq!(tree.match_len(&prompts[1]), 4, "its leaf went first");
    assert_eq!(tree.match_len(&prompts[0]), 8);
    assert_eq!(tree.match_len(&prompts[2]), 8);
    // Its parent is now a leaf, and still the oldest.
    assert_eq!(tree.evict(&mut pool, 1), Ok(1));
    assert_eq!(tree.match_len(&prompts[1]), 0);
    assert_eq!(tree.evict(&mut pool, 2), Ok(2));
    assert_eq!(
        tree.match_len(&prompts[2]),
        0,
        "prompt 2 older than the touched prompt 0"
    );
    assert_eq!(tree.match_len(&prompts[0]), 8);
}
