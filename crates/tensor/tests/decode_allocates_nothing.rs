//! After one warm-up step, a decode step (matmul of every weight kind, norms, rope, silu, paged
//! attention, embedding, the pool) allocates nothing. Counted with a wrapping global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use quant::{AlignedBytes, GgmlType};
use tensor::ops::{
    add_inplace, embedding, matmul, rms_norm, rope, silu_mul, softmax_inplace, MatmulScratch,
    RopeStyle,
};
use tensor::{
    paged_attention, write_kv, AttnSeq, KvLayout, PagedKvLayer, Storage, Tensor, ThreadPool,
};

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn weight(ty: GgmlType, m: usize, k: usize, seed: f32) -> Tensor {
    let vals: Vec<f32> = (0..m * k)
        .map(|i| ((i as f32 * 0.37 + seed).sin()) * 0.1)
        .collect();
    let row = ty.row_bytes(k).unwrap();
    let mut bytes = AlignedBytes::new();
    bytes.resize(m * row);
    for (src, dst) in vals.chunks(k).zip(bytes.as_bytes_mut().chunks_mut(row)) {
        quant::quantize_row_into(ty, src, dst).unwrap();
    }
    Tensor::new(
        ty,
        vec![m, k],
        Storage::Bytes(bytes.as_bytes().to_vec().into()),
    )
    .unwrap()
}

#[test]
fn a_decode_step_allocates_nothing_after_warm_up() {
    let (d, heads, kv_heads, hd, inter) = (512usize, 8usize, 2usize, 64usize, 1024usize);
    let pool = ThreadPool::new(2);
    let mut scratch = MatmulScratch::new();
    let kinds = [
        GgmlType::BF16,
        GgmlType::F32,
        GgmlType::Q8_0,
        GgmlType::Q4K,
        GgmlType::Q4_1,
    ];
    let wq: Vec<Tensor> = kinds
        .iter()
        .map(|&t| weight(t, heads * hd, d, 1.0))
        .collect();
    let w_up = weight(GgmlType::Q6K, inter, d, 2.0);
    let w_down = weight(GgmlType::Q5_0, d, inter, 3.0);
    let embed = weight(GgmlType::Q8_0, 100, d, 4.0);
    let norm_w = vec![1.0f32; d];
    let layout = KvLayout {
        num_blocks: 64,
        block_size: 16,
        n_kv_heads: kv_heads,
        head_dim: hd,
    };
    let mut cache = PagedKvLayer::new(&layout).unwrap();
    let table: Vec<u32> = (0..64).rev().collect();

    // Decode buffers, allocated once.
    let (mut x, mut h, mut q, mut ctx) = (
        vec![0.0; d],
        vec![0.0; d],
        vec![0.0; heads * hd],
        vec![0.0; heads * hd],
    );
    let (mut gate, mut up, mut down) = (vec![0.0; inter], vec![0.0; inter], vec![0.0; d]);
    let kv = vec![0.5; kv_heads * hd];
    let mut logits = vec![0.0; 100];

    let mut step = |pos: usize, count: bool| {
        COUNTING.store(count, Ordering::SeqCst);
        embedding(&embed, &[(pos % 100) as u32], &mut x).unwrap();
        rms_norm(&x, &norm_w, 1e-6, &mut h);
        for w in &wq {
            matmul(&pool, &h, w, &mut q, &mut scratch).unwrap();
        }
        rope(&mut q, &[pos as u32], heads, hd, 1e6, RopeStyle::Neox);
        let slot = table[pos / 16] * 16 + (pos % 16) as u32;
        write_kv(&mut cache, &layout, &kv, &kv, &[slot]).unwrap();
        let seqs = [AttnSeq {
            token_start: 0,
            n_tokens: 1,
            ctx_len: pos + 1,
            block_table: &table,
        }];
        paged_attention(&pool, &q, &cache, &layout, &seqs, heads, 0.125, &mut ctx).unwrap();
        matmul(&pool, &h, &w_up, &mut gate, &mut scratch).unwrap();
        matmul(&pool, &h, &w_up, &mut up, &mut scratch).unwrap();
        silu_mul(&mut gate, &up);
        matmul(&pool, &gate, &w_down, &mut down, &mut scratch).unwrap();
        add_inplace(&mut x, &down);
        matmul(&pool, &x, &embed, &mut logits, &mut scratch).unwrap();
        softmax_inplace(&mut logits);
        COUNTING.store(false, Ordering::SeqCst);
    };
    step(0, false);
    step(1, false);
    ALLOCS.store(0, Ordering::SeqCst);
    for pos in 2..200 {
        step(pos, true);
    }
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "allocations during 198 decode steps"
    );

    // The counter does count.
    COUNTING.store(true, Ordering::SeqCst);
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(10));
    COUNTING.store(false, Ordering::SeqCst);
    drop(v);
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 1);
}
