//! A decode step allocates nothing once the scratch buffers have grown to the batch size: the
//! forward pass reuses its activation buffers, quantized-activation buffer and sequence list.
//! (One test in this binary, so the counting allocator sees only this forward.)

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use models::{ForwardBatch, KvTensors};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decode_steps_allocate_nothing() {
    for (label, mut model) in [
        (
            "qwen3-tiny safetensors",
            common::load_hf(&common::tiny_dir(), 2).unwrap(),
        ),
        (
            "SmolLM2 Q4_1 GGUF",
            common::load_gguf(&common::model_file("SmolLM2-135M-Instruct.Q4_1.gguf"), 2).unwrap(),
        ),
    ] {
        let mut kv = KvTensors::new(model.kv_spec(), 4, 16).unwrap();
        let table = [2u32, 0, 3];
        let mut batch = ForwardBatch::default();
        batch
            .push_seq(&[1, 2, 3, 4, 5], 0, &table, 16, true)
            .unwrap();
        model.forward(&batch, &mut kv).unwrap();
        let mut counts = Vec::new();
        for step in 0..4 {
            // Reuse the batch's buffers like the engine does.
            batch.clear();
            batch.push_seq(&[7], 5 + step, &table, 16, true).unwrap();
            let before = ALLOCATIONS.load(Ordering::SeqCst);
            let logits = model.forward(&batch, &mut kv).unwrap();
            assert_eq!(logits.len(), model.config().vocab_size);
            counts.push(ALLOCATIONS.load(Ordering::SeqCst) - before);
        }
        eprintln!("{label}: allocations per decode step {counts:?}");
        // The prefill grew every buffer beyond what one token needs: no decode step allocates.
        assert!(
            counts.iter().all(|&c| c == 0),
            "{label}: decode allocated {counts:?}"
        );
    }
}
