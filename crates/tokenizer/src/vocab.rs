//! The token table: each id's vocabulary string, the bytes it decodes to, and its kind.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::bpe::PairHasher;

/// What a token is, for matching in text and for `skip_special` decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// An ordinary BPE token.
    Normal,
    /// A special (control) token: matched in text, dropped by `decode(.., skip_special = true)`.
    Special,
    /// An added token that is not special (HF `special: false`, GGUF user-defined): matched in
    /// text, always decoded.
    Added,
    /// A GGUF "unused" filler: never produced by `encode`, decodes to nothing.
    Unused,
    /// An id with no token (a gap in the id range).
    Missing,
}

pub(crate) struct Vocab {
    /// Vocabulary form (byte-level string for BPE tokens, content for added tokens).
    pieces: Vec<Box<str>>,
    /// The raw bytes each token decodes to.
    bytes: Vec<Box<[u8]>>,
    kinds: Vec<TokenKind>,
    by_piece: HashMap<Box<str>, u32, BuildHasherDefault<PairHasher>>,
}

impl Vocab {
    /// An empty table for ids `0..n`, every id `Missing` until set.
    pub(crate) fn with_len(n: usize) -> Vocab {
        Vocab {
            pieces: vec![Box::from(""); n],
            bytes: vec![Box::from(&[][..]); n],
            kinds: vec![TokenKind::Missing; n],
            by_piece: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
        }
    }

    /// Sets token `id` (must be < len). A later `set` of the same piece wins the reverse lookup.
    pub(crate) fn set(
        &mut self,
        id: u32,
        piece: &str,
        bytes: Vec<u8>,
        kind: TokenKind,
    ) -> Result<(), String> {
        let i = id as usize;
        let (Some(p), Some(b), Some(k)) = (
            self.pieces.get_mut(i),
            self.bytes.get_mut(i),
            self.kinds.get_mut(i),
        ) else {
            return Err(format!(
                "token id {id} out of range (vocabulary size {})",
                self.kinds.len()
            ));
        };
        *p = Box::from(piece);
        *b = bytes.into_boxed_slice();
        *k = kind;
        self.by_piece.insert(Box::from(piece), id);
        Ok(())
    }

    pub(crate) fn len(&self) -> usize {
        self.kinds.len()
    }

    pub(crate) fn id_of(&self, piece: &str) -> Option<u32> {
        self.by_piece.get(piece).copied()
    }

    pub(crate) fn kind(&self, id: u32) -> TokenKind {
        self.kinds
            .get(id as usize)
            .copied()
            .unwrap_or(TokenKind::Missing)
    }

    pub(crate) fn piece(&self, id: u32) -> Option<&str> {
        match self.kind(id) {
            TokenKind::Missing => None,
            _ => self.pieces.get(id as usize).map(|p| &**p),
        }
    }

    pub(crate) fn bytes(&self, id: u32) -> Option<&[u8]> {
        match self.kind(id) {
            TokenKind::Missing => None,
            _ => self.bytes.get(id as usize).map(|b| &**b),
        }
    }
}
