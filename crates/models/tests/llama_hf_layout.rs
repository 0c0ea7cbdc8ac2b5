//! The Llama Hugging Face path (names `model.layers.{i}...`, NeoX RoPE) against the GGUF path
//! (names `blk.{i}...`, interleaved RoPE on q/k rows permuted by llama.cpp's convert script), on the
//! real SmolLM2 weights: the GGUF is presented as an HF checkpoint by renaming its tensors and
//! undoing convert_hf_to_gguf.py's `permute` of q_proj / k_proj. Both must compute the same model.
//! Weights are dequantized to f32 on both sides so the comparison is not blurred by Q8_1 rounding.

mod common;

use common::Dequantized;
use formats::{GgufFile, ModelConfig, SourceKind, WeightSource};
use tensor::Tensor;

/// The GGUF name of an HF Llama tensor name.
fn gguf_name(hf: &str) -> Option<String> {
    let fixed = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];
    if let Some((_, g)) = fixed.iter().find(|(h, _)| *h == hf) {
        return Some(g.to_string());
    }
    let rest = hf.strip_prefix("model.layers.")?;
    let (layer, leaf) = rest.split_once('.')?;
    let leaf = match leaf {
        "input_layernorm.weight" => "attn_norm",
        "self_attn.q_proj.weight" => "attn_q",
        "self_attn.k_proj.weight" => "attn_k",
        "self_attn.v_proj.weight" => "attn_v",
        "self_attn.o_proj.weight" => "attn_output",
        "post_attention_layernorm.weight" => "ffn_norm",
        "mlp.gate_proj.weight" => "ffn_gate",
        "mlp.up_proj.weight" => "ffn_up",
        "mlp.down_proj.weight" => "ffn_down",
        _ => return None,
    };
    Some(format!("blk.{layer}.{leaf}.weight"))
}

/// A GGUF Llama with q/k rows back in Hugging Face order; with `hf_names` it is also presented as
/// a Hugging Face checkpoint (HF names, `SourceKind::HuggingFace`), else it keeps the GGUF names
/// and kind (a deliberately inconsistent checkpoint).
struct Unpermuted<'a> {
    gguf: &'a dyn WeightSource,
    n_heads: usize,
    n_kv_heads: usize,
    hf_names: bool,
}

impl WeightSource for Unpermuted<'_> {
    fn kind(&self) -> SourceKind {
        if self.hf_names {
            SourceKind::HuggingFace
        } else {
            SourceKind::Gguf
        }
    }

    fn tensor(&self, name: &str) -> Result<Tensor, formats::Error> {
        let missing = || formats::Error::TensorNotFound {
            name: name.into(),
            source_name: "Unpermuted".into(),
        };
        let g = if self.hf_names {
            gguf_name(name).ok_or_else(missing)?
        } else {
            name.to_string()
        };
        let t = self.gguf.tensor(&g)?;
        let heads = if g.ends_with("attn_q.weight") {
            self.n_heads
        } else if g.ends_with("attn_k.weight") {
            self.n_kv_heads
        } else {
            return Ok(t);
        };
        // convert_hf_to_gguf.py: w.reshape(heads, 2, d/2, in).swapaxes(1, 2) — GGUF row 2i+j of a
        // head is HF row j*(d/2)+i. Undo it on whole rows.
        let (rows, cols) = (t.shape[0], t.shape[1]);
        let row_bytes = t.bytes().len() / rows;
        let half = rows / heads / 2;
        let src = t.bytes();
        let mut out = vec![0u8; src.len()];
        for h in 0..heads {
            for j in 0..2 {
                for i in 0..half {
                    let hf_row = h * 2 * half + j * half + i;
                    let gguf_row = h * 2 * half + 2 * i + j;
                    out[hf_row * row_bytes..(hf_row + 1) * row_bytes]
                        .copy_from_slice(&src[gguf_row * row_bytes..(gguf_row + 1) * row_bytes]);
                }
            }
        }
        Ok(Tensor::new(
            t.dtype,
            vec![rows, cols],
            tensor::Storage::Bytes(out.into()),
        )?)
    }

    fn tensor_names(&self) -> Vec<String> {
        Vec::new()
    }

    fn has(&self, name: &str) -> bool {
        if self.hf_names {
            gguf_name(name).is_some_and(|g| self.gguf.has(&g))
        } else {
            self.gguf.has(name)
        }
    }
}

#[test]
fn hf_layout_with_neox_rope_equals_gguf_layout_with_interleaved_rope() {
    let gguf = GgufFile::open(common::model_file("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let cfg = ModelConfig::from_gguf(&gguf).unwrap();
    let f32_gguf = Dequantized(&gguf);
    let unpermuted = |hf_names| Unpermuted {
        gguf: &f32_gguf,
        n_heads: cfg.n_heads,
        n_kv_heads: cfg.n_kv_heads,
        hf_names,
    };
    let as_hf = unpermuted(true);
    let mut from_gguf = models::load(&f32_gguf, &cfg, 2, &mut |_, _| {}).unwrap();
    let mut from_hf = models::load(&as_hf, &cfg, 2, &mut |_, _| {}).unwrap();

    let prompt = [504, 3575, 282, 4649, 314]; // "The capital of France is"
    let (ids_g, logits_g) =
        common::greedy_paged(from_gguf.as_mut(), &prompt, 12, 16, usize::MAX).unwrap();
    let (ids_h, logits_h) =
        common::greedy_paged(from_hf.as_mut(), &prompt, 12, 16, usize::MAX).unwrap();
    let worst = logits_g
        .iter()
        .zip(&logits_h)
        .map(|(a, b)| common::max_abs_diff(a, b))
        .fold(0.0, f32::max);
    eprintln!("HF vs GGUF Llama layout: logits max abs {worst:.3e} over 12 steps");
    // Only the order of the q·k sums differs (the pairs are stored apart instead of adjacent).
    assert!(worst <= 1e-4, "{worst}");
    assert_eq!(ids_g, ids_h);

    // HF-ordered rows rotated with the GGUF (interleaved) pairing are a different model: the test
    // tells the two pairings apart.
    let mut wrong = models::load(&unpermuted(false), &cfg, 2, &mut |_, _| {}).unwrap();
    let (_, logits_w) = common::greedy_paged(wrong.as_mut(), &prompt, 1, 16, usize::MAX).unwrap();
    let off = common::max_abs_diff(&logits_w[0], &logits_g[0]);
    eprintln!("HF row order with interleaved RoPE: logits off by {off:.2}");
    assert!(off > 0.5, "{off}");
}
