//! Tensors and the CPU backend.
//!
//! - [`Tensor`] / [`Storage`]: typed, shaped bytes (mapped from a file or owned); no autograd.
//! - [`ThreadPool`]: persistent workers + the calling thread, tasks handed out by an atomic counter.
//! - [`ops`]: f32 activation kernels — `matmul` (F32/F16/BF16 and every quantized type the quant
//!   crate can dot; batch invariant), `matmul_packed` / `matmul_packed_many` over a
//!   [`ops::PackedWeight`] (quantized rows interleaved once at load, 16 outputs per SIMD lane
//!   group, 4 activation rows per kernel call: the fast path for prefill and decode; batch
//!   invariant), `rms_norm`, `rope`, `silu_mul`, `add_inplace`, `softmax_inplace`, `embedding`,
//!   `embedding_packed`.
//! - [`KvLayout`], [`PagedKvLayer`], [`write_kv`]: one layer's paged KV cache, f32 / f16 / bf16
//!   ([`KvDtype`], [`KvStore`]).
//! - [`paged_attention`]: causal GQA attention of new tokens over the paged cache, flash style.
//! - [`Isa`]: the SIMD tier the hand-written kernels use (detected once per process).
//!
//! Decode allocates nothing once warm: matmul keeps its quantized activations in a
//! [`ops::MatmulScratch`], attention and rope use stack buffers, the pool recycles its job records.

mod attention;
mod cpu;
mod disjoint;
mod error;
mod kv_convert;
pub mod ops;
mod paged_kv;
mod simd;
mod storage;
mod tensor;
mod thread_pool;

pub use attention::{
    paged_attention, paged_attention_split, paged_attention_with_isa, AttnSeq, SplitMode, PART_KEYS,
};
pub use cpu::Isa;
pub use error::Error;
pub use kv_convert::KvDtype;
pub use paged_kv::{write_kv, KvLayout, KvStore, PagedKvLayer};
pub use storage::Storage;
pub use tensor::{Shape, Tensor};
pub use thread_pool::ThreadPool;
