//! matmul with F32 / F16 / BF16 weights against f64 math on the upcast weights, on every SIMD tier
//! this CPU has; misaligned weight bytes; batch invariance; thread-count invariance.

mod common;
use std::sync::Arc;

use common::{assert_bits_eq, Rng};
use quant::GgmlType;
use tensor::ops::{matmul, matmul_with_isa, MatmulScratch};
use tensor::{Isa, Storage, Tensor, ThreadPool};

/// Encodes f32 values as `dtype` bytes (round to nearest even), and returns the values the bytes
/// decode to (what the kernel must use).
fn encode(dtype: GgmlType, w: &[f32]) -> (Vec<u8>, Vec<f32>) {
    let mut bytes = Vec::new();
    let mut exact = Vec::new();
    for &v in w {
        match dtype {
            GgmlType::F32 => {
                bytes.extend_from_slice(&v.to_le_bytes());
                exact.push(v);
            }
            GgmlType::F16 => {
                let h = half::f16::from_f32(v);
                bytes.extend_from_slice(&h.to_le_bytes());
                exact.push(h.to_f32());
            }
            GgmlType::BF16 => {
                let b = half::bf16::from_f32(v);
                bytes.extend_from_slice(&b.to_le_bytes());
                exact.push(b.to_f32());
            }
            other => panic!("not a float type: {other}"),
        }
    }
    (bytes, exact)
}

/// A tensor whose bytes start `misalign` bytes into a page (so 1 gives misaligned f32/f16 data).
fn mapped_tensor(dtype: GgmlType, shape: Vec<usize>, bytes: &[u8], misalign: usize) -> Tensor {
    let mut map = memmap2::MmapMut::map_anon(bytes.len() + misalign).expect("anonymous map");
    map[misalign..].copy_from_slice(bytes);
    let map = map.make_read_only().expect("read-only map");
    let storage = Storage::Mapped {
        map: Arc::new(map),
        offset: misalign,
        len: bytes.len(),
    };
    Tensor::new(dtype, shape, storage).expect("tensor")
}

fn naive(x: &[f32], w: &[f32], n: usize, m: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    // The exact product and Σ|x·w| (for the rounding-error bound) of every output.
    let mut out = vec![0.0; n * m];
    let mut mag = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            for t in 0..k {
                let p = f64::from(x[i * k + t]) * f64::from(w[j * k + t]);
                out[i * m + j] += p;
                mag[i * m + j] += p.abs();
            }
        }
    }
    (out, mag)
}

const FLOATS: [GgmlType; 3] = [GgmlType::F32, GgmlType::F16, GgmlType::BF16];

#[test]
fn float_matmul_matches_f64_reference_on_every_tier() {
    let mut rng = Rng::new(10);
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    let shapes = [
        (1, 1, 1),
        (1, 7, 15),
        (3, 33, 16),
        (4, 64, 64),
        (5, 9, 100),
        (9, 70, 257),
        (2, 300, 1024),
        (17, 129, 48),
    ];
    for dtype in FLOATS {
        for &(n, m, k) in &shapes {
            let x = rng.vec(n * k, 1.0);
            let (bytes, w) = encode(dtype, &rng.vec(m * k, 0.5));
            for misalign in [0, 1, 3] {
                let wt = mapped_tensor(dtype, vec![m, k], &bytes, misalign);
                let (want, mag) = naive(&x, &w, n, m, k);
                for isa in Isa::all_supported() {
                    let mut out = vec![f32::NAN; n * m];
                    matmul_with_isa(isa, &pool, &x, &wt, &mut out, &mut scratch).expect("matmul");
                    // f32 accumulation over k terms: |err| <= (k + log2(lanes) + 1)·2⁻²⁴·Σ|x·w|.
                    let bound = (k as f64 + 6.0) * f64::from(f32::EPSILON) / 2.0;
                    for (idx, ((&g, &wv), &mg)) in out.iter().zip(&want).zip(&mag).enumerate() {
                        assert!(
                            (f64::from(g) - wv).abs() <= bound * mg + 1e-30,
                            "{dtype} {isa:?} n={n} m={m} k={k} misalign={misalign} [{idx}]: {g} vs {wv}"
                        );
                    }
                }
            }
        }
    }
    // The scratch buffer is only for quantized activations.
    assert_eq!(scratch.act_bytes(), 0);
}

#[test]
fn float_matmul_is_batch_invariant_and_thread_invariant() {
    let mut rng = Rng::new(11);
    let (m, k) = (200, 96 + 5);
    let pools = [ThreadPool::new(1), ThreadPool::new(2), ThreadPool::new(3)];
    let mut scratch = MatmulScratch::new();
    for dtype in FLOATS {
        let (bytes, _) = encode(dtype, &rng.vec(m * k, 0.5));
        let wt = mapped_tensor(dtype, vec![m, k], &bytes, 1);
        let rows: Vec<Vec<f32>> = (0..7).map(|_| rng.vec(k, 1.0)).collect();
        for isa in Isa::all_supported() {
            // Each row alone (n = 1, the decode kernel).
            let alone: Vec<Vec<f32>> = rows
                .iter()
                .map(|r| {
                    let mut o = vec![0.0; m];
                    matmul_with_isa(isa, &pools[0], r, &wt, &mut o, &mut scratch).expect("matmul");
                    o
                })
                .collect();
            // The same rows in batches of 7 and 5 in shuffled order, on 1..3 threads.
            for (p, pool) in pools.iter().enumerate() {
                for n in [7usize, 5, 4, 2] {
                    let mut order: Vec<usize> = (0..7).collect();
                    rng.shuffle(&mut order);
                    order.truncate(n);
                    let x: Vec<f32> = order
                        .iter()
                        .flat_map(|&i| rows[i].iter().copied())
                        .collect();
                    let mut out = vec![0.0; n * m];
                    matmul_with_isa(isa, pool, &x, &wt, &mut out, &mut scratch).expect("matmul");
                    for (slot, &i) in order.iter().enumerate() {
                        assert_bits_eq(
                            &out[slot * m..(slot + 1) * m],
                            &alone[i],
                            &format!("{dtype} {isa:?} pool {p} n={n}: row {i} at {slot}"),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn matmul_rejects_bad_shapes() {
    let pool = ThreadPool::new(1);
    let mut scratch = MatmulScratch::new();
    let w = Tensor::from_f32(vec![4, 8], vec![0.0; 32]).unwrap();
    let mut out = vec![0.0; 4];
    assert!(
        matmul(&pool, &[0.0; 7], &w, &mut out, &mut scratch).is_err(),
        "x not a multiple of k"
    );
    assert!(
        matmul(&pool, &[0.0; 8], &w, &mut [0.0; 3], &mut scratch).is_err(),
        "out too short"
    );
    assert!(
        matmul(&pool, &[0.0; 16], &w, &mut out, &mut scratch).is_err(),
        "out for n=1 but n=2"
    );
    let w3 = Tensor::from_f32(vec![2, 2, 8], vec![0.0; 32]).unwrap();
    assert!(
        matmul(&pool, &[0.0; 8], &w3, &mut out, &mut scratch).is_err(),
        "3-D weight"
    );
    // Fields are public: a tensor whose storage disagrees with its shape is caught too.
    let bad = Tensor {
        dtype: GgmlType::F32,
        shape: vec![4, 8],
        storage: Storage::F32(Arc::new(vec![0.0; 31])),
    };
    assert!(
        matmul(&pool, &[0.0; 8], &bad, &mut out, &mut scratch).is_err(),
        "short storage"
    );
    // Mapped storage pointing past its map is an error, not a panic.
    let map = memmap2::MmapMut::map_anon(64)
        .unwrap()
        .make_read_only()
        .unwrap();
    let storage = Storage::Mapped {
        map: Arc::new(map),
        offset: 60,
        len: 32,
    };
    assert!(
        Tensor::new(GgmlType::F32, vec![8], storage.clone()).is_err(),
        "range past the map"
    );
    let lying = Tensor {
        dtype: GgmlType::F32,
        shape: vec![1, 8],
        storage,
    };
    assert!(
        matmul(&pool, &[0.0; 8], &lying, &mut [0.0], &mut scratch).is_err(),
        "range past the map"
    );
    // Empty batch is fine.
    matmul(&pool, &[], &w, &mut [], &mut scratch).expect("n = 0");
}

#[test]
fn speed_sanity_no_asserts() {
    // Prints rough throughput; asserts nothing about time.
    let mut rng = Rng::new(12);
    let pool = ThreadPool::with_available_parallelism();
    let mut scratch = MatmulScratch::new();
    let (m, k) = (1024, 1024);
    for dtype in FLOATS {
        let (bytes, _) = encode(dtype, &rng.vec(m * k, 0.5));
        let wt = mapped_tensor(dtype, vec![m, k], &bytes, 0);
        for n in [1usize, 64] {
            let x = rng.vec(n * k, 1.0);
            let mut out = vec![0.0; n * m];
            matmul(&pool, &x, &wt, &mut out, &mut scratch).expect("warm-up");
            let reps = if n == 1 { 200 } else { 10 };
            let t = std::time::Instant::now();
            for _ in 0..reps {
                matmul(&pool, &x, &wt, &mut out, &mut scratch).expect("matmul");
            }
            let s = t.elapsed().as_secs_f64() / reps as f64;
            eprintln!(
                "{dtype} n={n} [{m}x{k}] {:?}: {:.1} µs, {:.1} GFLOP/s",
                Isa::detect(),
                s * 1e6,
                2.0 * (n * m * k) as f64 / s / 1e9
            );
        }
    }
}
