//! Paths and loaders shared by the integration tests.
#![allow(dead_code)]

pub mod gguf;

use std::path::PathBuf;

use tokenizer::Tokenizer;

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

pub fn models_dir() -> PathBuf {
    match std::env::var_os("INFERNO_MODELS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
    }
}

/// A fetched model file; a missing one fails the test with the way to get it.
pub fn model_file(rel: &str) -> PathBuf {
    let p = models_dir().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run scripts/fetch-models.sh (or set INFERNO_MODELS_DIR)",
        p.display()
    );
    p
}

pub fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The real Qwen3 tokenizer (tokenizer.json + tokenizer_config.json), built once per test binary.
pub fn qwen3_tokenizer() -> &'static Tokenizer {
    static TOK: std::sync::OnceLock<Tokenizer> = std::sync::OnceLock::new();
    TOK.get_or_init(|| {
        let json = read(&model_file("qwen3-tokenizer/tokenizer.json"));
        let config = read(&model_file("qwen3-tokenizer/tokenizer_config.json"));
        Tokenizer::from_hf(&json, Some(&config)).expect("building the Qwen3 tokenizer")
    })
}

pub fn qwen3_expected_text() -> String {
    let p = fixtures_dir().join("qwen3-tiny/expected.json");
    String::from_utf8(read(&p)).expect("expected.json is UTF-8")
}

pub fn qwen3_expected() -> serde_json::Value {
    serde_json::from_str(&qwen3_expected_text()).expect("parsing expected.json")
}

pub fn ids_of(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an id list")
        .iter()
        .map(|x| u32::try_from(x.as_u64().expect("an id")).expect("a u32 id"))
        .collect()
}
