//! Byte-level BPE: the merge table and the merge loop.
//!
//! A word (one pre-tokenizer piece) starts as one symbol per byte; the adjacent pair with the
//! lowest merge rank is merged first, the leftmost one on ties, until no pair has a rank. This is
//! what HF tokenizers (`Word::merge_all`) and llama.cpp (`llm_tokenizer_bpe_session`) do. Symbols
//! live in a linked list over a vector; candidate pairs in a min-heap keyed by (rank, position),
//! checked for staleness when popped. A rank names one (left, right) pair, so an entry is still
//! valid iff the pair now at its position has the same rank.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

/// What merging a pair gives: its priority (lower merges first) and the merged token.
#[derive(Debug, Clone, Copy)]
struct Merge {
    rank: u32,
    id: u32,
}

/// The merge table of a byte-level BPE model.
pub(crate) struct Bpe {
    /// Token id of each byte's byte-level char (`None`: the vocab lacks it; the byte is dropped,
    /// as HF does for a BPE model without an unknown token).
    byte_ids: [Option<u32>; 256],
    /// (left id << 32 | right id) → merge.
    merges: HashMap<u64, Merge, BuildHasherDefault<PairHasher>>,
}

const NONE: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Symbol {
    id: u32,
    prev: u32,
    next: u32,
    alive: bool,
}

/// Reusable buffers for [`Bpe::encode_word`].
#[derive(Default)]
pub(crate) struct BpeScratch {
    symbols: Vec<Symbol>,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Bpe {
    /// `merges` yields (left id, right id, merged id) in rank order (rank = position). A pair
    /// listed twice keeps its first (best) rank, as in HF.
    pub(crate) fn new(
        byte_ids: [Option<u32>; 256],
        merges: impl IntoIterator<Item = (u32, u32, u32)>,
    ) -> Bpe {
        let merges_iter = merges.into_iter();
        let mut table: HashMap<u64, Merge, BuildHasherDefault<PairHasher>> =
            HashMap::with_capacity_and_hasher(
                merges_iter.size_hint().0,
                BuildHasherDefault::default(),
            );
        for (rank, (left, right, id)) in merges_iter.enumerate() {
            let rank = u32::try_from(rank).unwrap_or(u32::MAX);
            table
                .entry(pair_key(left, right))
                .or_insert(Merge { rank, id });
        }
        Bpe {
            byte_ids,
            merges: table,
        }
    }

    pub(crate) fn n_merges(&self) -> usize {
        self.merges.len()
    }

    #[inline]
    fn merge_of(&self, left: u32, right: u32) -> Option<Merge> {
        self.merges.get(&pair_key(left, right)).copied()
    }

    /// Appends the token ids of one word (raw bytes) to `out`.
    pub(crate) fn encode_word(&self, bytes: &[u8], out: &mut Vec<u32>, scratch: &mut BpeScratch) {
        let syms = &mut scratch.symbols;
        syms.clear();
        for &b in bytes {
            if let Some(id) = self.byte_ids[usize::from(b)] {
                let i = syms.len() as u32;
                syms.push(Symbol {
                    id,
                    prev: i.wrapping_sub(1),
                    next: i + 1,
                    alive: true,
                });
            }
        }
        let n = syms.len();
        if n <= 1 {
            out.extend(syms.iter().map(|s| s.id));
            return;
        }
        if let Some(first) = syms.first_mut() {
            first.prev = NONE;
        }
        if let Some(last) = syms.last_mut() {
            last.next = NONE;
        }
        let heap = &mut scratch.heap;
        heap.clear();
        for i in 0..n - 1 {
            if let Some(m) = self.merge_of(syms[i].id, syms[i + 1].id) {
                heap.push(Reverse((m.rank, i as u32)));
            }
        }
        while let Some(Reverse((rank, pos))) = heap.pop() {
            let p = pos as usize;
            let s = syms[p];
            if !s.alive || s.next == NONE {
                continue;
            }
            let right = syms[s.next as usize];
            match self.merge_of(s.id, right.id) {
                Some(m) if m.rank == rank => {
                    // Merge `right` into `s`.
                    syms[p].id = m.id;
                    syms[p].next = right.next;
                    syms[s.next as usize].alive = false;
                    if right.next != NONE {
                        syms[right.next as usize].prev = pos;
                    }
                    if s.prev != NONE {
                        if let Some(m2) = self.merge_of(syms[s.prev as usize].id, m.id) {
                            heap.push(Reverse((m2.rank, s.prev)));
                        }
                    }
                    if right.next != NONE {
                        if let Some(m2) = self.merge_of(m.id, syms[right.next as usize].id) {
                            heap.push(Reverse((m2.rank, pos)));
                        }
                    }
                }
                _ => {}
            }
        }
        let mut i = 0u32;
        while i != NONE {
            let s = syms[i as usize];
            out.push(s.id);
            i = s.next;
        }
    }
}

#[inline]
fn pair_key(left: u32, right: u32) -> u64 {
    (u64::from(left) << 32) | u64::from(right)
}

/// A fast non-cryptographic hasher (multiplicative, as rustc's FxHasher) for the pair keys and
/// the vocabulary strings, which come from the model file, not from users.
#[derive(Default)]
pub(crate) struct PairHasher(u64);

impl Hasher for PairHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }

    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy vocab over bytes a=0, b=1, c=2 with merges a+b→3 (rank 0), 3+c→4 (rank 1), b+c→5 (rank 2).
    fn toy() -> Bpe {
        let mut byte_ids = [None; 256];
        byte_ids[usize::from(b'a')] = Some(0);
        byte_ids[usize::from(b'b')] = Some(1);
        byte_ids[usize::from(b'c')] = Some(2);
        Bpe::new(byte_ids, [(0, 1, 3), (3, 2, 4), (1, 2, 5), (0, 0, 6)])
    }

    fn enc(b: &Bpe, s: &str) -> Vec<u32> {
        let mut out = Vec::new();
        b.encode_word(s.as_bytes(), &mut out, &mut BpeScratch::default());
        out
    }

    #[test]
    fn merges_by_rank_then_leftmost() {
        let b = toy();
        assert_eq!(enc(&b, "abc"), [4]);
        assert_eq!(enc(&b, "bc"), [5]);
        assert_eq!(enc(&b, "abbc"), [3, 5]);
        assert_eq!(enc(&b, "aaa"), [6, 0], "leftmost pair first on equal rank");
        assert_eq!(enc(&b, "aaaa"), [6, 6]);
        assert_eq!(enc(&b, "xaz"), [0], "bytes without a token are dropped");
        assert_eq!(enc(&b, ""), Vec::<u32>::new());
    }
}
