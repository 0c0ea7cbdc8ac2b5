//! Tensors and the CPU backend: a persistent thread pool, f32 / quantized matmul, norms, rope,
//! activations, and flash-style attention over a paged KV cache.

mod attention;
mod cpu;
mod disjoint;
mod error;
pub mod ops;
mod paged_kv;
mod simd;
mod storage;
mod tensor;
mod thread_pool;

pub use attention::{paged_attention, paged_attention_with_isa, AttnSeq};
pub use cpu::Isa;
pub use error::Error;
pub use paged_kv::{write_kv, KvLayout, PagedKvLayer};
pub use storage::Storage;
pub use tensor::{Shape, Tensor};
pub use thread_pool::ThreadPool;
