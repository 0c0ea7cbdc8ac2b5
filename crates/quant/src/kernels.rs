//! The dot-product kernels for this CPU: a table of plain function pointers, chosen once.
//!
//! The scalar kernels are the reference; SIMD tables replace entries where a faster version exists
//! and are tested against the scalar ones.

use crate::{float, q4_0, q4_1, q4_k, q5_0, q5_1, q5_k, q6_k, q8_0, simd};
use crate::{BlockQ4K, BlockQ4_0, BlockQ4_1, BlockQ5K, BlockQ5_0, BlockQ5_1, BlockQ6K};
use crate::{BlockQ8K, BlockQ8_0, BlockQ8_1};
use std::sync::OnceLock;

/// Instruction-set level of a kernel table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimdLevel {
    Scalar,
    /// AVX2 + FMA + F16C
    Avx2,
    /// AVX2 plus AVX-512 F/BW/VL/VNNI
    Avx512Vnni,
}

/// Dot kernels. Quantized ones take a weight row and an activation row as blocks of equal count;
/// float ones take weight bytes (little endian, any alignment) and f32 activations of equal count.
/// On unequal lengths they read the shorter one.
///
/// Activations are expected as [`crate::quantize_row_into`] makes them: Q8 quants in [-127, 127]
/// and Q8K `bsums` equal to the sums of their quants. The SIMD kernels rely on both (the scalar
/// ones only use `bsums` for the Q4K / Q5K mins, like llama.cpp); other inputs are still memory
/// safe but may give different sums.
#[derive(Clone, Copy, Debug)]
pub struct Kernels {
    pub level: SimdLevel,
    pub q4_0_q8_0: fn(&[BlockQ4_0], &[BlockQ8_0]) -> f32,
    pub q4_1_q8_1: fn(&[BlockQ4_1], &[BlockQ8_1]) -> f32,
    pub q5_0_q8_0: fn(&[BlockQ5_0], &[BlockQ8_0]) -> f32,
    pub q5_1_q8_1: fn(&[BlockQ5_1], &[BlockQ8_1]) -> f32,
    pub q8_0_q8_0: fn(&[BlockQ8_0], &[BlockQ8_0]) -> f32,
    pub q4k_q8k: fn(&[BlockQ4K], &[BlockQ8K]) -> f32,
    pub q5k_q8k: fn(&[BlockQ5K], &[BlockQ8K]) -> f32,
    pub q6k_q8k: fn(&[BlockQ6K], &[BlockQ8K]) -> f32,
    pub f32_f32: fn(&[u8], &[f32]) -> f32,
    pub f16_f32: fn(&[u8], &[f32]) -> f32,
    pub bf16_f32: fn(&[u8], &[f32]) -> f32,
}

impl Kernels {
    /// The scalar reference kernels (llama.cpp's generic ones, same float order).
    pub fn scalar() -> Kernels {
        Kernels {
            level: SimdLevel::Scalar,
            q4_0_q8_0: q4_0::vec_dot_scalar,
            q4_1_q8_1: q4_1::vec_dot_scalar,
            q5_0_q8_0: q5_0::vec_dot_scalar,
            q5_1_q8_1: q5_1::vec_dot_scalar,
            q8_0_q8_0: q8_0::vec_dot_scalar,
            q4k_q8k: q4_k::vec_dot_scalar,
            q5k_q8k: q5_k::vec_dot_scalar,
            q6k_q8k: q6_k::vec_dot_scalar,
            f32_f32: float::dot_f32_scalar,
            f16_f32: float::dot_f16_f32_scalar,
            bf16_f32: float::dot_bf16_f32_scalar,
        }
    }

    /// The table for `level`, or `None` when this CPU lacks its instructions.
    pub fn for_level(level: SimdLevel) -> Option<Kernels> {
        match level {
            SimdLevel::Scalar => Some(Kernels::scalar()),
            SimdLevel::Avx2 => simd::avx2_kernels(),
            SimdLevel::Avx512Vnni => simd::avx512_kernels(),
        }
    }

    /// Every level this CPU supports, lowest first.
    pub fn available() -> Vec<Kernels> {
        [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512Vnni]
            .into_iter()
            .filter_map(Kernels::for_level)
            .collect()
    }

    /// The fastest table this CPU supports, at most the tier `INFERNO_ISA` names
    /// ([`isa_cap`]).
    pub fn detect() -> Kernels {
        let cap = isa_cap();
        Kernels::available()
            .into_iter()
            .rfind(|k| k.level <= cap)
            .unwrap_or_else(Kernels::scalar)
    }
}

/// The highest tier the environment allows: `INFERNO_ISA=scalar|avx2|avx512` lowers the choice of
/// every kernel table of this crate (dot kernels, packed group kernels, activation quantizer) for
/// testing and comparing tiers; it never raises it above what the CPU runs. Read once.
pub fn isa_cap() -> SimdLevel {
    static CAP: OnceLock<SimdLevel> = OnceLock::new();
    *CAP.get_or_init(|| match std::env::var("INFERNO_ISA").ok().as_deref() {
        Some("scalar") => SimdLevel::Scalar,
        Some("avx2") => SimdLevel::Avx2,
        _ => SimdLevel::Avx512Vnni,
    })
}

/// The best kernels for this CPU, detected on first use and cached.
pub fn kernels() -> &'static Kernels {
    static BEST: OnceLock<Kernels> = OnceLock::new();
    BEST.get_or_init(Kernels::detect)
}
