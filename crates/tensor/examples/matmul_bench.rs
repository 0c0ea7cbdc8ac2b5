//! Quantized matmul throughput on SmolLM2-135M shapes, timed in thread CPU time (robust on a
//! loaded machine: other processes steal wall time, not this thread's CPU time).
//!
//!   cargo run --release -p tensor --example matmul_bench [-- TYPE...]
//!
//! Runs on one thread (a pool of 1) so the number is the kernel's, not the scheduler's; prints the
//! minimum over repetitions in µs per call and GMAC/s.

use quant::{AlignedBytes, GgmlType};
use tensor::ops::{matmul, matmul_packed, MatmulScratch, PackedWeight};
use tensor::{Storage, Tensor, ThreadPool};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.next()).collect()
    }
}

fn weight(ty: GgmlType, m: usize, k: usize, rng: &mut Rng) -> Tensor {
    let v = rng.vec(m * k);
    let row = ty.row_bytes(k).expect("whole blocks");
    let mut b = AlignedBytes::new();
    b.resize(row * m);
    for (dst, src) in b
        .as_bytes_mut()
        .chunks_exact_mut(row)
        .zip(v.chunks_exact(k))
    {
        quant::quantize_row_into(ty, src, dst).expect("quantize");
    }
    Tensor::new(ty, vec![m, k], Storage::Aligned(std::sync::Arc::new(b))).expect("tensor")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let types: Vec<GgmlType> = if args.is_empty() {
        vec![GgmlType::Q4_1, GgmlType::Q8_0]
    } else {
        args.iter()
            .map(|a| match a.as_str() {
                "q4_0" => GgmlType::Q4_0,
                "q4_1" => GgmlType::Q4_1,
                "q5_0" => GgmlType::Q5_0,
                "q8_0" => GgmlType::Q8_0,
                "q4k" => GgmlType::Q4K,
                "q6k" => GgmlType::Q6K,
                other => panic!("unknown type {other}"),
            })
            .collect()
    };
    tiers();
    let pool = ThreadPool::new(1);
    let mut scratch = MatmulScratch::new();
    let mut rng = Rng(7);
    for ty in types {
        // SmolLM2-135M: hidden 576, intermediate 1536 (k-quants need k % 256 == 0: 512 / 1536).
        let shapes: &[(usize, usize)] = if matches!(ty, GgmlType::Q4K | GgmlType::Q6K) {
            &[(1536, 512), (512, 1536)]
        } else {
            &[(1536, 576), (576, 1536), (576, 576)]
        };
        for &(m, k) in shapes {
            let w = weight(ty, m, k, &mut rng);
            let p = PackedWeight::new(&w).expect("pack");
            for n in [1usize, 4, 128] {
                let x = rng.vec(n * k);
                let mut out = vec![0.0; n * m];
                let reps = if n == 1 { 200 } else { 10 };
                let mut best = [f64::MAX; 2];
                for _ in 0..5 {
                    for (which, best) in best.iter_mut().enumerate() {
                        let t = thread_cpu();
                        for _ in 0..reps {
                            if which == 0 {
                                matmul(&pool, &x, &w, &mut out, &mut scratch).expect("matmul");
                            } else {
                                matmul_packed(&pool, &x, &p, &mut out, &mut scratch)
                                    .expect("matmul_packed");
                            }
                        }
                        *best = best.min((thread_cpu() - t) / reps as f64);
                    }
                }
                let gmac = |s: f64| (n * m * k) as f64 / s / 1e9;
                println!(
                    "{ty:>5} [{m:>4}x{k:>4}] n={n:<3} rows {:>9.1} µs {:>6.2} GMAC/s | packed {:>9.1} µs {:>6.2} GMAC/s",
                    best[0] * 1e6,
                    gmac(best[0]),
                    best[1] * 1e6,
                    gmac(best[1]),
                );
            }
        }
    }
}

/// The packed kernels of every tier this CPU has, on one shape (no matmul around them).
fn tiers() {
    use quant::packed::{self, GroupKernels};
    let mut rng = Rng(3);
    for ty in [
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q6K,
    ] {
        let (m, k) = (
            1536,
            if matches!(ty, GgmlType::Q4K | GgmlType::Q6K) {
                512
            } else {
                576
            },
        );
        let w = weight(ty, m, k, &mut rng);
        let groups = packed::pack_rows(ty, w.bytes(), m, k).expect("pack");
        for n in [1usize, 128] {
            let row = packed::act_row_bytes(ty, k).expect("act row");
            let mut act = vec![0u8; n * row];
            for (i, a) in act.chunks_exact_mut(row).enumerate() {
                let x = rng.vec(k);
                packed::quantize_act_row(ty, &x, a).expect("quantize");
                let _ = i;
            }
            for tier in GroupKernels::available() {
                let reps = if n == 1 { 200 } else { 5 };
                let mut best = f64::MAX;
                for _ in 0..5 {
                    let t = thread_cpu();
                    for _ in 0..reps {
                        let mut sink = 0f32;
                        tier.for_each_tile(ty, k, groups.as_bytes(), &act, n, |_, _, o| {
                            sink += o[0][0]
                        })
                        .expect("tiles");
                        std::hint::black_box(sink);
                    }
                    best = best.min((thread_cpu() - t) / reps as f64);
                }
                println!(
                    "tier {:?} {ty} [{m}x{k}] n={n}: {:.1} µs, {:.2} GMAC/s",
                    tier.level,
                    best * 1e6,
                    (n * m * k) as f64 / best / 1e9
                );
            }
        }
    }
}
