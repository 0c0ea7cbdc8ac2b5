//! The real GGUF files open and say what their producers wrote: facts from the fixtures README
//! (tiny Qwen3 conversions by llama.cpp) and from models.md (SmolLM2, Gemma 3).

mod common;

use std::collections::BTreeMap;

use common::qwen3_names::hf_name;
use formats::{
    Architecture, Error, GgufFile, ModelConfig, SafetensorsFile, SourceKind, WeightSource,
};
use quant::GgmlType;
use tensor::Storage;

fn hf_tiny_config() -> ModelConfig {
    let path = common::fixtures_dir().join("qwen3-tiny/config.json");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    ModelConfig::from_hf_json(&v).unwrap()
}

fn type_counts(g: &GgufFile) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for t in &g.tensors {
        *m.entry(t.dtype.name()).or_default() += 1;
    }
    m
}

fn check_tiny_qwen3(file: &str, expected_size: u64, weight_type: GgmlType) {
    let g = GgufFile::open(common::model_file(file)).unwrap();
    assert_eq!(
        g.file_size(),
        expected_size,
        "file size from the fixtures README"
    );
    assert_eq!(g.require_str("general.architecture").unwrap(), "qwen3");
    assert_eq!(g.require_str("tokenizer.ggml.model").unwrap(), "gpt2");
    assert_eq!(g.require_str("tokenizer.ggml.pre").unwrap(), "qwen2");
    let tokens = g.get_str_array("tokenizer.ggml.tokens").unwrap();
    assert_eq!(tokens.len(), 151936);
    assert!(
        tokens[151669].starts_with("[PAD"),
        "ids 151669+ are [PAD…] fillers: {}",
        tokens[151669]
    );
    assert_eq!(tokens[151643], "<|endoftext|>");
    assert_eq!(tokens[151645], "<|im_end|>");
    assert_eq!(g.array_len("tokenizer.ggml.merges").unwrap(), 151387);
    assert_eq!(
        g.get_i32_array("tokenizer.ggml.token_type").unwrap().len(),
        151936
    );
    assert_eq!(
        g.require_u64("tokenizer.ggml.bos_token_id").unwrap(),
        151643
    );
    assert_eq!(
        g.require_u64("tokenizer.ggml.eos_token_id").unwrap(),
        151645
    );
    assert_eq!(
        g.require_u64("tokenizer.ggml.padding_token_id").unwrap(),
        151643
    );
    assert!(!g.require_bool("tokenizer.ggml.add_bos_token").unwrap());
    assert!(g
        .get_str("tokenizer.chat_template")
        .unwrap()
        .contains("<|im_start|>"));
    assert_eq!(g.require_u64("qwen3.attention.key_length").unwrap(), 32);
    assert_eq!(g.require_u64("qwen3.attention.value_length").unwrap(), 32);
    assert_eq!(g.alignment, 32);
    assert_eq!(g.data_offset % 32, 0);

    assert_eq!(g.tensors.len(), 24);
    assert!(
        g.tensor_info("output.weight").is_none(),
        "tied: no output.weight"
    );
    for t in &g.tensors {
        let want = if t.shape.len() == 1 {
            GgmlType::F32
        } else {
            weight_type
        };
        assert_eq!(t.dtype, want, "{}: 1-D norms stay F32", t.name);
        assert!(
            t.name.contains("norm") == (t.shape.len() == 1),
            "{}",
            t.name
        );
        assert_eq!(t.offset % 32, 0, "{} aligned", t.name);
    }
    assert_eq!(
        g.tensors
            .iter()
            .filter(|t| t.dtype == GgmlType::F32)
            .count(),
        9
    );

    // Same tensors and shapes as the safetensors checkpoint (GGUF ne reversed = HF [out, in]).
    let st =
        SafetensorsFile::open(common::fixtures_dir().join("qwen3-tiny/model.safetensors")).unwrap();
    for t in &g.tensors {
        let hf = st
            .tensor_info(&hf_name(&t.name))
            .unwrap_or_else(|| panic!("{} has no HF twin", t.name));
        assert_eq!(t.shape, hf.shape, "{}", t.name);
    }

    // Hyper-parameters read from GGUF metadata equal those read from config.json.
    assert_eq!(ModelConfig::from_gguf(&g).unwrap(), hf_tiny_config());

    // WeightSource: zero-copy mapped tensors, names in file order, clear missing-tensor errors.
    assert_eq!(g.kind(), SourceKind::Gguf);
    assert_eq!(g.tensor_names().len(), 24);
    assert!(g.has("blk.1.attn_q.weight"));
    let q = g.tensor("blk.1.attn_q.weight").unwrap();
    assert_eq!((q.dtype, q.shape.clone()), (weight_type, vec![128, 64]));
    assert!(matches!(q.storage, Storage::Mapped { .. }));
    let e = g.tensor("blk.7.attn_q.weight").unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "tensor 'blk.7.attn_q.weight' not found in {}",
            common::model_file(file).display()
        )
    );
    assert!(matches!(e, Error::TensorNotFound { .. }));

    let text = formats::inspect::render_gguf(&g);
    for needle in [
        "tokenizer.ggml.tokens",
        "array[string]",
        "(151936 items)",
        "(4116 chars)",
        "token_embd.weight",
        "[151936, 64]",
        weight_type.name(),
    ] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle:?}:\n{text}"
        );
    }
}

#[test]
fn tiny_qwen3_bf16() {
    check_tiny_qwen3(common::QWEN3_TINY_BF16, 25_629_696, GgmlType::BF16);
}

#[test]
fn tiny_qwen3_q8_0() {
    check_tiny_qwen3(common::QWEN3_TINY_Q8_0, 16_398_336, GgmlType::Q8_0);
}

#[test]
fn smollm2_llama_q4_1() {
    let g = GgufFile::open(common::model_file(common::SMOLLM2_Q4_1)).unwrap();
    assert_eq!(g.file_size(), 98_362_432);
    let cfg = ModelConfig::from_gguf(&g).unwrap();
    // models.md: 30 layers, hidden 576, 9 heads / 3 KV heads, head dim 64, vocab 49152, rope base 1e5,
    // rms eps 1e-5, EOS <|im_end|> = 2.
    assert_eq!(cfg.arch, Architecture::Llama);
    assert_eq!(
        (
            cfg.n_layers,
            cfg.hidden_size,
            cfg.n_heads,
            cfg.n_kv_heads,
            cfg.head_dim,
            cfg.vocab_size
        ),
        (30, 576, 9, 3, 64, 49152)
    );
    assert_eq!((cfg.rope_theta, cfg.rms_norm_eps), (1e5, 1e-5));
    assert_eq!(cfg.eos_token_ids, [2]);
    assert_eq!(
        g.get_str_array("tokenizer.ggml.tokens").unwrap()[2],
        "<|im_end|>"
    );
    let counts = type_counts(&g);
    assert!(counts.get("q4_1").copied().unwrap_or(0) > 0, "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), g.tensors.len());
    assert_eq!(g.tensor("token_embd.weight").unwrap().shape, [49152, 576]);
}

#[test]
fn gemma3_opens_but_is_not_a_supported_model() {
    let g = GgufFile::open(common::model_file(common::GEMMA3_Q4_K_M)).unwrap();
    assert_eq!(g.file_size(), 253_113_024);
    assert_eq!(g.require_str("general.architecture").unwrap(), "gemma3");
    let e = ModelConfig::from_gguf(&g).unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedArchitecture(a) if a == "gemma3"),
        "{e}"
    );
    let counts = type_counts(&g);
    for ty in ["q5_0", "q4_K", "q6_K", "q8_0", "f32"] {
        assert!(
            counts.get(ty).copied().unwrap_or(0) > 0,
            "no {ty} tensors: {counts:?}"
        );
    }
    // 18 layers, head dim 256, vocab 262144 (models.md).
    assert_eq!(g.require_u64("gemma3.block_count").unwrap(), 18);
    assert_eq!(g.require_u64("gemma3.attention.key_length").unwrap(), 256);
    assert_eq!(g.array_len("tokenizer.ggml.tokens").unwrap(), 262144);
    let text = formats::inspect::render_gguf(&g);
    assert!(text.contains("unsupported architecture 'gemma3'"), "{text}");
}
