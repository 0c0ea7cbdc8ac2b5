//! SIMD kernel tables. Each path lives in its own file; tables are only handed out after runtime
//! feature detection, so the safe wrappers inside them are only ever called on capable CPUs.

use crate::Kernels;

/// AVX2 + FMA + F16C kernels, if this CPU has them.
pub(crate) fn avx2_kernels() -> Option<Kernels> {
    None
}

/// AVX-512 VNNI kernels, if this CPU has them.
pub(crate) fn avx512_kernels() -> Option<Kernels> {
    None
}
