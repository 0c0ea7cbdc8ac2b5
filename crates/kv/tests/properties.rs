//! Random operation sequences over pool + block tables + radix tree, checked after every step
//! against an independent count of who holds which block, and against a simulated KV store
//! (which token each physical slot holds): every sequence reads its own tokens back and every
//! cached node's block holds the node's tokens, so sharing, copy-on-write and eviction never
//! let one sequence see another's KV.

use std::collections::{HashMap, HashSet};

use kv::{BlockId, BlockPool, BlockTable, CopyOnWrite, Error, NodeId, RadixTree};
use proptest::prelude::*;
use proptest::sample::Index;

const NUM_BLOCKS: u32 = 24;

#[derive(Debug, Clone)]
enum Op {
    /// A request arrives: match its prompt, share the hit, pin it, allocate the rest.
    Start(Vec<u32>),
    /// A running sequence gets more tokens (prefill chunk or decode).
    Grow(Index, Vec<u32>),
    /// Rollback to a shorter length (e.g. rejected speculative tokens).
    Truncate(Index, usize),
    /// A sequence's full blocks go into the cache; its pin moves to the new deepest node.
    Insert(Index),
    /// A sequence ends: unpin, free its table.
    Finish(Index),
    /// `n > 1`: a second sequence shares every block of one.
    Fork(Index),
    /// Someone takes an extra reference on a block in use / drops one.
    Incref(Index),
    Decref(Index),
    /// A bare allocate / its release.
    Alloc,
    Release(Index),
    /// Decref of an arbitrary block id: an error when free, never a negative count.
    StrayDecref(u32),
    Evict(usize),
}

fn tokens(max_len: usize) -> impl Strategy<Value = Vec<u32>> {
    // A 3-letter alphabet and a block size of 2 make shared prefixes and duplicates common.
    prop::collection::vec(0u32..3, 0..max_len)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => tokens(12).prop_map(Op::Start),
        3 => (any::<Index>(), tokens(5)).prop_map(|(i, t)| Op::Grow(i, t)),
        3 => any::<Index>().prop_map(Op::Insert),
        1 => (any::<Index>(), 0usize..12).prop_map(|(i, n)| Op::Truncate(i, n)),
        2 => any::<Index>().prop_map(Op::Finish),
        1 => any::<Index>().prop_map(Op::Fork),
        1 => any::<Index>().prop_map(Op::Incref),
        1 => any::<Index>().prop_map(Op::Decref),
        1 => Just(Op::Alloc),
        1 => any::<Index>().prop_map(Op::Release),
        1 => (0..NUM_BLOCKS + 2).prop_map(Op::StrayDecref),
        2 => (0usize..6).prop_map(Op::Evict),
    ]
}

struct Seq {
    tokens: Vec<u32>,
    table: BlockTable,
    pin: NodeId,
}

struct World {
    pool: BlockPool,
    tree: RadixTree,
    seqs: Vec<Seq>,
    /// Extra references the test holds (one entry per reference).
    extra: Vec<BlockId>,
    /// Bare allocations the test holds.
    raw: Vec<BlockId>,
    /// Simulated KV: [num_blocks, block_size] token held by each slot.
    kv: Vec<Option<u32>>,
}

const BS: usize = 2;

impl World {
    fn new() -> Self {
        Self {
            pool: BlockPool::new(NUM_BLOCKS),
            tree: RadixTree::new(BS).unwrap(),
            seqs: Vec::new(),
            extra: Vec::new(),
            raw: Vec::new(),
            kv: vec![None; NUM_BLOCKS as usize * BS],
        }
    }

    /// "Computes" positions `start..tokens.len()` of a sequence into its slots.
    fn write(kv: &mut [Option<u32>], table: &BlockTable, tokens: &[u32], start: usize) {
        for (pos, &t) in tokens.iter().enumerate().skip(start) {
            let slot = table.slot(pos).expect("slot allocated") as usize;
            kv[slot] = Some(t);
        }
    }

    fn copy_block(kv: &mut [Option<u32>], src: BlockId, dst: BlockId) {
        for i in 0..BS {
            kv[dst.index() * BS + i] = kv[src.index() * BS + i];
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Start(prompt) => {
                let hit = self.tree.match_prefix(prompt);
                assert_eq!(hit.n_tokens, hit.blocks.len() * BS);
                for (pos, &t) in prompt.iter().enumerate().take(hit.n_tokens) {
                    let held = self.kv[hit.blocks[pos / BS].index() * BS + pos % BS];
                    assert_eq!(held, Some(t), "a hit's blocks hold the prompt's tokens");
                }
                let mut table = BlockTable::new(BS).unwrap();
                table.extend_shared(&mut self.pool, &hit.blocks).unwrap();
                self.tree.pin(hit.node).unwrap();
                if table.append_slots(&mut self.pool, prompt.len()).is_some() {
                    Self::write(&mut self.kv, &table, prompt, hit.n_tokens);
                    self.seqs.push(Seq {
                        tokens: prompt.clone(),
                        table,
                        pin: hit.node,
                    });
                } else {
                    self.tree.unpin(hit.node).unwrap();
                    table.free(&mut self.pool).unwrap();
                }
            }
            Op::Grow(i, more) => {
                if self.seqs.is_empty() {
                    return;
                }
                let k = i.index(self.seqs.len());
                let s = &mut self.seqs[k];
                let len = s.tokens.len();
                match s.table.ensure_writable(&mut self.pool, len).unwrap() {
                    CopyOnWrite::InPlace => {}
                    CopyOnWrite::Copy(c) => Self::copy_block(&mut self.kv, c.src, c.dst),
                    CopyOnWrite::NoFreeBlock => return,
                }
                let before = s.table.blocks().to_vec();
                match s.table.append_slots(&mut self.pool, len + more.len()) {
                    Some(n) => {
                        assert_eq!(s.table.num_blocks(), before.len() + n);
                        assert_eq!(&s.table.blocks()[..before.len()], &before[..]);
                        s.tokens.extend_from_slice(more);
                        Self::write(&mut self.kv, &s.table, &s.tokens, len);
                    }
                    None => assert_eq!(
                        s.table.blocks(),
                        &before[..],
                        "failed append changes nothing"
                    ),
                }
                assert!(s.table.capacity() >= s.tokens.len());
            }
            Op::Truncate(i, n) => {
                if self.seqs.is_empty() {
                    return;
                }
                let k = i.index(self.seqs.len());
                let s = &mut self.seqs[k];
                let n = (*n).min(s.tokens.len());
                s.tokens.truncate(n);
                s.table.truncate(&mut self.pool, n).unwrap();
                assert_eq!(
                    s.table.num_blocks(),
                    n.div_ceil(BS).min(s.table.num_blocks())
                );
            }
            Op::Insert(i) => {
                if self.seqs.is_empty() {
                    return;
                }
                let k = i.index(self.seqs.len());
                let s = &mut self.seqs[k];
                let ins = self
                    .tree
                    .insert(&mut self.pool, &s.tokens, s.table.blocks())
                    .unwrap();
                let full = s.tokens.len() / BS;
                assert_eq!(ins.cached.len(), full);
                assert_eq!(ins.n_new + ins.n_existing, full);
                // New nodes hold exactly the sequence's blocks.
                assert_eq!(
                    &ins.cached[ins.n_existing..],
                    &s.table.blocks()[ins.n_existing..full]
                );
                // Match after insert returns the blocks the tree holds for this path.
                let m = self.tree.match_prefix(&s.tokens);
                assert_eq!(m.blocks, ins.cached);
                assert_eq!(m.n_tokens, full * BS);
                assert_eq!(m.node, ins.node);
                self.tree.pin(ins.node).unwrap();
                self.tree.unpin(s.pin).unwrap();
                s.pin = ins.node;
            }
            Op::Finish(i) => {
                if self.seqs.is_empty() {
                    return;
                }
                let mut s = self.seqs.swap_remove(i.index(self.seqs.len()));
                self.tree.unpin(s.pin).unwrap();
                s.table.free(&mut self.pool).unwrap();
            }
            Op::Fork(i) => {
                if self.seqs.is_empty() {
                    return;
                }
                let s = &self.seqs[i.index(self.seqs.len())];
                let table = s.table.fork(&mut self.pool, s.tokens.len()).unwrap();
                let forked = Seq {
                    tokens: s.tokens.clone(),
                    table,
                    pin: s.pin,
                };
                self.tree.pin(forked.pin).unwrap();
                self.seqs.push(forked);
            }
            Op::Incref(i) => {
                let used: Vec<BlockId> = (0..NUM_BLOCKS)
                    .map(BlockId)
                    .filter(|&b| !self.pool.is_free(b))
                    .collect();
                if used.is_empty() {
                    return;
                }
                let b = used[i.index(used.len())];
                self.pool.incref(b).unwrap();
                self.extra.push(b);
            }
            Op::Decref(i) => {
                if self.extra.is_empty() {
                    return;
                }
                let b = self.extra.swap_remove(i.index(self.extra.len()));
                self.pool.decref(b).unwrap();
            }
            Op::Alloc => {
                if let Some(b) = self.pool.allocate() {
                    assert_eq!(self.pool.ref_count(b), 1);
                    self.raw.push(b);
                } else {
                    assert_eq!(self.pool.num_free(), 0);
                }
            }
            Op::Release(i) => {
                if self.raw.is_empty() {
                    return;
                }
                let b = self.raw.swap_remove(i.index(self.raw.len()));
                self.pool.decref(b).unwrap();
            }
            Op::StrayDecref(id) => {
                let b = BlockId(*id);
                if *id >= NUM_BLOCKS {
                    assert!(matches!(
                        self.pool.decref(b),
                        Err(Error::UnknownBlock { .. })
                    ));
                } else if self.pool.is_free(b) {
                    assert!(matches!(
                        self.pool.decref(b),
                        Err(Error::BlockIsFree { .. })
                    ));
                }
                // A used block is someone's reference: not ours to drop.
            }
            Op::Evict(n) => {
                let pinned: Vec<(NodeId, Option<BlockId>)> = self
                    .seqs
                    .iter()
                    .map(|s| (s.pin, self.tree.node_block(s.pin)))
                    .collect();
                let free_before = self.pool.num_free();
                let evictable = self.tree.num_evictable(&self.pool);
                let freed = self.tree.evict(&mut self.pool, *n).unwrap();
                assert_eq!(freed, (*n).min(evictable), "evicts what it can, up to n");
                assert_eq!(
                    self.pool.num_free(),
                    free_before + freed,
                    "each eviction frees a block"
                );
                for (node, block) in pinned {
                    assert_eq!(self.tree.node_block(node), block, "pinned node evicted");
                }
            }
        }
    }

    /// The pool's counts equal the references everyone holds, and the free list is exactly
    /// the blocks with count 0.
    fn check(&self) {
        let mut held: HashMap<BlockId, u32> = HashMap::new();
        let holders = self
            .seqs
            .iter()
            .flat_map(|s| s.table.blocks().iter().copied())
            .chain(self.tree.cached_blocks().into_iter().map(|(_, b)| b))
            .chain(self.extra.iter().copied())
            .chain(self.raw.iter().copied());
        for b in holders {
            *held.entry(b).or_default() += 1;
        }
        assert_eq!(
            self.pool.num_free() + self.pool.num_used(),
            NUM_BLOCKS as usize
        );
        let free: HashSet<BlockId> = self.pool.free_blocks().iter().copied().collect();
        assert_eq!(
            free.len(),
            self.pool.num_free(),
            "no block twice on the free list"
        );
        for id in (0..NUM_BLOCKS).map(BlockId) {
            let want = held.get(&id).copied().unwrap_or(0);
            assert_eq!(self.pool.ref_count(id), want, "block {id}");
            assert_eq!(
                free.contains(&id),
                want == 0,
                "block {id} free iff unreferenced"
            );
        }
        for s in &self.seqs {
            assert!(self.tree.is_pinned(s.pin) || s.pin == self.tree.root());
            assert!(s.table.capacity() >= s.tokens.len());
            for (pos, &t) in s.tokens.iter().enumerate() {
                let slot = s.table.slot(pos).unwrap() as usize;
                assert_eq!(
                    self.kv[slot],
                    Some(t),
                    "sequence reads its own token at {pos}"
                );
            }
        }
        let mut seen = HashSet::new();
        for (node, block) in self.tree.cached_blocks() {
            assert!(seen.insert(block), "block {block} in two cache nodes");
            let tokens = self.tree.node_tokens(node).unwrap();
            let held: Vec<Option<u32>> = (0..BS).map(|i| self.kv[block.index() * BS + i]).collect();
            let want: Vec<Option<u32>> = tokens.iter().map(|&t| Some(t)).collect();
            assert_eq!(held, want, "cached block {block} holds its node's tokens");
        }
    }

    /// Everyone lets go; then the cache can be emptied and the pool is whole again.
    fn drain(&mut self) {
        for mut s in std::mem::take(&mut self.seqs) {
            self.tree.unpin(s.pin).unwrap();
            s.table.free(&mut self.pool).unwrap();
        }
        for b in std::mem::take(&mut self.extra)
            .into_iter()
            .chain(std::mem::take(&mut self.raw))
        {
            self.pool.decref(b).unwrap();
        }
        self.check();
        let cached = self.tree.num_nodes();
        assert_eq!(self.tree.num_evictable(&self.pool), cached);
        assert_eq!(self.tree.evict(&mut self.pool, usize::MAX).unwrap(), cached);
        assert_eq!(self.tree.num_nodes(), 0);
        assert_eq!(self.pool.num_free(), NUM_BLOCKS as usize);
        self.check();
    }
}

proptest! {
    // Failures print the minimal op sequence; nothing is written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn accounting_balances_under_random_operations(ops in prop::collection::vec(op(), 0..80)) {
        let mut w = World::new();
        for op in &ops {
            w.apply(op);
            w.check();
        }
        w.drain();
    }
}
