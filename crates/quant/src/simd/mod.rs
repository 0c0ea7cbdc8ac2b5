//! SIMD kernel tables. Each path lives in its own file; a table is only handed out after runtime
//! feature detection, so the safe wrappers inside it are only ever called on capable CPUs.

#[cfg(target_arch = "x86_64")]
mod float_avx2;
#[cfg(target_arch = "x86_64")]
mod float_avx512;
#[cfg(target_arch = "x86_64")]
mod kquants_avx2;
#[cfg(target_arch = "x86_64")]
mod legacy_x86;
#[cfg(target_arch = "x86_64")]
mod x86_lanes;

use crate::{Kernels, SimdLevel};

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512_vnni() -> bool {
    has_avx2()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512vnni")
}

/// AVX2 + FMA + F16C kernels, if this CPU has them.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx2_kernels() -> Option<Kernels> {
    if !has_avx2() {
        return None;
    }
    Some(Kernels {
        level: SimdLevel::Avx2,
        q4_0_q8_0: legacy_x86::avx2::q4_0_q8_0,
        q4_1_q8_1: legacy_x86::avx2::q4_1_q8_1,
        q5_0_q8_0: legacy_x86::avx2::q5_0_q8_0,
        q5_1_q8_1: legacy_x86::avx2::q5_1_q8_1,
        q8_0_q8_0: legacy_x86::avx2::q8_0_q8_0,
        q4k_q8k: kquants_avx2::q4k_q8k,
        q5k_q8k: kquants_avx2::q5k_q8k,
        q6k_q8k: kquants_avx2::q6k_q8k,
        f32_f32: float_avx2::dot_f32,
        f16_f32: float_avx2::dot_f16_f32,
        bf16_f32: float_avx2::dot_bf16_f32,
    })
}

/// AVX-512 (F/BW/VL/VNNI) kernels where they exist, AVX2 ones elsewhere, if this CPU has them.
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx512_kernels() -> Option<Kernels> {
    if !has_avx512_vnni() {
        return None;
    }
    let avx2 = avx2_kernels()?;
    Some(Kernels {
        level: SimdLevel::Avx512Vnni,
        q4_0_q8_0: legacy_x86::vnni::q4_0_q8_0,
        q4_1_q8_1: legacy_x86::vnni::q4_1_q8_1,
        q5_0_q8_0: legacy_x86::vnni::q5_0_q8_0,
        q5_1_q8_1: legacy_x86::vnni::q5_1_q8_1,
        q8_0_q8_0: legacy_x86::vnni::q8_0_q8_0,
        f32_f32: float_avx512::dot_f32,
        f16_f32: float_avx512::dot_f16_f32,
        bf16_f32: float_avx512::dot_bf16_f32,
        ..avx2
    })
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx2_kernels() -> Option<Kernels> {
    None
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn avx512_kernels() -> Option<Kernels> {
    None
}
