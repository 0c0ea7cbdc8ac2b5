//! Which SIMD instruction set the CPU kernels use, detected once per process.
//!
//! Every kernel of one process uses the same choice, so results are reproducible within a run
//! (batch invariance relies on it). `INFERNO_ISA=scalar|avx2|avx512` lowers the choice (never raises
//! it above what the CPU supports), for testing and for comparing paths.

use std::sync::OnceLock;

/// An instruction-set tier for the hand-written kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust; 8 lanes emulated with arrays, unfused multiply-add.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C, 8 f32 lanes.
    Avx2,
    /// x86-64 AVX-512 F/BW/VL, 16 f32 lanes.
    Avx512,
}

impl Isa {
    /// The best tier this CPU supports, lowered by `INFERNO_ISA` if set. Cached.
    pub fn detect() -> Isa {
        static ISA: OnceLock<Isa> = OnceLock::new();
        *ISA.get_or_init(|| {
            let best = Isa::best_supported();
            match std::env::var("INFERNO_ISA").ok().as_deref() {
                Some("scalar") => Isa::Scalar,
                Some("avx2") => best.min(Isa::Avx2),
                _ => best,
            }
        })
    }

    /// The best tier the CPU supports, ignoring the environment.
    pub fn best_supported() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
            {
                return Isa::Avx512;
            }
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
            {
                return Isa::Avx2;
            }
        }
        Isa::Scalar
    }

    /// Every tier this CPU can run, lowest first (for tests comparing them).
    pub fn all_supported() -> Vec<Isa> {
        let best = Isa::best_supported();
        [Isa::Scalar, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&i| i <= best)
            .collect()
    }
}
