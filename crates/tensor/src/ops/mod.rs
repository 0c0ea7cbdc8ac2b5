//! CPU kernels over f32 activations (row-major slices; shapes in the comments).

mod activation;
mod add;
mod embedding;
mod float_kernel;
mod matmul;
mod matmul_packed;
mod matmul_quant;
mod norm;
mod rope;
mod softmax;

pub use activation::{silu, silu_mul};
pub use add::add_inplace;
pub use embedding::{embedding, embedding_packed};
pub use matmul::{matmul, matmul_with_isa, MatmulScratch};
pub use matmul_packed::{matmul_packed, matmul_packed_many, PackedWeight};
pub use norm::{rms_norm, rms_norm_inplace};
pub use rope::{rope, RopeStyle};
pub use softmax::softmax_inplace;
