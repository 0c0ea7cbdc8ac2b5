//! Qwen3 forward from the Hugging Face safetensors of qwen3-tiny (bf16 weights, f32 compute)
//! against the transformers reference in tests/fixtures/qwen3-tiny/expected.json.

mod common;

use common::tiny;

const THREADS: usize = 2;

fn model() -> Box<dyn models::Model> {
    common::load_hf(&common::tiny_dir(), THREADS).expect("load qwen3-tiny safetensors")
}

#[test]
fn logits_and_topk_at_every_position() {
    let (last, topk) = tiny::check_logits_and_topk(model().as_mut(), 1e-4).unwrap();
    eprintln!("HF qwen3-tiny: last logits max abs {last:.3e}, top-10 values max abs {topk:.3e}");
}

#[test]
fn greedy_32_tokens_through_paged_cache() {
    tiny::check_greedy(model().as_mut()).unwrap();
}

#[test]
fn chunked_prefill_equals_one_chunk() {
    tiny::check_chunked_prefill(model().as_mut()).unwrap();
}

#[test]
fn per_layer_activations() {
    let worst = tiny::check_activations(model().as_mut(), 1e-4).unwrap();
    eprintln!("HF qwen3-tiny: activations max abs {worst:.3e}");
}

#[test]
fn the_models_dir_copy_loads_too() {
    // The fetched HF dir (with tokenizer.json) is the same checkpoint as the test fixture.
    let dir = common::model_file("qwen3-tiny");
    let mut m = common::load_hf(&dir, THREADS).unwrap();
    let (_, prompts) = common::tiny_expected().unwrap();
    let (_, steps) = common::greedy_paged(m.as_mut(), &prompts[0].ids, 1, 16, usize::MAX).unwrap();
    let err = common::max_abs_diff(&steps[0], &prompts[0].last_logits);
    assert!(err <= 1e-4, "{err}");
}
