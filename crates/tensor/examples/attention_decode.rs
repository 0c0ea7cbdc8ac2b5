//! Decode attention at a long context: one new token over `CTX` cached positions, SmolLM2-135M's
//! geometry (9 heads, 3 kv heads, head_dim 64), 30 layers' worth of calls, wall time per token,
//! with the cache stored as `DTYPE` (f32, f16, bf16), split-KV on (auto) and off.
//!
//!   cargo run --release -p tensor --example attention_decode -- [THREADS] [CTX] [DTYPE]
//!
//! Prints the best and median wall time per token and per call (one layer), and the best CPU time
//! of the calling thread per token: with one thread that is all the work, and it does not count
//! the time other processes take the core.

#[path = "common/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu;

use tensor::{
    paged_attention_split, write_kv, AttnSeq, Isa, KvDtype, KvLayout, PagedKvLayer, SplitMode,
    ThreadPool,
};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2);
    let ctx: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2048);
    let dtype: KvDtype = args
        .get(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(KvDtype::F32);
    let (n_heads, n_kv, hd, bs, layers) = (9, 3, 64, 16, 30);
    let layout = KvLayout {
        num_blocks: ctx.div_ceil(bs),
        block_size: bs,
        n_kv_heads: n_kv,
        head_dim: hd,
    };
    let n_slots = layout.num_blocks * bs;
    let slots: Vec<u32> = (0..n_slots as u32).collect();
    let caches: Vec<PagedKvLayer> = (0..layers)
        .map(|l| {
            let mut c = PagedKvLayer::with_dtype(&layout, dtype).expect("layer");
            let vals: Vec<f32> = (0..n_slots * n_kv * hd)
                .map(|i| ((i * 7 + l) % 13) as f32 * 0.05 - 0.3)
                .collect();
            write_kv(&mut c, &layout, &vals, &vals, &slots).expect("write_kv");
            c
        })
        .collect();
    let table: Vec<u32> = (0..layout.num_blocks as u32).collect();
    let q: Vec<f32> = (0..n_heads * hd).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut out = vec![0f32; n_heads * hd];
    let pool = ThreadPool::new(threads);
    let seqs = [AttnSeq {
        token_start: 0,
        n_tokens: 1,
        ctx_len: ctx,
        block_table: &table,
    }];
    for mode in [SplitMode::Auto, SplitMode::Never, SplitMode::Always] {
        let mut times = Vec::new();
        let mut cpu_best = f64::INFINITY;
        for _ in 0..30 {
            let t = std::time::Instant::now();
            let c0 = thread_cpu();
            for c in &caches {
                paged_attention_split(
                    Isa::detect(),
                    mode,
                    &pool,
                    &q,
                    c,
                    &layout,
                    &seqs,
                    n_heads,
                    0.125,
                    &mut out,
                )
                .expect("attn");
            }
            times.push(t.elapsed().as_secs_f64());
            cpu_best = cpu_best.min(thread_cpu() - c0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "ctx {ctx}, {dtype}, split {mode:?}, {threads} threads: best {:.2} ms, median {:.2} ms per token ({:.0} / {:.0} µs per call), calling thread CPU {:.2} ms ({} stalls)",
            times[0] * 1e3,
            times[times.len() / 2] * 1e3,
            times[0] * 1e6 / layers as f64,
            times[times.len() / 2] * 1e6 / layers as f64,
            cpu_best * 1e3,
            pool.stalls()
        );
    }
}
