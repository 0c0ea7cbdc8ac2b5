//! Qwen3 forward from llama.cpp's GGUF conversions of qwen3-tiny: the BF16 file holds the same
//! weights as the safetensors bit for bit (f32 tolerances); the Q8_0 file follows the README's
//! "Q8_0 weights" tolerances.

mod common;

use common::tiny;

const THREADS: usize = 2;

fn bf16() -> Box<dyn models::Model> {
    common::load_gguf(&common::model_file("qwen3-tiny-gguf/qwen3-tiny-bf16.gguf"), THREADS).unwrap()
}

#[test]
fn bf16_logits_and_topk_at_every_position() {
    let (last, topk) = tiny::check_logits_and_topk(bf16().as_mut(), 1e-4).unwrap();
    eprintln!("GGUF bf16: last logits max abs {last:.3e}, top-10 values max abs {topk:.3e}");
}

#[test]
fn bf16_greedy_32_tokens_through_paged_cache() {
    tiny::check_greedy(bf16().as_mut()).unwrap();
}

#[test]
fn bf16_chunked_prefill_equals_one_chunk() {
    tiny::check_chunked_prefill(bf16().as_mut()).unwrap();
}

#[test]
fn bf16_per_layer_activations() {
    let worst = tiny::check_activations(bf16().as_mut(), 1e-4).unwrap();
    eprintln!("GGUF bf16: activations max abs {worst:.3e}");
}

#[test]
fn q8_0_within_quantization_tolerance() {
    let mut m = common::load_gguf(&common::model_file("qwen3-tiny-gguf/qwen3-tiny-q8_0.gguf"), THREADS).unwrap();
    let worst = tiny::check_q8_0(m.as_mut()).unwrap();
    eprintln!("GGUF q8_0: last logits max abs {worst:.4}");
}
