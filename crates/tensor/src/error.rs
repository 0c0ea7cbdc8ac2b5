//! The tensor crate's error type: every variant says which op and which sizes or ids were wrong.

use quant::GgmlType;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("shape error: {0}")]
    Shape(String),

    #[error(transparent)]
    Quant(#[from] quant::Error),

    #[error("{op}: weight dtype {dtype} is not supported")]
    UnsupportedDtype { op: &'static str, dtype: GgmlType },

    #[error("{op}: instruction set {isa:?} is not supported by this CPU")]
    UnsupportedIsa { op: &'static str, isa: crate::Isa },

    #[error(
        "embedding: token id {id} at index {index} is out of range for a vocabulary of {vocab}"
    )]
    TokenOutOfRange { index: usize, id: u32, vocab: usize },

    #[error(
        "write_kv: slot {slot} for token {index} is out of range: the cache has {n_slots} slots"
    )]
    SlotOutOfRange {
        index: usize,
        slot: u32,
        n_slots: usize,
    },

    #[error("paged_attention: sequence {seq}: block id {block} at block-table index {index} is out of range: the cache has {num_blocks} blocks")]
    BlockOutOfRange {
        seq: usize,
        index: usize,
        block: u32,
        num_blocks: usize,
    },

    #[error("paged_attention: sequence {seq}: {msg}")]
    BadSequence { seq: usize, msg: String },

    #[error("KV layout: {0}")]
    KvLayout(String),
}
