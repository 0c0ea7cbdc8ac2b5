//! `HfModelDir`: the qwen3-tiny fixture dir, a sharded copy of it written here, and broken dirs.

mod common;

use std::path::Path;

use common::st_writer::{write, StTensor};
use formats::{HfModelDir, ModelConfig, SafetensorsFile, SourceKind, WeightSource};
use quant::GgmlType;
use serde_json::json;
use tensor::Storage;

fn fixture_dir() -> std::path::PathBuf {
    common::fixtures_dir().join("qwen3-tiny")
}

#[test]
fn fixture_dir_opens() {
    let d = HfModelDir::open(fixture_dir()).unwrap();
    assert_eq!(d.kind(), SourceKind::HuggingFace);
    assert_eq!(d.files().len(), 1);
    assert_eq!(d.dir(), fixture_dir());
    assert!(d.tokenizer_config_path().is_some());
    assert!(d.generation_config_path().is_some());
    let gen = d.generation_config().unwrap().unwrap();
    assert!(gen.get("eos_token_id").is_some());

    let names = d.tensor_names();
    assert_eq!(names.len(), 24);
    assert!(names.contains(&"model.layers.1.self_attn.q_norm.weight".to_string()));
    assert!(d.has("model.embed_tokens.weight") && !d.has("lm_head.weight"));
    let q = d.tensor("model.layers.0.self_attn.q_proj.weight").unwrap();
    assert_eq!((q.dtype, q.shape.clone()), (GgmlType::BF16, vec![128, 64]));
    assert!(matches!(q.storage, Storage::Mapped { .. }));

    let e = d
        .tensor("model.layers.3.self_attn.q_proj.weight")
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "tensor 'model.layers.3.self_attn.q_proj.weight' not found in {}",
            fixture_dir().display()
        )
    );

    let cfg = d.config();
    assert_eq!((cfg.hidden_size, cfg.head_dim, cfg.n_layers), (64, 32, 2));

    let text = formats::inspect::render_hf(&d);
    for needle in [
        "model.embed_tokens.weight",
        "[151936, 64]",
        "BF16",
        "rope_theta",
        "format=pt",
    ] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle:?}:\n{text}"
        );
    }
}

#[test]
fn models_dir_copy_has_the_tokenizer() {
    let d = HfModelDir::open(common::model_file("qwen3-tiny")).unwrap();
    assert!(d.tokenizer_json_path().is_some_and(Path::is_file));
}

/// Writes config.json plus the fixture's tensors split over two shards (optionally with an index).
fn write_sharded(dir: &Path, with_index: bool) -> Vec<String> {
    std::fs::copy(fixture_dir().join("config.json"), dir.join("config.json")).unwrap();
    let src = SafetensorsFile::open(fixture_dir().join("model.safetensors")).unwrap();
    let mut shards: [Vec<StTensor>; 2] = [Vec::new(), Vec::new()];
    let mut weight_map = serde_json::Map::new();
    let shard_name = |i: usize| format!("model-0000{}-of-00002.safetensors", i + 1);
    let mut names = Vec::new();
    for (i, t) in src.tensors.iter().enumerate() {
        let s = i % 2;
        shards[s].push(StTensor {
            name: t.name.clone(),
            dtype: t.dtype.name().to_string(),
            shape: t.shape.clone(),
            data: src.tensor_data(t).unwrap().to_vec(),
        });
        weight_map.insert(t.name.clone(), json!(shard_name(s)));
        names.push(t.name.clone());
    }
    for (i, s) in shards.iter().enumerate() {
        std::fs::write(
            dir.join(shard_name(i)),
            write(s, Some(json!({"format": "pt"}))),
        )
        .unwrap();
    }
    if with_index {
        let index = json!({"metadata": {"total_size": 0}, "weight_map": weight_map});
        std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    }
    names
}

#[test]
fn sharded_dir_gives_the_same_tensors() {
    let src = SafetensorsFile::open(fixture_dir().join("model.safetensors")).unwrap();
    for with_index in [true, false] {
        let dir = common::temp_dir(&format!("sharded-{with_index}"));
        let names = write_sharded(&dir, with_index);
        let d = HfModelDir::open(&dir).unwrap();
        assert_eq!(d.files().len(), 2);
        assert!(d.tokenizer_json_path().is_none() && d.generation_config_path().is_none());
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(d.tensor_names(), sorted);
        for n in &names {
            let t = d.tensor(n).unwrap();
            let info = src.tensor_info(n).unwrap();
            assert_eq!(t.shape, info.shape);
            assert_eq!(t.bytes(), src.tensor_data(info).unwrap(), "{n}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn broken_dirs_name_the_problem() {
    let err = |dir: &Path| HfModelDir::open(dir).unwrap_err().to_string();

    // No config.json.
    let dir = common::temp_dir("noconfig");
    let e = err(&dir);
    assert!(e.contains("config.json"), "{e}");

    // Config but no weights.
    std::fs::copy(fixture_dir().join("config.json"), dir.join("config.json")).unwrap();
    let e = err(&dir);
    assert!(e.contains("no model.safetensors"), "{e}");

    // Bad config JSON.
    std::fs::write(dir.join("config.json"), "{").unwrap();
    let e = err(&dir);
    assert!(
        e.contains("config.json") && e.contains("invalid JSON"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();

    // The index sends a tensor to a shard that does not hold it.
    let dir = common::temp_dir("wrongshard");
    write_sharded(&dir, true);
    let idx_path = dir.join("model.safetensors.index.json");
    let mut idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&idx_path).unwrap()).unwrap();
    idx["weight_map"]["model.norm.weight"] = json!("model-00002-of-00002.safetensors");
    idx["weight_map"]["model.embed_tokens.weight"] = json!("model-00002-of-00002.safetensors");
    std::fs::write(&idx_path, idx.to_string()).unwrap();
    let e = err(&dir);
    assert!(
        e.contains("does not contain it") && e.contains("model-00002-of-00002"),
        "{e}"
    );

    // A shard path that leaves the directory.
    idx["weight_map"]["model.norm.weight"] = json!("../model-00001-of-00002.safetensors");
    std::fs::write(&idx_path, idx.to_string()).unwrap();
    let e = err(&dir);
    assert!(e.contains("not a plain file name"), "{e}");

    // A missing shard.
    idx["weight_map"]["model.norm.weight"] = json!("model-00009-of-00009.safetensors");
    std::fs::write(&idx_path, idx.to_string()).unwrap();
    let e = err(&dir);
    assert!(e.contains("model-00009-of-00009.safetensors"), "{e}");

    // No weight_map.
    std::fs::write(&idx_path, "{}").unwrap();
    let e = err(&dir);
    assert!(e.contains("weight_map"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();

    // Without an index, the same tensor in two files.
    let dir = common::temp_dir("dupe");
    write_sharded(&dir, false);
    let again = SafetensorsFile::open(dir.join("model-00001-of-00002.safetensors")).unwrap();
    let t = &again.tensors[0];
    let dup = write(
        &[StTensor {
            name: t.name.clone(),
            dtype: "BF16".into(),
            shape: t.shape.clone(),
            data: again.tensor_data(t).unwrap().to_vec(),
        }],
        None,
    );
    std::fs::write(dir.join("extra.safetensors"), dup).unwrap();
    let e = err(&dir);
    assert!(
        e.contains(&format!("tensor '{}' is in both", t.name)),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn unsupported_config_fails_open_naming_the_file() {
    let dir = common::temp_dir("badcfg");
    write_sharded(&dir, true);
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    cfg["model_type"] = json!("gemma3");
    std::fs::write(dir.join("config.json"), cfg.to_string()).unwrap();
    let e = HfModelDir::open(&dir).unwrap_err();
    assert!(
        matches!(e.root(), formats::Error::UnsupportedArchitecture(a) if a == "gemma3"),
        "{e}"
    );
    let cfg_path = dir.join("config.json").display().to_string();
    assert!(e.to_string().contains(&cfg_path), "{e}");
    assert!(ModelConfig::from_hf_json(&cfg).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
