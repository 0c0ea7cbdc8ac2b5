//! Loading and forward errors: a missing tensor, a wrong shape, an unknown architecture, an
//! inconsistent config, bad batches: each an error that names the culprit, never a panic.

mod common;

use formats::{GgufFile, HfModelDir, ModelConfig, SourceKind, WeightSource};
use models::{ForwardBatch, KvSpec, KvTensors};
use tensor::Tensor;

/// Wraps a real source, hiding one tensor or reporting another shape for it.
struct Tampered<'a> {
    inner: &'a dyn WeightSource,
    hide: Option<&'a str>,
    reshape: Option<(&'a str, Vec<usize>)>,
}

impl WeightSource for Tampered<'_> {
    fn kind(&self) -> SourceKind {
        self.inner.kind()
    }

    fn tensor(&self, name: &str) -> Result<Tensor, formats::Error> {
        if self.hide == Some(name) {
            return Err(formats::Error::TensorNotFound {
                name: name.into(),
                source_name: "tampered source".into(),
            });
        }
        let mut t = self.inner.tensor(name)?;
        if let Some((n, shape)) = &self.reshape {
            if *n == name {
                t.shape = shape.clone();
            }
        }
        Ok(t)
    }

    fn tensor_names(&self) -> Vec<String> {
        self.inner
            .tensor_names()
            .into_iter()
            .filter(|n| Some(n.as_str()) != self.hide)
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.hide != Some(name) && self.inner.has(name)
    }
}

fn hf() -> (HfModelDir, ModelConfig) {
    let dir = HfModelDir::open(common::tiny_dir()).unwrap();
    let cfg = dir.config().clone();
    (dir, cfg)
}

fn load_err(src: &dyn WeightSource, cfg: &ModelConfig) -> String {
    match models::load(src, cfg, 1, &mut |_, _| {}) {
        Ok(_) => panic!("loading should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn missing_tensor_is_named() {
    let (dir, cfg) = hf();
    for name in [
        "model.layers.1.mlp.up_proj.weight",
        "model.layers.0.self_attn.q_norm.weight",
        "model.norm.weight",
    ] {
        let e = load_err(
            &Tampered {
                inner: &dir,
                hide: Some(name),
                reshape: None,
            },
            &cfg,
        );
        assert!(e.contains(name) && e.contains("not found"), "{e}");
    }
    let gguf = GgufFile::open(common::model_file("qwen3-tiny-gguf/qwen3-tiny-bf16.gguf")).unwrap();
    let gcfg = ModelConfig::from_gguf(&gguf).unwrap();
    let e = load_err(
        &Tampered {
            inner: &gguf,
            hide: Some("blk.1.attn_k_norm.weight"),
            reshape: None,
        },
        &gcfg,
    );
    assert!(e.contains("blk.1.attn_k_norm.weight"), "{e}");
}

#[test]
fn wrong_shape_names_tensor_and_both_shapes() {
    let (dir, cfg) = hf();
    let name = "model.layers.0.self_attn.k_proj.weight";
    let e = load_err(
        &Tampered {
            inner: &dir,
            hide: None,
            reshape: Some((name, vec![64, 32])),
        },
        &cfg,
    );
    assert!(
        e.contains(name) && e.contains("[64, 32]") && e.contains("[64, 64]"),
        "{e}"
    );
    let name = "model.layers.1.self_attn.q_norm.weight";
    let e = load_err(
        &Tampered {
            inner: &dir,
            hide: None,
            reshape: Some((name, vec![64])),
        },
        &cfg,
    );
    assert!(
        e.contains(name) && e.contains("[64]") && e.contains("[32]"),
        "{e}"
    );
}

#[test]
fn config_disagreeing_with_weights() {
    let (dir, cfg) = hf();
    let e = load_err(
        &dir,
        &ModelConfig {
            intermediate_size: 256,
            ..cfg.clone()
        },
    );
    assert!(
        e.contains("model.layers.0.mlp.gate_proj.weight") && e.contains("[256, 64]"),
        "{e}"
    );
    // Untied embeddings in the config but no lm_head.weight stored.
    let e = load_err(
        &dir,
        &ModelConfig {
            tie_word_embeddings: false,
            ..cfg.clone()
        },
    );
    assert!(e.contains("lm_head.weight"), "{e}");
    // Heads that do not divide.
    let e = load_err(
        &dir,
        &ModelConfig {
            n_kv_heads: 3,
            ..cfg
        },
    );
    assert!(e.contains("n_kv_heads"), "{e}");
}

#[test]
fn unknown_architecture_is_an_error() {
    let text = std::fs::read_to_string(common::tiny_dir().join("config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["model_type"] = "mamba".into();
    json["architectures"] = serde_json::json!(["MambaForCausalLM"]);
    let e = ModelConfig::from_hf_json(&json).unwrap_err().to_string();
    assert!(e.contains("mamba"), "{e}");
}

#[test]
fn progress_counts_every_tensor() {
    let (dir, cfg) = hf();
    let mut calls = Vec::new();
    models::load(&dir, &cfg, 1, &mut |done, total| calls.push((done, total))).unwrap();
    // 24 stored tensors, no lm_head (tied).
    assert_eq!(calls.len(), 24);
    assert!(
        calls
            .iter()
            .enumerate()
            .all(|(i, &(d, t))| d == i + 1 && t == 24),
        "{calls:?}"
    );
}

#[test]
fn bad_forward_inputs_are_errors() {
    let (dir, cfg) = hf();
    let mut m = models::load(&dir, &cfg, 1, &mut |_, _| {}).unwrap();
    let mut kv = KvTensors::new(m.kv_spec(), 4, 16).unwrap();
    let mut b = ForwardBatch::default();
    // A token id beyond the vocabulary.
    b.push_seq(&[1, cfg.vocab_size as u32], 0, &[0], 16, true)
        .unwrap();
    assert!(m.forward(&b, &mut kv).is_err());
    // A slot that is not where the block table puts the token.
    b.clear();
    b.push_seq(&[1, 2], 0, &[0], 16, true).unwrap();
    b.slot_mapping[1] = 40;
    assert!(m
        .forward(&b, &mut kv)
        .unwrap_err()
        .to_string()
        .contains("slot"));
    // A block outside the pool.
    b.clear();
    b.push_seq(&[1, 2], 0, &[7], 16, true).unwrap();
    assert!(m
        .forward(&b, &mut kv)
        .unwrap_err()
        .to_string()
        .contains("outside the pool"));
    // A cache built for another model.
    let spec = KvSpec {
        head_dim: 16,
        ..m.kv_spec()
    };
    let mut other = KvTensors::new(spec, 4, 16).unwrap();
    b.clear();
    b.push_seq(&[1, 2], 0, &[0], 16, true).unwrap();
    assert!(m.forward(&b, &mut other).is_err());
    // And the model still works afterwards.
    assert_eq!(m.forward(&b, &mut kv).unwrap().len(), cfg.vocab_size);
}
