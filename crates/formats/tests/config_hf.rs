//! `ModelConfig::from_hf_json` against the fixture configs (values from the fixtures README) and
//! the variants real config.json files use.

mod common;

use formats::{Architecture, Error, GgufFile, ModelConfig};
use serde_json::{json, Value};

fn tiny_json() -> Value {
    serde_json::from_slice(
        &std::fs::read(common::fixtures_dir().join("qwen3-tiny/config.json")).unwrap(),
    )
    .unwrap()
}

fn cfg_err(v: &Value) -> String {
    ModelConfig::from_hf_json(v).unwrap_err().to_string()
}

#[test]
fn tiny_and_0_6b_fixture_configs() {
    let c = ModelConfig::from_hf_json(&tiny_json()).unwrap();
    assert_eq!(
        c,
        ModelConfig {
            arch: Architecture::Qwen3,
            vocab_size: 151936,
            hidden_size: 64,
            intermediate_size: 192,
            n_layers: 2,
            n_heads: 4,
            n_kv_heads: 2,
            head_dim: 32,
            rope_theta: 1e6,
            rms_norm_eps: 1e-6,
            max_position_embeddings: 4096,
            tie_word_embeddings: true,
            bos_token_id: Some(151643),
            eos_token_ids: vec![151645],
        }
    );
    let big: Value = serde_json::from_slice(
        &std::fs::read(common::fixtures_dir().join("qwen3-0.6b-random-expected.json")).unwrap(),
    )
    .unwrap();
    let c = ModelConfig::from_hf_json(&big["config"]).unwrap();
    assert_eq!(
        (
            c.hidden_size,
            c.intermediate_size,
            c.n_layers,
            c.n_heads,
            c.n_kv_heads,
            c.head_dim
        ),
        (1024, 3072, 28, 16, 8, 128)
    );
    assert_eq!(
        (
            c.max_position_embeddings,
            c.rope_theta,
            c.tie_word_embeddings
        ),
        (40960, 1e6, true)
    );
}

#[test]
fn transformers_5_rope_parameters() {
    let mut v = tiny_json();
    let o = v.as_object_mut().unwrap();
    o.remove("rope_theta");
    o.remove("rope_scaling");
    o.insert(
        "rope_parameters".into(),
        json!({"rope_theta": 1000000.0, "rope_type": "default"}),
    );
    assert_eq!(
        ModelConfig::from_hf_json(&v).unwrap(),
        ModelConfig::from_hf_json(&tiny_json()).unwrap()
    );
    v["rope_parameters"]["rope_type"] = json!("yarn");
    assert!(cfg_err(&v).contains("'rope_parameters' of type 'yarn' is not supported"));
}

#[test]
fn rope_scaling_other_than_none_is_rejected() {
    let mut v = tiny_json();
    v["rope_scaling"] = json!({"rope_type": "llama3", "factor": 32.0});
    assert!(
        cfg_err(&v).contains("'rope_scaling' of type 'llama3' is not supported"),
        "{}",
        cfg_err(&v)
    );
    v["rope_scaling"] = json!({"type": "linear", "factor": 2.0});
    assert!(cfg_err(&v).contains("'linear'"));
    v["rope_scaling"] = json!({"type": "default"});
    assert!(ModelConfig::from_hf_json(&v).is_ok());
}

#[test]
fn defaults_and_alternatives() {
    let mut v = tiny_json();
    let o = v.as_object_mut().unwrap();
    for k in [
        "head_dim",
        "num_key_value_heads",
        "tie_word_embeddings",
        "rope_theta",
        "rms_norm_eps",
        "model_type",
    ] {
        o.remove(k);
    }
    o.insert("eos_token_id".into(), json!([151645, 151643]));
    o.insert("bos_token_id".into(), Value::Null);
    let c = ModelConfig::from_hf_json(&v).unwrap();
    assert_eq!(c.arch, Architecture::Qwen3, "from architectures[0]");
    assert_eq!(c.head_dim, 16, "hidden / heads");
    assert_eq!(c.n_kv_heads, 4, "defaults to n_heads");
    assert!(!c.tie_word_embeddings, "transformers' Qwen3Config default");
    assert_eq!((c.rope_theta, c.rms_norm_eps), (10000.0, 1e-6));
    assert_eq!(c.eos_token_ids, [151645, 151643]);
    assert_eq!(c.bos_token_id, None);
}

#[test]
fn errors_name_the_key() {
    let mut v = tiny_json();
    v["model_type"] = json!("gemma3");
    let e = ModelConfig::from_hf_json(&v).unwrap_err();
    assert!(
        matches!(&e, Error::UnsupportedArchitecture(a) if a == "gemma3"),
        "{e}"
    );

    let mut v = tiny_json();
    v.as_object_mut().unwrap().remove("hidden_size");
    assert!(cfg_err(&v).contains("'hidden_size' is missing"));
    let mut v = tiny_json();
    v["num_attention_heads"] = json!("four");
    assert!(cfg_err(&v).contains("'num_attention_heads' is \"four\""));
    let mut v = tiny_json();
    v["num_key_value_heads"] = json!(3);
    assert!(cfg_err(&v).contains("not a multiple of n_kv_heads 3"));
    let mut v = tiny_json();
    v["eos_token_id"] = json!(-1);
    assert!(cfg_err(&v).contains("'eos_token_id'"));
    let mut v = tiny_json();
    v["eos_token_id"] = json!(999999);
    assert!(cfg_err(&v).contains("999999 is outside the vocabulary"));
    let mut v = tiny_json();
    v["attention_bias"] = json!(true);
    assert!(cfg_err(&v).contains("attention_bias"));
    let mut v = tiny_json();
    v["hidden_act"] = json!("gelu");
    assert!(cfg_err(&v).contains("gelu"));
    assert!(cfg_err(&json!([1])).contains("not a JSON object"));
}

/// SmolLM2-135M-Instruct's config.json (keys as published on the Hub) gives the same config as its
/// GGUF, which goes through the llama GGUF path.
#[test]
fn llama_config_matches_the_smollm2_gguf() {
    let hf = json!({
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": false,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": 576,
        "initializer_range": 0.041666666666666664,
        "intermediate_size": 1536,
        "is_llama_config": true,
        "max_position_embeddings": 8192,
        "mlp_bias": false,
        "model_type": "llama",
        "num_attention_heads": 9,
        "num_hidden_layers": 30,
        "num_key_value_heads": 3,
        "pad_token_id": 2,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_interleaved": false,
        "rope_scaling": null,
        "rope_theta": 100000,
        "tie_word_embeddings": true,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.42.3",
        "use_cache": true,
        "vocab_size": 49152
    });
    let g = GgufFile::open(common::model_file(common::SMOLLM2_Q4_1)).unwrap();
    assert_eq!(
        ModelConfig::from_hf_json(&hf).unwrap(),
        ModelConfig::from_gguf(&g).unwrap()
    );
}
