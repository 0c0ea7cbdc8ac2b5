//! The quant crate's error type: every variant names the type and the sizes involved.

use crate::GgmlType;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown ggml type id {0}")]
    UnknownType(u32),

    #[error("{op} is not supported for type {ty}")]
    Unsupported { op: &'static str, ty: GgmlType },

    #[error("{what}: {n} values is not a whole number of {ty} blocks of {block} values")]
    NotBlockMultiple {
        what: &'static str,
        ty: GgmlType,
        n: usize,
        block: usize,
    },

    #[error("{what}: expected {expected} bytes of {ty}, got {got}")]
    Length {
        what: &'static str,
        ty: GgmlType,
        expected: usize,
        got: usize,
    },

    #[error("{what}: {ty} data at address {addr:#x} is not aligned to {align} bytes")]
    Misaligned {
        what: &'static str,
        ty: GgmlType,
        addr: usize,
        align: usize,
    },
}
