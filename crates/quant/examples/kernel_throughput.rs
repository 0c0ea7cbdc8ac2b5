//! Single-thread throughput of each dot kernel table, in weight bytes per second:
//! `cargo run --release -p quant --example kernel_throughput [rows]` (numbers, not a test).
//! The default 8192 rows × 4096 columns exceed the caches (memory bound); 128 rows fit in L2 and
//! show the compute cost of each kernel.

use quant::{cast_blocks, quantize_row_into, vec_dot_type, AlignedBytes, GgmlType, Kernels};
use std::time::Instant;

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(8192);
    let cols = 4096usize;
    let reps = (65536 / rows).clamp(5, 200);
    let x: Vec<f32> = (0..cols)
        .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
        .collect();
    for ty in [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q5_0,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q5K,
        GgmlType::Q6K,
    ] {
        let rb = ty.row_bytes(cols).expect("row");
        let mut w = AlignedBytes::new();
        w.resize(rows * rb);
        for r in 0..rows {
            let row: Vec<f32> = x.iter().map(|v| v * ((r % 7) as f32 - 3.0)).collect();
            quantize_row_into(ty, &row, &mut w.as_bytes_mut()[r * rb..(r + 1) * rb])
                .expect("quantize");
        }
        let at = vec_dot_type(ty);
        let mut a = AlignedBytes::new();
        a.resize(at.row_bytes(cols).expect("act row"));
        quantize_row_into(at, &x, a.as_bytes_mut()).expect("quantize act");
        let mut line = format!("{:>5} {:>6.1} MB:", ty.name(), (rows * rb) as f64 / 1e6);
        for k in Kernels::available() {
            let mut best = f64::MAX;
            let mut sink = 0.0f32;
            for _ in 0..reps {
                let t = Instant::now();
                for r in 0..rows {
                    let wr = &w.as_bytes()[r * rb..(r + 1) * rb];
                    sink += dot(&k, ty, wr, a.as_bytes());
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            line += &format!(
                "  {:?} {:6.2} GB/s",
                k.level,
                (rows * rb) as f64 / best / 1e9
            );
            std::hint::black_box(sink);
        }
        println!("{line}");
    }
}

fn c<B: quant::Block>(b: &[u8]) -> &[B] {
    cast_blocks(b).expect("aligned blocks")
}

fn dot(k: &Kernels, ty: GgmlType, w: &[u8], a: &[u8]) -> f32 {
    match ty {
        GgmlType::F32 => (k.f32_f32)(w, cast_blocks(a).expect("f32")),
        GgmlType::F16 => (k.f16_f32)(w, cast_blocks(a).expect("f32")),
        GgmlType::BF16 => (k.bf16_f32)(w, cast_blocks(a).expect("f32")),
        GgmlType::Q4_0 => (k.q4_0_q8_0)(c(w), c(a)),
        GgmlType::Q4_1 => (k.q4_1_q8_1)(c(w), c(a)),
        GgmlType::Q5_0 => (k.q5_0_q8_0)(c(w), c(a)),
        GgmlType::Q8_0 => (k.q8_0_q8_0)(c(w), c(a)),
        GgmlType::Q4K => (k.q4k_q8k)(c(w), c(a)),
        GgmlType::Q5K => (k.q5k_q8k)(c(w), c(a)),
        GgmlType::Q6K => (k.q6k_q8k)(c(w), c(a)),
        _ => 0.0,
    }
}
