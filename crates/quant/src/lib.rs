//! GGUF block formats, bit-exact with llama.cpp's layouts.
//!
//! - Block structs (`BlockQ4_0`, ..., `BlockQ8K`) are `#[repr(C)]` with compile-time size checks;
//!   [`cast_blocks`] views raw bytes as blocks, checking length and alignment.
//! - [`dequantize_row`] turns one row of any supported type into f32.
//! - [`quantize_row_into`] quantizes f32 values: the activation formats (Q8_0, Q8_1, Q8K) and the
//!   reference weight quantizers, following llama.cpp's `quantize_row_*_ref`.
//! - [`vec_dot`] computes a weight row · activation row where the activation is already in
//!   [`vec_dot_type`] of the weight type; the typed `vec_dot_*` functions do the same without
//!   re-dispatching. They call the best [`Kernels`] for this CPU (AVX-512 VNNI, AVX2, or scalar),
//!   chosen once at first use. The scalar kernels are the reference the SIMD ones are tested against.
//! - [`packed`]: weights interleaved 16 rows per group at load and kernels that multiply a group
//!   with 1-4 activation rows at once (AVX-512 VNNI, AVX2, portable), every output bit-identical
//!   to [`packed::dot_reference`].

#[cfg(target_endian = "big")]
compile_error!(
    "quant reinterprets little-endian GGUF bytes in place; big-endian hosts are not supported"
);

mod aligned;
mod block;
mod dequantize;
mod dot;
mod error;
mod float;
mod ggml_type;
mod k_scales;
mod k_search;
mod kernels;
pub mod packed;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_0;
mod q5_1;
mod q5_k;
mod q6_k;
mod q8_0;
mod q8_1;
mod q8_k;
mod quantize;
mod round;
mod row;
mod simd;

pub use aligned::AlignedBytes;
pub use block::{blocks_as_bytes, cast_blocks, cast_blocks_mut, Block};
pub use dequantize::{can_dequantize, dequantize_row};
pub use dot::{
    can_vec_dot, dot_bf16_f32, dot_f16_f32, dot_f32, vec_dot, vec_dot_q4_0_q8_0, vec_dot_q4_1_q8_1,
    vec_dot_q4k_q8k, vec_dot_q5_0_q8_0, vec_dot_q5_1_q8_1, vec_dot_q5k_q8k, vec_dot_q6k_q8k,
    vec_dot_q8_0_q8_0, vec_dot_type,
};
pub use error::Error;
pub use float::{bf16_from_f32, bf16_to_f32};
pub use ggml_type::GgmlType;
pub use kernels::{isa_cap, kernels, Kernels, SimdLevel};
pub use q4_0::BlockQ4_0;
pub use q4_1::BlockQ4_1;
pub use q4_k::BlockQ4K;
pub use q5_0::BlockQ5_0;
pub use q5_1::BlockQ5_1;
pub use q5_k::BlockQ5K;
pub use q6_k::BlockQ6K;
pub use q8_0::BlockQ8_0;
pub use q8_1::BlockQ8_1;
pub use q8_k::BlockQ8K;
pub use quantize::{can_quantize, quantize_row_into};

/// Values per block of the legacy formats (Q4_0 ... Q8_1).
pub const QK: usize = 32;
/// Values per super-block of the k-quant formats (Q4K, Q5K, Q6K, Q8K).
pub const QK_K: usize = 256;
