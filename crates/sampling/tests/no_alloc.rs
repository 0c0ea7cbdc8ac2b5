//! After the first call, sampling allocates nothing per token (one test in this binary, so the
//! counting allocator sees only it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sampling::{Rng, Sampler, SamplerConfig, SamplingContext};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::SeqCst);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn sampling_allocates_nothing_after_the_first_call() {
    let vocab = 32_000;
    let mut rng = Rng::from_seed(1);
    let rows: Vec<Vec<f32>> = (0..50)
        .map(|_| {
            (0..vocab)
                .map(|_| ((rng.next_f64() - 0.5) * 8.0) as f32)
                .collect()
        })
        .collect();
    let prompt: Vec<u32> = (0..300).map(|i| (i * 97) % vocab as u32).collect();
    let generated: Vec<u32> = (0..200).map(|i| (i * 13) % vocab as u32).collect();
    let configs = [
        SamplerConfig::greedy(),
        SamplerConfig {
            seed: Some(1),
            top_k: 40,
            top_p: 0.9,
            min_p: 0.05,
            repetition_penalty: 1.1,
            presence_penalty: 0.3,
            frequency_penalty: 0.2,
            logit_bias: vec![(5, 1.0)],
            ..SamplerConfig::default()
        },
        SamplerConfig {
            seed: Some(2),
            top_p: 0.8,
            ..SamplerConfig::default()
        },
    ];
    let mut first_call_allocs = 0;
    for cfg in configs {
        let mut s = Sampler::new(cfg).unwrap();
        let ctx = SamplingContext {
            prompt: &prompt,
            generated: &generated,
        };
        let start = ALLOCS.load(Ordering::SeqCst);
        s.sample_with(&rows[0], &ctx);
        let before = ALLOCS.load(Ordering::SeqCst);
        first_call_allocs += before - start;
        for row in &rows[1..] {
            std::hint::black_box(s.sample_with(row, &ctx));
        }
        assert_eq!(ALLOCS.load(Ordering::SeqCst), before, "{:?}", s.config());
    }
    assert!(
        first_call_allocs > 0,
        "the counter sees the first calls' buffers"
    );
}
