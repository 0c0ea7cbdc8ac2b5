//! Decode-like streaming: n = 1 packed matmuls over SmolLM2-135M's 30 layers of Q4_1 weights
//! (~90 MiB, more than this VM reliably keeps in cache), timed per "token" in wall time with the
//! given thread count. Prints the best and median of the repetitions and the implied GB/s.
//!
//! With ROWS > 1 every matmul takes that many activation rows (batched decode); LAYERS sets how
//! many layers' worth of distinct weights are streamed (30 by default; 300 go far past the L3).
//!
//!   cargo run --release -p tensor --example decode_stream -- [THREADS] [TYPE] [ROWS] [LAYERS]

use quant::{AlignedBytes, GgmlType};
use tensor::ops::{matmul_packed, MatmulScratch, PackedWeight};
use tensor::{Storage, Tensor, ThreadPool};

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2);
    let ty = match args.get(1).map(String::as_str) {
        Some("q8_0") => GgmlType::Q8_0,
        _ => GgmlType::Q4_1,
    };
    let rows: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let layers: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(30);
    let (hidden, inter) = (576, 1536);
    let shapes = [
        (576, hidden),
        (192, hidden),
        (192, hidden),
        (hidden, 576),
        (inter, hidden),
        (inter, hidden),
        (hidden, inter),
    ];
    let mut weights = Vec::new();
    let mut bytes = 0usize;
    let mut seed = 1u32;
    for _ in 0..layers {
        for &(m, k) in &shapes {
            let row = ty.row_bytes(k).expect("blocks");
            let mut b = AlignedBytes::new();
            b.resize(row * m);
            let x: Vec<f32> = (0..k)
                .map(|i| {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * (1.0 + (i % 7) as f32)
                })
                .collect();
            for dst in b.as_bytes_mut().chunks_exact_mut(row) {
                quant::quantize_row_into(ty, &x, dst).expect("quantize");
            }
            let t = Tensor::new(ty, vec![m, k], Storage::Aligned(b.into())).expect("tensor");
            let p = PackedWeight::new(&t).expect("pack");
            bytes += p.len_bytes();
            weights.push(p);
        }
    }
    let pool = ThreadPool::new(threads);
    let mut scratch = MatmulScratch::new();
    let x = vec![0.5f32; inter * rows];
    let mut out = vec![0f32; inter * rows];
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let reps = if layers > 100 { 12 } else { 40 };
    for rep in 0..reps {
        let c = thread_cpu();
        let t = std::time::Instant::now();
        for w in &weights {
            let [m, k] = w.shape();
            matmul_packed(&pool, &x[..k * rows], w, &mut out[..m * rows], &mut scratch)
                .expect("matmul");
        }
        if rep >= 5 {
            times.push(t.elapsed().as_secs_f64());
            cpu.push(thread_cpu() - c);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    cpu.sort_by(|a, b| a.total_cmp(b));
    let (best, med) = (times[0], times[times.len() / 2]);
    println!(
        "{ty} {threads} threads x {rows} rows ({} stalls), {:.1} MiB/step: best {:.2} ms ({:.1} GB/s), median {:.2} ms ({:.1} GB/s), this thread's CPU best {:.2} ms",
        pool.stalls(),
        bytes as f64 / (1 << 20) as f64,
        best * 1e3,
        bytes as f64 / best / 1e9,
        med * 1e3,
        bytes as f64 / med / 1e9,
        cpu[0] * 1e3
    );
}
