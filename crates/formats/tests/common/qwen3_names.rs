//! GGUF ↔ Hugging Face tensor names for Qwen3 (llama.cpp's convert_hf_to_gguf mapping).
#![allow(dead_code)]

/// The HF name of a Qwen3 GGUF tensor name.
pub fn hf_name(gguf: &str) -> String {
    match gguf {
        "token_embd.weight" => return "model.embed_tokens.weight".into(),
        "output_norm.weight" => return "model.norm.weight".into(),
        "output.weight" => return "lm_head.weight".into(),
        _ => {}
    }
    let rest = gguf
        .strip_prefix("blk.")
        .unwrap_or_else(|| panic!("unexpected GGUF name {gguf}"));
    let (layer, part) = rest.split_once('.').unwrap();
    let hf_part = match part {
        "attn_norm.weight" => "input_layernorm.weight",
        "attn_q.weight" => "self_attn.q_proj.weight",
        "attn_k.weight" => "self_attn.k_proj.weight",
        "attn_v.weight" => "self_attn.v_proj.weight",
        "attn_output.weight" => "self_attn.o_proj.weight",
        "attn_q_norm.weight" => "self_attn.q_norm.weight",
        "attn_k_norm.weight" => "self_attn.k_norm.weight",
        "ffn_norm.weight" => "post_attention_layernorm.weight",
        "ffn_gate.weight" => "mlp.gate_proj.weight",
        "ffn_up.weight" => "mlp.up_proj.weight",
        "ffn_down.weight" => "mlp.down_proj.weight",
        other => panic!("unexpected GGUF tensor part {other}"),
    };
    format!("model.layers.{layer}.{hf_part}")
}
